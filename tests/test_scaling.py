"""The Jacobian scaling experiment on a tiny configuration: deterministic checks only (counts,
slopes of counted work, agreement of the two modes, files written), never a wall-clock time."""

import numpy as np
import pandas as pd
import pytest

ISSUE_COLUMNS = {"experiment", "family", "mode", "strategy", "n_inputs", "n_outputs",
                 "repeats", "median_s", "min_s", "max_s", "primal_median_s", "ratio_to_primal",
                 "sweeps", "ops", "flops", "tape_length", "tape_bytes", "peak_bytes",
                 "max_abs_error"}
TINY = {"grid_max": 32, "extreme_max": 32, "hidden": 8, "chain_depth": 8,
        "min_time": 0.0, "min_repeats": 1, "warmup": 0, "steady_malloc": False}
SMALLEST = {**TINY, "families": ["dense_net"], "grid_max": 2, "extreme_max": 2,
            "peak_memory": False}


@pytest.fixture(scope="module")
def scaling(load_experiment):
    return load_experiment("scaling")


@pytest.fixture(scope="module")
def tiny_run(scaling):
    return scaling.run(TINY, show_progress=False)


def test_the_table_has_the_documented_columns(scaling, tiny_run):
    assert list(tiny_run.columns) == scaling.COLUMNS
    assert ISSUE_COLUMNS <= set(tiny_run.columns)
    assert set(tiny_run.experiment) == {"scaling"}
    assert set(tiny_run.family) == {"dense_net", "elementwise_mix", "deep_chain"}
    assert set(tiny_run.part) == {"grid", "gradient", "fan_out"}
    sizes = [1, 2, 4, 8, 16, 32]
    grid = tiny_run[tiny_run.part == "grid"]
    assert len(grid) == 3 * len(sizes) ** 2 * 5  # families x cells x (primal + 4 strategies)
    assert set(tiny_run[tiny_run.part == "gradient"].n_outputs) == {1}
    assert set(tiny_run[tiny_run.part == "fan_out"].n_inputs) == {1}
    assert (tiny_run.repeats >= 1).all()
    assert (tiny_run.min_s <= tiny_run.median_s).all()
    assert (tiny_run.median_s <= tiny_run.max_s).all()
    assert (tiny_run.peak_bytes > 0).all()
    assert tiny_run.attrs["interrupted"] is False
    assert "numpy_version" in tiny_run.attrs["environment"]


def test_counted_sweeps_match_the_theory_exactly(tiny_run):
    rows = tiny_run[tiny_run["mode"] != "primal"]
    for (mode, strategy), group in rows.groupby(["mode", "strategy"]):
        if strategy == "vectorized":
            expected = np.ones(len(group), dtype=int)
        else:
            expected = group.n_inputs if mode == "forward" else group.n_outputs
        np.testing.assert_array_equal(group.sweeps, expected, err_msg=f"{mode} {strategy}")
        assert set(group.recordings) == ({1} if mode == "reverse" else {0})
        assert (group.tape_length > 0).all() == (mode == "reverse")


def test_both_modes_give_the_same_jacobian(tiny_run):
    rows = tiny_run[tiny_run["mode"] != "primal"]
    assert rows.max_abs_error.notna().all()
    assert rows.max_abs_error.max() < 1e-12


def test_fitted_slopes_of_counted_work_follow_the_theory(scaling, tiny_run):
    table = scaling.slopes(tiny_run)
    assert set(table.part) == {"grid", "gradient", "fan_out"}
    assert (table.points == 3).all()  # sizes 8, 16, 32: the upper half of 1..32
    np.testing.assert_allclose(table.sweeps_slope, table.counted_theory, atol=1e-9)
    assert (table.work_ops_slope - table.counted_theory).abs().max() <= 0.1
    summary = scaling.slope_summary(tiny_run)
    assert len(summary) == 3 * 4 * 2  # families x strategies x axes
    looped = summary[summary.strategy == "looped"]
    np.testing.assert_array_equal(looped.counted_theory, looped.textbook)


def test_analyses_return_tables_and_sentences(scaling, tiny_run):
    constants = scaling.constants(tiny_run)
    assert len(constants) == 3 * 4 and (constants.c_grid_median > 0).all()
    crossover = scaling.crossover(tiny_run)
    assert len(crossover) == 3 * 6
    # the work of looped forward (2 n ops per op of f) and reverse ((m + 1) per op) cross
    # deterministically at m* = 2n - 1
    finite = crossover[crossover.n_inputs.between(2, 16)]
    np.testing.assert_allclose(finite.m_star_looped_work_ops, 2 * finite.n_inputs - 1,
                               rtol=0.1)
    departure = scaling.vectorized_departure(tiny_run)
    assert set(departure.part) == {"gradient", "fan_out"} and (departure.speedup > 0).all()
    sentences = scaling.findings(tiny_run)
    assert all(isinstance(s, str) and s for s in sentences)
    derived = int((tiny_run["mode"] != "primal").sum())
    assert sentences[0].startswith(f"Counted sweeps match the theory in {derived} of {derived} ")


def test_the_report_files_are_written(scaling, tiny_run, tmp_path):
    paths = scaling.write_report(tiny_run, tmp_path / "out")
    names = {p.name for p in paths}
    assert names == {"results.csv", "slopes.csv", "summary.md", "cost_curves.png",
                     "crossover_heatmap.png", "extremes.png"}
    for path in paths:
        assert path.exists() and path.stat().st_size > 0
    assert pd.read_csv(tmp_path / "out/results.csv").shape == tiny_run.shape
    summary = (tmp_path / "out/summary.md").read_text()
    for heading in ("## Findings", "## Fitted log-log slopes", "## The constant c",
                    "## Crossover", "## Vectorized vs the textbook", "## Setup"):
        assert heading in summary
    assert scaling.findings(tiny_run)[0] in summary
    for png in (p for p in paths if p.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rows_are_checkpointed_and_an_interrupted_run_keeps_them(scaling, tmp_path,
                                                                 monkeypatch):
    measured = scaling.measure_cell
    calls = []

    def interrupted_on_the_third_cell(cell, cfg):
        calls.append(cell)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return measured(cell, cfg)

    monkeypatch.setattr(scaling, "measure_cell", interrupted_on_the_third_cell)
    checkpoint = tmp_path / "partial.csv"
    df = scaling.run({**SMALLEST, "checkpoint_csv": checkpoint}, show_progress=False)
    assert df.attrs["interrupted"] is True
    assert len(df) == 2 * 5
    assert pd.read_csv(checkpoint).shape == df.shape
    assert scaling.findings(df)[-1].startswith("The run was interrupted")
    scaling.write_report(df, tmp_path / "partial")
    assert "Interrupted run" in (tmp_path / "partial/summary.md").read_text()


def test_main_writes_the_report(scaling, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(scaling.PRESETS, "quick", SMALLEST)
    assert scaling.main(["--quick", "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli/results.csv").exists() and (tmp_path / "cli/summary.md").exists()
    assert "wrote" in capsys.readouterr().out


def test_unknown_config_keys_and_families_are_refused(scaling):
    with pytest.raises(ValueError, match="unknown config"):
        scaling.run({"grid_maximum": 4}, show_progress=False)
    with pytest.raises(ValueError, match="unknown family"):
        scaling.run({"families": ["resnet"]}, show_progress=False)
