"""What reverse mode pays in memory: the tape grows with the number of ops, forward stays flat.

Reverse mode records every primitive op with the values its derivative rule will need (the
*residuals*) and keeps them until the backward sweep; forward mode carries a tangent beside
each value and drops both as soon as the next op has used them. For a chain of L cheap
elementwise ops on a vector (sin, x * 0.9, x + 0.1, tanh, repeated; then ``np.sum``),
L from 10 to 100,000, this script measures for ``value_and_grad`` (reverse: one recording,
one backward sweep) and ``jvp`` (forward: one sweep):

- the tape's length (entries: the input, the L ops and the sum) and its residual bytes, as
  ``admodes.count_ops`` reports them;
- the peak memory allocated during one call, by tracemalloc
  (``admodes.measure.peak_memory``), also for the plain-numpy primal;
- the time of one call (``admodes.measure.time_call``: median after warm-up, BLAS pinned to
  one thread) and its ratio to the primal timed in the same run.

Slopes are fitted on log-log axes over L >= sqrt(largest L), where fixed costs (the input,
the interpreter's own allocations) no longer dominate: reverse mode's should be 1, forward
mode's 0.

Columns of ``results.csv`` (one row per measurement): ``experiment`` ("memory"), ``part``
("chain"), ``family``, ``mode`` (forward, reverse, primal), ``strategy`` (one_sweep, numpy),
``n_inputs`` (vector length), ``n_outputs`` (1), ``chain_length`` (L), ``repeats``,
``median_s``, ``min_s``, ``max_s``, ``primal_median_s``, ``ratio_to_primal``, ``sweeps``,
``recordings``, ``ops``, ``flops``, ``tape_length``, ``tape_bytes``, ``peak_bytes``,
``peak_bytes_per_op``, ``max_abs_error`` (forward's directional derivative against the
reverse gradient's dot product with the same direction).

Run ``python experiments/memory.py [--quick | --preset full] [--out DIR]``: it writes
``results.csv`` (row by row), ``summary.md`` and ``memory.png`` into DIR (default
``reports/memory``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import admodes
from admodes.measure import (
    RowSink,
    announce,
    environment,
    experiment_args,
    fit_slope,
    frozen_heap,
    markdown_table,
    merged_config,
    peak_memory,
    pinned_blas,
    save_figure,
    steady_malloc,
    time_call,
    write_atomic,
)

NAME = "memory"

FULL_CONFIG: dict[str, Any] = {
    "chain_lengths": [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000],
    "vector_size": 64,       # float64 numbers carried along the chain (512 bytes per value)
    "min_time": 0.05,        # seconds of timed samples per measurement, after warm-up
    "min_repeats": 3,
    "warmup": 1,
    "seed": 0,
    "steady_malloc": True,   # see admodes.measure.steady_malloc
    "checkpoint_csv": None,  # if a path: append each row there as soon as it is measured
}
QUICK_CONFIG: dict[str, Any] = {**FULL_CONFIG,
                                "chain_lengths": [10, 100, 1_000, 10_000, 100_000],
                                "min_time": 0.0, "min_repeats": 1, "warmup": 0}
PRESETS: dict[str, dict[str, Any]] = {"quick": QUICK_CONFIG, "full": FULL_CONFIG}

COLUMNS = ["experiment", "part", "family", "mode", "strategy", "n_inputs", "n_outputs",
           "chain_length", "repeats", "median_s", "min_s", "max_s", "primal_median_s",
           "ratio_to_primal", "sweeps", "recordings", "ops", "flops", "tape_length",
           "tape_bytes", "peak_bytes", "peak_bytes_per_op", "max_abs_error"]
FAMILY = "elementwise_chain"


def make_chain(length: int) -> Callable[[Any], Any]:
    """x -> sum of a chain of ``length`` elementwise ops (sin, * 0.9, + 0.1, tanh, ...): the
    values stay within [-1, 1] however long the chain."""
    if length < 1:
        raise ValueError(f"a chain needs at least one op, got length {length}")

    def chain(x):
        z = x
        for k in range(length):
            step = k % 4
            if step == 0:
                z = np.sin(z)
            elif step == 1:
                z = z * 0.9
            elif step == 2:
                z = z + 0.1
            else:
                z = np.tanh(z)
        return np.sum(z)

    return chain


def _counted(fn: Callable, *args: Any):
    with admodes.count_ops() as count:
        result = fn(*args)
    return result, count


def measure_length(length: int, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The primal, forward and reverse rows for one chain length (columns: ``COLUMNS``)."""
    rng = np.random.default_rng([cfg["seed"], length])
    size = cfg["vector_size"]
    x = rng.uniform(-1.0, 1.0, size)
    direction = rng.standard_normal(size)
    f = make_chain(length)
    value_and_grad = admodes.value_and_grad(f)

    def forward(v):
        return admodes.jvp(f, (v,), (direction,))

    base = {"experiment": NAME, "part": "chain", "family": FAMILY, "n_inputs": size,
            "n_outputs": 1, "chain_length": length}
    timing_args = {"min_time": cfg["min_time"], "min_repeats": cfg["min_repeats"],
                   "warmup": cfg["warmup"]}
    primal_time = time_call(f, x, **timing_args)
    _, primal_peak = peak_memory(f, x)
    rows = [{**base, "mode": "primal", "strategy": "numpy", "repeats": primal_time.repeats,
             "median_s": primal_time.median_s, "min_s": primal_time.min_s,
             "max_s": primal_time.max_s, "primal_median_s": primal_time.median_s,
             "ratio_to_primal": 1.0, "sweeps": 0, "recordings": 0, "ops": length + 1,
             "flops": np.nan, "tape_length": 0, "tape_bytes": 0, "peak_bytes": primal_peak,
             "peak_bytes_per_op": primal_peak / length, "max_abs_error": np.nan}]
    results = {}
    for mode, fn in (("reverse", value_and_grad), ("forward", forward)):
        # counted and measured apart: counting allocates small objects of its own
        result, count = _counted(fn, x)
        _, peak = peak_memory(fn, x)
        results[mode] = result
        timing = time_call(fn, x, **timing_args)
        rows.append({
            **base, "mode": mode, "strategy": "one_sweep", "repeats": timing.repeats,
            "median_s": timing.median_s, "min_s": timing.min_s, "max_s": timing.max_s,
            "primal_median_s": primal_time.median_s,
            "ratio_to_primal": timing.median_s / primal_time.median_s,
            "sweeps": count.sweeps, "recordings": count.recordings,
            "ops": sum(count.ops.values()), "rule_ops": sum(count.rule_ops.values()),
            "flops": count.flops,
            "tape_length": count.tape_length, "tape_bytes": count.tape_bytes,
            "peak_bytes": peak, "peak_bytes_per_op": peak / length,
            "max_abs_error": np.nan})
    directional_by_reverse = float(np.dot(results["reverse"][1], direction))
    error = abs(float(results["forward"][1]) - directional_by_reverse)
    for row in rows[1:]:
        row["max_abs_error"] = error
    return rows


