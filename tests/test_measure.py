"""The measuring helpers and the overhead benchmark, with deterministic checks only (no
wall-clock thresholds: these tests must pass on a slow or busy machine)."""

import datetime
import gc
import io
import math
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from admodes import measure
from admodes.measure import (
    RowSink,
    Timing,
    announce,
    environment,
    experiment_args,
    fit_slope,
    frozen_heap,
    markdown_table,
    merged_config,
    peak_memory,
    pinned_blas,
    progress,
    save_figure,
    steady_malloc,
    time_call,
    write_atomic,
    written_atomically,
)

ROOT = Path(__file__).resolve().parents[1]


# -- time_call ------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [lambda: None, lambda: sum(range(20_000))])
def test_timing_statistics_are_ordered(fn):
    t = time_call(fn, min_time=0.0, min_repeats=7)
    assert isinstance(t, Timing)
    assert 0 <= t.min_s <= t.q25_s <= t.median_s <= t.q75_s <= t.max_s
    assert t.repeats >= 7
    assert t.calls_per_repeat >= 1


def test_timing_is_frozen():
    t = time_call(lambda: None, min_time=0.0, min_repeats=1)
    with pytest.raises(AttributeError):
        t.median_s = 0.0


def test_max_repeats_caps_the_samples():
    t = time_call(lambda: None, min_time=60.0, min_repeats=3, max_repeats=3)
    assert t.repeats == 3


def test_arguments_are_passed_and_bad_repeat_counts_refused():
    seen = []
    time_call(seen.append, 7, min_time=0.0, min_repeats=1, warmup=0)
    assert set(seen) == {7}
    with pytest.raises(ValueError):
        time_call(len, (), min_repeats=0)
    with pytest.raises(ValueError):
        time_call(len, (), min_repeats=5, max_repeats=4)


def test_warmup_runs_with_gc_on_and_timing_with_gc_off():
    states = []
    time_call(lambda: states.append(gc.isenabled()), min_time=0.0, min_repeats=3, warmup=4)
    assert states[:4] == [True] * 4
    assert len(states) > 4 and not any(states[4:])
    assert gc.isenabled()


def test_gc_is_enabled_again_after_an_exception():
    calls = []

    def fails_on_third_call():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        time_call(fails_on_third_call, min_time=0.0, min_repeats=10, warmup=1)
    assert gc.isenabled()


def test_gc_left_off_when_it_was_off_before():
    gc.disable()
    try:
        time_call(lambda: None, min_time=0.0, min_repeats=2)
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- pinned_blas, peak_memory ---------------------------------------------------------


def test_pinned_blas_limits_every_blas_library_to_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"]

    before = blas_threads()
    with pinned_blas(1):
        assert all(n == 1 for n in blas_threads())
        np.ones((20, 20)) @ np.ones((20, 20))
    assert blas_threads() == before


def test_steady_malloc_says_whether_it_applied():
    assert steady_malloc() in (True, False)


def test_peak_memory_sees_a_10_mb_allocation_even_when_freed():
    result, peak = peak_memory(lambda n: float(np.ones(n).sum()), 1_250_000)
    assert result == 1_250_000.0
    assert peak >= 10_000_000
    assert not tracemalloc.is_tracing()


def test_peak_memory_inside_a_traced_region_leaves_tracing_on():
    tracemalloc.start()
    try:
        _, peak = peak_memory(np.ones, 1_250_000)
        assert peak >= 10_000_000
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


# -- environment ----------------------------------------------------------------------

ENV_KEYS = {"admodes_version", "numpy_version", "python_version", "cpu_model", "cores", "blas",
            "date", "admodes_commit", "admodes_path", "load_average"}


def test_environment_keys_and_types():
    env = environment()
    assert set(env) == ENV_KEYS
    assert env["numpy_version"] == np.__version__
    assert isinstance(env["cpu_model"], str) and env["cpu_model"]
    assert env["cores"] is None or env["cores"] >= 1
    assert datetime.datetime.fromisoformat(env["date"]).tzinfo is not None
    for lib in env["blas"] or []:
        assert {"internal_api", "version"} <= set(lib)


