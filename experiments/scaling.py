"""How the cost of a Jacobian grows with its inputs and outputs, forward mode vs reverse.

For f: R^n -> R^m the textbook says forward mode needs n sweeps (one per input direction)
and reverse mode m sweeps (one per output direction), each costing a small constant c times
f itself: cost ~ c * sweeps * cost(f), with c < 6 and typically 2 to 3 (Baydin et al. 2018,
"Automatic differentiation in machine learning: a survey", citing Griewank and Walther).
This script measures it for four strategies: ``jacfwd`` and ``jacrev``, each looped (the
textbook: one sweep per direction) and vectorized (all directions in ONE wide sweep).

Two experiments, one table:

1. ``grid``: every (n, m) of a grid of powers of two (1 to 64 quick, 1 to 1024 full), for
   three function families with a controllable number of inputs and outputs:

   - ``dense_net``: y = tanh(W2 tanh(W1 x + b1)), hidden width fixed (32 by default);
     5 primitive ops;
   - ``elementwise_mix``: 10 elementwise ops on x, one mixing matrix (m x n), 6
     elementwise ops on the result: 17 ops, all but one elementwise;
   - ``deep_chain``: x projected to 4 numbers, a chain of 32 cheap elementwise ops on them
     (by default), projected to m outputs: 34 ops, so the op count rather than the
     arithmetic sets the cost.

2. ``gradient`` (m = 1, n growing) and ``fan_out`` (n = 1, m growing): the extremes, where
   forward mode should grow and reverse stay flat (gradient), or the reverse (fan-out).

Every cell times the plain-numpy primal and the four strategies with
``admodes.measure.time_call`` (medians after warm-up, garbage collector off, BLAS pinned to
one thread), counts the work with ``admodes.count_ops`` and the peak allocation with
``admodes.measure.peak_memory`` (one extra, counted call), and checks that the forward and
reverse Jacobians agree. Slopes are fitted by least squares on log2-log2 axes, on the upper
half of the log-grid only (sizes >= sqrt(largest size)), where per-call constants (Python
dispatch, assembling the Jacobian) no longer dominate.

Columns of ``results.csv`` (one row per measurement; ``mode`` "primal" rows time f alone):

- ``experiment`` ("scaling"), ``part`` (grid, gradient, fan_out), ``family``, ``mode``
  (forward, reverse, primal), ``strategy`` (looped, vectorized, numpy), ``n_inputs``,
  ``n_outputs``;
- ``repeats``, ``median_s``, ``min_s``, ``max_s``, ``q25_s``, ``q75_s``,
  ``primal_median_s``, ``ratio_to_primal`` (median_s / primal_median_s);
- ``sweeps`` (forward + backward sweeps, as counted), ``recordings``, ``ops`` (primal op
  evaluations counted by ``count_ops``), ``primal_ops`` (ops of one evaluation of f),
  ``rule_calls`` (JVP/VJP rule applications counted by ``count_ops``: one per op in a
  forward sweep, one per recorded op in a backward sweep), ``work_ops`` (ops + rule_calls:
  the "counted ops" whose slopes are fitted), ``flops`` (the registry's estimate for both);
- ``tape_length``, ``tape_bytes`` (largest tape, its residual bytes), ``peak_bytes``
  (tracemalloc peak of one counted call; left empty for looped strategies of more than
  ``peak_max_sweeps`` sweeps, which tracemalloc would slow about 8x), ``max_abs_error`` (of
  the Jacobian against the other mode's Jacobian of the same strategy).

Run ``python experiments/scaling.py [--quick | --preset full] [--out DIR]``; it writes
``results.csv`` (row by row while measuring), ``summary.md``, ``slopes.csv`` and the
figures ``cost_curves.png``, ``crossover_heatmap.png`` and ``extremes.png`` into DIR
(default ``reports/scaling``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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

NAME = "scaling"

FULL_CONFIG: dict[str, Any] = {
    "families": ["dense_net", "elementwise_mix", "deep_chain"],
    "grid_max": 1024,         # the (n, m) grid: powers of two from 1 to this
    "extreme_max": 4096,      # gradient and fan-out: sizes from 1 to this
    "hidden": 32,             # dense_net: hidden width
    "chain_depth": 32,        # deep_chain: elementwise ops in the chain (a multiple of 4)
    "chain_width": 4,         # deep_chain: numbers carried along the chain
    "min_time": 0.02,         # seconds of timed samples per measurement, after warm-up
    "min_repeats": 5,
    "warmup": 1,
    "peak_memory": True,      # run the counted call under tracemalloc for peak_bytes ...
    "peak_max_sweeps": 256,   # ... unless it needs more sweeps (tracemalloc slows them ~8x)
    "seed": 0,
    "steady_malloc": True,    # see admodes.measure.steady_malloc
    "checkpoint_csv": None,   # if a path: append each row there as soon as it is measured
}
QUICK_CONFIG: dict[str, Any] = {**FULL_CONFIG, "grid_max": 64, "extreme_max": 256,
                                "min_time": 0.005}
PRESETS: dict[str, dict[str, Any]] = {"quick": QUICK_CONFIG, "full": FULL_CONFIG}

COLUMNS = ["experiment", "part", "family", "mode", "strategy", "n_inputs", "n_outputs",
           "repeats", "median_s", "min_s", "max_s", "q25_s", "q75_s", "primal_median_s",
           "ratio_to_primal", "sweeps", "recordings", "ops", "primal_ops", "rule_calls",
           "work_ops", "flops", "tape_length", "tape_bytes", "peak_bytes", "max_abs_error"]

STRATEGIES = [("forward", "looped"), ("forward", "vectorized"),
              ("reverse", "looped"), ("reverse", "vectorized")]
# counted sweeps and ops: their log-log slope against (n, m) for each strategy
COUNTED_SLOPE = {("forward", "looped"): (1.0, 0.0), ("forward", "vectorized"): (0.0, 0.0),
                 ("reverse", "looped"): (0.0, 1.0), ("reverse", "vectorized"): (0.0, 0.0)}
# the textbook's per-direction model, vectorized or not: forward ~ n, reverse ~ m
TEXTBOOK_SLOPE = {"forward": (1.0, 0.0), "reverse": (0.0, 1.0)}
TEXTBOOK_C = "c < 6, typically 2 to 3"
AXIS_COLUMN = {"n": "n_inputs", "m": "n_outputs"}
SLOPE_COLUMNS = ["part", "family", "mode", "strategy", "axis", "fixed", "fit_from", "points",
                 "counted_theory", "textbook", "sweeps_slope", "work_ops_slope", "time_slope",
                 "ratio_slope"]


# -- the function families --------------------------------------------------------------


def dense_net(n: int, m: int, rng: np.random.Generator,
              cfg: dict[str, Any]) -> Callable[[Any], Any]:
    """y = tanh(W2 tanh(W1 x + b1)): n inputs, ``cfg["hidden"]`` hidden units, m outputs."""
    hidden = cfg["hidden"]
    w1 = rng.standard_normal((hidden, n)) / math.sqrt(n)
    b1 = 0.1 * rng.standard_normal(hidden)
    w2 = rng.standard_normal((m, hidden)) / math.sqrt(hidden)

    def f(x):
        return np.tanh(w2 @ np.tanh(w1 @ x + b1))

    return f


def elementwise_mix(n: int, m: int, rng: np.random.Generator,
                    cfg: dict[str, Any]) -> Callable[[Any], Any]:
    """Ten elementwise ops on the n inputs, one m x n mixing matrix, six elementwise ops on
    the m results (17 primitive ops)."""
    mixing = rng.standard_normal((m, n)) / math.sqrt(n)

    def f(x):
        bump = np.sin(x) * np.exp(-0.5 * (x * x))
        u = bump + x / (1.0 + x * x)
        v = mixing @ np.tanh(u)
        return np.cos(v) * np.tanh(v) + 0.1 * (v * v)

    return f


def deep_chain(n: int, m: int, rng: np.random.Generator,
               cfg: dict[str, Any]) -> Callable[[Any], Any]:
    """x projected to ``chain_width`` numbers, ``chain_depth`` cheap elementwise ops on
    them, projected to m outputs: many ops, few FLOPs."""
    depth, width = cfg["chain_depth"], cfg["chain_width"]
    if depth <= 0 or depth % 4:
        raise ValueError(f"chain_depth must be a positive multiple of 4, got {depth}")
    project_in = rng.standard_normal((width, n)) / math.sqrt(n)
    project_out = rng.standard_normal((m, width)) / math.sqrt(width)

    def f(x):
        z = project_in @ x
        for _ in range(depth // 4):
            z = np.tanh(np.sin(z) * 0.9 + 0.1)
        return project_out @ z

    return f


FAMILIES: dict[str, Callable[..., Callable[[Any], Any]]] = {
    "dense_net": dense_net, "elementwise_mix": elementwise_mix, "deep_chain": deep_chain}
FAMILY_LABELS = {"dense_net": "dense 2-layer tanh net",
                 "elementwise_mix": "elementwise map with mixing",
                 "deep_chain": "deep chain (ops >> FLOPs)"}


def jacobian_function(f: Callable, mode: str, strategy: str) -> Callable:
    """The Jacobian of ``f`` by ``mode`` (forward, reverse) and ``strategy`` (looped,
    vectorized).

    Example:
        >>> jacobian_function(np.sin, "reverse", "looped")(np.zeros(2))
        array([[1., 0.],
               [0., 1.]])
    """
    transform = admodes.jacfwd if mode == "forward" else admodes.jacrev
    return transform(f, vectorized=strategy == "vectorized")


# -- measuring --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One point of the plan: a family at n inputs and m outputs."""

    part: str
    family: str
    n: int
    m: int


