"""Training the two-moons classifier with forward and reverse mode, compared.

The network of the teaching notebook (ReLU hidden layers, a sigmoid output, binary
cross-entropy, mini-batches of 32 on scikit-learn's ``make_moons(1000, noise=0.2)``), built
with ``admodes.nn`` and trained by every mode from the same data, initial parameters and
batches. Everything runs in ONE process with BLAS pinned to one thread.

1. Agreement: reverse mode, forward mode with one JVP per parameter (looped) and forward
   mode with one vector-mode sweep (vectorized) train the array model for the whole run and
   the scalar model (Neurons over Python floats) for its first steps; after every step the
   largest parameter difference from reverse mode, relative to the largest parameter, must
   stay below 1e-9.
2. Cost against model size: one training step of the array model with two hidden layers of
   width 2 to 128, timed (``admodes.measure.time_call``) and counted
   (``admodes.count_ops``) per mode; log-log slopes against the parameter count.
3. Accuracy on a held-out test split drawn with another seed; forward gradients (one
   random-direction JVP per step, Baydin et al. 2022) for the same number of steps and for
   the same wall time as the exact modes.
4. The decision boundary of each trained model.

Run ``python experiments/mlp_training.py [--quick] [--out DIR]``; it writes
``results.csv`` (one row per measurement), ``summary.md`` and three PNG figures into DIR
(default ``reports/mlp_training``).
"""

from __future__ import annotations

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
    experiment_args,
    merged_config,
    pinned_blas,
    progress,
    time_call,
    written_atomically,
)
from admodes.nn import (
    MLP,
    ArrayMLP,
    fit,
    gradient_function,
    scalar_to_arrays,
    sgd_step,
)

NAME = "mlp_training"

FULL: dict[str, Any] = {
    # data: make_moons; the test split is drawn with its own seed
    "n_train": 1000, "n_test": 1000, "noise": 0.2, "train_seed": 0, "test_seed": 1,
    # the network and its training (the seed fixes the initial parameters and the batches)
    "hidden": (16, 16), "activation": "relu", "init": "normal", "seed": 0,
    "epochs": 15, "batch_size": 32, "optimizer": "momentum", "learning_rate": 0.03,
    # forward gradients are noisy estimates: they need a smaller step
    "fg_learning_rate": 0.001,
    # the scalar model: this width, one epoch over the first scalar_samples training points
    "scalar_hidden": (8, 8), "scalar_samples": 320,
    # cost against model size
    "cost_widths": (2, 4, 8, 16, 32, 64, 128), "cost_batch": 32,
    "vectorized_max_params": 5000,  # the identity seed alone takes 8 n^2 bytes
    "min_time": 0.05, "min_repeats": 3, "slow_step_s": 0.3,  # slower steps: timed once
    # thresholds and plotting
    "agreement_tolerance": 1e-9, "accuracy_threshold": 0.95, "grid": 100,
}
QUICK: dict[str, Any] = {
    **FULL, "n_train": 200, "n_test": 200, "hidden": (8, 8), "epochs": 3,
    "scalar_hidden": (4, 4), "scalar_samples": 64, "cost_widths": (2, 8, 32),
    "min_time": 0.01, "min_repeats": 1, "grid": 40,
}
PRESETS: dict[str, dict[str, Any]] = {"quick": QUICK, "full": FULL}

COLUMNS = ["experiment", "part", "model", "mode", "budget", "hidden", "n_params", "index",
           "metric", "value"]
EXACT_MODES = ("reverse", "forward-looped", "forward-vectorized")
COST_MODES = ("reverse", "forward-looped", "forward-vectorized", "forward-gradient")
MODE_ARGS = {  # label -> (fit's mode, forward_strategy)
    "reverse": ("reverse", "vectorized"),
    "forward-looped": ("forward", "looped"),
    "forward-vectorized": ("forward", "vectorized"),
    "forward-gradient": ("forward-gradient", "vectorized"),
}
SAME_STEPS = "same steps"


# -- data and small helpers -----------------------------------------------------------


def moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's two moons: ``n`` points in 2-D and float labels 0/1."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n, noise=noise, random_state=seed)
    return X, y.astype(float)


def _flat(params: Any) -> np.ndarray:
    leaves = admodes.tree_flatten(params)[0]
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=float)) for leaf in leaves])


