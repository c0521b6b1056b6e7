"""The experiment harness on tiny grids: rows, estimates, summary and manifest; files that
stay true when a run is interrupted or killed; intervals that cover what they should."""

import json

import numpy as np
import pandas as pd
import pytest

from admodes.harness import (
    Estimates,
    Experiment,
    FigureSpec,
    Interrupted,
    Q,
    crossing,
    linear_fit,
    log_slope,
    run,
    store,
    text,
)
from admodes.harness.figures import new_figure
from admodes.harness.stats import fit_points
from admodes.harness.timing import time_round_robin


def tiny(fail_at=None, interrupt_at=None, **presets):
    """A two-cell experiment: time sum(range(n)) against a no-op, note a count."""

    def cells(cfg):
        return [{"size": n} for n in cfg["sizes"]]

    def measure(cell, cfg, meter):
        n = cell["size"]
        if n == fail_at:
            raise ValueError("broken cell")
        if n == interrupt_at and meter.replicate == 1:
            raise KeyboardInterrupt
        meter.time({"sum": lambda: sum(range(n)), "noop": lambda: None})
        if meter.first:
            meter.note("sum", items=n)

    def estimate(results):
        est = Estimates()
        for n in results.cfg["sizes"]:
            est.add("time", results.time("sum", size=n), size=n)
            est.add("items", results.metric("items", "sum", size=n), size=n)
        return est

    def draw(ctx):
        fig, axes = new_figure()
        axes[0][0].plot([1, 2], [1, 2])
        return fig

    return Experiment(
        name="tiny", title="A tiny experiment", summary="Times sums.",
        presets={"quick": {"sizes": [10, 1000], "replicates": 2, "samples": 3, "draws": 50,
                           "warmup": 0, "min_sample_s": 1e-5, **presets}},
        cells=cells, measure=measure, estimate=estimate,
        findings="- Summing the most items takes {{ (E.all('time') | last).value | seconds }}.",
        details="{{ table([[1, 2]], ['a', 'b']) | join('\\n') }}",
        figures=[FigureSpec("line", draw, "A line, preset {{ manifest.preset }}.")])


def test_a_complete_run_writes_rows_estimates_summary_figures_and_manifest_last(tmp_path):
    outcome = run(tiny(), "quick", tmp_path, show_progress=False)
    folder = tmp_path / "tiny"
    assert outcome.complete and outcome.folder == folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["status"] == "complete"
    assert manifest["files"] == sorted(["results.csv", "estimates.csv", "summary.md",
                                        "line.png"])
    assert manifest["preset"] == "quick" and manifest["replicates"] == 2
    assert manifest["figures"] == [{"file": "line.png", "caption": "A line, preset quick."}]
    assert {"cpu_model", "admodes_version", "admodes_commit"} <= set(manifest["environment"])
    rows = pd.read_csv(folder / "results.csv")
    # 2 replicates x 2 cells x 2 variants x 3 samples, each with wall and CPU time
    assert len(rows) == 24
    assert set(rows.replicate) == {0, 1} and set(rows.variant) == {"sum", "noop"}
    assert rows.wall_s.gt(0).all() and rows.cpu_s.ge(0).all()
    assert rows["items"].notna().sum() == 6  # noted once per cell, on the first replicate
    estimates = pd.read_csv(folder / "estimates.csv")
    assert list(estimates.columns) == ["quantity", "size", "value", "ci_low", "ci_high", "n"]
    items = estimates[estimates.quantity == "items"]
    assert items.value.tolist() == [10, 1000] and (items.ci_low == items.ci_high).all()
    timed = estimates[estimates.quantity == "time"]
    assert (timed.ci_low <= timed.value).all() and (timed.value <= timed.ci_high).all()
    summary = (folder / "summary.md").read_text()
    assert "## Findings" in summary and "Summing the most items takes" in summary
    assert "*Figure 1.* A line, preset quick." in summary
    assert "2 replicates of 2 cells" in summary
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_cells_are_measured_in_a_shuffled_order_per_replicate(tmp_path):
    run(tiny(sizes=list(range(1, 9))), "quick", tmp_path, show_progress=False)
    rows = pd.read_csv(tmp_path / "tiny" / "results.csv")
    orders = [rows[rows.replicate == r].drop_duplicates("cell").sort_values("order")["size"]
              .tolist()
              for r in (0, 1)]
    assert sorted(orders[0]) == sorted(orders[1]) == list(range(1, 9))
    assert orders[0] != orders[1]


def test_an_error_in_a_cell_leaves_an_incomplete_run_that_says_why(tmp_path):
    run(tiny(), "quick", tmp_path, show_progress=False)  # a complete run first
    outcome = run(tiny(fail_at=1000), "quick", tmp_path, show_progress=False)
    folder = tmp_path / "tiny"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert not outcome.complete and manifest["complete"] is False
    assert manifest["status"] == "failed" and "broken cell" in manifest["reason"]
    assert "size=1000" in manifest["reason"]
    # only the failed run's files: no estimates, summary or figure of the earlier run
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "results.csv"]