def powers_of_two(largest: int) -> list[int]:
    """1, 2, 4, ... up to ``largest`` (included when it is a power of two)."""
    return [2 ** k for k in range(int(math.log2(largest)) + 1)]


def plan(cfg: dict[str, Any]) -> list[Cell]:
    """Every cell of one run, in the order they are measured."""
    cells = []
    for family in cfg["families"]:
        for n in powers_of_two(cfg["grid_max"]):
            for m in powers_of_two(cfg["grid_max"]):
                cells.append(Cell("grid", family, n, m))
    for family in cfg["families"]:
        for size in powers_of_two(cfg["extreme_max"]):
            cells.append(Cell("gradient", family, size, 1))
        for size in powers_of_two(cfg["extreme_max"]):
            cells.append(Cell("fan_out", family, 1, size))
    return cells


def _timing_fields(fn: Callable, x: np.ndarray, cfg: dict[str, Any]) -> dict[str, Any]:
    t = time_call(fn, x, min_time=cfg["min_time"], min_repeats=cfg["min_repeats"],
                  warmup=cfg["warmup"])
    return {"repeats": t.repeats, "median_s": t.median_s, "min_s": t.min_s,
            "max_s": t.max_s, "q25_s": t.q25_s, "q75_s": t.q75_s}


def _counted_call(jac_fn: Callable, x: np.ndarray):
    with admodes.count_ops() as count:
        jac = jac_fn(x)
    return jac, count


