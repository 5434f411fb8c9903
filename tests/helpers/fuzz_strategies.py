"""Hypothesis strategies that mutate real captured inputs (tests/fixtures) for the fuzz tests in
tests/unit/fuzz: text lines dropped, repeated, swapped, cut, overwritten or given huge numbers;
bytes inserted or overwritten (including bytes that are not UTF-8); JSON values replaced deep
inside a document. Profiles (example counts, CI determinism) are set in tests/conftest.py."""

import json
import re

from hypothesis import strategies as st

# Characters that matter to the parsers: digits, separators, quotes, braces, control and
# non-ASCII characters, line separators Python's splitlines() honours.
NASTY_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("0123456789 .,:;=-/()[]{}\"'\\\t\r\n\x00\x1b\x0b\x0c\x1c\x85\u2028\ufeff\ufffdé")),
        st.characters(),
    ),
    max_size=40,
)
HUGE_NUMBER = st.sampled_from(["9" * 400, "-1", "0", "1e999", "NaN", "-0.0", "18446744073709551616", "00"])


@st.composite
def mutated_text(draw, text):
    """The text with a few of its lines mutated."""
    lines = text.splitlines(True)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            lines.append(draw(NASTY_TEXT))
            continue
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "cut", "insert", "overwrite", "numbers"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "insert":
            lines.insert(i, draw(NASTY_TEXT) + draw(st.sampled_from(["\n", "\r\n", ""])))
        elif op == "overwrite":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(NASTY_TEXT) + lines[i][at + draw(st.integers(0, 8)):]
        else:
            lines[i] = re.sub(r"\d+(?:\.\d+)?", lambda m, n=draw(HUGE_NUMBER): n, lines[i])
    return "".join(lines)


@st.composite
def mutated_bytes(draw, data):
    """The bytes with a few bytes inserted or overwritten anywhere."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        chunk = draw(st.binary(min_size=1, max_size=4))
        if draw(st.booleans()):
            data[at:at] = chunk
        else:
            data[at:at + len(chunk)] = chunk
    return bytes(data)


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10 ** 20, max_value=10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), NASTY_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NASTY_TEXT, inner, max_size=3)),
    max_leaves=6,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


@st.composite
def mutated_json(draw, document):
    """A deep copy of the JSON document with a few values replaced, keys deleted or added."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(document))
        path = draw(st.sampled_from(paths))
        if not path:
            document = draw(JSON_VALUES)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "replace":
            parent[path[-1]] = draw(JSON_VALUES)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(NASTY_TEXT)] = draw(JSON_VALUES)
        else:
            parent.insert(path[-1], draw(JSON_VALUES))
    return document
