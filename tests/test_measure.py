"""The measuring helpers, with deterministic checks only (no wall-clock thresholds: these
tests must pass on a slow or busy machine)."""

import datetime
import gc
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from admodes import measure
from admodes.measure import (
    Timing,
    environment,
    frozen_heap,
    peak_memory,
    pinned_blas,
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


def test_frozen_heap_freezes_inside_the_block_only():
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError
    assert gc.get_freeze_count() == 0


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