def measure_cell(cell: Cell, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The primal row and one row per strategy for one cell (columns: ``COLUMNS``)."""
    rng = np.random.default_rng([cfg["seed"], cell.n, cell.m])
    f = FAMILIES[cell.family](cell.n, cell.m, rng, cfg)
    x = rng.uniform(-1.0, 1.0, cell.n)
    base = {"experiment": NAME, "part": cell.part, "family": cell.family,
            "n_inputs": cell.n, "n_outputs": cell.m}
    _, recording = _counted_call(lambda v: admodes.vjp(f, v), x)
    primal_ops, primal_flops = sum(recording.ops.values()), recording.flops
    primal = _timing_fields(f, x, cfg)
    _, primal_peak = peak_memory(f, x) if cfg["peak_memory"] else (None, np.nan)
    rows = [{**base, "mode": "primal", "strategy": "numpy", **primal,
             "primal_median_s": primal["median_s"], "ratio_to_primal": 1.0, "sweeps": 0,
             "recordings": 0, "ops": primal_ops, "primal_ops": primal_ops, "rule_calls": 0,
             "work_ops": primal_ops, "flops": primal_flops, "tape_length": 0,
             "tape_bytes": 0, "peak_bytes": primal_peak, "max_abs_error": np.nan}]
    jacobians = {}
    for mode, strategy in STRATEGIES:
        jac_fn = jacobian_function(f, mode, strategy)
        sweeps = 1 if strategy == "vectorized" else cell.n if mode == "forward" else cell.m
        if cfg["peak_memory"] and sweeps <= cfg["peak_max_sweeps"]:
            (jac, count), peak = peak_memory(_counted_call, jac_fn, x)
        else:
            (jac, count), peak = _counted_call(jac_fn, x), np.nan
        jacobians[mode, strategy] = np.reshape(jac, (cell.m, cell.n))
        timing = _timing_fields(jac_fn, x, cfg)
        ops = sum(count.ops.values())
        rule_calls = sum(count.rule_ops.values())
        work_ops = ops + rule_calls
        rows.append({
            **base, "mode": mode, "strategy": strategy, **timing,
            "primal_median_s": primal["median_s"],
            "ratio_to_primal": timing["median_s"] / primal["median_s"],
            "sweeps": count.sweeps, "recordings": count.recordings, "ops": ops,
            "primal_ops": primal_ops, "rule_calls": rule_calls,
            "work_ops": work_ops, "flops": count.flops,
            "tape_length": count.tape_length, "tape_bytes": count.tape_bytes,
            "peak_bytes": peak, "max_abs_error": np.nan})
    for row in rows[1:]:
        other = "reverse" if row["mode"] == "forward" else "forward"
        diff = jacobians[row["mode"], row["strategy"]] - jacobians[other, row["strategy"]]
        row["max_abs_error"] = float(np.max(np.abs(diff))) if diff.size else 0.0
    return rows


def run(config: dict[str, Any] | None = None, *, show_progress: bool = True) -> pd.DataFrame:
    """Measure every cell of the plan; one row per measurement (columns: ``COLUMNS``).

    ``config`` overrides keys of the full preset (``PRESETS["full"]``). The environment and
    the config are attached as ``df.attrs["environment"]`` and ``df.attrs["config"]``.
    On Ctrl-C the rows measured so far are returned with ``df.attrs["interrupted"] = True``
    (and are already in ``config["checkpoint_csv"]`` when that is set).

    Example:
        >>> df = run({"families": ["dense_net"], "grid_max": 2, "extreme_max": 2,
        ...           "min_time": 0.0, "min_repeats": 1, "warmup": 0,
        ...           "peak_memory": False}, show_progress=False)
        >>> sorted(df[df["mode"] == "reverse"].sweeps.unique().tolist())
        [1, 2]
    """
    cfg = merged_config(FULL_CONFIG, config)
    for family in cfg["families"]:
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; known: {sorted(FAMILIES)}")
    malloc_steadied = steady_malloc() if cfg["steady_malloc"] else False
    sink = RowSink(COLUMNS, cfg["checkpoint_csv"])
    cells = plan(cfg)
    with pinned_blas(1), frozen_heap():
        env = environment()
        interrupted = sink.collect(cells, lambda cell: measure_cell(cell, cfg), label=NAME,
                                   show_progress=show_progress)
    used = {**cfg, "steady_malloc": malloc_steadied,
            "checkpoint_csv": str(cfg["checkpoint_csv"] or "")}
    return sink.frame(environment=env, config=used, interrupted=interrupted)


# -- analysis -----------------------------------------------------------------------------


def fit_from(sizes: Iterable[int]) -> float:
    """The smallest size the slopes are fitted on: sqrt(largest size), so the fit covers the
    upper half of a log-spaced range."""
    sizes = list(sizes)
    return math.sqrt(max(sizes)) if sizes else math.inf


def _upper(rows: pd.DataFrame, axis_column: str, sizes: Iterable[int]) -> pd.DataFrame:
    return rows[rows[axis_column] >= fit_from(sizes)]


def slopes(df: pd.DataFrame) -> pd.DataFrame:
    """The fitted log-log slopes of each strategy's cost, on the grid (against n at each
    fixed m, against m at each fixed n) and at the extremes (gradient: against n; fan-out:
    against m), in counted sweeps and work ops and in wall time (seconds and multiples of
    the primal). One row per (part, family, mode, strategy, axis, fixed size)."""
    out = []
    derived = df[df["mode"] != "primal"]
    for (part, family, mode, strategy), rows in derived.groupby(
            ["part", "family", "mode", "strategy"], sort=False):
        axes = ["n", "m"] if part == "grid" else ["n" if part == "gradient" else "m"]
        for axis in axes:
            column = AXIS_COLUMN[axis]
            fixed_column = AXIS_COLUMN["m" if axis == "n" else "n"]
            sizes = sorted(df.loc[df.part == part, column].unique())
            for fixed, line in rows.groupby(fixed_column):
                upper = _upper(line, column, sizes).sort_values(column)
                k = 0 if axis == "n" else 1
                out.append({
                    "part": part, "family": family, "mode": mode, "strategy": strategy,
                    "axis": axis, "fixed": int(fixed), "fit_from": int(upper[column].min())
                    if len(upper) else np.nan, "points": len(upper),
                    "counted_theory": COUNTED_SLOPE[mode, strategy][k],
                    "textbook": TEXTBOOK_SLOPE[mode][k],
                    "sweeps_slope": fit_slope(upper[column], upper.sweeps),
                    "work_ops_slope": fit_slope(upper[column], upper.work_ops),
                    "time_slope": fit_slope(upper[column], upper.median_s),
                    "ratio_slope": fit_slope(upper[column], upper.ratio_to_primal)})
    return pd.DataFrame(out, columns=SLOPE_COLUMNS)


def slope_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Grid slopes summarised over the fixed sizes: the median, and for wall time the
    range, per (family, mode, strategy, axis)."""
    table = slopes(df)
    table = table[table.part == "grid"]
    rows = []
    for key, group in table.groupby(["family", "mode", "strategy", "axis"], sort=False):
        rows.append({
            **dict(zip(["family", "mode", "strategy", "axis"], key)),
            "counted_theory": group.counted_theory.iloc[0],
            "textbook": group.textbook.iloc[0],
            "sweeps_slope": group.sweeps_slope.median(),
            "work_ops_slope": group.work_ops_slope.median(),
            "time_slope": group.time_slope.median(),
            "time_slope_min": group.time_slope.min(),
            "time_slope_max": group.time_slope.max(),
            "ratio_slope": group.ratio_slope.median()})
    return pd.DataFrame(rows)