def run(config: dict[str, Any] | None = None, *, show_progress: bool = True) -> pd.DataFrame:
    """Measure every chain length; one row per measurement (columns: ``COLUMNS``).

    ``config`` overrides keys of the full preset (``PRESETS["full"]``). The environment and
    the config are attached as ``df.attrs["environment"]`` and ``df.attrs["config"]``. On
    Ctrl-C the rows measured so far are returned with ``df.attrs["interrupted"] = True``
    (and are already in ``config["checkpoint_csv"]`` when that is set).

    Example:
        >>> df = run({"chain_lengths": [10, 100], "min_time": 0.0, "min_repeats": 1,
        ...           "warmup": 0}, show_progress=False)
        >>> df[df["mode"] == "reverse"].tape_length.tolist()
        [12, 102]
    """
    cfg = merged_config(FULL_CONFIG, config)
    malloc_steadied = steady_malloc() if cfg["steady_malloc"] else False
    sink = RowSink(COLUMNS, cfg["checkpoint_csv"])
    lengths = list(cfg["chain_lengths"])
    with pinned_blas(1), frozen_heap():
        env = environment()
        interrupted = sink.collect(lengths, lambda length: measure_length(length, cfg),
                                   label=NAME, show_progress=show_progress)
    used = {**cfg, "steady_malloc": malloc_steadied,
            "checkpoint_csv": str(cfg["checkpoint_csv"] or "")}
    return sink.frame(environment=env, config=used, interrupted=interrupted)


# -- analysis -----------------------------------------------------------------------------


def fit_from(lengths: Iterable[int]) -> float:
    """The shortest chain the slopes are fitted on: sqrt(longest), the upper half of a
    log-spaced range."""
    lengths = list(lengths)
    return math.sqrt(max(lengths)) if lengths else math.inf


MEASURES = {"tape_length": "tape length (entries)", "tape_bytes": "tape residual bytes",
            "peak_bytes": "peak bytes (tracemalloc)", "median_s": "time (s)"}


def slopes(df: pd.DataFrame) -> pd.DataFrame:
    """Log-log slope of each measure against L, per mode, over L >= sqrt(largest L); the
    theory is 1 for reverse mode's memory and 0 for forward mode's."""
    out = []
    start = fit_from(df.chain_length) if len(df) else math.inf
    for mode, rows in df.groupby("mode", sort=False):
        upper = rows[rows.chain_length >= start]
        for measure in MEASURES:
            if mode != "reverse" and measure in ("tape_length", "tape_bytes"):
                continue  # nothing recorded: zeros have no log
            theory = (1.0 if mode == "reverse" or measure == "median_s" else 0.0)
            out.append({"mode": mode, "measure": measure, "theory": theory,
                        "fit_from": int(upper.chain_length.min()) if len(upper) else np.nan,
                        "points": len(upper),
                        "slope": fit_slope(upper.chain_length, upper[measure])})
    return pd.DataFrame(out, columns=["mode", "measure", "theory", "fit_from", "points",
                                      "slope"])


