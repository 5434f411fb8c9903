"""Integration-stage scheduling: start the longest tests first.

run-tests.sh runs this stage on two xdist workers with `--dist load --maxschedchunk 1`, so a
worker takes the next test in collection order whenever it is free. Sorting the tests listed in
expected_durations.yml longest first (the rest keep their order, after them) is the classic
longest-processing-time rule: the two workers stay busy to the end instead of one of them
starting a 10-minute scenario when everything else is done.
"""

from pathlib import Path

import yaml

EXPECTED = Path(__file__).with_name("expected_durations.yml")


def expected_durations(path=EXPECTED):
    """{node id: seconds} from the committed table; a malformed table fails collection loudly."""
    table = yaml.safe_load(path.read_text()) or {}
    if not isinstance(table, dict) or not all(
        isinstance(seconds, (int, float)) and seconds >= 0 for seconds in table.values()
    ):
        raise ValueError(f"{path}: expected a mapping of test node id to seconds")
    return table


def pytest_collection_modifyitems(config, items):
    table = expected_durations()
    # sort is stable: tests not in the table stay in collection order, after the listed ones
    items.sort(key=lambda item: -table.get(item.nodeid, 0))
