"""Fixtures shared by the test files."""

import pytest

from admodes import runner


@pytest.fixture(scope="session")
def load_experiment():
    """``load_experiment(name)``: the module of ``experiments/<name>.py``, imported by path
    once per session (``admodes.runner.load``)."""
    return runner.load