def test_the_commit_is_admodes_own_not_the_current_directorys(tmp_path, monkeypatch):
    import subprocess

    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.chdir(other)
    commit = environment()["admodes_commit"]
    assert commit == measure.source_commit()
    if (ROOT / ".git").exists() and shutil.which("git"):
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        assert commit.split("+")[0] == head


def test_the_commit_of_an_installed_copy_comes_from_its_build_record(monkeypatch):
    monkeypatch.setattr(measure, "_git", lambda *args, cwd: None)
    import sys
    import types

    monkeypatch.setitem(sys.modules, "admodes._build", types.SimpleNamespace(COMMIT="abc123"))
    assert measure.source_commit() == "abc123"


# -- progress -------------------------------------------------------------------------


def test_progress_prints_about_every_tenth_when_not_a_terminal():
    out = io.StringIO()
    assert list(progress(range(100), label="sweep", stream=out)) == list(range(100))
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert all(line.startswith("sweep ") for line in lines)
    assert lines[-1].startswith("sweep 100/100")


def test_progress_forced_rewrites_one_line():
    out = io.StringIO()
    list(progress(range(5), label="x", force=True, stream=out))
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1


def test_progress_ends_its_line_when_the_loop_is_left_early():
    out = io.StringIO()
    for i in progress(range(10), force=True, stream=out):
        if i == 2:
            break
    assert out.getvalue().endswith("\n")


def test_progress_without_a_total_reports_the_count_at_the_end():
    out = io.StringIO()
    assert list(progress((i for i in range(7)), stream=out)) == list(range(7))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("7 ")


# -- fit_slope, markdown_table --------------------------------------------------------


@pytest.mark.parametrize("power", [-1.5, 0.0, 1.0, 2.0, 3.0])
def test_fit_slope_recovers_the_power_of_an_exact_power_law(power):
    sizes = [2.0 ** k for k in range(8)]
    assert fit_slope(sizes, [2.0 ** (power * k) for k in range(8)]) == pytest.approx(
        power, abs=1e-12)
    assert fit_slope(sizes, [7.0 * n ** power for n in sizes]) == pytest.approx(
        power, abs=1e-12)
    decades = [10.0 ** -k for k in range(1, 6)]  # any base of the logs gives the same slope
    assert fit_slope(decades, [n ** power for n in decades]) == pytest.approx(power, abs=1e-12)


def test_fit_slope_leaves_out_what_has_no_log():
    assert fit_slope([1, 2, 4, 8, 16, 32], [0.0, 2.0, -4.0, np.inf, 16.0, np.nan]) == (
        pytest.approx(1.0, abs=1e-12))
    assert math.isnan(fit_slope([4, 4, 4], [1.0, 2.0, 3.0]))  # one distinct size
    assert math.isnan(fit_slope([1, 2], [0.0, 3.0]))
    assert math.isnan(fit_slope([], []))


def test_markdown_table_formats_the_named_columns_and_str_the_others():
    frame = pd.DataFrame({"op": ["sin", "tanh"], "n": [3, 40], "slope": [1.0, -0.25]})
    assert markdown_table(frame, {"slope": "{:.2f}".format}) == [
        "| op | n | slope |",
        "|---|---|---|",
        "| sin | 3 | 1.00 |",
        "| tanh | 40 | -0.25 |",
    ]
    assert markdown_table(frame[["op"]]) == ["| op |", "|---|", "| sin |", "| tanh |"]
    assert markdown_table(frame.iloc[:0]) == ["| op | n | slope |", "|---|---|---|"]


# -- RowSink ---------------------------------------------------------------------------

COLUMNS = ["n", "seconds"]


def _csv_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_row_sink_writes_each_row_to_the_csv_as_it_comes(tmp_path):
    path = tmp_path / "new" / "rows.csv"
    sink = RowSink(COLUMNS, path)
    assert _csv_lines(path) == ["n,seconds"]
    sink.add({"n": 1, "seconds": 0.5})
    assert _csv_lines(path) == ["n,seconds", "1,0.5"]
    sink.add({"seconds": 0.25, "n": 2, "not_a_column": "left out"})
    sink.add({"n": 3})
    assert _csv_lines(path) == ["n,seconds", "1,0.5", "2,0.25", "3,"]
    df = sink.frame(config={"seed": 0}, interrupted=False)
    assert list(df.columns) == COLUMNS and df.n.tolist() == [1, 2, 3]
    assert df.attrs == {"config": {"seed": 0}, "interrupted": False}
    assert pd.read_csv(path).shape == df.shape


