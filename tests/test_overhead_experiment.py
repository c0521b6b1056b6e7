"""The overhead and nn_speed experiments on tiny configurations: rows with both clocks, op
counts from count_ops, hand-written derivatives equal to admodes', intervals that hold their
values, complete manifests, findings in the summary, no reference cycles left by admodes.
Deterministic checks only: nothing here asserts how fast anything is."""

import json

import numpy as np
import pandas as pd
import pytest
from admodes.experiments import nn_speed, overhead

import admodes
from admodes.harness import run
from admodes.harness.cli import findings_of
from admodes.nn import MLP, ArrayMLP, moons, sgd_step

TIMING = {"replicates": 2, "samples": 2, "warmup": 0, "min_sample_s": 1e-5, "draws": 50}
TINY = {
    overhead: {"chain_ops": 8, "vector_size": 5, "batch": 3, "features": 4, "hidden": 2,
               **TIMING},
    nn_speed: {"sizes": [2, 3, 3, 1], "array_samples": 40, "scalar_samples": 5, **TIMING},
}


def _run(module, tmp_path_factory):
    out = tmp_path_factory.mktemp(module.EXPERIMENT.name)
    outcome = run(module.EXPERIMENT, "quick", out, overrides=TINY[module], show_progress=False)
    assert outcome.complete, outcome.reason
    return module, outcome.folder


@pytest.fixture(scope="module")
def overhead_run(tmp_path_factory):
    return _run(overhead, tmp_path_factory)


@pytest.fixture(scope="module")
def nn_speed_run(tmp_path_factory):
    return _run(nn_speed, tmp_path_factory)


@pytest.fixture(params=["overhead_run", "nn_speed_run"])
def folder(request):
    return request.getfixturevalue(request.param)


def read(folder):
    return pd.read_csv(folder / "results.csv"), pd.read_csv(folder / "estimates.csv")


def test_every_timed_variant_has_wall_and_cpu_time_for_every_sample(folder):
    module, path = folder
    rows, _ = read(path)
    timed = rows.dropna(subset=["wall_s"])
    assert timed.cpu_s.notna().all() and (timed.wall_s > 0).all() and (timed.cpu_s >= 0).all()
    per_variant = timed.groupby(["cell", "variant"]).size()
    assert (per_variant == TIMING["replicates"] * TIMING["samples"]).all()
    assert set(timed.replicate) == {0, 1}


def test_every_estimate_lies_inside_its_interval(folder):
    _, estimates = read(folder[1])
    finite = estimates.dropna(subset=["value", "ci_low", "ci_high"])
    assert len(finite) == len(estimates.dropna(subset=["value"]))
    assert (finite.ci_low <= finite.value).all() and (finite.value <= finite.ci_high).all()


def test_the_manifest_is_complete_and_the_summary_holds_the_findings(folder):
    module, path = folder
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["status"] == "complete"
    assert manifest["cells_measured"] == manifest["cells"]
    assert manifest["config"]["replicates"] == 2 and manifest["preset"] == "quick"
    assert {"results.csv", "estimates.csv", "summary.md"} <= set(manifest["files"])
    assert all(f["file"] in manifest["files"] for f in manifest["figures"])
    summary = (path / "summary.md").read_text()
    found = findings_of(module.EXPERIMENT, path)
    assert 3 <= len(found) <= 5
    assert all(f"- {f}" in summary for f in found)
    assert "us" not in summary.replace("µs", "").split() and "[" in summary


def test_the_presets_meet_the_issues_minimums():
    for module in (overhead, nn_speed):
        quick, full = (module.EXPERIMENT.config(p) for p in ("quick", "full"))
        assert quick["replicates"] >= 2
        assert full["replicates"] >= 3 and full["samples"] >= 5
    with pytest.raises(ValueError, match="unknown config keys"):
        overhead.EXPERIMENT.config("quick", overrides={"chain_opps": 8})


# -- overhead ------------------------------------------------------------------------------


def test_overhead_divides_by_the_op_counts_count_ops_gives(overhead_run):
    _, path = overhead_run
    rows, estimates = read(path)
    ops = estimates[estimates.quantity == "ops"].set_index("input").value
    # 8 chain ops (one cycle); on arrays np.sum makes a scalar of them
    assert ops.to_dict() == {"python_float": 8, "array_len1": 9, "vector": 9, "mlp": 5}
    assert (rows.dropna(subset=["ops"]).groupby("cell").ops.nunique() == 1).all()
    per_op = estimates[estimates.quantity == "us_per_op"].set_index(["input", "engine"]).value
    per_call = estimates[estimates.quantity == "us_per_call"].set_index(["input", "engine"]).value
    np.testing.assert_allclose(per_op * per_op.index.get_level_values(0).map(ops), per_call)


