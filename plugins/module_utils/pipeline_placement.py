# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Where each stage of workload III (the jc_pipeline gRPC chain) runs.

A placement is either a string of letters, one per stage in chain order (``EESS``: stages 0
and 1 on an edge node, 2 and 3 on the server-class node; each letter is looked up in a
mapping of letter to node selector), or a list with one entry per stage: a letter, ``{host:
NAME}`` (pinned to that node by kubernetes.io/hostname) or ``{labels: {KEY: VALUE}}``.
The placement's length is the pipeline's depth; which blocks each depth merges is the stage
program's business (jc_pipeline/ops.py PLANS), so only the depths it has are accepted here.

No AnsibleModule here: plugins/filter/pipeline.py and the unit tests call this directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The depths jc_pipeline's PLANS define (a unit test keeps the two equal).
SUPPORTED_DEPTHS = (2, 3, 4)
HOSTNAME_LABEL = "kubernetes.io/hostname"
# A DNS-1123 label: Kubernetes object names (Deployment, Service).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class PipelinePlacementError(ValueError):
    """A placement that cannot be turned into stages; the message says which entry and why."""


def _selector(entry, position, letter_selectors):
    if isinstance(entry, str):
        if entry not in letter_selectors:
            raise PipelinePlacementError(
                "stage %d: placement letter %r is not one of %s" % (position, entry, sorted(letter_selectors)))
        selector = letter_selectors[entry]
        if not isinstance(selector, dict) or not selector:
            raise PipelinePlacementError("placement letter %r maps to %r, not a non-empty label mapping"
                                         % (entry, selector))
        return dict((str(k), str(v)) for k, v in selector.items())
    if isinstance(entry, dict) and len(entry) == 1 and "host" in entry:
        host = entry["host"]
        if not isinstance(host, str) or not host:
            raise PipelinePlacementError("stage %d: host must be a node name, not %r" % (position, host))
        return {HOSTNAME_LABEL: host}
    if isinstance(entry, dict) and len(entry) == 1 and "labels" in entry:
        labels = entry["labels"]
        if not isinstance(labels, dict) or not labels:
            raise PipelinePlacementError("stage %d: labels must be a non-empty mapping, not %r" % (position, labels))
        return dict((str(k), str(v)) for k, v in labels.items())
    raise PipelinePlacementError(
        "stage %d: %r is neither a letter, {host: NAME} nor {labels: {KEY: VALUE}}" % (position, entry))


def pipeline_stages(placement, letter_selectors, name_prefix="jc-pipeline", port=50051):
    """One dict per stage, in chain order: index, depth, name, placement (the letter or entry),
    node_selector, upstream (``NAME:PORT`` of the stage before, "" for the producer)."""
    if isinstance(placement, str):
        entries = list(placement.strip())
    elif isinstance(placement, (list, tuple)):
        entries = list(placement)
    else:
        raise PipelinePlacementError("placement must be a string of letters or a list, not %r" % (placement,))
    if len(entries) not in SUPPORTED_DEPTHS:
        raise PipelinePlacementError("placement %r has %d stages; the pipeline has %s"
                                     % (placement, len(entries), " or ".join(str(d) for d in SUPPORTED_DEPTHS)))
    if not isinstance(letter_selectors, dict):
        raise PipelinePlacementError("letter selectors must be a mapping, not %r" % (letter_selectors,))
    if not _DNS_LABEL.match(name_prefix or "") or len(name_prefix) > 50:
        raise PipelinePlacementError("name prefix %r is not a short DNS label" % (name_prefix,))
    stages = []
    for index, entry in enumerate(entries):
        name = "%s-s%d" % (name_prefix, index)
        stages.append({
            "index": index,
            "depth": len(entries),
            "name": name,
            "placement": entry,
            "node_selector": _selector(entry, index, letter_selectors),
            "upstream": "%s:%d" % (stages[-1]["name"], port) if stages else "",
        })
    return stages