def test_row_sink_without_a_path_only_collects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sink = RowSink(COLUMNS)
    sink.add({"n": 1, "seconds": 0.5})
    assert sink.frame().to_dict("records") == [{"n": 1, "seconds": 0.5}]
    assert list(tmp_path.iterdir()) == []


def _measure_until(failure: BaseException):
    def measure(n):
        if n == 3:
            raise failure
        return [{"n": n, "seconds": n / 2}, {"n": n, "seconds": n / 4}]

    return measure


def test_rows_measured_before_an_exception_stay_in_the_csv(tmp_path):
    path = tmp_path / "rows.csv"
    sink = RowSink(COLUMNS, path)
    with pytest.raises(RuntimeError, match="boom"):
        sink.collect(range(5), _measure_until(RuntimeError("boom")), show_progress=False)
    assert _csv_lines(path) == ["n,seconds", "0,0.0", "0,0.0", "1,0.5", "1,0.25", "2,1.0",
                                "2,0.5"]
    assert len(sink.frame()) == 4 + 2


def test_collect_stops_at_ctrl_c_and_keeps_the_rows(tmp_path, capsys):
    path = tmp_path / "rows.csv"
    sink = RowSink(COLUMNS, path)
    interrupted = sink.collect(range(5), _measure_until(KeyboardInterrupt()), label="demo",
                               show_progress=False)
    assert interrupted is True
    assert pd.read_csv(path).shape == sink.frame().shape == (6, 2)
    assert "demo: interrupted; keeping the 6 rows measured" in capsys.readouterr().err
    done = RowSink(COLUMNS).collect([0, 1], _measure_until(KeyboardInterrupt()),
                                    show_progress=False)
    assert done is False


# -- configs, the garbage collector, the command line ---------------------------------


def test_merged_config_overrides_defaults_and_refuses_unknown_keys():
    defaults = {"seed": 0, "size": 8}
    assert merged_config(defaults, {"size": 16}) == {"seed": 0, "size": 16}
    assert merged_config(defaults, None) == defaults
    assert defaults == {"seed": 0, "size": 8}
    with pytest.raises(ValueError, match=r"unknown config keys \['sise'\]; known: "):
        merged_config(defaults, {"sise": 16})


def test_frozen_heap_freezes_inside_the_block_only():
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError
    assert gc.get_freeze_count() == 0


def test_experiment_args_defaults_and_quick_over_preset():
    common = {"description": "demo", "name": "demo", "presets": ["quick", "full"],
              "preset_help": "how much"}
    args = experiment_args([], **common)
    assert (args.preset, args.out) == ("full", Path("reports/demo"))
    args = experiment_args(["--preset", "full", "--quick", "--out", "x/y"], **common)
    assert (args.preset, args.out) == ("quick", Path("x/y"))
    with pytest.raises(SystemExit):
        experiment_args(["--preset", "huge"], **common)


def test_announce_prints_paths_and_findings_and_gives_the_exit_code(capsys):
    df = pd.DataFrame()
    assert announce(df, [Path("out/a.csv")], ["One.", "Two."]) == 0
    assert capsys.readouterr().out == "wrote out/a.csv\n- One.\n- Two.\n"
    df.attrs["interrupted"] = True
    assert announce(df, [], []) == 130


# -- files written atomically ---------------------------------------------------------


def test_written_atomically_renames_every_file_when_the_block_succeeds(tmp_path):
    paths = [tmp_path / "a.md", tmp_path / "b.csv"]
    with written_atomically(*paths) as temps:
        assert all(t.parent == tmp_path and t.name.startswith(".") for t in temps)
        for t, text in zip(temps, ("first", "second")):
            t.write_text(text)
        assert not any(p.exists() for p in paths)
    assert [p.read_text() for p in paths] == ["first", "second"]
    assert sorted(tmp_path.iterdir()) == sorted(paths)