def _arrays_from_flat(sizes: tuple[int, ...], flat: np.ndarray) -> list:
    params, at = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = flat[at:at + n_in * n_out].reshape(n_in, n_out)
        at += n_in * n_out
        params.append((W, flat[at:at + n_out].copy()))
        at += n_out
    return params


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest elementwise difference, relative to the largest magnitude in ``b``."""
    scale = max(float(np.max(np.abs(b))), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def _maybe_progress(items: Any, what: str, show: bool) -> Any:
    return progress(items, label=f"{NAME}: {what}") if show else items


def _hidden(widths: tuple[int, ...]) -> str:
    return "x".join(map(str, widths))


def _row(part: str, model: str, mode: str, budget: str, hidden: tuple[int, ...],
         n_params: int, index: int, metric: str, value: float) -> dict[str, Any]:
    return {"experiment": NAME, "part": part, "model": model, "mode": mode, "budget": budget,
            "hidden": _hidden(hidden), "n_params": n_params, "index": index,
            "metric": metric, "value": float(value)}


# -- parts 1 and 3: training runs -----------------------------------------------------


def _train(model, X, y, label: str, cfg: dict[str, Any], *, epochs: int,
           learning_rate: float,
           max_seconds: float | None = None) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Train with one mode; also returns the flattened parameters after every step."""
    mode, strategy = MODE_ARGS[label]
    snapshots: list[np.ndarray] = []
    to_arrays = scalar_to_arrays if isinstance(model, MLP) else (lambda p: p)
    history = fit(model, X, y, mode=mode, forward_strategy=strategy, epochs=epochs,
                  batch_size=cfg["batch_size"], learning_rate=learning_rate,
                  seed=cfg["seed"], optimizer=cfg["optimizer"], max_seconds=max_seconds,
                  callback=lambda step, p: snapshots.append(_flat(to_arrays(p))))
    return history, snapshots


def _history_rows(history: pd.DataFrame, model: str, label: str, budget: str,
                  hidden: tuple[int, ...], n_params: int) -> list[dict[str, Any]]:
    rows = []
    for metric in ("loss", "accuracy", "seconds"):
        rows += [_row("training", model, label, budget, hidden, n_params, step, metric, v)
                 for step, v in zip(history.step, history[metric])]
    return rows


def _agreement_rows(snapshots: dict[str, list[np.ndarray]], model: str,
                    hidden: tuple[int, ...], n_params: int,
                    metric: str = "max_rel_param_diff",
                    reference: str = "reverse") -> list[dict[str, Any]]:
    rows = []
    ref = snapshots[reference]
    for label, snaps in snapshots.items():
        if label == reference:
            continue
        if len(snaps) != len(ref):
            raise RuntimeError(f"{label} took {len(snaps)} steps, {reference} {len(ref)}")
        rows += [_row("training", model, label, SAME_STEPS, hidden, n_params, step, metric,
                      relative_difference(a, b))
                 for step, (a, b) in enumerate(zip(snaps, ref), start=1)]
    return rows


def _summary_rows(history: pd.DataFrame, model_obj, model: str, label: str, budget: str,
                  hidden: tuple[int, ...], data: dict[str, np.ndarray]) -> list[dict]:
    n = model_obj.n_params
    test_loss, test_acc = model_obj.evaluate(data["X_test"], data["y_test"])
    train_loss, train_acc = model_obj.evaluate(data["X_train"], data["y_train"])
    values = {"steps": len(history), "train_seconds": history.seconds.sum(),
              "sweeps_per_step": history.sweeps.iloc[0], "ops_per_step": history.ops.iloc[0],
              "test_accuracy": test_acc, "test_loss": test_loss,
              "train_accuracy": train_acc, "train_loss": train_loss,
              "diverged": float("diverged" in (history.attrs.get("stopped") or ""))}
    rows = [_row("accuracy", model, label, budget, hidden, n, -1, k, v)
            for k, v in values.items()]
    rows += [_row("parameters", model, label, budget, hidden, n, i, "parameter", v)
             for i, v in enumerate(_flat(model_obj.params))]
    return rows


def array_training(cfg: dict[str, Any], data: dict[str, np.ndarray],
                   show: bool) -> list[dict[str, Any]]:
    """Parts 1 and 3 on the array model: every exact mode for the whole run, then forward
    gradients for the same steps and for the wall time of reverse and forward-vectorized."""
    sizes = (2, *cfg["hidden"], 1)
    X, y = data["X_train"], data["y_train"]
    rows: list[dict[str, Any]] = []
    snapshots, seconds = {}, {}

    def make():
        return ArrayMLP(sizes, cfg["activation"], seed=cfg["seed"], init=cfg["init"])

    # (mode, budget, the run whose training time is the budget: None = same epochs)
    runs = [(label, SAME_STEPS, None) for label in (*EXACT_MODES, "forward-gradient")]
    runs += [("forward-gradient", f"same time as {ref}", ref)
             for ref in ("reverse", "forward-vectorized")]
    for label, budget, time_of in _maybe_progress(runs, "training runs", show):
        model = make()
        lr = cfg["fg_learning_rate"] if label == "forward-gradient" else cfg["learning_rate"]
        epochs = cfg["epochs"] if time_of is None else 10**9  # until the time is up
        max_seconds = None if time_of is None else seconds[time_of]
        history, snaps = _train(model, X, y, label, cfg, epochs=epochs, learning_rate=lr,
                                max_seconds=max_seconds)
        if budget == SAME_STEPS:
            snapshots[label] = snaps
            seconds[label] = float(history.seconds.sum())
        rows += _history_rows(history, "array", label, budget, cfg["hidden"], model.n_params)
        rows += _summary_rows(history, model, "array", label, budget, cfg["hidden"], data)
    exact = {k: v for k, v in snapshots.items() if k in EXACT_MODES}
    rows += _agreement_rows(exact, "array", cfg["hidden"], make().n_params)
    return rows