def constants(df: pd.DataFrame) -> pd.DataFrame:
    """The constant c in cost ~ c * directions * cost(f), per family and strategy:
    median_s / (directions * primal_median_s), directions = n for forward mode and m for
    reverse mode (= the sweeps of the looped strategies). The median over the grid cells
    whose direction count is in the fitted (upper) range, and the one-sweep constants:
    reverse at m = 1 (a gradient) and forward at n = 1 (a JVP), from the extremes."""
    out = []
    derived = df[df["mode"] != "primal"].copy()
    directions = np.where(derived["mode"] == "forward", derived.n_inputs, derived.n_outputs)
    derived["c"] = derived.ratio_to_primal / directions
    for (family, mode, strategy), rows in derived.groupby(["family", "mode", "strategy"],
                                                          sort=False):
        column = "n_inputs" if mode == "forward" else "n_outputs"
        grid = rows[rows.part == "grid"]
        upper = _upper(grid, column, df.loc[df.part == "grid", column].unique())
        one_sweep_part = "gradient" if mode == "reverse" else "fan_out"
        single = rows[rows.part == one_sweep_part]
        out.append({"family": family, "mode": mode, "strategy": strategy,
                    "c_grid_median": upper.c.median() if len(upper) else np.nan,
                    "c_grid_min": upper.c.min() if len(upper) else np.nan,
                    "c_grid_max": upper.c.max() if len(upper) else np.nan,
                    "c_one_sweep_median": single.ratio_to_primal.median()
                    if len(single) else np.nan})
    return pd.DataFrame(out)


def log2_time_ratio(df: pd.DataFrame, family: str, strategy: str,
                    measure: str = "median_s") -> pd.DataFrame:
    """log2(T_forward / T_reverse) over the grid for one family and strategy, indexed by
    m (rows) and n (columns); ``measure`` may also be "work_ops"."""
    grid = df[(df.part == "grid") & (df.family == family) & (df.strategy == strategy)]
    fwd = grid[grid["mode"] == "forward"].set_index(["n_outputs", "n_inputs"])[measure]
    rev = grid[grid["mode"] == "reverse"].set_index(["n_outputs", "n_inputs"])[measure]
    ratio = np.log2(fwd.astype(float) / rev.astype(float)).dropna()
    return ratio.unstack("n_inputs").sort_index().sort_index(axis=1)


def _crossing(ms: np.ndarray, ratios: np.ndarray) -> float:
    """The m where log2(T_f / T_r) first falls from > 0 to <= 0 (log-interpolated); inf if
    reverse stays cheaper over the whole column, 0 if it is never cheaper."""
    if len(ratios) == 0:
        return math.nan
    if ratios[0] <= 0:
        return 0.0
    for k in range(1, len(ratios)):
        if ratios[k] <= 0:
            lo, hi = math.log2(ms[k - 1]), math.log2(ms[k])
            frac = ratios[k - 1] / (ratios[k - 1] - ratios[k])
            return float(2 ** (lo + frac * (hi - lo)))
    return math.inf


def crossover(df: pd.DataFrame) -> pd.DataFrame:
    """For each family and n, the m above which forward mode is cheaper than reverse (below
    it, reverse wins): by wall time for the looped and the vectorized pair, and by counted
    work ops for the looped pair. 0 means forward is cheaper already at m = 1; inf means
    reverse stays cheaper over the whole grid."""
    out = []
    for family in df.family.unique():
        maps = {"looped_time": log2_time_ratio(df, family, "looped"),
                "vectorized_time": log2_time_ratio(df, family, "vectorized"),
                "looped_work_ops": log2_time_ratio(df, family, "looped", "work_ops")}
        ns = sorted(set().union(*(set(t.columns) for t in maps.values())))
        for n in ns:
            row = {"family": family, "n_inputs": int(n)}
            for key, table in maps.items():
                column = table[n].dropna() if n in table.columns else pd.Series(dtype=float)
                row[f"m_star_{key}"] = _crossing(column.index.to_numpy(), column.to_numpy())
            out.append(row)
    return pd.DataFrame(out)


