"""The measuring helpers and the overhead benchmark, with deterministic checks only (no
wall-clock thresholds: these tests must pass on a slow or busy machine)."""

import datetime
import gc
import importlib.util
import io
import shutil
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from admodes.measure import (
    Timing,
    environment,
    peak_memory,
    pinned_blas,
    progress,
    steady_malloc,
    time_call,
)

ROOT = Path(__file__).resolve().parents[1]


def _load_overhead():
    spec = importlib.util.spec_from_file_location("overhead", ROOT / "experiments/overhead.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
            "date", "git_commit", "load_average"}


def test_environment_keys_and_types():
    env = environment()
    assert set(env) == ENV_KEYS
    assert env["numpy_version"] == np.__version__
    assert isinstance(env["cpu_model"], str) and env["cpu_model"]
    assert env["cores"] is None or env["cores"] >= 1
    assert datetime.datetime.fromisoformat(env["date"]).tzinfo is not None
    for lib in env["blas"] or []:
        assert {"internal_api", "version"} <= set(lib)


def test_git_commit_is_none_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert environment()["git_commit"] is None


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a checkout")
def test_git_commit_inside_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)
    commit = environment()["git_commit"]
    assert len(commit) == 40 and int(commit, 16) >= 0


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


# -- the overhead benchmark -----------------------------------------------------------

TINY = {"chain_ops": 8, "vector_size": 5, "batch": 3, "features": 4, "hidden": 2,
        "rounds": 1, "min_time": 0.0, "min_repeats": 2, "warmup": 0, "steady_malloc": False}


def test_overhead_run_and_report_on_a_tiny_config(tmp_path):
    overhead = _load_overhead()
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


def test_overhead_refuses_unknown_config_keys():
    with pytest.raises(ValueError, match="unknown config"):
        _load_overhead().run({"chain_opps": 8})