def scalar_training(cfg: dict[str, Any], data: dict[str, np.ndarray],
                    show: bool) -> list[dict[str, Any]]:
    """Part 1 on the scalar model: one epoch over the first ``scalar_samples`` points by
    each exact mode, and the array model of the same size by reverse mode as a cross-check
    that both models are the same network."""
    hidden = cfg["scalar_hidden"]
    sizes = (2, *hidden, 1)
    X, y = data["X_train"][:cfg["scalar_samples"]], data["y_train"][:cfg["scalar_samples"]]
    rows: list[dict[str, Any]] = []
    snapshots = {}
    n_params = 0
    for label in _maybe_progress(EXACT_MODES, "scalar model", show):
        model = MLP(sizes, cfg["activation"], seed=cfg["seed"], init=cfg["init"])
        n_params = model.n_params
        history, snapshots[label] = _train(model, X, y, label, cfg, epochs=1,
                                           learning_rate=cfg["learning_rate"])
        rows += _history_rows(history, "scalar", label, SAME_STEPS, hidden, n_params)
        values = {"steps": len(history), "train_seconds": history.seconds.sum(),
                  "sweeps_per_step": history.sweeps.iloc[0],
                  "ops_per_step": history.ops.iloc[0]}
        rows += [_row("accuracy", "scalar", label, SAME_STEPS, hidden, n_params, -1, k, v)
                 for k, v in values.items()]
    rows += _agreement_rows(snapshots, "scalar", hidden, n_params)
    twin = ArrayMLP(sizes, cfg["activation"], seed=cfg["seed"], init=cfg["init"])
    _, twin_snaps = _train(twin, X, y, "reverse", cfg, epochs=1,
                           learning_rate=cfg["learning_rate"])
    rows += _agreement_rows({"reverse": snapshots["reverse"], "array": twin_snaps}, "scalar",
                            hidden, n_params, metric="max_rel_diff_to_array_model",
                            reference="array")
    return rows


# -- part 2: cost against model size --------------------------------------------------


def _time_step(step: Callable[[], Any], cfg: dict[str, Any]) -> tuple[float, float, float,
                                                                       int]:
    """(median, q25, q75, samples) seconds of one training step; a slow step is timed once
    (its first call), a fast one by ``time_call`` after one warm-up call."""
    began = time.perf_counter()
    step()
    once = time.perf_counter() - began
    if once >= cfg["slow_step_s"]:
        return once, once, once, 1
    t = time_call(step, min_time=cfg["min_time"], min_repeats=cfg["min_repeats"], warmup=0)
    return t.median_s, t.q25_s, t.q75_s, t.repeats


def _training_step(gradient: Callable, params: Any, X: np.ndarray, y: np.ndarray,
                   rng: np.random.Generator, learning_rate: float) -> Callable[[], Any]:
    """One plain-SGD step, as a function of nothing (for timing)."""
    def step():
        return sgd_step(params, gradient(params, X, y, rng), learning_rate)

    return step


def cost_runs(cfg: dict[str, Any], data: dict[str, np.ndarray],
              show: bool) -> list[dict[str, Any]]:
    """Part 2: one plain-SGD training step per mode and hidden width, timed and counted."""
    Xb, yb = data["X_train"][:cfg["cost_batch"]], data["y_train"][:cfg["cost_batch"]]
    cases = [(w, label) for w in cfg["cost_widths"] for label in ("loss", *COST_MODES)]
    rows: list[dict[str, Any]] = []
    for width, label in _maybe_progress(cases, "cost per step", show):
        hidden = (width, width)
        model = ArrayMLP((2, width, width, 1), cfg["activation"], seed=cfg["seed"],
                         init=cfg["init"])
        n = model.n_params
        params = model.params
        if label == "loss":
            t = time_call(model.loss, params, Xb, yb, min_time=cfg["min_time"],
                          min_repeats=cfg["min_repeats"])
            rows.append(_row("cost", "array", "plain loss", "", hidden, n, width,
                             "seconds_per_step", t.median_s))
            continue
        if label == "forward-vectorized" and n > cfg["vectorized_max_params"]:
            continue
        step = _training_step(gradient_function(model, *MODE_ARGS[label]), params, Xb, yb,
                              np.random.default_rng(cfg["seed"]), cfg["learning_rate"])
        with admodes.count_ops() as counted:
            step()
        median, q25, q75, samples = _time_step(step, cfg)
        values = {"seconds_per_step": median, "seconds_q25": q25, "seconds_q75": q75,
                  "samples": samples, "sweeps_per_step": counted.sweeps,
                  "ops_per_step": counted.total_ops, "flops_per_step": counted.flops}
        rows += [_row("cost", "array", label, "", hidden, n, width, k, v)
                 for k, v in values.items()]
    return rows


# -- running --------------------------------------------------------------------------


