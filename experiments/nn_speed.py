"""How fast ``admodes.nn`` trains, against the floors that need no engine.

Everything runs in ONE process with BLAS pinned to one thread; the cases are timed
round-robin over several rounds, each a median after warm-up (``admodes.measure``).

- ``array``: one full-batch training step (gradient and SGD update) of ``ArrayMLP``
  2-16-16-1 on ``make_moons(1000)`` by reverse mode, against the same step written by hand
  in numpy (forward, backward, update: the floor for this work). Target: at most 1.5x.
- ``scalar``: one full-batch reverse-mode step of the scalar ``MLP`` 2-16-16-1 on
  ``make_moons(100)``, against the same network's loss evaluated on plain Python floats
  (no derivative at all).
- ``--baseline PATH`` adds a scalar engine of your own to compare with, e.g. a
  closure-based micrograd-style one: a Python file defining
  ``make_train_step(X, y, arrays, learning_rate)`` that returns a zero-argument function
  doing one full-batch SGD step of the network with the given ``[(W, b), ...]`` weights.
  Targets: admodes at least 2x faster with the garbage collector disabled, 10x enabled.

Scalar steps are timed twice: with the garbage collector off (``time_call``) and on (the
mean of consecutive steps, so the collector's periodic passes are included). The
``cyclic_garbage`` column counts the objects one step leaves in reference cycles.

Run ``python experiments/nn_speed.py [--quick] [--baseline PATH] [--out DIR]``; it writes
``results.csv`` and ``summary.md`` into DIR (default ``reports/nn_speed``).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import admodes
from admodes.measure import (
    announce,
    environment,
    merged_config,
    pinned_blas,
    progress,
    steady_malloc,
    time_call,
    write_atomic,
)
from admodes.nn import MLP, ArrayMLP, sgd_step

NAME = "nn_speed"
FULL: dict[str, Any] = {
    "sizes": (2, 16, 16, 1), "array_samples": 1000, "scalar_samples": 100, "noise": 0.2,
    "seed": 0, "learning_rate": 0.03,
    "rounds": 5, "min_time": 0.3, "min_repeats": 5, "warmup": 2,
    "gc_on_steps": 10,  # consecutive scalar steps timed with the garbage collector on
}
QUICK: dict[str, Any] = {**FULL, "rounds": 2, "min_time": 0.05, "min_repeats": 3,
                         "gc_on_steps": 3}
PRESETS = {"quick": QUICK, "full": FULL}
COLUMNS = ["experiment", "benchmark", "case", "gc", "median_s", "q25_s", "q75_s", "samples",
           "cyclic_garbage", "ratio", "ratio_to", "target", "met"]


def moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    X, y = make_moons(n, noise=noise, random_state=seed)
    return X, y.astype(float)


def handwritten_step(params: list, X: np.ndarray, y: np.ndarray,
                     learning_rate: float) -> tuple[float, list]:
    """One SGD step of the ReLU network on the mean binary cross-entropy, in plain numpy:
    the forward pass keeping what the backward pass needs, the backward pass, the update."""
    inputs, pre = [], []
    h = X
    last = len(params) - 1
    for k, (W, b) in enumerate(params):
        inputs.append(h)
        a = h @ W + b
        pre.append(a)
        h = np.maximum(a, 0.0) if k < last else a
    z = h[:, 0]
    softplus = np.logaddexp(0.0, z)
    loss = float(np.mean(softplus - y * z))
    g = ((np.exp(z - softplus) - y) / len(y))[:, None]  # d loss / d z; exp(z - sp) = sigmoid
    new = [None] * len(params)
    for k in range(last, -1, -1):
        W, b = params[k]
        if k < last:
            g = g * (pre[k] > 0.0)
        dW, db = inputs[k].T @ g, g.sum(axis=0)
        if k > 0:
            g = g @ W.T
        new[k] = (W - learning_rate * dW, b - learning_rate * db)
    return loss, new


def _load_baseline(path: str | Path) -> Any:
    spec = importlib.util.spec_from_file_location("nn_speed_baseline", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"--baseline {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "make_train_step"):
        raise ValueError(f"--baseline {path}: defines no make_train_step(X, y, arrays, "
                         f"learning_rate)")
    return module


def cyclic_garbage(fn: Callable[[], Any]) -> int:
    """Objects one call of ``fn`` leaves in reference cycles (freed only by the collector),
    after one warm-up call (a first call may release what earlier code left behind)."""
    fn()
    while gc.collect():  # finalizers run by one pass can leave garbage for the next
        pass
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        fn()
        return gc.collect()
    finally:
        if was_enabled:
            gc.enable()


def time_with_gc(fn: Callable[[], Any], steps: int) -> tuple[float, float, float]:
    """Mean, min and max seconds per call over ``steps`` consecutive calls, the garbage
    collector on (after one warm-up call and a full collection)."""
    fn()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        times = []
        began = time.perf_counter()
        for _ in range(steps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        total = time.perf_counter() - began
    finally:
        if not was_enabled:
            gc.disable()
    return total / steps, min(times), max(times)


def _cases(cfg: dict[str, Any], baseline: Any) -> dict[str, tuple[str, Callable[[], Any]]]:
    sizes, lr = tuple(cfg["sizes"]), cfg["learning_rate"]
    X, y = moons(cfg["array_samples"], cfg["noise"], cfg["seed"])
    array = ArrayMLP(sizes, seed=cfg["seed"])
    params = array.params
    grad_array = admodes.grad(array.loss)
    # the hand-written step must compute what admodes computes
    _, by_hand = handwritten_step(params, X, y, lr)
    by_admodes = sgd_step(params, grad_array(params, X, y), lr)
    for (W, b), (W_ref, b_ref) in zip(by_admodes, by_hand):
        np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(b, b_ref, rtol=1e-10, atol=1e-14)

    Xs, ys = moons(cfg["scalar_samples"], cfg["noise"], cfg["seed"])
    scalar = MLP(sizes, seed=cfg["seed"])
    sparams = scalar.params
    grad_scalar = admodes.grad(scalar.loss)
    cases = {
        "admodes reverse": ("array", lambda: sgd_step(params, grad_array(params, X, y), lr)),
        "numpy by hand": ("array", lambda: handwritten_step(params, X, y, lr)),
        "plain loss": ("array", lambda: array.loss(params, X, y)),
        "scalar admodes reverse": ("scalar", lambda: sgd_step(
            sparams, grad_scalar(sparams, Xs, ys), lr)),
        "scalar plain floats": ("scalar", lambda: scalar.loss(sparams, Xs, ys)),
    }
    if baseline is not None:
        step = baseline.make_train_step(Xs, ys, array_params_of(scalar), lr)
        first = float(step())
        expected = float(scalar.loss(sparams, Xs, ys))
        if not np.isclose(first, expected, rtol=1e-9):
            raise RuntimeError(f"the baseline's loss {first} differs from admodes' "
                               f"{expected}: not the same network")
        cases["scalar baseline"] = ("scalar", step)
    return cases


def array_params_of(model: MLP) -> list:
    from admodes.nn import scalar_to_arrays

    return scalar_to_arrays(model.params)


def run(config: dict[str, Any] | None = None, *, baseline: str | Path | None = None,
        show_progress: bool = True) -> pd.DataFrame:
    """Time every case; one row per case and garbage-collector setting.

    Example:
        >>> df = run(QUICK, show_progress=False)  # doctest: +SKIP
    """
    cfg = merged_config(FULL, config)
    module = _load_baseline(baseline) if baseline else None
    steady_malloc()
    with pinned_blas(1):
        env = environment()
        cases = _cases(cfg, module)
        names = list(cases)
        garbage = {name: cyclic_garbage(fn) for name, (_, fn) in cases.items()}
        timings: dict[str, list] = {name: [] for name in names}
        gc_on: dict[str, list] = {name: [] for name in names}
        order = [name for _ in range(cfg["rounds"]) for name in names]
        for name in (progress(order, label=NAME) if show_progress else order):
            benchmark, fn = cases[name]
            timings[name].append(time_call(fn, min_time=cfg["min_time"],
                                           min_repeats=cfg["min_repeats"],
                                           warmup=cfg["warmup"]))
            if benchmark == "scalar":
                gc_on[name].append(time_with_gc(fn, cfg["gc_on_steps"]))
    rows = []
    for name in names:
        benchmark = cases[name][0]
        ts = timings[name]
        rows.append({"experiment": NAME, "benchmark": benchmark, "case": name, "gc": "off",
                     "median_s": float(np.median([t.median_s for t in ts])),
                     "q25_s": float(np.median([t.q25_s for t in ts])),
                     "q75_s": float(np.median([t.q75_s for t in ts])),
                     "samples": sum(t.repeats for t in ts),
                     "cyclic_garbage": garbage[name]})
        if gc_on[name]:
            means = [m for m, _, _ in gc_on[name]]
            rows.append({"experiment": NAME, "benchmark": benchmark, "case": name, "gc": "on",
                         "median_s": float(np.median(means)),
                         "q25_s": float(np.percentile(means, 25)),
                         "q75_s": float(np.percentile(means, 75)),
                         "samples": cfg["gc_on_steps"] * len(means),
                         "cyclic_garbage": garbage[name]})
    df = pd.DataFrame(rows)
    _add_ratios(df)
    df = df[COLUMNS]
    df.attrs.update(config=cfg, environment=env, baseline=str(baseline) if baseline else None)
    return df


def _add_ratios(df: pd.DataFrame) -> None:
    def t(case: str, gc_state: str = "off") -> float:
        hit = df[(df.case == case) & (df.gc == gc_state)].median_s
        return float(hit.iloc[0]) if len(hit) else float("nan")

    df["ratio"], df["ratio_to"], df["target"], df["met"] = np.nan, "", np.nan, None
    for i, r in df.iterrows():
        if r.case == "admodes reverse":
            ratio, to, target = r.median_s / t("numpy by hand"), "numpy by hand", 1.5
        elif r.case == "plain loss":
            ratio, to, target = r.median_s / t("numpy by hand"), "numpy by hand", None
        elif r.case == "scalar admodes reverse":
            ratio, to, target = r.median_s / t("scalar plain floats", r.gc), "plain floats", None
        elif r.case == "scalar baseline":
            # how many times slower the baseline is than admodes: the target is a minimum
            ratio = r.median_s / t("scalar admodes reverse", r.gc)
            to, target = "admodes (baseline / admodes)", 2.0 if r.gc == "off" else 10.0
        else:
            continue
        df.loc[i, ["ratio", "ratio_to"]] = [ratio, to]
        if target is not None:
            met = ratio <= target if r.case == "admodes reverse" else ratio >= target
            df.loc[i, ["target", "met"]] = [target, bool(met)]


def _fmt_s(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def findings(df: pd.DataFrame) -> list[str]:
    """The results in plain sentences, generated from the numbers in ``df``."""
    def get(case: str, gc_state: str = "off") -> pd.Series | None:
        hit = df[(df.case == case) & (df.gc == gc_state)]
        return hit.iloc[0] if len(hit) else None

    cfg = {**FULL, **df.attrs.get("config", {})}
    net = "-".join(map(str, cfg["sizes"]))
    out = []
    rev, hand = get("admodes reverse"), get("numpy by hand")
    if rev is not None and hand is not None:
        out.append(f"Array model {net} on moons({cfg['array_samples']}): a reverse-mode "
                   f"training step takes {_fmt_s(rev.median_s)}, the hand-written numpy step "
                   f"{_fmt_s(hand.median_s)}: {rev.ratio:.2f}x (target <= 1.5x: "
                   f"{'met' if rev.met else 'NOT met'}).")
    for gc_state in ("off", "on"):
        s, plain = get("scalar admodes reverse", gc_state), get("scalar plain floats", gc_state)
        if s is None or plain is None:
            continue
        line = (f"Scalar model {net} on moons({cfg['scalar_samples']}), garbage collector "
                f"{gc_state}: a reverse-mode step takes {_fmt_s(s.median_s)}, "
                f"{s.ratio:.0f}x the plain-float loss ({_fmt_s(plain.median_s)})")
        base = get("scalar baseline", gc_state)
        if base is not None:
            line += (f"; the baseline engine takes {_fmt_s(base.median_s)}, {base.ratio:.2f}x "
                     f"admodes (target >= {base.target:g}x: "
                     f"{'met' if base.met else 'NOT met'})")
        out.append(line + ".")
    cyc = df[df.gc == "off"][["case", "cyclic_garbage"]]
    out.append("Objects left in reference cycles by one call: " + ", ".join(
        f"{r.case} {int(r.cyclic_garbage)}" for _, r in cyc.iterrows()) + ".")
    return out


def _markdown(df: pd.DataFrame) -> str:
    env = df.attrs.get("environment") or {}
    cfg = {**FULL, **df.attrs.get("config", {})}
    lines = ["# admodes.nn training speed", "",
             "Medians after warm-up, one process, BLAS pinned to 1 thread "
             "(`experiments/nn_speed.py`); with the garbage collector on, the mean of "
             f"{cfg['gc_on_steps']} consecutive steps (median over rounds).", "",
             "| benchmark | case | gc | time per call | IQR | cyclic garbage | ratio | to | "
             "target |", "|---|---|---|---:|---:|---:|---:|---|---|"]
    for _, r in df.iterrows():
        target = ""
        if r.met is not None and not (isinstance(r.met, float) and np.isnan(r.met)):
            sign = "<=" if r.case == "admodes reverse" else ">="
            target = f"{sign} {r.target:g}x: {'met' if r.met else 'NOT met'}"
        ratio = "" if np.isnan(r.ratio) else f"{r.ratio:.2f}"
        lines.append(f"| {r.benchmark} | {r.case} | {r.gc} | {_fmt_s(r.median_s)} "
                     f"| {_fmt_s(r.q25_s)} - {_fmt_s(r.q75_s)} | {int(r.cyclic_garbage)} "
                     f"| {ratio} | {r.ratio_to} | {target} |")
    lines += ["", "## In words", ""] + [f"- {s}" for s in findings(df)]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env.get("blas") or [])
    lines += ["", "## Setup", "",
              f"- network {'-'.join(map(str, cfg['sizes']))}, ReLU, N(0, 1) weights, seed "
              f"{cfg['seed']}; one full-batch SGD step (learning rate {cfg['learning_rate']})"
              f"; baseline: {df.attrs.get('baseline') or 'none'}.",
              f"- {cfg['rounds']} round-robin rounds; in each at least {cfg['min_time']} s and "
              f"{cfg['min_repeats']} samples per case after {cfg['warmup']} warm-up calls.",
              f"- admodes {env.get('admodes_version')}, numpy {env.get('numpy_version')}, "
              f"Python {env.get('python_version')}; CPU {env.get('cpu_model')} "
              f"({env.get('cores')} cores); BLAS {blas or 'unknown'}; git "
              f"{env.get('git_commit')}; {env.get('date')}; load average "
              f"{env.get('load_average')}.", ""]
    return "\n".join(lines)


def write_report(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``results.csv`` and ``summary.md`` (each renamed into place when complete)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_atomic(out / "summary.md", _markdown(df)),
            write_atomic(out / "results.csv", df.to_csv(index=False))]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python experiments/nn_speed.py [--quick] [--baseline PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--baseline", default=None,
                        help="a Python file defining make_train_step (see the docstring)")
    parser.add_argument("--out", default="reports/nn_speed",
                        help="output directory (default: reports/nn_speed)")
    args = parser.parse_args(argv)
    df = run(QUICK if args.quick else FULL, baseline=args.baseline)
    return announce(df, write_report(df, args.out), findings(df))


if __name__ == "__main__":
    sys.exit(main())
