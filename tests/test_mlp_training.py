"""The MLP-training experiment and the nn speed benchmark, on tiny configurations (no
wall-clock thresholds), plus the accuracy threshold on the default configuration."""

import pandas as pd
import pytest

from admodes.nn import ArrayMLP, fit

TINY = {"n_train": 96, "n_test": 64, "hidden": (4, 4), "epochs": 2, "scalar_hidden": (2, 2),
        "scalar_samples": 64, "cost_widths": (2, 4), "min_time": 0.0, "min_repeats": 1,
        "grid": 12, "vectorized_max_params": 30}


@pytest.fixture(scope="module")
def mt(load_experiment):
    return load_experiment("mlp_training")


@pytest.fixture(scope="module")
def tiny_df(mt):
    return mt.run(TINY, show_progress=False)


def test_the_interface_the_cli_relies_on(mt):
    assert mt.NAME == "mlp_training"
    assert set(mt.PRESETS) == {"quick", "full"}
    assert mt.PRESETS["full"] == mt.FULL
    assert callable(mt.run) and callable(mt.write_report) and callable(mt.findings)


def test_run_returns_a_tidy_frame_with_every_part(mt, tiny_df):
    df = tiny_df
    assert list(df.columns) == mt.COLUMNS
    assert set(df.experiment) == {"mlp_training"}
    assert set(df.part) == {"training", "accuracy", "parameters", "cost"}
    assert df.value.notna().all()
    array_runs = df[(df.part == "accuracy") & (df.model == "array")]
    assert set(zip(array_runs["mode"], array_runs.budget)) == {
        ("reverse", "same steps"), ("forward-looped", "same steps"),
        ("forward-vectorized", "same steps"), ("forward-gradient", "same steps"),
        ("forward-gradient", "same time as reverse"),
        ("forward-gradient", "same time as forward-vectorized")}
    assert df.attrs["config"]["hidden"] == (4, 4)


