"""The memory experiment on a tiny configuration: tape lengths and bytes are deterministic,
peak memory comes from tracemalloc; no test looks at a wall-clock time."""

import numpy as np
import pandas as pd
import pytest

TINY = {"chain_lengths": [10, 100, 1000], "vector_size": 16, "min_time": 0.0,
        "min_repeats": 1, "warmup": 0, "steady_malloc": False}


@pytest.fixture(scope="module")
def memory(load_experiment):
    return load_experiment("memory")


@pytest.fixture(scope="module")
def tiny_run(memory):
    return memory.run(TINY, show_progress=False)


def test_the_table_has_the_documented_columns(memory, tiny_run):
    assert list(tiny_run.columns) == memory.COLUMNS
    assert {"experiment", "family", "mode", "strategy", "n_inputs", "n_outputs", "repeats",
            "median_s", "min_s", "max_s", "primal_median_s", "ratio_to_primal", "sweeps",
            "ops", "flops", "tape_length", "tape_bytes", "peak_bytes",
            "max_abs_error"} <= set(tiny_run.columns)
    assert set(tiny_run.experiment) == {"memory"}
    assert len(tiny_run) == 3 * 3  # lengths x (primal, reverse, forward)
    assert (tiny_run.peak_bytes > 0).all()


def test_the_tape_holds_every_op_and_forward_mode_none(tiny_run):
    reverse = tiny_run[tiny_run["mode"] == "reverse"]
    forward = tiny_run[tiny_run["mode"] == "forward"]
    # the input, the L ops and the sum; one value of 16 float64 per entry
    np.testing.assert_array_equal(reverse.tape_length, reverse.chain_length + 2)
    assert (reverse.tape_bytes >= (reverse.chain_length + 1) * 16 * 8).all()
    assert (reverse.sweeps == 1).all() and (reverse.recordings == 1).all()
    np.testing.assert_array_equal(reverse.ops, reverse.chain_length + 1)
    assert (forward.tape_length == 0).all() and (forward.tape_bytes == 0).all()
    assert (forward.sweeps == 1).all() and (forward.recordings == 0).all()
    np.testing.assert_array_equal(forward.ops, forward.chain_length + 1)


def test_fitted_slopes_follow_the_theory(memory, tiny_run):
    table = memory.slopes(tiny_run).set_index(["mode", "measure"])
    assert abs(table.slope["reverse", "tape_length"] - 1) <= 0.1
    assert abs(table.slope["reverse", "tape_bytes"] - 1) <= 0.1
    assert table.slope["reverse", "peak_bytes"] > 0.8   # linear in L
    assert abs(table.slope["forward", "peak_bytes"]) < 0.2  # flat


def test_both_modes_agree(tiny_run):
    assert tiny_run.max_abs_error.max() < 1e-12


def test_the_report_files_are_written(memory, tiny_run, tmp_path):
    paths = memory.write_report(tiny_run, tmp_path / "out")
    assert {p.name for p in paths} == {"results.csv", "summary.md", "memory.png"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert pd.read_csv(tmp_path / "out/results.csv").shape == tiny_run.shape
    summary = (tmp_path / "out/summary.md").read_text()
    sentences = memory.findings(tiny_run)
    assert sentences and all(s in summary for s in sentences)
    assert "3 of 3 runs" in sentences[0]


def test_rows_are_checkpointed_as_measured(memory, tmp_path):
    checkpoint = tmp_path / "rows.csv"
    df = memory.run({**TINY, "chain_lengths": [10, 20], "checkpoint_csv": checkpoint},
                    show_progress=False)
    assert pd.read_csv(checkpoint).shape == df.shape == (6, len(memory.COLUMNS))


def test_unknown_config_keys_are_refused(memory):
    with pytest.raises(ValueError, match="unknown config"):
        memory.run({"lengths": [10]}, show_progress=False)