def test_overhead_hand_written_gradients_equal_admodes(overhead_run):
    _, path = overhead_run
    rows, _ = read(path)
    assert (rows.dropna(subset=["grad_rel_diff"]).grad_rel_diff <= 1e-12).all()
    assert rows.grad_rel_diff.notna().groupby(rows.input).any().to_dict() == {
        "array_len1": False, "mlp": True, "python_float": False, "vector": True}


def test_overhead_engines_leave_no_cycles_and_every_target_is_judged(overhead_run):
    _, path = overhead_run
    _, est = read(path)
    engines = est[(est.quantity == "cyclic_garbage")
                  & est.engine.isin(["forward", "reverse", "jit forward", "jit reverse"])]
    assert len(engines) == 14 and (engines.value == 0).all()  # 4 inputs, the MLP: reverse only
    counts = est[est.quantity.str.startswith("targets_")].value
    assert counts.sum() == 12 and est[est.quantity == "admodes_cyclic_garbage"].value.item() == 0
    numpy_ratios = est[(est.quantity == "ratio") & (est.engine == "numpy")]
    assert (numpy_ratios.value == 1).all()


def test_the_chain_and_its_gradient_by_hand():
    x = np.linspace(-1.0, 1.0, 7)
    f = overhead.make_chain(16, summed=True)
    value, grad = admodes.value_and_grad(f)(x)
    by_hand = overhead.chain_grad_by_hand(x, 16)
    np.testing.assert_allclose(by_hand[0], value, rtol=1e-13)
    np.testing.assert_allclose(by_hand[1], grad, rtol=1e-12)
    with admodes.count_ops() as reverse:
        admodes.value_and_grad(f)(x)
    with admodes.count_ops() as forward:
        admodes.jvp(f, (x,), (np.ones_like(x),))
    assert sum(reverse.ops.values()) == sum(forward.ops.values()) == 17
    with pytest.raises(ValueError, match="multiple of 8"):
        overhead.make_chain(12)


def test_the_mlp_loss_gradient_by_hand():
    rng = np.random.default_rng(1)
    W1, W2, X = (rng.standard_normal(shape) for shape in ((4, 3), (3, 1), (5, 4)))
    value, grads = admodes.value_and_grad(overhead.mlp_loss, argnums=(0, 1))(W1, W2, X)
    assert overhead.rel_diff(overhead.mlp_grad_by_hand(W1, W2, X), (value, grads)) <= 1e-13


# -- nn_speed ------------------------------------------------------------------------------


def test_nn_speed_steps_leave_no_cycles_and_ratios_name_their_baseline(nn_speed_run):
    _, path = nn_speed_run
    rows, est = read(path)
    assert set(rows.variant) == {"reverse", "handwritten", "loss", "floats", "reverse gc on",
                                 "floats gc on", "jit reverse"}
    garbage = est[est.quantity == "cyclic_garbage"]
    assert len(garbage) == 7 and (garbage.value == 0).all()
    ratios = est[est.quantity == "ratio"].set_index(["model", "variant"]).over.to_dict()
    assert ratios == {("array", "reverse"): "handwritten", ("array", "loss"): "handwritten",
                      ("array", "jit reverse"): "handwritten",
                      ("scalar", "reverse"): "floats",
                      ("scalar", "reverse gc on"): "floats gc on",
                      ("scalar", "jit reverse"): "reverse"}
    staged = rows.dropna(subset=["stagings"])
    assert (staged.stagings == 1).all() and (staged.guard_failures == 0).all()
    assert (est[est.quantity == "staging_ms"].value > 0).all()
    assert set(est[est.quantity == "gc_cost"].variant) == {"reverse", "floats"}
    assert (rows.dropna(subset=["step_rel_diff"]).step_rel_diff <= 1e-12).all()


def test_the_hand_written_training_step_is_admodes_step():
    X, y = moons(30, seed=2)
    model = ArrayMLP((2, 5, 4, 1), seed=3)
    loss, by_hand = nn_speed.handwritten_step(model.params, X, y, 0.1)
    by_admodes = sgd_step(model.params, admodes.grad(model.loss)(model.params, X, y), 0.1)
    assert overhead.rel_diff(by_hand, by_admodes) <= 1e-12
    assert loss == pytest.approx(float(model.loss(model.params, X, y)), rel=1e-12)
    scalar = MLP((2, 5, 4, 1), seed=3)  # the scalar model: the same network on floats
    assert float(scalar.loss(scalar.params, X, y)) == pytest.approx(loss, rel=1e-12)