def test_ctrl_c_finalizes_the_run_as_interrupted_then_stops(tmp_path):
    with pytest.raises(Interrupted) as stop:
        run(tiny(interrupt_at=10), "quick", tmp_path, show_progress=False)
    manifest = json.loads((tmp_path / "tiny" / "manifest.json").read_text())
    assert stop.value.outcome.status == "interrupted"
    assert manifest["complete"] is False and "Ctrl-C" in manifest["reason"]
    rows = pd.read_csv(tmp_path / "tiny" / "results.csv")
    assert len(rows) > 0 and manifest["rows"] == len(rows)


def test_a_killed_run_leaves_the_finished_files_whole_and_its_litter_is_removed(tmp_path):
    run(tiny(), "quick", tmp_path, show_progress=False)
    folder = tmp_path / "tiny"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # a run killed while measuring leaves only its hidden partial rows and temp files
    (folder / store.PARTIAL).write_text('{"half": 1}\n')
    (folder / ".results.csv.tmp-99999").write_text("half written")
    assert {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")} \
        == before
    removed = store.clean_leftovers(folder)
    assert sorted(p.name for p in removed) == [".results.csv.tmp-99999", store.PARTIAL]
    run(tiny(), "quick", tmp_path, show_progress=False)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_unknown_config_keys_and_bad_presets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        run(tiny(), "full", tmp_path)
    with pytest.raises(ValueError, match="unknown config keys"):
        run(tiny(), "quick", tmp_path, overrides={"sizez": [1]})
    with pytest.raises(ValueError, match="replicates must be a positive int"):
        run(tiny(), "quick", tmp_path, overrides={"replicates": 0})


# -- timing -------------------------------------------------------------------------------


def test_round_robin_takes_the_variants_in_turn_with_wall_and_cpu_time():
    samples = time_round_robin({"a": lambda: sum(range(100)), "b": lambda: None}, 4, warmup=0,
                               min_sample_s=1e-5)
    assert [s.variant for s in samples] == ["a", "b"] * 4
    assert [s.index for s in samples] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(s.calls >= 1 and s.wall_s > 0 and s.cpu_s >= 0 for s in samples)


# -- statistics ---------------------------------------------------------------------------


def test_an_exact_quantity_has_a_zero_width_interval():
    q = Q.exact(3.0, draws=10)
    assert (q.value, q.low, q.high) == (3.0, 3.0, 3.0)
    assert (q * 2).value == 6.0 and (q / Q.exact(2.0, 10)).high == 1.5


def test_the_bootstrap_interval_covers_the_median_of_a_known_distribution():
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(40):
        samples = {r: rng.normal(10.0, 1.0, 15) for r in range(3)}
        q = Q.of_samples(samples, draws=300, seed=trial)
        covered += q.low <= 10.0 <= q.high
    assert covered >= 32  # about 95% of 40; chance alone gives >= 34 with 90% probability


def test_fits_recover_known_lines_with_intervals():
    x = [1, 2, 4, 8, 16]
    ys = [Q.exact(3.0 * v ** 1.5, 20) for v in x]
    p = log_slope(x, ys)
    assert abs(p.value - 1.5) < 1e-12 and p.low == pytest.approx(1.5)
    a, b = linear_fit(x, [Q.exact(2.0 + 0.5 * v, 20) for v in x])
    assert a.value == pytest.approx(2.0) and b.value == pytest.approx(0.5)
    a, b = fit_points([1e-1, 1e-2, 1e-3], [1e-2, 1e-4, 1e-6], draws=50)
    assert b.value == pytest.approx(2.0) and a.value == pytest.approx(0.0, abs=1e-12)


def test_crossing_interpolates_on_log_axes_and_says_when_there_is_none():
    x = [1, 2, 4, 8]
    q = crossing(x, [Q.exact(v, 5) for v in (2.0, 1.0, -1.0, -2.0)])
    assert q.value == pytest.approx(2 ** 1.5)
    assert crossing(x, [Q.exact(1.0, 5)] * 4).value == float("inf")
    assert crossing(x, [Q.exact(-1.0, 5)] * 4).value == 0.0


def test_a_comparison_with_a_threshold_inside_the_interval_says_so():
    e = text.Est(5.5, 4.9, 6.3, 10, {})
    assert e.compare(6) == "not distinguishable from"
    assert text.versus(e, 6) == "5.5 [4.9, 6.3], not distinguishable from 6"
    assert text.Est(2.0, 1.5, 2.5, 3, {}).compare(6) == "below"


def test_estimate_lookups_say_what_is_missing():
    table = text.EstimateTable(pd.DataFrame({
        "quantity": ["c", "c"], "family": ["a", "b"], "value": [1.0, 2.0],
        "ci_low": [0.5, 1.5], "ci_high": [1.5, 2.5], "n": [3, 3]}))
    assert table("c", family="b").value == 2.0
    assert [e.value for e in table.all("c")] == [1.0, 2.0]
    with pytest.raises(KeyError, match="2 estimates of 'c'"):
        table("c")
    with pytest.raises(KeyError, match="0 estimates of 'slope'"):
        table("slope")