def make_data(cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """The training and the held-out test split."""
    X_train, y_train = moons(cfg["n_train"], cfg["noise"], cfg["train_seed"])
    X_test, y_test = moons(cfg["n_test"], cfg["noise"], cfg["test_seed"])
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


def run(config: dict[str, Any] | None = None, *, show_progress: bool = True) -> pd.DataFrame:
    """Run all four parts; one row per measurement (columns: ``COLUMNS``).

    ``part`` is ``training`` (per step: ``loss``, ``accuracy`` and ``seconds`` of each run,
    and ``max_rel_param_diff`` from reverse mode; ``index`` is the step), ``accuracy`` (per
    run: test and train accuracy and loss, steps, training seconds, sweeps and ops per
    step), ``parameters`` (each run's final parameters, ``index`` their position) or
    ``cost`` (per hidden width and mode: seconds, sweeps, ops and flops of one step;
    ``index`` is the width). ``config`` overrides keys of ``PRESETS["full"]``; the full
    config and the environment are attached as ``df.attrs``.

    Example:
        >>> df = run(PRESETS["quick"], show_progress=False)  # doctest: +SKIP
        >>> sorted(df.part.unique())  # doctest: +SKIP
        ['accuracy', 'cost', 'parameters', 'training']
    """
    cfg = merged_config(FULL, config)
    began = time.perf_counter()
    with pinned_blas(1):
        env = environment()
        data = make_data(cfg)
        rows = array_training(cfg, data, show_progress)
        rows += scalar_training(cfg, data, show_progress)
        rows += cost_runs(cfg, data, show_progress)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["config"] = cfg
    df.attrs["environment"] = env
    df.attrs["wall_seconds"] = time.perf_counter() - began
    return df


# -- analysis -------------------------------------------------------------------------


def _metric(df: pd.DataFrame, part: str, metric: str, **where: Any) -> pd.DataFrame:
    sel = (df.part == part) & (df.metric == metric)
    for column, value in where.items():
        sel &= df[column] == value
    return df[sel]


def _value(df: pd.DataFrame, part: str, metric: str, **where: Any) -> float:
    hit = _metric(df, part, metric, **where)
    return float(hit.value.iloc[0]) if len(hit) else float("nan")


def cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per hidden width: parameters, seconds and sweeps per step of each mode, and
    forward / reverse time ratios."""
    cost = df[df.part == "cost"]
    if cost.empty:
        return pd.DataFrame()
    wide = cost.pivot_table(index=["index", "n_params"], columns=["metric", "mode"],
                            values="value", aggfunc="first")
    out = pd.DataFrame(index=wide.index)
    for mode in ("plain loss", *COST_MODES):
        if ("seconds_per_step", mode) in wide:
            out[f"{mode} s"] = wide[("seconds_per_step", mode)]
        if ("sweeps_per_step", mode) in wide:
            out[f"{mode} sweeps"] = wide[("sweeps_per_step", mode)]
    for mode in ("forward-looped", "forward-vectorized", "forward-gradient"):
        if f"{mode} s" in out:
            out[f"{mode} / reverse"] = out[f"{mode} s"] / out["reverse s"]
    out = out.reset_index().rename(columns={"index": "width"})
    return out


def cost_slopes(df: pd.DataFrame) -> pd.DataFrame:
    """Least-squares slopes on log-log axes against the parameter count, per mode: of the
    seconds per step, of the step relative to one plain loss evaluation, and of the sweeps."""
    table = cost_table(df)
    rows: list[dict[str, Any]] = []
    columns = ["mode", "sizes", "time_slope", "relative_slope", "sweeps_slope"]
    if table.empty:
        return pd.DataFrame(rows, columns=columns)
    logn = np.log(table.n_params.to_numpy(float))
    loss_s = table["plain loss s"].to_numpy(float)
    for mode in COST_MODES:
        if f"{mode} s" not in table:
            continue
        s = table[f"{mode} s"].to_numpy(float)
        sweeps = table[f"{mode} sweeps"].to_numpy(float)
        ok = np.isfinite(s)
        if ok.sum() < 2:
            continue
        rows.append({
            "mode": mode, "sizes": int(ok.sum()),
            "time_slope": float(np.polyfit(logn[ok], np.log(s[ok]), 1)[0]),
            "relative_slope": float(np.polyfit(logn[ok], np.log(s[ok] / loss_s[ok]), 1)[0]),
            "sweeps_slope": float(np.polyfit(logn[ok], np.log(sweeps[ok]), 1)[0]),
        })
    return pd.DataFrame(rows, columns=columns)


def run_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per training run: steps, seconds, sweeps, accuracies, agreement."""
    acc = df[df.part == "accuracy"]
    if acc.empty:
        return pd.DataFrame()
    wide = acc.pivot_table(index=["model", "hidden", "n_params", "mode", "budget"],
                           columns="metric",
                           values="value", aggfunc="first").reset_index()
    diffs = df[(df.part == "training") & (df.metric == "max_rel_param_diff")]
    worst = diffs.groupby(["model", "mode"]).value.max().to_dict()
    for model in diffs.model.unique():
        worst[(model, "reverse")] = 0.0  # the reference
    wide["max_rel_param_diff"] = [
        worst.get((m, mode), np.nan) if b == SAME_STEPS else np.nan
        for m, mode, b in zip(wide.model, wide["mode"], wide.budget)]
    order = {k: i for i, k in enumerate([*EXACT_MODES, "forward-gradient"])}
    budgets = {SAME_STEPS: 0, "same time as reverse": 1}
    wide["_order"] = [(m != "array", order.get(mode, 9), budgets.get(b, 2), b)
                      for m, mode, b in zip(wide.model, wide["mode"], wide.budget)]
    return wide.sort_values("_order").drop(columns="_order").reset_index(drop=True)


def _ratio_words(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def _agreement_sentence(df: pd.DataFrame, cfg: dict[str, Any]) -> str:
    tol = cfg["agreement_tolerance"]
    parts = []
    for model in ("array", "scalar"):
        diffs = _metric(df, "training", "max_rel_param_diff", model=model)
        if diffs.empty:
            continue
        steps = int(diffs["index"].max())
        hidden = diffs.hidden.iloc[0]
        parts.append(f"{diffs.value.max():.1e} over {steps} steps of the {model} model "
                     f"(hidden {hidden})")
    worst = _metric(df, "training", "max_rel_param_diff").value.max()
    verdict = "within" if worst <= tol else "NOT within"
    return (f"The exact modes agree: the largest parameter difference of forward-looped and "
            f"forward-vectorized from reverse mode, after any step and relative to the "
            f"largest parameter, is {'; '.join(parts)}, {verdict} the {tol:g} tolerance.")


def _plain(value: Any) -> Any:
    # a config read back from meta.json has lists where the preset has tuples
    return list(value) if isinstance(value, (tuple, list)) else value


def findings(df: pd.DataFrame) -> list[str]:
    """The key results as plain sentences, generated from the numbers in ``df``.

    Example:
        >>> findings(run(PRESETS["quick"], show_progress=False))[0]  # doctest: +SKIP
        'The exact modes agree: ...'
    """
    cfg = {**FULL, **df.attrs.get("config", {})}
    out = []
    if not _metric(df, "training", "max_rel_param_diff").empty:
        out.append(_agreement_sentence(df, cfg))
    twin = _metric(df, "training", "max_rel_diff_to_array_model")
    if not twin.empty:
        out.append(f"The scalar model (Neurons over Python floats) and the array model are the "
                   f"same network: trained by reverse mode from the same start, their "
                   f"parameters differ by at most {twin.value.max():.1e} (relative).")
    runs = run_table(df)
    arr = runs[runs.model == "array"] if len(runs) else runs
    exact = arr[(arr["mode"].isin(EXACT_MODES)) & (arr.budget == SAME_STEPS)]
    if len(exact):
        thr = cfg["accuracy_threshold"]
        accs = ", ".join(f"{r['mode']} {r.test_accuracy:.3f}" for _, r in exact.iterrows())
        met = "met" if (exact.test_accuracy >= thr).all() else "NOT met"
        training_keys = ("n_train", "noise", "train_seed", "hidden", "activation", "init",
                         "seed", "epochs", "batch_size", "optimizer", "learning_rate")
        if any(_plain(cfg[k]) != _plain(FULL[k]) for k in training_keys):
            met += " (the threshold is set for the full configuration, not this one)"
        times = ", ".join(f"{r['mode']} {r.train_seconds:.2f} s"
                          for _, r in exact.iterrows())
        out.append(f"Held-out accuracy after {int(exact.steps.iloc[0])} steps (hidden "
                   f"{exact.hidden.iloc[0]}, {int(exact.n_params.iloc[0])} parameters): "
                   f"{accs}; the {thr:g} threshold is {met}. The training steps took {times}.")
        fg = arr[arr["mode"] == "forward-gradient"]
        if len(fg):
            parts = [f"{r.test_accuracy:.3f} with the {r.budget}"
                     + (f" ({int(r.steps)} steps)" if r.budget != SAME_STEPS else "")
                     + (" (diverged)" if r.get("diverged", 0) else "")
                     for _, r in fg.iterrows()]
            rev = exact[exact["mode"] == "reverse"]
            out.append(f"Forward gradients (one random-direction JVP per step, learning rate "
                       f"{cfg['fg_learning_rate']:g}) reach a held-out accuracy of "
                       + "; ".join(parts)
                       + (f", against {rev.test_accuracy.iloc[0]:.3f} for reverse mode."
                          if len(rev) else "."))
    out += _cost_sentences(df)
    return out


def _cost_sentences(df: pd.DataFrame) -> list[str]:
    table = cost_table(df)
    if table.empty:
        return []
    out = []
    slopes = cost_slopes(df).set_index("mode")
    if len(slopes):
        words = "; ".join(
            f"{mode} {r.time_slope:.2f} (of the time relative to one loss evaluation "
            f"{r.relative_slope:.2f}, of the sweeps {r.sweeps_slope:.2f})"
            for mode, r in slopes.iterrows())
        line = (f"Time per training step against the parameter count "
                f"({int(table.n_params.min())} to {int(table.n_params.max())}), fitted "
                f"log-log slopes: {words}.")
        if {"reverse", "forward-looped"} <= set(slopes.index):
            fwd, rev = slopes.loc["forward-looped"], slopes.loc["reverse"]
            grows = fwd.relative_slope - rev.relative_slope
            line += (f" Relative to the network's own cost, forward mode's exact gradient "
                     f"{'grows' if grows > 0.5 else 'does not clearly grow'} with the number "
                     f"of parameters (slope {fwd.relative_slope:.2f}) and reverse mode's "
                     f"{'does not' if abs(rev.relative_slope) < 0.3 else 'does too'} "
                     f"(slope {rev.relative_slope:.2f}).")
        out.append(line)
    exact_cols = [f"{m} s" for m in EXACT_MODES if f"{m} s" in table]
    by_winner: dict[str, list[tuple[int, str, float]]] = {}
    for _, r in table.iterrows():
        times = {c[:-2]: r[c] for c in exact_cols if np.isfinite(r[c])}
        ranked = sorted(times, key=times.get)
        if len(ranked) > 1:
            factor = times[ranked[1]] / times[ranked[0]]
            by_winner.setdefault(ranked[0], []).append((int(r.width), ranked[1], factor))
    for mode, wins in by_winner.items():
        every = len(wins) == len(table)
        where = ("at every hidden width" if every else
                 "at hidden width " + ", ".join(str(w) for w, _, _ in wins))
        factors = ", ".join(f"{_ratio_words(f)} at width {w} ({runner_up})"
                            for w, runner_up, f in wins)
        out.append(f"{mode.capitalize()} mode gives the fastest exact gradient {where}; the "
                   f"runner-up takes {factors} as long.")
    if "forward-looped / reverse" in table:
        first, last = table.iloc[0], table.iloc[-1]
        out.append(f"Forward-looped / reverse time per step grows from "
                   f"{_ratio_words(first['forward-looped / reverse'])} at "
                   f"{int(first.n_params)} parameters to "
                   f"{_ratio_words(last['forward-looped / reverse'])} at "
                   f"{int(last.n_params)} parameters.")
    if "forward-gradient / reverse" in table:
        ratios = table["forward-gradient / reverse"]
        out.append(f"One forward-gradient step (a single JVP) costs {ratios.min():.2f}x to "
                   f"{ratios.max():.2f}x a reverse-mode step over these sizes.")
    return out


# -- the report -----------------------------------------------------------------------


def _fmt_s(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _fmt(v: Any, spec: str = ".3g") -> str:
    if isinstance(v, str):
        return v
    return "-" if v is None or not np.isfinite(v) else format(v, spec)


def _markdown(df: pd.DataFrame) -> str:
    cfg = {**FULL, **df.attrs.get("config", {})}
    env = df.attrs.get("environment") or {}
    lines = ["# MLP training with forward and reverse mode", "",
             "Two-moons classifier (`admodes.nn`), trained from the same data, initial "
             "parameters and batches by every mode (`experiments/mlp_training.py`). One "
             "process, BLAS pinned to 1 thread; `seconds` are wall times of the training "
             "steps alone (gradient and update).", "", "## Findings", ""]
    lines += [f"- {s}" for s in findings(df)]
    runs = run_table(df)
    if len(runs):
        lines += ["", "## Training runs (parts 1 and 3)", "",
                  "| model | hidden | mode | budget | steps | train time | sweeps/step | "
                  "ops/step | max rel. param diff | test acc. | test loss |",
                  "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for _, r in runs.iterrows():
            lines.append(
                f"| {r.model} | {r.hidden} | {r['mode']} | {r.budget} | {int(r.steps)} "
                f"| {_fmt_s(r.train_seconds)} | {int(r.sweeps_per_step)} "
                f"| {int(r.ops_per_step)} | {_fmt(r.max_rel_param_diff, '.1e')} "
                f"| {_fmt(r.get('test_accuracy', np.nan), '.3f')} "
                f"| {_fmt(r.get('test_loss', np.nan), '.3f')} |")
        lines += ["", "Sweeps and ops are those of one gradient (`admodes.count_ops`); the "
                  "relative parameter difference is from reverse mode after the same step, "
                  "divided by the largest parameter. The scalar model is trained for one "
                  "epoch over the first "
                  f"{cfg['scalar_samples']} training points only (no test accuracy)."]
    table = cost_table(df)
    if len(table):
        modes = [m for m in COST_MODES if f"{m} s" in table]
        lines += ["", "## Cost per training step against model size (part 2)", "",
                  "| width | params | plain loss | " + " | ".join(modes) + " | "
                  + " | ".join(f"{m} / reverse" for m in modes[1:]) + " |",
                  "|" + "---:|" * (3 + 2 * len(modes) - 1)]
        for _, r in table.iterrows():
            cells = [f"{_fmt_s(r[f'{m} s'])} ({_fmt(r[f'{m} sweeps'], '.0f')} sw)"
                     for m in modes]
            ratios = [_fmt(r[f"{m} / reverse"], ".2f") for m in modes[1:]]
            lines.append(f"| {int(r.width)} | {int(r.n_params)} | "
                         f"{_fmt_s(r['plain loss s'])} | " + " | ".join(cells) + " | "
                         + " | ".join(ratios) + " |")
        skipped = [int(w) for w, n in zip(table.width, table.n_params)
                   if n > cfg["vectorized_max_params"]]
        lines += ["", f"One plain-SGD step on a batch of {cfg['cost_batch']}, two hidden "
                  f"layers of the given width; `sw` = sweeps counted. Steps slower than "
                  f"{cfg['slow_step_s']} s were timed once, the others are medians."]
        if skipped:
            lines.append(f"Forward-vectorized was not run at width {skipped} (more than "
                         f"{cfg['vectorized_max_params']} parameters: its n x n identity "
                         f"seed and n tangents per intermediate would take gigabytes).")
        slopes = cost_slopes(df)
        lines += ["", "| mode | sizes | slope of time | slope of time / loss time | "
                  "slope of sweeps |", "|---|---:|---:|---:|---:|"]
        for _, r in slopes.iterrows():
            lines.append(f"| {r['mode']} | {r.sizes} | {r.time_slope:.2f} "
                         f"| {r.relative_slope:.2f} | {r.sweeps_slope:.2f} |")
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env.get("blas") or [])
    lines += ["", "## Setup", "",
              f"- data: make_moons({cfg['n_train']}, noise={cfg['noise']}, seed "
              f"{cfg['train_seed']}) to train, make_moons({cfg['n_test']}, seed "
              f"{cfg['test_seed']}) to test.",
              f"- network: 2-{_hidden(cfg['hidden'])}-1, {cfg['activation']} hidden layers, "
              f"sigmoid output, {cfg['init']} initialisation, seed {cfg['seed']}; "
              f"{cfg['epochs']} epochs of batches of {cfg['batch_size']}, "
              f"{cfg['optimizer']} with learning rate {cfg['learning_rate']} "
              f"({cfg['fg_learning_rate']} for forward gradients).",
              f"- admodes {env.get('admodes_version')}, numpy {env.get('numpy_version')}, "
              f"Python {env.get('python_version')}; CPU {env.get('cpu_model')} "
              f"({env.get('cores')} cores); BLAS {blas or 'unknown'}; git "
              f"{env.get('git_commit')}; {env.get('date')}; load average "
              f"{env.get('load_average')}.",
              f"- the whole run took {df.attrs.get('wall_seconds', float('nan')):.1f} s.",
              "", "![loss curves](loss_curves.png)", "",
              "![cost against parameters](cost_vs_params.png)", "",
              "![decision boundaries](decision_boundaries.png)", ""]
    return "\n".join(lines)


_STYLE = {"reverse": ("tab:blue", "-", 3.0), "forward-looped": ("tab:orange", "--", 2.0),
          "forward-vectorized": ("tab:green", ":", 2.0),
          "forward-gradient": ("tab:red", "-", 1.2), "array": ("tab:gray", "-.", 1.5)}


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _plot_losses(df: pd.DataFrame, path: Path, cfg: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    window = max(1, -(-cfg["n_train"] // cfg["batch_size"]))
    ax_step, ax_time, ax_scalar, ax_diff = axes.ravel()
    losses = df[(df.part == "training") & (df.metric == "loss")]
    secs = df[(df.part == "training") & (df.metric == "seconds")]
    for (model, mode, budget), g in losses.groupby(["model", "mode", "budget"], sort=False):
        color, style, width = _STYLE[mode]
        label = mode if budget == SAME_STEPS else f"{mode}, {budget}"
        if model == "array":
            s = secs[(secs.model == model) & (secs["mode"] == mode) & (secs.budget == budget)]
            if budget == SAME_STEPS:
                y = _smooth(g.value.to_numpy(), window)
                ax_step.plot(np.arange(len(y)) + window, y, style, color=color,
                             lw=width, label=label)
            if mode != "forward-gradient" or budget != SAME_STEPS:
                t = np.cumsum(s.value.to_numpy())
                y = _smooth(g.value.to_numpy(), window)
                ls = style if budget == SAME_STEPS else (0, (1, 1))
                ax_time.plot(t[window - 1:], y, linestyle=ls, color=color, lw=width,
                             label=label)
        else:
            ax_scalar.plot(g["index"], g.value, style, color=color, lw=width, marker="o",
                           ms=3, label=label)
    ax_step.set(title=f"Array model (hidden {_hidden(cfg['hidden'])}): batch loss, mean "
                      f"over {window} steps", xlabel="training step", ylabel="loss")
    ax_time.set(title="Array model: loss against training time", xscale="log",
                xlabel="cumulative seconds in training steps (log)", ylabel="loss")
    ax_scalar.set(title=f"Scalar model (hidden {_hidden(cfg['scalar_hidden'])}): batch loss",
                  xlabel="training step", ylabel="loss")
    diffs = df[(df.part == "training") & df.metric.isin(["max_rel_param_diff",
                                                         "max_rel_diff_to_array_model"])]
    floor = 1e-18
    for (model, mode, metric), g in diffs.groupby(["model", "mode", "metric"], sort=False):
        color, style, width = _STYLE[mode]
        label = (f"{model}: {mode} vs reverse" if metric == "max_rel_param_diff"
                 else "scalar vs array model (reverse)")
        ax_diff.plot(g["index"], np.maximum(g.value, floor), style, color=color, lw=width,
                     label=label)
    ax_diff.axhline(cfg["agreement_tolerance"], color="black", lw=1)
    ax_diff.text(1, cfg["agreement_tolerance"] * 2, f"tolerance {cfg['agreement_tolerance']:g}",
                 fontsize=9)
    ax_diff.set(title="Largest parameter difference, relative (0 drawn at 1e-18)",
                xlabel="training step", ylabel="relative difference", yscale="log",
                ylim=(floor / 2, 1e-6))
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def _plot_cost(df: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    table = cost_table(df)
    slopes = cost_slopes(df).set_index("mode")
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(12, 4.8))
    n = table.n_params.to_numpy(float)
    ax_t.plot(n, table["plain loss s"], "k.-", lw=1, label="plain loss (no derivative)")
    for mode in COST_MODES:
        if f"{mode} s" not in table:
            continue
        color, style, _ = _STYLE[mode]
        s = table[f"{mode} s"].to_numpy(float)
        slope = slopes.time_slope.get(mode, np.nan)
        ax_t.plot(n, s, style, marker="o", color=color, lw=1.8,
                  label=f"{mode} (slope {slope:.2f})")
        ax_s.plot(n, table[f"{mode} sweeps"], style, marker="o", color=color, lw=1.8,
                  label=mode)
    skipped = table.n_params[table["forward-vectorized s"].isna()] if (
        "forward-vectorized s" in table) else []
    note = (f" (forward-vectorized not run at {', '.join(str(int(n)) for n in skipped)})"
            if len(skipped) else "")
    ax_t.set(xscale="log", yscale="log", xlabel="parameters", ylabel="seconds per step",
             title="Time of one training step (log-log)" + note)
    ax_s.set(xscale="log", yscale="log", xlabel="parameters", ylabel="sweeps per step",
             title="Sweeps per step, counted (log-log)")
    for ax in (ax_t, ax_s):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def _plot_boundaries(df: pd.DataFrame, path: Path, cfg: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    params = df[(df.part == "parameters") & (df.model == "array")]
    runs = list(params.groupby(["mode", "budget"], sort=False))
    data = make_data(cfg)
    X, y = data["X_test"], data["y_test"]
    lo, hi = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], cfg["grid"]),
                         np.linspace(lo[1], hi[1], cfg["grid"]))
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    cols = 3
    rows = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.9 * rows), squeeze=False)
    sizes = (2, *cfg["hidden"], 1)
    acc_rows = df[(df.part == "accuracy") & (df.metric == "test_accuracy")]
    for ax, ((mode, budget), g) in zip(axes.ravel(), runs):
        model = ArrayMLP(sizes, cfg["activation"])
        model.params = _arrays_from_flat(sizes, g.sort_values("index").value.to_numpy())
        prob = model.predict_proba(grid).reshape(xx.shape)
        ax.contourf(xx, yy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.55)
        ax.contour(xx, yy, prob, levels=[0.5], colors="black", linewidths=1.2)
        for label, color in ((0.0, "#b2182b"), (1.0, "#2166ac")):
            ax.scatter(*X[y == label].T, color=color, s=10, edgecolors="white",
                       linewidths=0.3)
        acc = acc_rows[(acc_rows["mode"] == mode) & (acc_rows.budget == budget)
                       & (acc_rows.model == "array")].value
        title = mode if budget == SAME_STEPS else f"{mode}\n{budget}"
        ax.set_title(f"{title}: test acc. {float(acc.iloc[0]):.3f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(runs):]:
        ax.axis("off")
    fig.suptitle("Decision boundaries of the array model: P(class 1) in colour, 0.5 in "
                 "black, held-out test points (red: class 0, blue: class 1)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def write_report(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``results.csv``, ``summary.md`` and three PNG figures into ``out_dir``.

    Each file is written under a temporary name and renamed into place, so an interrupted
    run never leaves a half-written file; ``results.csv`` is renamed last.

    Example:
        >>> paths = write_report(df, "reports/mlp_training")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {**FULL, **df.attrs.get("config", {})}
    paths = [out / "summary.md", out / "loss_curves.png", out / "cost_vs_params.png",
             out / "decision_boundaries.png", out / "results.csv"]
    with written_atomically(*paths) as (summary, loss, cost, boundaries, csv):
        summary.write_text(_markdown(df), encoding="utf-8")
        _plot_losses(df, loss, cfg)
        _plot_cost(df, cost)
        _plot_boundaries(df, boundaries, cfg)
        df.to_csv(csv, index=False)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python experiments/mlp_training.py [--quick] [--out DIR]``."""
    args = experiment_args(argv, description=__doc__.splitlines()[0], name=NAME,
                           presets=PRESETS, preset_help="configuration preset (default: full)",
                           quick_help="the quick preset (seconds)")
    df = run(PRESETS[args.preset])
    return announce(df, write_report(df, args.out), findings(df))


if __name__ == "__main__":
    sys.exit(main())
