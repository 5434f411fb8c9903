"""Shared by tests/unit and tests/integration: the skip policy and the refusal of golden-file
update switches under CI (tests/helpers/skip_policy.py), and the Hypothesis profiles."""

import os

from skip_policy import pytest_addoption, pytest_configure, running_under_ci  # noqa: F401 (pytest hooks)

try:
    from hypothesis import settings
except ImportError:  # tests/integration/test_jc_infer_torch.py runs a unit test file in a container without it
    settings = None

# Hypothesis profiles for the fuzz tests (tests/unit/fuzz): modest example counts so that they
# run in the unit stage; under CI derandomized (the same examples every run, so a red CI is
# reproducible) and without the example database. HYPOTHESIS_PROFILE=deep for a long local hunt.
if settings is not None:
    settings.register_profile("dev", max_examples=40, deadline=None, database=None)
    settings.register_profile("ci", max_examples=40, deadline=None, database=None, derandomize=True)
    settings.register_profile("deep", max_examples=2000, deadline=None, database=None)
    settings.load_profile("ci" if running_under_ci() else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
