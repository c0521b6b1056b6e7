"""The scaling experiment through the harness on a tiny grid: rows, counted sweeps, the two
modes' agreement, estimates with intervals, c_arith against a count by hand, files. Counts
and floating point are deterministic; no test asserts a wall-clock time."""

import json
import statistics

import numpy as np
import pandas as pd
import pytest
from admodes.experiments import scaling

from admodes.harness import run
from admodes.harness.cli import findings_of

TINY = {"families": ["tanh_layer", *scaling.FAMILIES], "grid_max": 4, "extreme_max": 8,
        "hidden": 4, "chain_depth": 4, "chain_width": 2, "replicates": 2, "samples": 2,
        "warmup": 0, "min_sample_s": 1e-5, "draws": 200}
JACOBIANS = ["forward looped", "forward vectorized", "reverse looped", "reverse vectorized"]
# every estimate the module docstring names, except those only some runs have (a crossover
# inside the grid)
DOCUMENTED = {"c", "c_arith", "cost_a", "cost_b", "cost_a_per_op", "overhead_share",
              "slope_time", "slope_flops", "slope_time_per_flop", "slope_f_time",
              "slope_f_flops", "slope_reference", "crossover", "crossover_flops",
              "one_sweep_cost", "one_sweep_c_arith", "one_sweep_slope", "many_sweep_cost",
              "recording_cost", "sweep_cost", "speedup", "time", "c_cell", "over_f",
              "log2_fwd_over_rev", "max_abs_error"}


def tanh_layer(n, m, rng, cfg):
    """f(x) = tanh(W x), counted by hand from the registry's cost formulas: the matmul costs
    2 m n flops, tanh 10 per element, so f costs 2 m n + 10 m. A JVP applies W (2 m n) and
    tanh's rule, (1 - out * out) * t, 3 per element; a VJP the same: ct * (1 - out * out)
    (3 m) and W^T ct (2 m n)."""
    w = rng.standard_normal((m, n))
    return lambda x: np.tanh(w @ x)


def hand_c_arith(variant, n, m):
    """Executed flops per direction over flops(f), for tanh_layer (see its docstring)."""
    f = 2 * m * n + 10 * m
    flops = {"forward looped": n * (f + 2 * m * n + 3 * m),  # f again in every sweep
             "reverse looped": f + m * (2 * m * n + 3 * m),  # one recording, m sweeps
             # one sweep: tanh's partial once (2 m), applied to every direction
             "forward vectorized": f + 2 * m * n * n + 2 * m + m * n,
             "reverse vectorized": f + 2 * m * m * n + 2 * m + m * m}[variant]
    return flops / ((n if variant.startswith("forward") else m) * f)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(scaling.FAMILIES, "tanh_layer", tanh_layer)
        outcome = run(scaling.EXPERIMENT, "quick", tmp_path_factory.mktemp("runs"),
                      overrides=TINY, show_progress=False)
    folder = outcome.folder
    return (outcome, pd.read_csv(folder / "results.csv"),
            pd.read_csv(folder / "estimates.csv"))


def test_every_replicate_times_every_variant_of_every_cell(tiny):
    outcome, rows, _ = tiny
    assert outcome.complete, outcome.reason
    cells = len(TINY["families"]) * (3 * 3 + 2)  # the 3 x 3 grid, gradient and fan-out at 8
    variants = [*scaling.VARIANTS, *scaling.JITTED]
    assert rows.cell.nunique() == cells and set(rows.variant) == set(variants)
    per = rows.groupby(["replicate", "cell", "variant"]).size()
    assert len(per) == 2 * cells * len(variants) and (per == TINY["samples"]).all()
    assert (rows.wall_s > 0).all() and (rows.cpu_s >= 0).all()
    assert set(rows[rows.part == "gradient"].m) == {1}
    assert set(rows[rows.part == "fan_out"].n) == {1}


def test_counted_sweeps_are_n_m_or_one_in_every_cell(tiny):
    _, rows, _ = tiny
    counted = rows.dropna(subset=["sweeps"]).drop_duplicates(["cell", "variant"])
    assert set(counted.replicate) == {0}  # counted once
    jac = counted[counted.variant.isin(JACOBIANS)]
    assert len(jac) == 4 * rows.cell.nunique()
    expected = np.where(jac.variant.str.endswith("vectorized"), 1,
                        np.where(jac.variant.str.startswith("forward"), jac.n, jac.m))
    np.testing.assert_array_equal(jac.sweeps, expected)
    np.testing.assert_array_equal(jac.recordings, jac.variant.str.startswith("reverse"))
    taped = counted[counted.recordings == 1]  # reverse Jacobians and the recording alone
    assert len(taped) == 3 * rows.cell.nunique() and (taped.tape_length > 0).all()
    split = counted.set_index("variant")
    assert set(split.loc["reverse recording", "recordings"]) == {1}
    assert set(split.loc["reverse sweep", "sweeps"]) == {1}
    assert set(split.loc["reverse sweep", "recordings"]) == {0}


