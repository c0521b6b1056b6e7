"""The MLP-training experiment through the harness, on small configurations (no wall-clock
assertions): the exact modes agree, sweeps per step are counted right, a run writes its rows,
estimates and manifest, and the exact modes reach the accuracy the quick preset promises."""

import json
import math

import pandas as pd
import pytest
from admodes.experiments import mlp_training as mt

from admodes.harness import run

TINY = {"n_train": 96, "n_test": 64, "hidden": (4, 4), "epochs": 2, "batch_size": 32,
        "seeds": 2, "exact_seeds": 2, "fg_learning_rates": (0.03, 0.1), "scalar_hidden": (2, 2),
        "scalar_steps": 2, "scalar_batch": 8, "cost_widths": (2, 4),
        "vectorized_max_params": 30, "grid": 12, "replicates": 2, "samples": 2, "draws": 200,
        "min_sample_s": 1e-5}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    outcome = run(mt.EXPERIMENT, "quick", tmp_path_factory.mktemp("mlp"), overrides=TINY,
                  show_progress=False)
    assert outcome.complete, outcome.reason
    return (outcome.folder, pd.read_csv(outcome.folder / "results.csv"),
            pd.read_csv(outcome.folder / "estimates.csv"))


def test_a_run_writes_rows_estimates_figures_and_the_manifest(tiny):
    folder, rows, est = tiny
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["preset"] == "quick"
    assert manifest["cells"] == TINY["seeds"] + len(TINY["cost_widths"])
    assert set(manifest["files"]) == {"results.csv", "estimates.csv", "summary.md",
                                      "loss_curves.png", "cost_vs_params.png",
                                      "decision_boundaries.png"}
    assert [f["file"] for f in manifest["figures"]] == ["loss_curves.png", "cost_vs_params.png",
                                                        "decision_boundaries.png"]
    assert all("Preset quick" in f["caption"] for f in manifest["figures"])
    assert {"curve", "run", "agreement", "param", "budget", "reverse", "forward-looped",
            "forward-gradient", "fg direction", "fg jvp"} <= set(rows.variant)
    # training happens once per seed (replicate 0); its step timings in every replicate
    runs = rows[rows.variant == "run"]
    assert set(runs.replicate) == {0}
    assert len(runs) == TINY["seeds"] * (3 + 2 * len(TINY["fg_learning_rates"]) + 3)
    assert set(rows[(rows.part == "train") & (rows.variant == "fg jvp")].replicate) == {0, 1}
    assert {"fg_best_lr", "fg_accuracy_gap", "jvp_over_reverse", "direction_share",
            "time_slope", "wall_slope", "sweeps_slope", "test_accuracy"} <= set(est.quantity)
    summary = (folder / "summary.md").read_text()
    assert "The exact modes agree" in summary and "| mode | lr | budget |" in summary


def test_the_loss_curves_start_before_the_first_step_and_follow_every_step(tiny):
    _, rows, _ = tiny
    curves = rows[(rows.variant == "curve") & (rows["mode"] == "reverse")
                  & (rows.model == "array")]
    steps = TINY["epochs"] * math.ceil(TINY["n_train"] / TINY["batch_size"])
    for _, one in curves.groupby("seed"):
        assert sorted(one.step) == list(range(steps + 1))


def test_every_estimate_lies_in_its_interval(tiny):
    est = tiny[2].dropna(subset=["value"])
    assert len(est) > 50
    slack = 1e-12 * est.value.abs()
    assert ((est.ci_low <= est.value + slack) & (est.value <= est.ci_high + slack)).all(), \
        est[(est.ci_low > est.value + slack) | (est.value > est.ci_high + slack)]


def test_the_exact_modes_give_the_same_parameters_after_every_step(tiny):
    _, rows, est = tiny
    agree = rows[(rows.variant == "agreement") & (rows["mode"] != "reverse")]
    steps = TINY["epochs"] * math.ceil(TINY["n_train"] / TINY["batch_size"])
    array = agree[agree.model == "array"]
    assert len(array) == 2 * TINY["seeds"] and set(array.steps) == {steps}
    assert set(agree[agree.model == "scalar"].steps) == {TINY["scalar_steps"]}
    assert (agree.max_rel_diff <= 1e-9).all()
    diffs = est[est.quantity == "max_rel_param_diff"]
    assert set(zip(diffs.model, diffs["mode"])) == {
        (m, mode) for m in ("array", "scalar") for mode in ("forward-looped",
                                                            "forward-vectorized")}
    assert (diffs.value <= 1e-9).all()
    # same parameters, so the same held-out accuracy, seed by seed
    runs = rows[(rows.variant == "run") & (rows.model == "array")]
    by_mode = runs.pivot_table(index="seed", columns="mode", values="test_accuracy")
    assert (by_mode["forward-looped"] == by_mode["reverse"]).all()
    assert (by_mode["forward-vectorized"] == by_mode["reverse"]).all()


def test_counted_sweeps_per_step(tiny):
    _, rows, _ = tiny
    counted = rows[(rows.part == "cost")].dropna(subset=["sweeps"]).drop_duplicates(
        ["width", "variant"])
    sweeps = {(int(r.width), r.variant): (int(r.sweeps), int(r.n_params))
              for r in counted.itertuples()}
    for width, n in ((2, 15), (4, 37)):
        assert sweeps[width, "reverse"] == (1, n)
        assert sweeps[width, "forward-looped"] == (n, n)
        assert sweeps[width, "forward-gradient"] == (1, n)
        assert sweeps[width, "fg jvp"] == (1, n)  # the JVP alone, its direction drawn apart
        assert sweeps[width, "fg direction"] == (0, n)
    assert sweeps[2, "forward-vectorized"] == (1, 15)
    assert (4, "forward-vectorized") not in sweeps  # 37 > vectorized_max_params


def test_the_exact_modes_reach_the_promised_accuracy_on_the_quick_configuration(tmp_path):
    """The quick preset's data, network and training on its 5 seeds, by reverse mode only:
    forward-looped and -vectorized give the same parameters (the test above; the quick run
    checks them on its first seed), and their 60 steps would cost ~10 s here. No cost cells,
    one forward-gradient rate: they do not touch the accuracy."""
    overrides = {"exact_seeds": 0, "cost_widths": (), "fg_learning_rates": (0.03,),
                 "scalar_steps": 1, "replicates": 1, "samples": 2, "draws": 400}
    outcome = run(mt.EXPERIMENT, "quick", tmp_path, overrides=overrides, show_progress=False)
    assert outcome.complete, outcome.reason
    est = pd.read_csv(outcome.folder / "estimates.csv")
    acc = est[(est.quantity == "test_accuracy") & (est["mode"] == "reverse")]
    assert len(acc) == 1 and int(acc.n.iloc[0]) == mt.QUICK["seeds"] >= 5
    assert acc.ci_low.iloc[0] >= mt.QUICK["accuracy_threshold"] == 0.95
    assert "above 0.95" in (outcome.folder / "summary.md").read_text()
