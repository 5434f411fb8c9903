#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Generate k3s-flags.json, the flags of `k3s server` and `k3s agent`, from k3s's CLI sources.

    gen_k3s_flags.py VERSION SOURCE_NOTE GO_FILE [GO_FILE ...] > tests/doubles/k3s/k3s-flags.json

k3s defines its flags with urfave/cli in pkg/cli/cmds/*.go: named flag variables
(``NodeIPFlag = &cli.StringSliceFlag{Name: "node-ip,i", ...}``) and two lists, ``ServerFlags``
(server.go) and the ``Flags`` of ``NewAgentCommand`` (agent.go), made of those variables and of
inline ``&cli.XFlag{...}`` literals. This script reads every given file, resolves the two lists
and writes, per command, each flag's long name with its short aliases, its urfave type and
whether it is hidden (hidden flags are accepted all the same). Give it server.go, agent.go and
the files that define the shared logging/config flags (log.go, config.go, root.go).

The test double (tests/doubles/k3s/fake-k3s) refuses configuration keys and command-line flags
that are not in this list, so a misspelt key (``node-taints``) fails a test instead of being
skipped as real k3s does ("Unknown flag ... found in config.yaml, skipping"). SOURCE_NOTE is
recorded in the output: where the Go files came from.
"""

import json
import re
import sys

DEFINITION = re.compile(r"^\s*(\w+)\s*=\s*&?cli\.(\w+)Flag\{", re.M)
NAME = re.compile(r'\bName:\s*"([^"]+)"')
HIDDEN = re.compile(r"\bHidden:\s*true\b")
LISTS = {
    "server": re.compile(r"var\s+ServerFlags\s*=\s*\[\]cli\.Flag\{"),
    "agent": re.compile(r"func\s+NewAgentCommand\b[\s\S]*?\bFlags:\s*\[\]cli\.Flag\{"),
}


class SourceError(ValueError):
    """The Go sources do not have the shape this generator reads."""


def block(text, start):
    """The text between the brace that ends at text[start - 1] and its partner."""
    depth, index = 1, start
    while depth and index < len(text):
        char = text[index]
        if char == '"':
            index = text.index('"', index + 1)
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        index += 1
    if depth:
        raise SourceError("unbalanced braces after offset %d" % start)
    return text[start:index - 1]


def describe(kind, body):
    names = NAME.search(body)
    if not names:
        raise SourceError("a cli.%sFlag without a Name: %r" % (kind, body[:80]))
    long_name, *aliases = [part.strip() for part in names.group(1).split(",")]
    return long_name, {"type": kind, "aliases": aliases, "hidden": bool(HIDDEN.search(body))}


def definitions(text):
    found = {}
    for match in DEFINITION.finditer(text):
        found[match.group(1)] = describe(match.group(2), block(text, match.end()))
    return found


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


def flag_list(text, pattern, known):
    match = pattern.search(text)
    if not match:
        raise SourceError("no flag list matching %s" % pattern.pattern)
    body = block(text, match.end())
    flags, index = {}, 0
    item = re.compile(r"\s*(?:&?cli\.(\w+)Flag\{|(\w+)\s*,)")
    while index < len(body.rstrip()):
        step = item.match(body, index)
        if not step:
            raise SourceError("cannot read the flag list at %r" % body[index:index + 60])
        if step.group(1):
            inner = block(body, step.end())
            name, spec = describe(step.group(1), inner)
            index = step.end() + len(inner) + 1
            index = body.index(",", index) + 1
        else:
            if step.group(2) not in known:
                raise SourceError("flag variable %s is not defined in the given files" % step.group(2))
            name, spec = known[step.group(2)]
            index = step.end()
        flags[name] = spec
    return flags


def generate(version, source_note, texts):
    texts = [strip_comments(text) for text in texts]
    known = {}
    for text in texts:
        known.update(definitions(text))
    commands = {}
    for command, pattern in LISTS.items():
        for text in texts:
            if pattern.search(text):
                commands[command] = dict(sorted(flag_list(text, pattern, known).items()))
        if command not in commands:
            raise SourceError("no %s flag list in the given files" % command)
    return {
        "k3s_version": version,
        "source": source_note,
        "generator": "tests/doubles/k3s/gen_k3s_flags.py",
        "server": commands["server"],
        "agent": commands["agent"],
    }


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    texts = []
    for path in argv[3:]:
        with open(path) as handle:
            texts.append(handle.read())
    try:
        result = generate(argv[1], argv[2], texts)
    except SourceError as exc:
        sys.stderr.write("gen_k3s_flags: %s\n" % exc)
        return 1
    sys.stdout.write(json.dumps(result, indent=1, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
