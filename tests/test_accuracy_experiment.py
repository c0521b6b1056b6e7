"""The accuracy experiment: AD at machine precision, finite differences' V-shaped error with
the slopes theory gives for each arm (floating point is deterministic, so these are exact
checks, not timings)."""

import json

import numpy as np
import pandas as pd
import pytest
from admodes.experiments import accuracy

from admodes.harness import run

EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run(accuracy.EXPERIMENT, "quick", out, show_progress=False)
    return out / "accuracy"


@pytest.fixture(scope="module")
def estimates(folder):
    return pd.read_csv(folder / "estimates.csv")


def value(estimates, quantity, **where):
    rows = estimates[estimates.quantity == quantity]
    for key, wanted in where.items():
        rows = rows[rows[key] == wanted]
    assert len(rows) == 1, (quantity, where)
    return rows.iloc[0]


def test_every_function_and_step_is_computed(folder):
    rows = pd.read_csv(folder / "results.csv").dropna(subset=["method"])
    steps = accuracy.step_sizes(2)
    assert steps[0] == 0.1 and np.isclose(steps[-1], 1e-15) and len(steps) == 29
    per_function = rows.groupby("function").size()
    assert (per_function == 2 + 2 * len(steps)).all()
    assert set(per_function.index) == set(accuracy.FUNCTIONS)


def test_ad_is_at_machine_precision_in_both_modes(estimates):
    assert value(estimates, "ad_worst_rel_error").value <= 4 * EPS
    gaps = estimates[estimates.quantity == "ad_mode_gap"]
    assert len(gaps) == len(accuracy.FUNCTIONS) and (gaps.value <= 4 * EPS).all()


@pytest.mark.parametrize("scheme, truncation", [("forward_difference", 1.0),
                                                ("central_difference", 2.0)])
def test_the_arms_of_the_v_have_the_slopes_theory_gives(estimates, scheme, truncation):
    for name in accuracy.FUNCTIONS:
        trunc = value(estimates, "truncation_slope", function=name, scheme=scheme)
        rounding = value(estimates, "rounding_slope", function=name, scheme=scheme)
        assert abs(trunc.value - truncation) < 0.1
        assert abs(rounding.value + 1.0) < 0.35  # rounding scatters: a wider band
        assert trunc.ci_low <= trunc.value <= trunc.ci_high


def test_the_fitted_best_step_is_near_theory(estimates):
    for scheme in ("forward_difference", "central_difference"):
        theory = value(estimates, "best_h_theory", scheme=scheme).value
        for name in accuracy.FUNCTIONS:
            best = value(estimates, "best_h_fitted", function=name, scheme=scheme)
            assert theory / 30 < best.value < theory * 30
            assert best.ci_low <= best.value <= best.ci_high


def test_the_manifest_says_complete_and_the_summary_quotes_the_findings(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] and manifest["preset"] == "quick"
    summary = (folder / "summary.md").read_text()
    assert "machine epsilons at worst" in summary and "*Figure 1.*" in summary