def test_written_atomically_leaves_every_file_as_it_was_on_an_error(tmp_path):
    old = write_atomic(tmp_path / "a.md", "old")
    with pytest.raises(KeyboardInterrupt), written_atomically(old, tmp_path / "b.csv") as (a, b):
        a.write_text("new")
        raise KeyboardInterrupt
    assert old.read_text() == "old"
    assert list(tmp_path.iterdir()) == [old]


def test_save_figure_writes_the_format_of_the_suffix(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    png = save_figure(fig, tmp_path / "f.png", dpi=20)
    svg = save_figure(fig, tmp_path / "f.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:500]
    assert sorted(tmp_path.iterdir()) == [png, svg]


# -- the overhead benchmark -----------------------------------------------------------

TINY = {"chain_ops": 8, "vector_size": 5, "batch": 3, "features": 4, "hidden": 2,
        "rounds": 1, "min_time": 0.0, "min_repeats": 2, "warmup": 0, "steady_malloc": False}


@pytest.fixture(scope="module")
def overhead(load_experiment):
    return load_experiment("overhead")


def test_overhead_run_and_report_on_a_tiny_config(overhead, tmp_path):
    df = overhead.run(TINY)
    assert list(df.columns) == overhead.COLUMNS
    assert {"benchmark", "engine", "input_kind", "n_ops", "median_s", "min_s", "max_s",
            "repeats", "us_per_op", "ratio_to_numpy", "target", "met"} <= set(df.columns)
    assert set(df.engine) == {"numpy", "reverse", "forward", "handwritten"}
    assert set(df.benchmark) == {"per_op", "vector_chain", "mlp_loss"}
    assert len(df) == 13
    assert (df.repeats >= 2).all()
    assert (df.min_s <= df.median_s).all() and (df.median_s <= df.max_s).all()
    np.testing.assert_allclose(df[df.engine == "numpy"].ratio_to_numpy, 1.0)
    chain = df[df.benchmark != "mlp_loss"]
    assert set(chain.n_ops) == {8, 9}  # the chain, plus np.sum on arrays
    judged = df[df.target.notna()]
    assert len(judged) == 7 and set(judged.met) <= {True, False}
    assert df[df.target.isna()].met.isna().all()

    csv_path, md_path = overhead.write_report(df, tmp_path / "out")
    assert csv_path == tmp_path / "out" / "results.csv" and csv_path.exists()
    assert md_path == tmp_path / "out" / "summary.md"
    summary = md_path.read_text()
    assert "| benchmark |" in summary and "targets met" in summary
    assert len(csv_path.read_text().splitlines()) == 1 + len(df)


def test_overhead_refuses_unknown_config_keys(overhead):
    with pytest.raises(ValueError, match="unknown config"):
        overhead.run({"chain_opps": 8})


# -- what a tape keeps ------------------------------------------------------------------


def test_tape_residuals_counts_kept_and_needed_bytes_by_hand():
    x = np.ones(1000)
    # entries: the input, sin, multiply, sum; kept: x, sin(x), 2 sin(x) (8000 B each), the
    # constant 2.0 and the sum (8 B each). sin's VJP reads x, multiply's reads the constant
    # 2.0, sum's reads only shapes: 8008 B needed.
    r = measure.tape_residuals(lambda x: np.sum(np.sin(x) * 2.0), x)
    assert (r["entries"], r["kept_bytes"], r["needed_bytes"]) == (4, 24016, 8008)
    # tanh's VJP reads its output, multiply's both inputs: x and tanh(x)
    r = measure.tape_residuals(lambda x: np.sum(np.tanh(x) * x), x)
    assert (r["kept_bytes"], r["needed_bytes"]) == (24008, 16000)
    assert r["python_bytes_per_entry"] > 0


def test_tape_residuals_needs_a_scalar_function():
    with pytest.raises(TypeError, match="one scalar output"):
        measure.tape_residuals(lambda x: x * 2.0, np.ones(3))
