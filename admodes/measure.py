"""Measuring helpers: timing, BLAS pinning, peak memory, the environment, what a tape keeps.

The harness (``admodes.harness``) uses these, and so can users who want to time their own
derivatives the same way: warm up first, batch very fast calls so the timer's resolution
doesn't dominate, keep the garbage collector out of the timed region, and report the median
with its spread. Files are written atomically (``write_atomic``).

Example:
    >>> import numpy as np, admodes
    >>> from admodes.measure import pinned_blas, time_call
    >>> f = admodes.grad(lambda x: np.sum(np.tanh(x)))
    >>> with pinned_blas(1):
    ...     t = time_call(f, np.ones(10), min_time=0.01)
    >>> t.min_s <= t.median_s <= t.max_s
    True
"""

from __future__ import annotations

import ctypes
import datetime
import gc
import itertools
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

# A timed sample should last at least this long: perf_counter's resolution and the cost of
# reading it (tens of nanoseconds) then stay below 0.1% of what is measured.
_MIN_SAMPLE_S = 50e-6
_MAX_CALLS_PER_SAMPLE = 1_000_000


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one function: the median and the spread over ``repeats`` samples.

    Each sample times ``calls_per_repeat`` back-to-back calls and divides by that number
    (more than 1 only for calls too fast to time one at a time).
    """

    median_s: float
    min_s: float
    max_s: float
    q25_s: float
    q75_s: float
    repeats: int
    calls_per_repeat: int = 1

    def __str__(self) -> str:
        return (f"{_human(self.median_s)} per call (median; IQR {_human(self.q25_s)} to "
                f"{_human(self.q75_s)}; {self.repeats} samples x {self.calls_per_repeat})")


def _human(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def batch(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """Wall and thread CPU seconds of ``calls`` back-to-back calls of ``fn()``, in all."""
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for _ in itertools.repeat(None, calls):
        fn()
    return time.perf_counter() - wall0, time.thread_time() - cpu0


def calls_per_sample(fn: Callable[[], object], min_sample_s: float = _MIN_SAMPLE_S,
                     max_calls: int = _MAX_CALLS_PER_SAMPLE) -> int:
    """How many back-to-back calls of ``fn()`` one sample needs to last ``min_sample_s``."""
    calls = 1
    while True:
        wall, _ = batch(fn, calls)
        if wall >= min_sample_s or calls >= max_calls:
            return calls
        wanted = math.ceil(1.2 * min_sample_s * calls / max(wall, 1e-9))
        calls = min(max_calls, max(2 * calls, wanted))


def time_call(fn: Callable, *args: Any, min_time: float = 0.2, min_repeats: int = 5,
              max_repeats: int = 10_000, warmup: int = 2) -> Timing:
    """Time ``fn(*args)``: ``warmup`` untimed calls, then samples until both ``min_time``
    seconds have passed and ``min_repeats`` samples were taken (at most ``max_repeats``).

    Calls faster than ~50 us are timed in batches of N back-to-back calls, divided by N.
    The garbage collector is off while timing and restored afterwards, even on an error;
    between samples (untimed) it collects the youngest generation, so that a function whose
    garbage has reference cycles cannot pile up memory over thousands of calls.

    Example:
        >>> t = time_call(sum, range(100), min_time=0.01, min_repeats=3)
        >>> t.repeats >= 3 and t.min_s <= t.q25_s <= t.median_s <= t.q75_s <= t.max_s
        True
    """
    if min_repeats < 1 or max_repeats < min_repeats:
        raise ValueError(f"need 1 <= min_repeats <= max_repeats, got min_repeats="
                         f"{min_repeats}, max_repeats={max_repeats}")
    for _ in range(warmup):
        fn(*args)
    call = partial(fn, *args)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        calls = calls_per_sample(call)
        samples = []
        start = time.perf_counter()
        while len(samples) < max_repeats:
            samples.append(batch(call, calls)[0] / calls)
            gc.collect(0)
            if len(samples) >= min_repeats and time.perf_counter() - start >= min_time:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    lo, q25, med, q75, hi = np.percentile(samples, [0, 25, 50, 75, 100])
    return Timing(float(med), float(lo), float(hi), float(q25), float(q75), len(samples),
                  calls)


@contextmanager
def pinned_blas(threads: int = 1) -> Iterator[None]:
    """Limit the BLAS libraries numpy loaded to ``threads`` threads inside the block.

    Example:
        >>> import numpy as np
        >>> with pinned_blas(1):
        ...     _ = np.ones((50, 50)) @ np.ones((50, 50))
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as e:  # pragma: no cover - scikit-learn brings it along
        raise ImportError("pinned_blas needs threadpoolctl: pip install threadpoolctl") from e
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def steady_malloc() -> bool:
    """Keep glibc's malloc from handing freed memory back to the OS, for the rest of the
    process; True if that was done (Linux with glibc), False elsewhere.

    By default glibc returns the top of its heap to the OS once more than ~128 KiB is free
    there, and serves large blocks by fresh mmaps. Whether that happens on every call of a
    function that frees a lot at once (a reverse-mode tape) depends on where earlier
    allocations happened to land, so the same benchmark can run 30-60% slower in one process
    than in the next, paying hundreds of page faults per call. Call this before timing.

    Example:
        >>> steady_malloc() in (True, False)
        True
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    trim_ok = mallopt(m_trim_threshold, 1 << 30)
    mmap_ok = mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest allowed value
    return bool(trim_ok and mmap_ok)


def peak_memory(fn: Callable, *args: Any) -> tuple[Any, int]:
    """Call ``fn(*args)``; return its result and the peak bytes Python allocated meanwhile
    (above what was allocated when the call began), as tracemalloc sees it.

    Example:
        >>> import numpy as np
        >>> _, peak = peak_memory(np.ones, 1_000_000)
        >>> peak >= 8_000_000
        True
    """
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if started_here:
            tracemalloc.stop()
    return result, max(peak - before, 0)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _blas_info() -> list[dict[str, Any]] | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return None
    return [{"internal_api": lib.get("internal_api"), "version": lib.get("version"),
             "num_threads": lib.get("num_threads")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_commit() -> str | None:
    """The git commit of the admodes source in use ("+dirty" when its tracked files have
    uncommitted changes): from the checkout it runs from, else from the record its build
    made (``admodes/_build.py``); None when neither is known. Never the commit of whatever
    repository the current directory happens to be in."""
    package = Path(__file__).resolve().parent
    top = _git("rev-parse", "--show-toplevel", cwd=package)
    if top and (Path(top) / "admodes").resolve() == package:
        commit = _git("rev-parse", "HEAD", cwd=package)
        if commit:
            dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "admodes",
                         "experiments", cwd=Path(top))
            return commit + ("+dirty" if dirty else "")
    try:
        from ._build import COMMIT  # written by setup.py when a wheel is built
    except ImportError:
        return None
    return COMMIT


def environment() -> dict[str, Any]:
    """What a measurement depends on: library versions, the CPU, BLAS, date and commit.

    ``admodes_commit`` is the commit of the admodes source in use (``source_commit``) and
    ``admodes_path`` where it was imported from.
    ``load_average`` is the 1-minute system load when asked (None where unknown); a running
    benchmark adds about 1 to it, so more than that means other processes competed for CPUs.
    ``blas`` lists each BLAS library numpy loaded (``internal_api``, ``version`` and its
    current ``num_threads``).

    Example:
        >>> env = environment()
        >>> sorted(env)[:3]
        ['admodes_commit', 'admodes_path', 'admodes_version']
    """
    from . import __version__

    return {
        "admodes_version": __version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "blas": _blas_info(),
        "date": datetime.datetime.now(datetime.timezone.utc).astimezone()
                .isoformat(timespec="seconds"),
        "admodes_commit": source_commit(),
        "admodes_path": str(Path(__file__).resolve().parent),
        "load_average": _load_average(),
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not on every platform
        return None


@contextmanager
def written_atomically(*paths: str | Path) -> Iterator[list[Path]]:
    """Yield a temporary path beside each of ``paths`` to write instead; when the block ends
    without an error, rename each onto its path, in the order given; on an error delete them,
    leaving every path as it was. A reader (or an interrupted run) never sees a half-written
    file.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with written_atomically(folder / "a.txt", folder / "b.txt") as (a, b):
        ...     _ = a.write_text("first"), b.write_text("second")
        >>> sorted(p.name for p in folder.iterdir())
        ['a.txt', 'b.txt']
    """
    finals = [Path(p) for p in paths]
    temps = [p.with_name(f".{p.name}.tmp-{os.getpid()}") for p in finals]
    try:
        yield temps
        for tmp, final in zip(temps, finals):
            os.replace(tmp, final)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename,
    so a reader (or an interrupted run) never sees a half-written file.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hello")
        >>> p.read_text()
        'hello'
    """
    path = Path(path)
    with written_atomically(path) as (tmp,):
        tmp.write_text(text, encoding="utf-8")
    return path


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Hide every object alive now from the garbage collector inside the block.

    ``time_call`` runs a full collection before each measurement; in a process that has
    imported pandas and matplotlib that scans ~10^5 objects (~10 ms) every time. Frozen,
    they are skipped: the collections only scan what the measurements create.

    Example:
        >>> with frozen_heap():
        ...     t = time_call(sum, range(10), min_time=0.0, min_repeats=1)
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- what a tape keeps ----------------------------------------------------------------


