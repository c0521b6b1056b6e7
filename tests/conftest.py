"""Fixtures shared by the test files."""

import importlib

import pytest


@pytest.fixture(scope="session")
def load_experiment():
    """``load_experiment(name)``: the module ``admodes.experiments.<name>``."""
    return lambda name: importlib.import_module(f"admodes.experiments.{name}")