def test_exact_modes_agree_after_every_step(tiny_df):
    diffs = tiny_df[tiny_df.metric == "max_rel_param_diff"]
    steps = -(-TINY["n_train"] // 32) * TINY["epochs"]
    array = diffs[diffs.model == "array"]
    assert set(array["mode"]) == {"forward-looped", "forward-vectorized"}
    assert sorted(set(array["index"])) == list(range(1, steps + 1))
    assert set(diffs[diffs.model == "scalar"]["index"]) == {1, 2}
    assert (diffs.value <= 1e-9).all()
    twin = tiny_df[tiny_df.metric == "max_rel_diff_to_array_model"]
    assert len(twin) == 2 and (twin.value <= 1e-9).all()


def test_counted_sweeps_per_step(tiny_df):
    cost = tiny_df[(tiny_df.part == "cost") & (tiny_df.metric == "sweeps_per_step")]
    for _, r in cost.iterrows():
        assert r.value == (r.n_params if r["mode"] == "forward-looped" else 1)
    # width 4 has 37 parameters, above vectorized_max_params: not run
    assert set(cost[cost["mode"] == "forward-vectorized"]["index"]) == {2}
    acc = tiny_df[(tiny_df.part == "accuracy") & (tiny_df.metric == "sweeps_per_step")]
    looped = acc[acc["mode"] == "forward-looped"]
    assert (looped.value == looped.n_params).all()
    assert (acc[acc["mode"] != "forward-looped"].value == 1).all()


def test_slopes_tables_and_findings(mt, tiny_df):
    slopes = mt.cost_slopes(tiny_df).set_index("mode")
    assert slopes.loc["forward-looped", "sweeps_slope"] == pytest.approx(1.0)
    assert slopes.loc["reverse", "sweeps_slope"] == pytest.approx(0.0)
    assert "forward-vectorized" not in slopes.index  # a single size: no slope
    runs = mt.run_table(tiny_df)
    assert len(runs) == 6 + 3
    sentences = mt.findings(tiny_df)
    assert all(isinstance(s, str) and s for s in sentences)
    assert sentences[0].startswith("The exact modes agree")
    assert any("Forward gradients" in s for s in sentences)


def test_write_report_writes_every_file(mt, tiny_df, tmp_path):
    paths = mt.write_report(tiny_df, tmp_path / "out")
    names = {p.name for p in paths}
    assert names == {"results.csv", "summary.md", "loss_curves.png", "cost_vs_params.png",
                     "decision_boundaries.png"}
    for p in paths:
        assert p.exists() and p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(back) == len(tiny_df) and list(back.columns) == mt.COLUMNS
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| model | hidden | mode |" in summary and "| width | params |" in summary
    assert "The exact modes agree" in summary and "slope of time" in summary
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_an_interrupted_report_leaves_no_half_written_file(mt, tiny_df, tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(mt, "_plot_boundaries", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mt.write_report(tiny_df, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_main_writes_the_report(mt, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(mt.PRESETS, "quick", {**mt.FULL, **TINY, "cost_widths": (2,)})
    assert mt.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "results.csv").exists()
    assert "The exact modes agree" in capsys.readouterr().out


def test_run_refuses_unknown_config_keys(mt):
    with pytest.raises(ValueError, match="unknown config"):
        mt.run({"epochz": 3})


def test_default_configuration_reaches_the_accuracy_threshold(mt):
    """Deterministic: fixed data seeds, initial parameters and batches. Reverse and
    forward-vectorized must end with the same parameters, so one accuracy serves both."""
    cfg = mt.PRESETS["full"]
    data = mt.make_data(cfg)
    finals = []
    for mode, strategy in (("reverse", "vectorized"), ("forward", "vectorized")):
        model = ArrayMLP((2, *cfg["hidden"], 1), cfg["activation"], seed=cfg["seed"],
                         init=cfg["init"])
        fit(model, data["X_train"], data["y_train"], mode=mode, forward_strategy=strategy,
            epochs=cfg["epochs"], batch_size=cfg["batch_size"],
            learning_rate=cfg["learning_rate"], optimizer=cfg["optimizer"], seed=cfg["seed"])
        finals.append(mt._flat(model.params))
        assert model.evaluate(data["X_test"], data["y_test"])[1] >= cfg["accuracy_threshold"]
    assert mt.relative_difference(finals[1], finals[0]) <= cfg["agreement_tolerance"]


# -- the speed benchmark --------------------------------------------------------------


def test_nn_speed_hand_written_step_and_a_baseline_plug_in(load_experiment, tmp_path):
    speed = load_experiment("nn_speed")
    baseline = tmp_path / "baseline.py"
    baseline.write_text(
        "import numpy as np\n"
        "from admodes.nn import ArrayMLP\n"
        "def make_train_step(X, y, arrays, learning_rate):\n"
        "    model = ArrayMLP(tuple([arrays[0][0].shape[0]] + [W.shape[1] for W, _ in arrays]))\n"
        "    model.params = arrays\n"
        "    return lambda: model.loss(model.params, X, y)\n")
    config = {"array_samples": 50, "scalar_samples": 6, "sizes": (2, 3, 3, 1), "rounds": 1,
              "min_time": 0.0, "min_repeats": 1, "warmup": 0, "gc_on_steps": 1}
    df = speed.run(config, baseline=baseline, show_progress=False)
    assert set(df.case) == {"admodes reverse", "numpy by hand", "plain loss",
                            "scalar admodes reverse", "scalar plain floats", "scalar baseline"}
    assert set(df[df.benchmark == "scalar"].gc) == {"off", "on"}
    assert (df[df.case != "scalar baseline"].cyclic_garbage == 0).all()
    assert df[df.target.notna()].met.isin([True, False]).all()
    paths = speed.write_report(df, tmp_path / "speed")
    assert {p.name for p in paths} == {"summary.md", "results.csv"}
    assert "numpy by hand" in (tmp_path / "speed" / "summary.md").read_text()
    (tmp_path / "empty.py").write_text("")
    with pytest.raises(ValueError, match="make_train_step"):
        speed.run(config, baseline=tmp_path / "empty.py", show_progress=False)