def tape_residuals(fun: Callable[..., Any], *args: Any) -> dict[str, float]:
    """Record ``fun(*args)`` (a scalar function) on a tape and pull 1 back once, watching
    which stored values the VJPs read.

    Returns ``entries`` (tape length), ``kept_bytes`` (the residual bytes the tape keeps
    alive, each value once), ``needed_bytes`` (of those, the bytes some VJP actually read:
    what a tape that stored only what its rules need would keep), and ``python_bytes`` /
    ``python_bytes_per_entry`` (the Python objects around them: each entry's tuples and
    parameter dict and each stored array's header, not the array data).

    Example:
        >>> import numpy as np
        >>> r = tape_residuals(lambda x: np.sum(np.sin(x) * 2.0), np.ones(1000))
        >>> r["entries"], r["kept_bytes"] > r["needed_bytes"] > 0
        (4, True)
    """
    from .api import record
    from .core import Tracer, bind, concrete, new_level
    from .numpy_api import NumpyMethods

    _, outs, _, tape = record(lambda leaves: fun(*leaves), list(args))
    if len(outs) != 1 or np.shape(outs[0]) != ():
        raise TypeError("tape_residuals needs a function with one scalar output")
    nodes = tape.nodes
    used: set[int] = set()
    level = new_level()

    class Watched(NumpyMethods, Tracer):
        """A stored value handed to a VJP: reading its data marks it used; its shape,
        dtype and size are metadata and do not."""

        __slots__ = ("_value", "_trace", "_level", "_shape", "_dtype")

        def __init__(self, value):
            self._value, self._trace, self._level = value, watcher, level
            c = concrete(value)
            self._shape, self._dtype = np.shape(c), np.result_type(c)

        @property
        def primal(self):
            used.add(id(concrete(self._value)))
            return self._value

        shape = property(lambda self: self._shape)
        ndim = property(lambda self: len(self._shape))
        size = property(lambda self: int(np.prod(self._shape)))
        dtype = property(lambda self: self._dtype)

    class Watcher:
        active, origin = True, ("tape_residuals", None)

        def process(self, op, args, params):
            return bind(op, *[a.primal if type(a) is Watched else a for a in args], **params)

        def binary(self, op, a, b):
            return self.process(op, (a, b), {})

    watcher = Watcher()
    cts: list[Any] = [None] * len(nodes)
    out_index = next(i for i in range(len(nodes) - 1, -1, -1) if nodes[i][3] is outs[0])
    cts[out_index] = np.ones((), np.result_type(concrete(outs[0])))
    for i in range(len(nodes) - 1, -1, -1):
        op, parents, primals, out, params, wanted = nodes[i]
        if op is None or cts[i] is None:
            continue
        grads = op.vjp(cts[i], tuple(Watched(p) for p in primals), Watched(out), params, wanted)
        for p, g in zip(parents, grads):
            if p >= 0 and g is not None:
                g = concrete(g)
                cts[p] = g if cts[p] is None else cts[p] + g
    values: dict[int, Any] = {}
    for _, _, primals, out, _, _ in nodes:
        for v in (*primals, out):
            values.setdefault(id(concrete(v)), concrete(v))

    def data_bytes(v: Any) -> int:
        if isinstance(v, (np.ndarray, np.generic)):
            return int(v.nbytes)
        return 8 if isinstance(v, float) else 0

    kept = sum(data_bytes(v) for v in values.values())
    needed = sum(data_bytes(v) for k, v in values.items() if k in used)
    shared = {id(n[4]) for n in nodes if not n[4]} | {id(n[5]) for n in nodes if len(n[5]) <= 2}
    python = 0
    for node in nodes:
        python += sys.getsizeof(node) + sys.getsizeof(node[1]) + sys.getsizeof(node[2])
        python += 0 if id(node[4]) in shared else sys.getsizeof(node[4])
        python += 0 if id(node[5]) in shared else sys.getsizeof(node[5])
    for v in values.values():
        if isinstance(v, np.ndarray):
            python += sys.getsizeof(v) - (v.nbytes if v.flags.owndata else 0)
        elif isinstance(v, (float, np.generic)):
            python += sys.getsizeof(v) - data_bytes(v)
    return {"entries": len(nodes), "kept_bytes": kept, "needed_bytes": needed,
            "python_bytes": python, "python_bytes_per_entry": python / max(len(nodes), 1)}