def vectorized_departure(df: pd.DataFrame) -> pd.DataFrame:
    """How far vectorized strategies depart from the textbook's one-sweep-per-direction
    model, at the extremes: the slope of wall time against the number of directions
    (textbook: 1), and the speed-up of the vectorized over the looped strategy at the
    largest size measured."""
    out = []
    for part, mode in (("gradient", "forward"), ("fan_out", "reverse")):
        column = "n_inputs" if mode == "forward" else "n_outputs"
        rows = df[(df.part == part) & (df["mode"] == mode)]
        if rows.empty:
            continue
        sizes = sorted(rows[column].unique())
        for family, fam_rows in rows.groupby("family", sort=False):
            looped = fam_rows[fam_rows.strategy == "looped"].set_index(column)
            vector = fam_rows[fam_rows.strategy == "vectorized"].set_index(column)
            common = sorted(set(looped.index) & set(vector.index))
            if not common:
                continue
            largest = common[-1]
            vec_upper = _upper(vector.reset_index(), column, sizes)
            loop_upper = _upper(looped.reset_index(), column, sizes)
            out.append({
                "part": part, "family": family, "mode": mode, "directions": int(largest),
                "looped_time_slope": fit_slope(loop_upper[column], loop_upper.median_s),
                "vectorized_time_slope": fit_slope(vec_upper[column], vec_upper.median_s),
                "looped_ratio_slope": fit_slope(loop_upper[column],
                                                loop_upper.ratio_to_primal),
                "vectorized_ratio_slope": fit_slope(vec_upper[column],
                                                    vec_upper.ratio_to_primal),
                "looped_s": looped.median_s[largest], "vectorized_s": vector.median_s[largest],
                "speedup": looped.median_s[largest] / vector.median_s[largest],
                "vectorized_ratio_to_primal": vector.ratio_to_primal[largest]})
    return pd.DataFrame(out)


