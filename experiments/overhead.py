"""How much the engines cost on top of plain numpy, measured against fixed targets.

Everything runs in ONE process with BLAS pinned to one thread; each number is a median
after warm-up (``admodes.measure.time_call``), and every ratio divides by plain numpy timed
in the same run; the cases are timed round-robin over several rounds. Three benchmarks:

- ``per_op``: a chain of K cheap elementwise ops (``x * 0.7``, ``x + 0.3``, ``sin``,
  ``x * x``, ``tanh``, ``exp``, ``x - 1.2``, ``cos``, repeated), on a Python float and on
  a float64 array of length 1 (which then ends with ``np.sum``, so the output is a scalar
  as ``value_and_grad`` needs). Reported as microseconds per primitive op: the time of one
  call divided by ``n_ops``, the ops counted by ``admodes.count_ops``; nothing subtracted.
- ``vector_chain``: the same chain (then ``np.sum``) on a length-1000 vector, reported as
  T(value_and_grad f) / T(f) and T(jvp f) / T(f), with a hand-written numpy forward +
  backward pass of the same chain as the reference (what the gradient costs without any
  engine).
- ``mlp_loss``: ``loss(W1, W2, X) = mean((tanh(X @ W1) @ W2) ** 2)`` with X of shape
  (64, 256) (a batch of 64 samples, 256 features), W1 (256, 256), W2 (256, 1);
  T(value_and_grad of loss w.r.t. (W1, W2)) / T(loss), and the same ratio for a
  hand-written numpy forward + backward pass as the reference.

Run ``python experiments/overhead.py [--quick] [--out DIR]``; it writes ``results.csv``
(one row per measurement) and ``summary.md`` into DIR (default ``reports/overhead``). The
``cyclic_garbage`` column counts the objects one call leaves in reference cycles: timing
runs with the garbage collector off, so their cost is not in the times.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import admodes
from admodes.measure import (
    Timing,
    environment,
    merged_config,
    pinned_blas,
    progress,
    steady_malloc,
    time_call,
    write_atomic,
)

DEFAULT_CONFIG: dict[str, Any] = {
    "chain_ops": 200,     # elementwise ops per chain (a multiple of 8)
    "vector_size": 1000,  # length of the vector in the vector_chain benchmark
    "batch": 64,          # mlp_loss: rows of X
    "features": 256,      # mlp_loss: columns of X = rows of W1
    "hidden": 256,        # mlp_loss: columns of W1 = rows of W2
    "rounds": 5,          # round-robin passes over all cases
    "min_time": 0.3,      # seconds of timing per case and round (after warm-up)
    "min_repeats": 5,
    "warmup": 2,
    "seed": 0,
    "steady_malloc": True,  # see admodes.measure.steady_malloc
}
QUICK_CONFIG: dict[str, Any] = {**DEFAULT_CONFIG, "rounds": 2, "min_time": 0.1}
NAME = "overhead"
PRESETS: dict[str, dict[str, Any]] = {"quick": QUICK_CONFIG, "full": DEFAULT_CONFIG}

# (benchmark, input_kind, engine) -> (the column the target applies to, its upper bound)
TARGETS: dict[tuple[str, str, str], tuple[str, float]] = {
    ("per_op", "python_float", "reverse"): ("us_per_op", 2.0),
    ("per_op", "python_float", "forward"): ("us_per_op", 1.0),
    ("per_op", "array_len1", "reverse"): ("us_per_op", 3.0),
    ("per_op", "array_len1", "forward"): ("us_per_op", 2.0),
    ("vector_chain", "array_len{n}", "reverse"): ("ratio_to_numpy", 2.6),
    ("vector_chain", "array_len{n}", "forward"): ("ratio_to_numpy", 3.0),
    ("mlp_loss", "mlp", "reverse"): ("ratio_to_numpy", 4.0),
}

COLUMNS = ["benchmark", "engine", "input_kind", "call", "n_ops", "median_s", "min_s", "max_s",
           "q25_s", "q75_s", "repeats", "rounds", "calls_per_repeat", "cyclic_garbage",
           "us_per_op", "ratio_to_numpy", "target_metric", "target", "met"]


# -- the functions measured -----------------------------------------------------------


def _cycles(n_ops: int) -> int:
    if n_ops <= 0 or n_ops % 8:
        raise ValueError(f"chain_ops must be a positive multiple of 8, got {n_ops}")
    return n_ops // 8


def make_chain(n_ops: int) -> Callable[[Any], Any]:
    """A chain of ``n_ops`` cheap elementwise ops that keeps values in a bounded range."""
    cycles = _cycles(n_ops)

    def chain(x):
        for _ in range(cycles):
            x = x * 0.7
            x = x + 0.3
            x = np.sin(x)
            x = x * x
            x = np.tanh(x)
            x = np.exp(x)
            x = x - 1.2
            x = np.cos(x)
        return x

    return chain


def make_summed_chain(n_ops: int) -> Callable[[Any], Any]:
    """``make_chain(n_ops)`` followed by ``np.sum``: a scalar output for value_and_grad."""
    chain = make_chain(n_ops)

    def summed(x):
        return np.sum(chain(x))

    return summed


def make_summed_chain_grad_by_hand(n_ops: int) -> Callable[[Any], Any]:
    """``make_summed_chain(n_ops)`` and its gradient, written out in numpy: a forward pass
    keeping what the backward pass needs, then the backward pass."""
    cycles = _cycles(n_ops)

    def value_and_grad_by_hand(x):
        saved = []
        for _ in range(cycles):
            x2 = x * 0.7 + 0.3
            x3 = np.sin(x2)
            x5 = np.tanh(x3 * x3)
            x6 = np.exp(x5)
            x7 = x6 - 1.2
            saved.append((x2, x3, x5, x6, x7))
            x = np.cos(x7)
        value = np.sum(x)
        g = np.ones_like(x)
        for x2, x3, x5, x6, x7 in reversed(saved):
            g = -np.sin(x7) * g
            g = g * x6 * (1.0 - x5 * x5)
            g = 2.0 * x3 * g * np.cos(x2) * 0.7
        return value, g

    return value_and_grad_by_hand


def mlp_loss(W1, W2, X):
    """The mean squared output of a 2-layer tanh network (no biases)."""
    return np.mean((np.tanh(X @ W1) @ W2) ** 2)


def mlp_loss_and_grad_by_hand(W1, W2, X):
    """``mlp_loss`` and its gradient with respect to (W1, W2), written out in numpy."""
    h = np.tanh(X @ W1)
    y = h @ W2
    loss = np.mean(y ** 2)
    dy = (2.0 / y.size) * y
    dW2 = h.T @ dy
    dW1 = X.T @ ((dy @ W2.T) * (1.0 - h * h))
    return loss, (dW1, dW2)


# -- the plan: what to time -----------------------------------------------------------


@dataclass
class Case:
    benchmark: str
    input_kind: str
    engine: str
    call: str
    fn: Callable
    args: tuple
    n_ops: int


def cyclic_garbage(fn: Callable, *args: Any) -> int:
    """How many objects one call of ``fn(*args)`` leaves in reference cycles: garbage that
    only the cycle collector frees (so whatever it references lives on until then)."""
    while gc.collect():  # until nothing earlier code left (finalizers can free in waves)
        pass
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        fn(*args)
        return gc.collect()
    finally:
        if was_enabled:
            gc.enable()


def _count_ops(fn: Callable, *args: Any) -> int:
    """The primitive ops ``fn`` evaluates (not counting derivative-rule applications)."""
    with admodes.count_ops() as c:
        fn(*args)
    return sum(c.ops.values())


def _chain_cases(benchmark: str, input_kind: str, f: Callable, x: Any, t: Any,
                 by_hand: Callable | None = None) -> list[Case]:
    vg = admodes.value_and_grad(f)
    n_ops = _count_ops(vg, x)
    if _count_ops(admodes.jvp, f, (x,), (t,)) != n_ops:
        raise RuntimeError("the two engines applied different numbers of ops")
    extra = []
    if by_hand is not None:
        # the hand-written reference must compute the same thing
        (value, grad), (value_ref, grad_ref) = vg(x), by_hand(x)
        np.testing.assert_allclose(value, value_ref, rtol=1e-10)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-12)
        extra.append(Case(benchmark, input_kind, "handwritten", "numpy forward + backward",
                          by_hand, (x,), n_ops))
    return [
        Case(benchmark, input_kind, "numpy", "f(x)", f, (x,), n_ops),
        Case(benchmark, input_kind, "reverse", "value_and_grad(f)(x)", vg, (x,), n_ops),
        Case(benchmark, input_kind, "forward", "jvp(f, (x,), (t,))", admodes.jvp,
             (f, (x,), (t,)), n_ops),
        *extra,
    ]


def _mlp_cases(cfg: dict[str, Any], rng: np.random.Generator) -> list[Case]:
    b, d, h = cfg["batch"], cfg["features"], cfg["hidden"]
    X = rng.standard_normal((b, d))
    W1 = rng.standard_normal((d, h)) / np.sqrt(d)
    W2 = rng.standard_normal((h, 1)) / np.sqrt(h)
    vg = admodes.value_and_grad(mlp_loss, argnums=(0, 1))
    # the hand-written reference must compute the same thing
    (loss, grads), (loss_ref, grads_ref) = vg(W1, W2, X), mlp_loss_and_grad_by_hand(W1, W2, X)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-10)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, rtol=1e-8, atol=1e-12)
    kind = "mlp"
    n_ops = _count_ops(vg, W1, W2, X)
    return [
        Case("mlp_loss", kind, "numpy", "loss(W1, W2, X)", mlp_loss, (W1, W2, X), n_ops),
        Case("mlp_loss", kind, "reverse", "value_and_grad(loss, (0, 1))(W1, W2, X)", vg,
             (W1, W2, X), n_ops),
        Case("mlp_loss", kind, "handwritten", "numpy forward + backward",
             mlp_loss_and_grad_by_hand, (W1, W2, X), n_ops),
    ]


def plan(cfg: dict[str, Any]) -> list[Case]:
    """Every measurement of one run, in the order they are timed."""
    rng = np.random.default_rng(cfg["seed"])
    k, n = cfg["chain_ops"], cfg["vector_size"]
    vec = rng.uniform(-1.0, 1.0, n)
    return [
        *_chain_cases("per_op", "python_float", make_chain(k), 0.5, 1.0),
        *_chain_cases("per_op", "array_len1", make_summed_chain(k), np.array([0.5]),
                      np.ones(1)),
        *_chain_cases("vector_chain", f"array_len{n}", make_summed_chain(k), vec,
                      np.ones(n), make_summed_chain_grad_by_hand(k)),
        *_mlp_cases(cfg, rng),
    ]


# -- running and reporting ------------------------------------------------------------


def _target(benchmark: str, input_kind: str, engine: str, n: int) -> tuple[str, float] | None:
    for (b, kind, e), target in TARGETS.items():
        if (b, kind.format(n=n), e) == (benchmark, input_kind, engine):
            return target
    return None


def run(config: dict[str, Any] | None = None, *, show_progress: bool = True) -> pd.DataFrame:
    """Time every case of the plan; one row per measurement (columns: ``COLUMNS``).

    Each case is timed in ``rounds`` round-robin passes; ``median_s``, ``q25_s`` and
    ``q75_s`` are the medians over the rounds of each round's value, ``min_s`` and ``max_s``
    the extremes over all samples, ``repeats`` the samples of all rounds together.

    ``config`` overrides keys of ``DEFAULT_CONFIG``. The environment and the full config
    are attached as ``df.attrs["environment"]`` and ``df.attrs["config"]``.

    Example:
        >>> df = run({"chain_ops": 8, "vector_size": 4, "batch": 2, "features": 3,
        ...           "hidden": 3, "min_time": 0.0, "min_repeats": 1, "warmup": 0,
        ...           "rounds": 1})
        >>> sorted(df.engine.unique())
        ['forward', 'handwritten', 'numpy', 'reverse']
    """
    cfg = merged_config(DEFAULT_CONFIG, config)
    malloc_pinned = steady_malloc() if cfg["steady_malloc"] else False
    with pinned_blas(1):
        env = environment()
        cases = plan(cfg)
        garbage = [cyclic_garbage(case.fn, *case.args) for case in cases]
        timings: list[list[Timing]] = [[] for _ in cases]
        # round-robin: every case is timed once per round, so a slow spell of the machine
        # hits all of them alike instead of one benchmark
        order = [i for _ in range(cfg["rounds"]) for i in range(len(cases))]
        for i in (progress(order, label="overhead") if show_progress else order):
            timings[i].append(time_call(cases[i].fn, *cases[i].args,
                                        min_time=cfg["min_time"],
                                        min_repeats=cfg["min_repeats"], warmup=cfg["warmup"]))
    rows = []
    for case, ts, g in zip(cases, timings, garbage):
        rows.append({
            "benchmark": case.benchmark, "engine": case.engine,
            "input_kind": case.input_kind, "call": case.call, "n_ops": case.n_ops,
            "median_s": float(np.median([t.median_s for t in ts])),
            "min_s": min(t.min_s for t in ts), "max_s": max(t.max_s for t in ts),
            "q25_s": float(np.median([t.q25_s for t in ts])),
            "q75_s": float(np.median([t.q75_s for t in ts])),
            "repeats": sum(t.repeats for t in ts), "rounds": len(ts),
            "calls_per_repeat": max(t.calls_per_repeat for t in ts), "cyclic_garbage": g,
        })
    df = pd.DataFrame(rows)
    df["us_per_op"] = df.median_s / df.n_ops * 1e6
    base = df[df.engine == "numpy"].set_index(["benchmark", "input_kind"]).median_s
    df["ratio_to_numpy"] = [m / base[(b, k)]
                            for b, k, m in zip(df.benchmark, df.input_kind, df.median_s)]
    targets = [_target(b, k, e, cfg["vector_size"])
               for b, k, e in zip(df.benchmark, df.input_kind, df.engine)]
    df["target_metric"] = [t[0] if t else None for t in targets]
    df["target"] = [t[1] if t else np.nan for t in targets]
    df["met"] = [None if t is None else bool(row[t[0]] <= t[1])
                 for t, (_, row) in zip(targets, df.iterrows())]
    df = df[COLUMNS]
    df.attrs["environment"] = env
    df.attrs["config"] = {**cfg, "steady_malloc": malloc_pinned}
    return df


def _fmt_s(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _verdict(row: pd.Series) -> str:
    if row.met is None:
        return ""
    unit = " us/op" if row.target_metric == "us_per_op" else "x numpy"
    return f"<= {row.target:g}{unit}: {'met' if row.met else 'NOT met'}"


def _sentences(df: pd.DataFrame, cfg: dict[str, Any]) -> list[str]:
    def get(benchmark, input_kind, engine):
        hit = df[(df.benchmark == benchmark) & (df.input_kind == input_kind)
                 & (df.engine == engine)]
        return hit.iloc[0] if len(hit) else None

    out = []
    for kind, words in (("python_float", "Python floats"), ("array_len1", "length-1 arrays")):
        np_row, rev, fwd = (get("per_op", kind, e) for e in ("numpy", "reverse", "forward"))
        if np_row is None:
            continue
        out.append(
            f"On {words}, a primitive op costs {np_row.us_per_op:.2f} us in plain numpy, "
            f"{rev.us_per_op:.2f} us under reverse mode (value_and_grad; "
            f"{_verdict(rev)}) and {fwd.us_per_op:.2f} us under forward mode (jvp; "
            f"{_verdict(fwd)}).")
    kind = f"array_len{cfg['vector_size']}"
    rev, fwd, hand = (get("vector_chain", kind, e) for e in ("reverse", "forward",
                                                            "handwritten"))
    if rev is not None:
        out.append(
            f"On a length-{cfg['vector_size']} vector, the {rev.n_ops}-op chain costs "
            f"{rev.ratio_to_numpy:.2f}x plain numpy under value_and_grad ({_verdict(rev)}) "
            f"and {fwd.ratio_to_numpy:.2f}x under jvp ({_verdict(fwd)}); a hand-written "
            f"numpy forward + backward pass costs {hand.ratio_to_numpy:.2f}x.")
    rev, hand = get("mlp_loss", "mlp", "reverse"), get("mlp_loss", "mlp", "handwritten")
    if rev is not None:
        out.append(
            f"For the 2-layer tanh network, value_and_grad costs {rev.ratio_to_numpy:.2f}x "
            f"the loss alone ({_verdict(rev)}); a hand-written numpy forward + backward "
            f"pass costs {hand.ratio_to_numpy:.2f}x, so admodes' gradient takes "
            f"{rev.median_s / hand.median_s:.2f}x the time of the hand-written one.")
    leaky = df[df.cyclic_garbage > 0]
    if len(leaky):
        out.append(
            "Some calls leave garbage in reference cycles, which only Python's cycle "
            "collector frees (timing runs with the collector off and collects between "
            "samples, untimed, so that cost is not in the numbers above): " + "; ".join(
                f"{r.benchmark}/{r.input_kind}/{r.engine} {r.cyclic_garbage} objects"
                for _, r in leaky.iterrows()) + ".")
    judged = df[df.met.notna()]
    met = judged.met.astype(bool)
    missed = judged[~met]
    line = f"{int(met.sum())} of {len(judged)} targets met."
    if len(missed):
        line += " Not met: " + "; ".join(
            f"{r.benchmark}/{r.input_kind}/{r.engine} "
            f"({r[r.target_metric]:.2f} vs <= {r.target:g})" for _, r in missed.iterrows()
        ) + "."
    out.append(line)
    return out


def _markdown(df: pd.DataFrame, env: dict[str, Any], cfg: dict[str, Any]) -> str:
    lines = [
        "# Engine overhead",
        "",
        ("Medians after warm-up, one process, BLAS pinned to 1 thread; each ratio divides "
         "by plain numpy timed in the same run (`experiments/overhead.py`). `us/op` is the "
         "time of one call divided by the number of primitive ops the function applies."),
        "",
        "| benchmark | input | engine | call | ops | median | IQR | us/op | x numpy | target |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for _, r in df.iterrows():
        iqr = f"{_fmt_s(r.q25_s)} - {_fmt_s(r.q75_s)}"
        lines.append(
            f"| {r.benchmark} | {r.input_kind} | {r.engine} | `{r.call}` | {r.n_ops} "
            f"| {_fmt_s(r.median_s)} | {iqr} | {r.us_per_op:.3f} | {r.ratio_to_numpy:.2f} "
            f"| {_verdict(r)} |")
    lines += ["", "## In words", ""]
    lines += [f"- {s}" for s in _sentences(df, cfg)]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env.get("blas") or [])
    chain = (f"- chain: {cfg['chain_ops']} elementwise ops (x * 0.7, x + 0.3, sin, x * x, "
             "tanh, exp, x - 1.2, cos, repeated); on arrays followed by np.sum.")
    mlp = (f"- mlp_loss: mean((tanh(X @ W1) @ W2) ** 2) with X {cfg['batch']}x"
           f"{cfg['features']}, W1 {cfg['features']}x{cfg['hidden']}, W2 {cfg['hidden']}x1;"
           " gradient w.r.t. (W1, W2).")
    timing = (f"- timing: {cfg['rounds']} round-robin rounds over all cases; in each, at "
              f"least {cfg['min_time']} s and {cfg['min_repeats']} samples per case after "
              f"{cfg['warmup']} warm-up calls, garbage collector off while timing; the "
              "median and IQR shown are medians over the rounds.")
    machine = (f"- admodes {env.get('admodes_version')}, numpy {env.get('numpy_version')}, "
               f"Python {env.get('python_version')}; CPU {env.get('cpu_model')} "
               f"({env.get('cores')} cores); BLAS {blas or 'unknown'}; git "
               f"{env.get('git_commit')}; {env.get('date')}; 1-minute load average "
               f"{env.get('load_average')} when the run began.")
    malloc = ("- glibc malloc kept freed memory (`admodes.measure.steady_malloc`), so the "
              "times don't depend on whether the heap happens to be trimmed after every call."
              if cfg.get("steady_malloc") else
              "- the allocator was left as is: if some reverse-mode numbers look 30-60% slow, "
              "the heap may have been returned to the OS after every call (see "
              "`admodes.measure.steady_malloc`).")
    lines += ["", "## Setup", "", chain, mlp, timing, malloc, machine, ""]
    return "\n".join(lines)


def findings(df: pd.DataFrame) -> list[str]:
    """The key sentences of a ``run()`` result, generated from its numbers."""
    return _sentences(df, {**DEFAULT_CONFIG, **df.attrs.get("config", {})})


def write_report(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``results.csv`` and ``summary.md`` for a ``run()`` result into ``out_dir``.

    Each file is written to a temporary name first and then renamed, so an interrupted
    run never leaves a half-written file.

    Example:
        >>> csv_path, md_path = write_report(df, "reports/overhead")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "results.csv", out / "summary.md"
    env = df.attrs.get("environment") or environment()
    cfg = {**DEFAULT_CONFIG, **df.attrs.get("config", {})}
    write_atomic(csv_path, df.to_csv(index=False))
    write_atomic(md_path, _markdown(df, env, cfg))
    return [csv_path, md_path]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python experiments/overhead.py [--quick] [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter timing rounds (about 5 s instead of 30 s)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="quick or full (default: full, or quick with --quick)")
    parser.add_argument("--out", default="reports/overhead",
                        help="output directory (default: reports/overhead)")
    args = parser.parse_args(argv)
    preset = args.preset or ("quick" if args.quick else "full")
    df = run(PRESETS[preset])
    csv_path, md_path = write_report(df, args.out)
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