def _slope_text(value: float) -> str:
    text = f"{value:.2f}"
    return text.lstrip("-") if float(text) == 0 else text  # no "-0.00"


def _row(df: pd.DataFrame, mode: str, length: int) -> pd.Series | None:
    hit = df[(df["mode"] == mode) & (df.chain_length == length)]
    return hit.iloc[0] if len(hit) else None


def _bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def findings(df: pd.DataFrame) -> list[str]:
    """The key results in plain sentences, generated from the numbers of ``run()``."""
    out: list[str] = []
    if df[df["mode"] == "reverse"].empty:
        return ["No chain was measured."]
    table = slopes(df).set_index(["mode", "measure"]).slope
    reverse = df[df["mode"] == "reverse"]
    exact = int((reverse.tape_length == reverse.chain_length + 2).sum())
    longest = int(reverse.chain_length.max())
    rev = _row(df, "reverse", longest)
    size = int(rev.n_inputs)
    out.append(
        f"Reverse mode's tape has exactly L + 2 entries (the input, the L ops, the sum) in "
        f"{exact} of {len(reverse)} runs; fitted against L its length grows with slope "
        f"{table.get(('reverse', 'tape_length'), math.nan):.2f}, its residual bytes with "
        f"{table.get(('reverse', 'tape_bytes'), math.nan):.2f} and its peak memory with "
        f"{table.get(('reverse', 'peak_bytes'), math.nan):.2f} (theory: 1).")
    out.append(
        f"At L = {longest}, the tape keeps {_bytes(rev.tape_bytes)} of residuals "
        f"({rev.tape_bytes / longest:.0f} bytes per op, for values of {size} float64 = "
        f"{8 * size} bytes) and one reverse-mode call peaks at {_bytes(rev.peak_bytes)} "
        f"({rev.peak_bytes_per_op:.0f} bytes per op, {rev.peak_bytes / rev.tape_bytes:.1f}x "
        "the residuals alone).")
    forward = df[df["mode"] == "forward"]
    if len(forward):
        low, high = forward.peak_bytes.min(), forward.peak_bytes.max()
        out.append(
            f"Forward mode records nothing (tape length {int(forward.tape_length.max())}); "
            f"its peak memory stays between {_bytes(low)} and {_bytes(high)} from L = "
            f"{int(forward.chain_length.min())} to {int(forward.chain_length.max())} (slope "
            f"{_slope_text(table.get(('forward', 'peak_bytes'), math.nan))}, theory: 0).")
        fwd = _row(df, "forward", longest)
        if fwd is not None and fwd.peak_bytes > 0:
            out.append(
                f"At L = {longest} reverse mode needs {rev.peak_bytes / fwd.peak_bytes:.0f}x "
                "the peak memory of forward mode, for "
                f"{rev.ratio_to_primal / fwd.ratio_to_primal:.2f}x its time "
                f"({rev.ratio_to_primal:.1f}x vs {fwd.ratio_to_primal:.1f}x the primal).")
    error = df.max_abs_error.max()
    out.append(f"Forward and reverse directional derivatives agree to within {error:.1e}.")
    if df.attrs.get("interrupted"):
        out.append("The run was interrupted: these numbers cover only the lengths measured.")
    return out


