"""Shared by tests/unit and tests/integration: the skip policy and the refusal of golden-file
update switches under CI (tests/helpers/skip_policy.py)."""

from skip_policy import pytest_addoption, pytest_configure  # noqa: F401 (pytest hooks)
