"""The accuracy experiment: AD at machine precision, finite differences' V-shaped error with
the slopes theory gives for each arm (floating point is deterministic, so these are exact
checks, not timings)."""

import math

import numpy as np
import pandas as pd
import pytest

EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def accuracy(load_experiment):
    return load_experiment("accuracy")


@pytest.fixture(scope="module")
def quick_run(accuracy):
    return accuracy.run({"steps_per_decade": 2}, show_progress=False)


def test_the_table_has_the_documented_columns(accuracy, quick_run):
    assert list(quick_run.columns) == accuracy.COLUMNS
    assert set(quick_run.experiment) == {"accuracy"}
    functions = len(accuracy.FUNCTIONS)
    steps = accuracy.step_sizes(2)
    assert steps[0] == 0.1 and math.isclose(steps[-1], 1e-15) and len(steps) == 29
    assert len(quick_run) == functions * (2 + 2 * len(steps))
    assert quick_run[quick_run.strategy == "ad"].h.isna().all()


def test_closed_form_derivatives_match_a_fine_central_difference(accuracy):
    for test in accuracy.FUNCTIONS.values():
        approx = accuracy.central_difference(test.f, test.x0, 1e-5)
        assert math.isclose(approx, test.derivative(test.x0), rel_tol=1e-8), test.name


def test_ad_is_exact_to_a_few_epsilons_in_both_modes(quick_run):
    ad = quick_run[quick_run.strategy == "ad"]
    assert set(ad["mode"]) == {"forward", "reverse"}
    assert ad.rel_error.max() <= 4 * EPS
    by_mode = ad.pivot(index="family", columns="mode", values="derivative")
    np.testing.assert_allclose(by_mode.forward, by_mode.reverse, rtol=2 * EPS, atol=0)


def test_finite_differences_trace_a_v_with_the_theoretical_slopes(accuracy, quick_run):
    shapes = accuracy.v_shapes(quick_run)
    assert len(shapes) == 2 * len(accuracy.FUNCTIONS)
    theory = shapes.scheme.map(lambda s: accuracy.SCHEME_THEORY[s][0])
    assert (shapes.truncation_slope - theory).abs().max() <= 0.1
    assert (shapes.rounding_slope < -0.5).all()
    assert (shapes.best_rel_error > 100 * EPS).all()
    forward = shapes[shapes.scheme == "forward_difference"].set_index("family")
    central = shapes[shapes.scheme == "central_difference"].set_index("family")
    assert (central.best_rel_error < forward.best_rel_error).all()
    assert (central.best_h > forward.best_h).all()


def test_the_report_files_are_written(accuracy, quick_run, tmp_path):
    paths = accuracy.write_report(quick_run, tmp_path / "out")
    assert {p.name for p in paths} == {"results.csv", "summary.md", "error_vs_step.png"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert pd.read_csv(tmp_path / "out/results.csv").shape == quick_run.shape
    summary = (tmp_path / "out/summary.md").read_text()
    assert all(s in summary for s in accuracy.findings(quick_run))


def test_main_writes_the_report_and_checkpoints_rows(accuracy, tmp_path):
    assert accuracy.main(["--quick", "--out", str(tmp_path / "cli")]) == 0
    assert len(pd.read_csv(tmp_path / "cli/results.csv")) == 4 * (2 + 2 * 29)


def test_unknown_functions_are_refused(accuracy):
    with pytest.raises(ValueError, match="unknown function"):
        accuracy.run({"functions": ["gamma"]}, show_progress=False)
