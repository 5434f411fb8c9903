# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Version and platform probes shared by the other modules (no torch import here)."""

from __future__ import division, print_function

import os


def version_tuple(text):
    """(major, minor) of "1.10.0a0+git36449ea" or "2.11.0+cu130"."""
    parts = []
    for piece in str(text).split("+")[0].split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits) if digits else 0)
    while len(parts) < 2:
        parts.append(0)
    return tuple(parts)


class NoContext(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def signature_parameters(func):
    try:
        import inspect
        return inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}



def cpu_count():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1