def test_forward_and_reverse_jacobians_agree(tiny):
    _, rows, estimates = tiny
    errors = rows[rows.variant.isin(JACOBIANS)].dropna(subset=["sweeps"]).max_abs_error
    assert errors.notna().all() and errors.max() < 1e-12
    assert estimates.set_index("quantity").loc["max_abs_error", "value"] < 1e-12


def test_the_documented_estimates_are_there_with_their_intervals(tiny):
    _, _, estimates = tiny
    assert DOCUMENTED <= set(estimates.quantity)
    for family in TINY["families"]:
        mine = estimates[estimates.family == family]
        assert len(mine[mine.quantity == "c_arith"]) == 4
        assert len(mine[mine.quantity == "crossover"]) == 3  # one per n
    assert (estimates.ci_low <= estimates.ci_high).all()
    # the point value inside its interval: medians of timings, and counts (no width)
    safe = estimates[estimates.quantity.isin(["time", "c_arith", "one_sweep_c_arith",
                                              "crossover_flops", "slope_flops"])]
    assert (safe.ci_low <= safe.value + 1e-12).all()
    assert (safe.value <= safe.ci_high + 1e-12).all()
    exact = estimates[estimates.quantity.isin(["crossover_flops", "slope_flops",
                                               "one_sweep_c_arith", "slope_reference"])]
    np.testing.assert_allclose(exact.ci_low, exact.ci_high)


def test_c_arith_matches_a_count_by_hand(tiny):
    _, _, estimates = tiny
    mine = estimates[estimates.family == "tanh_layer"].set_index(["quantity", "variant"])
    upper = [2, 4]  # sizes >= sqrt(4)
    for variant in JACOBIANS:
        per_cell = [hand_c_arith(variant, n, m) for n in (1, 2, 4) for m in (1, 2, 4)
                    if (n if variant.startswith("forward") else m) in upper]
        row = mine.loc[("c_arith", variant)]
        assert row.value == pytest.approx(statistics.median(per_cell), rel=1e-12), variant
        assert min(per_cell) - 1e-12 <= row.ci_low <= row.ci_high <= max(per_cell) + 1e-12
    extremes = estimates[(estimates.family == "tanh_layer")
                         & (estimates.quantity == "one_sweep_c_arith")].set_index("extreme")
    assert extremes.value["gradient"] == pytest.approx(hand_c_arith("reverse looped", 8, 1))
    assert extremes.value["fan_out"] == pytest.approx(hand_c_arith("forward looped", 1, 8))
    # counted flops of looped forward and reverse mode cross where n (4n + 13) equals
    # (2n + 10) + m (2n + 3): at n = 2 exactly on the grid point m = 4
    cross = estimates[(estimates.family == "tanh_layer")
                      & (estimates.quantity == "crossover_flops")].set_index("inputs")
    assert cross.value[2] == pytest.approx(4.0)


def test_the_run_writes_a_complete_manifest_summary_and_figures(tiny):
    outcome, _, _ = tiny
    folder = outcome.folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["preset"] == "quick"
    assert manifest["config"]["grid_max"] == 4 and manifest["replicates"] == 2
    figures = ["cost_curves.png", "crossover_heatmap.png", "cost_model.png", "extremes.png"]
    assert set(manifest["files"]) == {"results.csv", "estimates.csv", "summary.md", *figures}
    assert [f["file"] for f in manifest["figures"]] == figures
    assert all("95% bootstrap" in f["caption"] or "medians" in f["caption"]
               for f in manifest["figures"])
    for name in figures:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (folder / "summary.md").read_text()
    findings = findings_of(scaling.EXPERIMENT, folder)
    assert 4 <= len(findings) <= 6 and all(f in summary for f in findings)
    assert "A gradient of f: R^8 -> R costs" in findings[0]
    for table in ("Table 1.", "Table 2.", "Table 3.", "Table 4."):
        assert table in summary


def test_unknown_families_and_bad_chain_depths_are_refused():
    cfg = scaling.EXPERIMENT.config("quick", overrides={"families": ["resnet"]})
    with pytest.raises(ValueError, match="unknown family"):
        scaling.cells(cfg)
    with pytest.raises(ValueError, match="multiple of 4"):
        scaling.deep_chain(2, 2, np.random.default_rng(0), {"chain_depth": 6, "chain_width": 2})


def test_the_jitted_jacobians_are_staged_once_and_estimated(tiny):
    _, rows, est = tiny
    staged = rows.dropna(subset=["stagings"])
    assert set(staged.variant) == set(scaling.JITTED)
    assert (staged.stagings == 1).all() and (staged.guard_failures == 0).all()
    for quantity in ("c_jit", "jit_speedup"):
        got = est[est.quantity == quantity]
        assert set(got.variant) == set(scaling.JITTED) and (got.value > 0).all()