def _fmt(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == math.inf:
        return "> grid"
    text = f"{value:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text  # no "-0.00"


def _fmt_m(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if value == math.inf:
        return "beyond grid"
    if value == 0:
        return "< 1"
    return f"{value:.3g}"


def _worst(values: Iterable[float]) -> float:
    values = [v for v in values if np.isfinite(v)]
    return max(values) if values else math.nan


def findings(df: pd.DataFrame) -> list[str]:
    """The key results in plain sentences, generated from the numbers of ``run()``."""
    out: list[str] = []
    derived = df[df["mode"] != "primal"]
    if derived.empty:
        return ["No derivative was measured."]
    # counted sweeps against theory
    expected = np.select(
        [derived.strategy == "vectorized", derived["mode"] == "forward"],
        [1, derived.n_inputs], derived.n_outputs)
    mismatches = int((derived.sweeps != expected).sum())
    out.append(
        f"Counted sweeps match the theory in {len(derived) - mismatches} of {len(derived)} "
        "measurements (looped forward: n, looped reverse: m, vectorized: 1).")
    out.append(
        "The forward and reverse Jacobians agree everywhere to within "
        f"{_worst(derived.max_abs_error):.1e} (largest absolute difference).")
    summary = slope_summary(df)
    if not summary.empty:
        looped = summary[summary.strategy == "looped"]
        work_dev = _worst((looped.work_ops_slope - looped.counted_theory).abs())
        time_dev = _worst((looped.time_slope - looped.counted_theory).abs())
        sizes = sorted(df.loc[df.part == "grid", "n_inputs"].unique())
        out.append(
            f"Fitted on the upper half of the grid (sizes >= {fit_from(sizes):.3g}), the "
            "log-log slopes of the looped strategies' counted work lie within "
            f"{work_dev:.2f} of the textbook's 1 (forward against n, reverse against m) and "
            f"0 (the other axis); in wall time within {time_dev:.2f}.")
        for mode in ("forward", "reverse"):
            axis = "n" if mode == "forward" else "m"
            vec = summary[(summary.strategy == "vectorized") & (summary["mode"] == mode)
                          & (summary.axis == axis)]
            if len(vec):
                parts = ", ".join(f"{r.time_slope:.2f} ({r.family})"
                                  for r in vec.itertuples())
                out.append(
                    f"Vectorized {mode} mode runs one sweep whatever {axis} is, so its "
                    f"counted work is flat; its wall time still grows against {axis} with "
                    f"slope {parts}, against the textbook's 1.")
    consts = constants(df)
    loop_consts = consts[consts.strategy == "looped"].dropna(subset=["c_grid_median"])
    if len(loop_consts):
        parts = "; ".join(f"{r.mode} {r.c_grid_median:.1f} ({r.family})"
                          for r in loop_consts.itertuples())
        above = int((loop_consts.c_grid_median >= 6).sum())
        out.append(
            "Per sweep, a looped Jacobian costs c times the plain-numpy primal, with c = "
            f"{parts} (medians over the upper grid); {above} of {len(loop_consts)} exceed the "
            f"textbook's bound ({TEXTBOOK_C}), which counts arithmetic, while these times "
            "include the Python cost of tracing every op.")
    grads = consts[(consts["mode"] == "reverse") & (consts.strategy == "vectorized")]
    grads = grads.dropna(subset=["c_one_sweep_median"])
    if len(grads):
        parts = ", ".join(f"{r.c_one_sweep_median:.1f}x ({r.family})"
                          for r in grads.itertuples())
        out.append(f"A gradient (m = 1, one recording and one backward sweep) costs {parts} "
                   "the primal, the median over n.")
    cross = crossover(df)
    if not cross.empty:
        finite = cross[np.isfinite(cross.m_star_looped_time) & (cross.m_star_looped_time > 0)]
        if len(finite):
            offset = np.log2(finite.m_star_looped_time / finite.n_inputs)
            out.append(
                "In wall time, looped reverse mode beats looped forward mode for m below a "
                f"crossover m* = {2 ** float(np.median(offset)):.2f} n (median over "
                f"{len(finite)} (family, n) columns; range {2 ** float(offset.min()):.2f} n "
                f"to {2 ** float(offset.max()):.2f} n), where the textbook puts it at m = n.")
        reaches = []
        for family in cross.family.unique():
            table = log2_time_ratio(df, family, "vectorized")
            forward_wins = [n for n in table.columns if (table[n].dropna() < 0).all()]
            largest = 0
            for n in table.columns:  # the leading run of columns where forward always wins
                if n not in forward_wins:
                    break
                largest = int(n)
            reaches.append(f"n <= {largest} ({family})" if largest else f"no n ({family})")
        out.append(
            "Vectorized, forward mode is faster than reverse at every m of the grid for "
            + ", ".join(reaches) + ".")
    departure = vectorized_departure(df)
    for r in departure.itertuples():
        axis = "n" if r.mode == "forward" else "m"
        what = "gradient" if r.part == "gradient" else "fan-out"
        out.append(
            f"{what.capitalize()} of the {r.family}: at {axis} = {r.directions}, vectorized "
            f"{r.mode} mode is {r.speedup:.1f}x faster than looped; against {axis} its time "
            f"grows with slope {_fmt(r.vectorized_time_slope)} "
            f"({_fmt(r.vectorized_ratio_slope)} in multiples of the primal), the looped "
            f"one's with {_fmt(r.looped_time_slope)} ({_fmt(r.looped_ratio_slope)}), where "
            "the textbook's one sweep per direction gives 1 in multiples of the primal.")
    if df.attrs.get("interrupted"):
        out.append("The run was interrupted: these numbers cover only the cells measured.")
    return out


# -- figures ------------------------------------------------------------------------------

STYLE = {("forward", "looped"): ("tab:blue", "-", "o"),
         ("forward", "vectorized"): ("tab:blue", "--", "s"),
         ("reverse", "looped"): ("tab:red", "-", "o"),
         ("reverse", "vectorized"): ("tab:red", "--", "s"),
         ("primal", "numpy"): ("black", ":", ".")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _log2_axes(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _draw_curves(ax, rows: pd.DataFrame, column: str, value: str, sizes) -> None:
    for (mode, strategy), style in STYLE.items():
        line = rows[(rows["mode"] == mode) & (rows.strategy == strategy)].sort_values(column)
        if line.empty:
            continue
        upper = _upper(line, column, sizes)
        slope = fit_slope(upper[column], upper[value])
        color, dash, marker = style
        label = f"{mode} {strategy}" if mode != "primal" else "primal (numpy)"
        ax.plot(line[column], line[value], color=color, linestyle=dash, marker=marker,
                markersize=4, label=f"{label}: slope {_fmt(slope)}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)


def plot_cost_curves(df: pd.DataFrame, path: Path) -> Path | None:
    """Wall time against n (at the largest m) and against m (at the largest n), one column
    per family, log-log, fitted slopes in the legends."""
    grid = df[df.part == "grid"]
    if grid.empty:
        return None
    plt = _pyplot()
    families = list(grid.family.unique())
    fig, axes = plt.subplots(2, len(families), figsize=(5.6 * len(families), 10.4),
                             squeeze=False)
    sizes = sorted(grid.n_inputs.unique())
    for j, family in enumerate(families):
        rows = grid[grid.family == family]
        for i, axis in enumerate(("n", "m")):
            column = AXIS_COLUMN[axis]
            fixed_column = AXIS_COLUMN["m" if axis == "n" else "n"]
            fixed = rows[fixed_column].max()
            ax = axes[i][j]
            _draw_curves(ax, rows[rows[fixed_column] == fixed], column, "median_s", sizes)
            other = "m" if axis == "n" else "n"
            _log2_axes(ax, f"{axis} ({'inputs' if axis == 'n' else 'outputs'})",
                       "time per Jacobian (s)")
            ax.set_title(f"{FAMILY_LABELS.get(family, family)}\nagainst {axis}, "
                         f"{other} = {fixed}", fontsize=10)
    fig.suptitle(f"Jacobian cost; slopes fitted for sizes >= {fit_from(sizes):.3g}",
                 fontsize=12)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def _power_ticks(values: Iterable[float]) -> tuple[list[float], list[str]]:
    """Every other power of two as a tick (log2 position, label), so labels never collide."""
    values = sorted(values)
    step = 2 if len(values) > 6 else 1
    shown = values[::-1][::step][::-1]
    return [math.log2(v) for v in shown], [f"{int(v)}" for v in shown]


def plot_crossover(df: pd.DataFrame, path: Path) -> Path | None:
    """Heatmaps of log2(T_forward / T_reverse) over the (n, m) grid, one column per family,
    looped strategies above and vectorized below (one colour scale per row), with the
    diagonal n = m and the measured crossover (the zero contour) drawn."""
    grid = df[df.part == "grid"]
    if grid.empty:
        return None
    plt = _pyplot()
    families = list(grid.family.unique())
    fig, axes = plt.subplots(2, len(families), figsize=(4.4 * len(families) + 1.6, 8.6),
                             squeeze=False, constrained_layout=True)
    for i, strategy in enumerate(("looped", "vectorized")):
        tables = {f: log2_time_ratio(df, f, strategy) for f in families}
        finite = [np.nanmax(np.abs(t.to_numpy())) for t in tables.values() if t.size]
        limit = max(max(finite) if finite else 1.0, 1e-9)
        image = None
        for j, family in enumerate(families):
            ax = axes[i][j]
            table = tables[family]
            if table.empty:
                ax.set_visible(False)
                continue
            log_n = np.log2(table.columns.to_numpy(dtype=float))
            log_m = np.log2(table.index.to_numpy(dtype=float))
            values = table.to_numpy(dtype=float)
            image = ax.imshow(values, origin="lower", cmap="RdBu_r", vmin=-limit,
                              vmax=limit, aspect="auto",
                              extent=(log_n[0] - 0.5, log_n[-1] + 0.5,
                                      log_m[0] - 0.5, log_m[-1] + 0.5))
            low, high = max(log_n[0], log_m[0]) - 0.5, min(log_n[-1], log_m[-1]) + 0.5
            ax.plot([low, high], [low, high], color="black", linewidth=1.2, label="n = m")
            if len(log_n) > 1 and len(log_m) > 1 and np.nanmin(values) < 0 < np.nanmax(values):
                ax.contour(log_n, log_m, values, levels=[0.0], colors="black",
                           linestyles="--", linewidths=1.2)
                ax.plot([], [], "k--", label="measured crossover")
            ax.set_xticks(*_power_ticks(table.columns))
            ax.set_yticks(*_power_ticks(table.index))
            ax.set_xlabel("n (inputs)")
            ax.set_ylabel("m (outputs)")
            ax.set_title(f"{FAMILY_LABELS.get(family, family)}: {strategy}", fontsize=10)
            ax.legend(fontsize=7, loc="upper left")
        if image is not None:
            bar = fig.colorbar(image, ax=list(axes[i]), shrink=0.9)
            bar.set_label(f"log2(T_forward / T_reverse), {strategy}\n"
                          "red > 0: reverse faster; blue < 0: forward faster", fontsize=9)
    fig.suptitle("Where reverse mode beats forward mode (wall time)", fontsize=12)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_extremes(df: pd.DataFrame, path: Path) -> Path | None:
    """The gradient (m = 1) and fan-out (n = 1) sweeps: cost in multiples of the primal
    against the number of inputs or outputs, log-log, fitted slopes in the legends."""
    parts = [p for p in ("gradient", "fan_out") if (df.part == p).any()]
    if not parts:
        return None
    plt = _pyplot()
    families = list(df[df.part.isin(parts)].family.unique())
    fig, axes = plt.subplots(len(parts), len(families),
                             figsize=(5.6 * len(families), 5.2 * len(parts)), squeeze=False)
    for i, part in enumerate(parts):
        column = "n_inputs" if part == "gradient" else "n_outputs"
        sizes = sorted(df.loc[df.part == part, column].unique())
        for j, family in enumerate(families):
            ax = axes[i][j]
            rows = df[(df.part == part) & (df.family == family)]
            _draw_curves(ax, rows[rows["mode"] != "primal"], column, "ratio_to_primal",
                         sizes)
            axis = "n (inputs)" if part == "gradient" else "m (outputs)"
            _log2_axes(ax, axis, "time / time of the primal")
            what = "gradient, m = 1" if part == "gradient" else "fan-out, n = 1"
            ax.set_title(f"{FAMILY_LABELS.get(family, family)}\n{what}", fontsize=10)
    fig.suptitle("The extremes; slopes fitted on the upper half of each range", fontsize=12)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


# -- the report ---------------------------------------------------------------------------


def _environment_lines(env: dict[str, Any]) -> list[str]:
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env.get("blas") or [])
    return [f"- admodes {env.get('admodes_version')}, numpy {env.get('numpy_version')}, "
            f"Python {env.get('python_version')}; CPU {env.get('cpu_model')} "
            f"({env.get('cores')} cores); BLAS {blas or 'unknown'} pinned to 1 thread; git "
            f"{env.get('git_commit')}; {env.get('date')}; 1-minute load average "
            f"{env.get('load_average')} when the run began."]


def _markdown(df: pd.DataFrame, env: dict[str, Any], cfg: dict[str, Any]) -> str:
    lines = ["# Jacobian scaling: forward vs reverse mode", ""]
    if df.attrs.get("interrupted"):
        lines += ["**Interrupted run: only the cells measured are included.**", ""]
    lines += ["## Findings", ""] + [f"- {s}" for s in findings(df)] + [""]
    summary = slope_summary(df)
    if not summary.empty:
        sizes = sorted(df.loc[df.part == "grid", "n_inputs"].unique())
        lines += [
            "## Fitted log-log slopes on the grid", "",
            f"Least squares on log2-log2 axes over sizes >= {fit_from(sizes):.3g} (the upper "
            "half of the grid; below it per-call constants dominate), the median over the "
            "fixed values of the other axis (time: with the range). `counted theory` is the "
            "slope the counted work should have; `textbook` the one-sweep-per-direction "
            "model. `work ops` = primitive ops evaluated + JVP/VJP rules applied. "
            "`time / T_f` is the slope of the time in multiples of the primal.", ""]
        table = pd.DataFrame({
            "family": summary.family, "strategy": summary["mode"] + " " + summary.strategy,
            "against": summary.axis, "counted theory": summary.counted_theory,
            "textbook": summary.textbook, "sweeps": summary.sweeps_slope,
            "work ops": summary.work_ops_slope, "time": summary.time_slope,
            "time range": [f"{a:.2f} to {b:.2f}" for a, b in
                           zip(summary.time_slope_min, summary.time_slope_max)],
            "time / T_f": summary.ratio_slope})
        number = {c: _fmt for c in ("counted theory", "textbook", "sweeps", "work ops", "time",
                                    "time / T_f")}
        lines += markdown_table(table, number) + [""]
    extremes = slopes(df)
    extremes = extremes[extremes.part != "grid"]
    if not extremes.empty:
        lines += ["## Slopes at the extremes", "",
                  "Gradient: m = 1, against n. Fan-out: n = 1, against m. Same fit as above.",
                  ""]
        table = pd.DataFrame({
            "part": extremes.part, "family": extremes.family,
            "strategy": extremes["mode"] + " " + extremes.strategy,
            "fitted from": extremes.fit_from, "counted theory": extremes.counted_theory,
            "sweeps": extremes.sweeps_slope, "work ops": extremes.work_ops_slope,
            "time": extremes.time_slope, "time / T_f": extremes.ratio_slope})
        number = {c: _fmt for c in ("counted theory", "sweeps", "work ops", "time",
                                    "time / T_f")}
        number["fitted from"] = lambda v: _fmt(v, 0)
        lines += markdown_table(table, number) + [""]
    consts = constants(df)
    if not consts.empty:
        lines += [
            "## The constant c", "",
            "c = T(Jacobian) / (directions x T(primal)), directions = n (forward) or m "
            "(reverse): the cost of one sweep in multiples of plain numpy for the looped "
            "strategies, the cost per direction for the vectorized ones. `grid` is the median "
            "(and range) over grid cells whose direction count is in the fitted range; "
            "`one sweep` the median over the extremes of a single sweep (a gradient for "
            f"reverse mode, a JVP for forward mode). Textbook: {TEXTBOOK_C} (Baydin et al. "
            "2018, citing Griewank and Walther), counted in arithmetic rather than time.", ""]
        table = pd.DataFrame({
            "family": consts.family, "strategy": consts["mode"] + " " + consts.strategy,
            "c (grid median)": consts.c_grid_median,
            "c range": [f"{_fmt(a)} to {_fmt(b)}"
                        for a, b in zip(consts.c_grid_min, consts.c_grid_max)],
            "one sweep": consts.c_one_sweep_median})
        lines += markdown_table(table, {"c (grid median)": _fmt, "one sweep": _fmt}) + [""]
    cross = crossover(df)
    if not cross.empty:
        lines += [
            "## Crossover", "",
            "For each n, the m* below which reverse mode is faster than forward mode "
            "(log-interpolated where log2(T_forward / T_reverse) changes sign; `< 1`: forward "
            "is faster everywhere in that column; `beyond grid`: reverse stays faster over the "
            "grid). The textbook puts it on the diagonal, m* = n. `work ops` is the "
            "deterministic crossover of the counted work of the looped strategies. Heatmap: "
            "`crossover_heatmap.png`.", ""]
        table = pd.DataFrame({
            "family": cross.family, "n": cross.n_inputs,
            "m* looped (time)": cross.m_star_looped_time,
            "m* vectorized (time)": cross.m_star_vectorized_time,
            "m* looped (work ops)": cross.m_star_looped_work_ops})
        lines += markdown_table(table, {c: _fmt_m for c in table.columns[2:]}) + [""]
    departure = vectorized_departure(df)
    if not departure.empty:
        lines += [
            "## Vectorized vs the textbook", "",
            "One wide sweep instead of one sweep per direction, at the extremes: the slope "
            "of the time against the number of directions, in seconds and in multiples of "
            "the primal (textbook: 1 in multiples of the primal), and the speed-up over the "
            "looped strategy at the largest size.", ""]
        table = pd.DataFrame({
            "part": departure.part, "family": departure.family, "mode": departure["mode"],
            "directions": departure.directions,
            "looped slope (s)": departure.looped_time_slope,
            "vectorized slope (s)": departure.vectorized_time_slope,
            "looped slope (/ T_f)": departure.looped_ratio_slope,
            "vectorized slope (/ T_f)": departure.vectorized_ratio_slope,
            "speed-up": departure.speedup,
            "vectorized / T_f": departure.vectorized_ratio_to_primal})
        number = {c: _fmt for c in table.columns if "slope" in c}
        number.update({"speed-up": lambda v: _fmt(v, 1),
                       "vectorized / T_f": lambda v: _fmt(v, 1)})
        lines += markdown_table(table, number) + [""]
    lines += [
        "## Setup", "",
        f"- families: {', '.join(cfg['families'])}; dense_net hidden width {cfg['hidden']}; "
        f"deep_chain {cfg['chain_depth']} elementwise ops on {cfg['chain_width']} numbers.",
        f"- grid: n, m = 1 to {cfg['grid_max']} (powers of two); extremes to "
        f"{cfg['extreme_max']}.",
        f"- timing: `admodes.measure.time_call`, {cfg['warmup']} warm-up call(s) and at least "
        f"{cfg['min_repeats']} samples and {cfg['min_time']} s per measurement, garbage "
        "collector off while timing; the primal is timed in the same cell, just before.",
        "- counts: `admodes.count_ops` on one extra call, which also gives the Jacobians "
        "compared and, under tracemalloc, `peak_bytes` (not measured for looped strategies "
        f"of more than {cfg['peak_max_sweeps']} sweeps).",
        *_environment_lines(env), ""]
    return "\n".join(lines)


def write_report(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write results.csv, slopes.csv, summary.md and the PNG figures into ``out_dir``;
    return the paths written.

    Example:
        >>> paths = write_report(run(PRESETS["quick"]), "reports/scaling")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = df.attrs.get("environment") or environment()
    cfg = {**FULL_CONFIG, **df.attrs.get("config", {})}
    paths = [out / "results.csv", out / "slopes.csv", out / "summary.md"]
    write_atomic(paths[0], df.to_csv(index=False))
    write_atomic(paths[1], slopes(df).to_csv(index=False))
    write_atomic(paths[2], _markdown(df, env, cfg))
    for plot, name in ((plot_cost_curves, "cost_curves.png"),
                       (plot_crossover, "crossover_heatmap.png"),
                       (plot_extremes, "extremes.png")):
        written = plot(df, out / name)
        if written is not None:
            paths.append(written)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python experiments/scaling.py [--quick | --preset P] [--out DIR]``."""
    args = experiment_args(
        argv, description=__doc__.splitlines()[0], name=NAME, presets=PRESETS,
        preset_help="grid to 64 and extremes to 256 (quick, ~25 s) or grid to 1024 and "
                    "extremes to 4096 (full, a few minutes); default full")
    df = run({**PRESETS[args.preset], "checkpoint_csv": args.out / "results.csv"})
    return announce(df, write_report(df, args.out), findings(df))


if __name__ == "__main__":
    sys.exit(main())