# -- figure and report --------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_memory(df: pd.DataFrame, path: Path) -> Path | None:
    """Left: the tape's length against L. Right: bytes against L (reverse mode's residuals
    and peak, forward mode's and the primal's peak). Log-log, fitted slopes in legends."""
    if df.empty:
        return None
    plt = _pyplot()
    start = fit_from(df.chain_length)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.6))

    def draw(ax, mode, measure, label, color, dash, marker):
        rows = df[df["mode"] == mode].sort_values("chain_length")
        if rows.empty or not (rows[measure] > 0).any():
            return
        upper = rows[rows.chain_length >= start]
        slope = fit_slope(upper.chain_length, upper[measure])
        ax.plot(rows.chain_length, rows[measure], color=color, linestyle=dash, marker=marker,
                markersize=4, label=f"{label}, slope {_slope_text(slope)}")

    draw(left, "reverse", "tape_length", "reverse: tape entries", "tab:red", "-", "o")
    left.plot([], [], " ", label="forward: no tape (0 entries)")
    draw(right, "reverse", "peak_bytes", "reverse: peak (tracemalloc)", "tab:red", "-", "o")
    draw(right, "reverse", "tape_bytes", "reverse: tape residuals", "tab:red", "--", "s")
    draw(right, "forward", "peak_bytes", "forward: peak (tracemalloc)", "tab:blue", "-", "o")
    draw(right, "primal", "peak_bytes", "primal (numpy): peak", "black", ":", ".")
    for ax, ylabel in ((left, "tape length (entries)"), (right, "bytes")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("L (elementwise ops in the chain)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    size = int(df.n_inputs.iloc[0])
    left.set_title("Reverse mode records every op", fontsize=10)
    right.set_title(f"Memory of one call (values of {size} float64)", fontsize=10)
    fig.suptitle(f"Memory against chain length; slopes fitted for L >= {start:.3g}",
                 fontsize=12)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def _markdown(df: pd.DataFrame, env: dict[str, Any], cfg: dict[str, Any]) -> str:
    lines = ["# Memory: reverse mode's tape against forward mode", ""]
    if df.attrs.get("interrupted"):
        lines += ["**Interrupted run: only the lengths measured are included.**", ""]
    lines += ["## Findings", ""] + [f"- {s}" for s in findings(df)] + [""]
    table = slopes(df)
    if not table.empty:
        lines += ["## Fitted log-log slopes against L", "",
                  f"Least squares on log-log axes over L >= {fit_from(df.chain_length):.3g}.",
                  ""]
        shown = pd.DataFrame({"mode": table["mode"],
                              "measure": table.measure.map(MEASURES),
                              "theory": table.theory, "fitted from L": table.fit_from,
                              "slope": table.slope})
        lines += markdown_table(shown, {"theory": lambda v: f"{v:.0f}",
                                        "fitted from L": lambda v: f"{v:.0f}",
                                        "slope": _slope_text}) + [""]
    lines += ["## Measurements", ""]
    shown = df[df["mode"] != "primal"].sort_values(["mode", "chain_length"])
    shown = pd.DataFrame({"mode": shown["mode"], "L": shown.chain_length,
                          "tape entries": shown.tape_length, "tape bytes": shown.tape_bytes,
                          "peak bytes": shown.peak_bytes,
                          "peak bytes / op": shown.peak_bytes_per_op,
                          "time": shown.median_s, "x primal": shown.ratio_to_primal})
    lines += markdown_table(shown, {"tape bytes": _bytes, "peak bytes": _bytes,
                                    "peak bytes / op": lambda v: f"{v:.0f}",
                                    "time": lambda v: f"{v * 1e3:.3g} ms",
                                    "x primal": lambda v: f"{v:.1f}"}) + [""]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env.get("blas") or [])
    lines += [
        "## Setup", "",
        f"- chain: sin, x * 0.9, x + 0.1, tanh, repeated to L ops, then np.sum, on a vector "
        f"of {cfg['vector_size']} float64; reverse = `value_and_grad(f)(x)`, forward = "
        "`jvp(f, (x,), (t,))`.",
        "- counts from `admodes.count_ops`, peak memory by `admodes.measure.peak_memory` "
        "(tracemalloc) on that same call; times from `admodes.measure.time_call` "
        f"({cfg['warmup']} warm-up, at least {cfg['min_repeats']} samples and "
        f"{cfg['min_time']} s).",
        f"- admodes {env.get('admodes_version')}, numpy {env.get('numpy_version')}, Python "
        f"{env.get('python_version')}; CPU {env.get('cpu_model')} ({env.get('cores')} cores); "
        f"BLAS {blas or 'unknown'} pinned to 1 thread; git {env.get('git_commit')}; "
        f"{env.get('date')}.", ""]
    return "\n".join(lines)


def write_report(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write results.csv, summary.md and memory.png into ``out_dir``; return the paths.

    Example:
        >>> paths = write_report(run(PRESETS["quick"]), "reports/memory")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = df.attrs.get("environment") or environment()
    cfg = {**FULL_CONFIG, **df.attrs.get("config", {})}
    paths = [out / "results.csv", out / "summary.md"]
    write_atomic(paths[0], df.to_csv(index=False))
    write_atomic(paths[1], _markdown(df, env, cfg))
    figure = plot_memory(df, out / "memory.png")
    if figure is not None:
        paths.append(figure)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python experiments/memory.py [--quick | --preset P] [--out DIR]``."""
    args = experiment_args(
        argv, description=__doc__.splitlines()[0], name=NAME, presets=PRESETS,
        preset_help="5 chain lengths, one timed sample each (quick) or 9 lengths with "
                    "repeated timing (full); default full")
    df = run({**PRESETS[args.preset], "checkpoint_csv": args.out / "results.csv"})
    return announce(df, write_report(df, args.out), findings(df))


if __name__ == "__main__":
    sys.exit(main())
