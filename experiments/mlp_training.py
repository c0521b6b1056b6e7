"""Training the two-moons classifier with forward and reverse mode, compared.

The notebook's two-moons network (``admodes.nn``) trained over seeds by reverse mode,
forward mode (looped: a JVP per parameter; vectorized: one sweep) and forward gradients (one
random-direction JVP per step; Baydin et al. 2022) from the same data, start and batches: the
exact modes' agreement, held-out accuracy, forward gradients over learning rates at equal
steps and equal CPU time, and the cost of a step against the parameter count.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

import admodes
from admodes import nn
from admodes.harness import Estimates, Experiment, FigureSpec, Q, log_slope, main, median_of
from admodes.harness.figures import band, log2_axis, new_figure, style
from admodes.harness.text import seconds

EXACT = ("reverse", "forward-looped", "forward-vectorized")
FG = "forward-gradient"
MODES = {"reverse": ("reverse", "vectorized"), "forward-looped": ("forward", "looped"),
         "forward-vectorized": ("forward", "vectorized"), FG: ("forward-gradient", "vectorized")}
STEPS, TIME = "equal steps", "equal time"
SCALAR_COLOURS = ("#56B4E9", "#000000", "#999999")  # none of the array model's colours


def _flat(params: Any) -> np.ndarray:
    return np.concatenate([np.ravel(leaf) for leaf in admodes.tree_flatten(params)[0]])


def seeds_of(cfg: dict[str, Any], seed: int) -> list[int]:
    """Seeds of the training data, the test data, the initial parameters and the batches."""
    return [int(s) for s in np.random.SeedSequence([cfg["seed"], seed]).generate_state(4)]


def make_data(cfg: dict[str, Any], seed: int) -> tuple[np.ndarray, ...]:
    return (*nn.moons(cfg["n_train"], cfg["noise"], seeds_of(cfg, seed)[0]),
            *nn.moons(cfg["n_test"], cfg["noise"], seeds_of(cfg, seed)[1]))


def step_variants(model: nn.ArrayMLP, X, y, cfg: dict[str, Any], modes) -> dict[str, Any]:
    """One plain-SGD step per mode, as functions of nothing (to time and count), and a
    forward-gradient step's two parts: drawing the direction, and the JVP (and update)."""
    params, lr, rng = model.params, cfg["learning_rate"], np.random.default_rng(0)
    out: dict[str, Any] = {"loss": lambda: model.loss(params, X, y)}
    for label in modes:
        g = nn.gradient_function(model, *MODES[label], chunk_size=cfg["chunk_size"])
        out[label] = lambda g=g: nn.sgd_step(params, g(params, X, y, rng), lr)
    v = nn.random_direction(params, rng)
    out["fg direction"] = lambda: nn.random_direction(params, rng)
    out["fg jvp"] = lambda: nn.sgd_step(params, nn.forward_gradient_along(model, params, X, y,
                                                                          v), lr)
    return out


def train(meter, model, data, cfg, label: str, lr: float, budget: str, steps: int,
          kind: str = "array", batch_size: int = 0) -> list[np.ndarray]:
    """Train by one mode; record the training loss after every step (step 0: before) and a
    summary row; return the flattened parameters after every step."""
    X, y, Xt, yt = data
    snaps, losses = [], [model.evaluate(X, y)[0]]

    def after(step: int, params: Any) -> None:
        snaps.append(_flat(nn.scalar_to_arrays(params) if kind == "scalar" else params))
        losses.append(model.evaluate(X, y)[0])

    history = nn.fit(model, X, y, mode=MODES[label][0], forward_strategy=MODES[label][1],
                     epochs=steps, max_steps=steps, batch_size=batch_size or cfg["batch_size"],
                     learning_rate=lr, optimizer=cfg["optimizer"], callback=after,
                     seed=seeds_of(cfg, meter.cell["seed"])[3])
    where = {"model": kind, "mode": label, "lr": lr, "budget": budget,
             "run": f"{label}, lr {lr:g}, {budget}"}
    for k, loss in enumerate(losses):
        meter.record("curve", **where, step=k, train_loss=loss)
    test_loss, test_acc = model.evaluate(Xt, yt) if Xt is not None else (math.nan, math.nan)
    meter.record("run", **where, steps_taken=len(history), test_accuracy=test_acc,
                 test_loss=test_loss, train_loss=losses[-1],
                 diverged="diverged" in (history.attrs["stopped"] or ""))
    if kind == "array" and meter.cell["seed"] == 0:  # for the decision boundaries
        for i, value in enumerate(_flat(model.params)):
            meter.record("param", **where, index=i, value=value)
    return snaps


def _agreement(meter, kind: str, snaps: dict[str, list[np.ndarray]]) -> None:
    """Per mode: the largest parameter difference from reverse mode after any step, relative."""
    for label, trajectory in snaps.items():
        assert len(trajectory) == len(snaps["reverse"]), (label, kind)
        worst = max(np.max(np.abs(a - b)) / np.max(np.abs(b))
                    for a, b in zip(trajectory, snaps["reverse"]))
        meter.record("agreement", model=kind, mode=label, steps=len(trajectory),
                     max_rel_diff=float(worst))


@np.errstate(all="ignore")  # a diverging forward-gradient run stops: no error
def measure_training(cell: dict[str, Any], cfg: dict[str, Any], meter) -> None:
    seed, bs, lr = cell["seed"], cfg["batch_size"], cfg["learning_rate"]
    X, y, Xt, yt = make_data(cfg, seed)
    start = {"activation": cfg["activation"], "seed": seeds_of(cfg, seed)[2], "init": cfg["init"]}
    sizes = (2, *cfg["hidden"], 1)
    t = meter.time(step_variants(nn.ArrayMLP(sizes, **start), X[:bs], y[:bs], cfg,
                                 ("reverse", FG)))
    if not meter.first:  # training is deterministic: once; its step timings: every replicate
        return
    steps = cfg["epochs"] * math.ceil(len(X) / bs)
    budget = max(1, round(steps * t["reverse"] / t["fg jvp"]))
    meter.record("budget", steps=steps, equal_time_steps=budget)
    # forward-looped and -vectorized give reverse mode's parameters (checked): the quick
    # preset trains them on its first seed only, which keeps it within seconds
    modes = [m for m in EXACT if m == "reverse" or seed < cfg["exact_seeds"]]
    _agreement(meter, "array", {m: train(meter, nn.ArrayMLP(sizes, **start), (X, y, Xt, yt),
                                         cfg, m, lr, STEPS, steps) for m in modes})
    for fg_lr in cfg["fg_learning_rates"]:
        for name, n in ((STEPS, steps), (TIME, budget)):
            train(meter, nn.ArrayMLP(sizes, **start), (X, y, Xt, yt), cfg, FG, fg_lr, name, n)
    # the scalar model (Neurons over Python floats): its first steps, on the first points
    n, bs = cfg["scalar_steps"], cfg["scalar_batch"]
    small, shape = (X[:n * bs], y[:n * bs], None, None), (2, *cfg["scalar_hidden"], 1)
    _agreement(meter, "scalar", {m: train(meter, nn.MLP(shape, **start), small, cfg, m, lr,
                                          STEPS, n, "scalar", bs) for m in EXACT})


def measure_cost(cell: dict[str, Any], cfg: dict[str, Any], meter) -> None:
    w = cell["width"]
    model = nn.ArrayMLP((2, w, w, 1), cfg["activation"], seed=cfg["seed"], init=cfg["init"])
    modes = [m for m in (*EXACT, FG) if m != "forward-vectorized"
             or model.n_params <= cfg["vectorized_max_params"]]
    variants = step_variants(model, *nn.moons(cfg["cost_batch"], cfg["noise"], cfg["seed"]),
                             cfg, modes)
    for name, fn in variants.items() if meter.first else ():  # counts are deterministic
        c = meter.count(fn)[1]  # (and counting warms every variant up)
        meter.note(name, n_params=model.n_params, sweeps=c.sweeps, flops=c.flops)
    meter.time(variants)


def seed_mean(values, draws: int) -> Q:
    """The mean over seeds, with draws resampling the seeds (the same resampling for every
    quantity over the same seeds, so differences between modes are paired)."""
    v = np.asarray(list(values), dtype=float)
    picks = np.random.default_rng(20240).integers(0, len(v), (draws, len(v)))
    return Q(float(np.mean(v)), v[picks].mean(axis=1), len(v))


def estimate(results) -> Estimates:
    est, frame, draws = Estimates(), results.frame, results.draws
    agree = frame[(frame.variant == "agreement") & (frame["mode"] != "reverse")]
    for (kind, mode), rows in agree.groupby(["model", "mode"], sort=False):
        est.add("max_rel_param_diff", rows.max_rel_diff.max(), model=kind, mode=mode,
                steps=int(rows.steps.max()), seeds=len(rows))
    est.add("worst_rel_param_diff", agree[agree["mode"].isin(EXACT)].max_rel_diff.max())
    runs = frame[(frame.variant == "run") & (frame.model == "array")]
    runs = runs.sort_values("seed", kind="stable")  # every mode in the same order of seeds
    groups = list(runs.groupby(["mode", "lr", "budget"], sort=False))
    for (mode, lr, budget), rows in groups:
        for column in ("test_accuracy", "train_loss", "test_loss", "steps_taken", "diverged"):
            est.add(column, seed_mean(rows[column].astype(float), draws), mode=mode, lr=lr,
                    budget=budget, seeds=len(rows))
    reverse = runs[runs["mode"] == "reverse"].test_accuracy.to_numpy()
    for budget in (STEPS, TIME) if results.cfg["fg_learning_rates"] else ():
        # the best learning rate by the final training loss, not by the test split
        lr, rows = min(((lr, rows) for (m, lr, b), rows in groups if m == FG and b == budget),
                       key=lambda item: item[1].train_loss.fillna(np.inf).mean())
        est.add("fg_best_lr", lr, budget=budget)
        est.add("fg_accuracy_gap", seed_mean(reverse - rows.test_accuracy.to_numpy(), draws),
                budget=budget, lr=lr)
    trained = sorted(frame[frame.variant == "budget"].seed.astype(int))
    for name, a, b in (("jvp_over_reverse", "fg jvp", "reverse"), ("fg_over_reverse", FG,
                       "reverse"), ("direction_share", "fg direction", FG)):
        est.add(name, median_of([results.ratio(a, b, part="train", seed=s) for s in trained]))
    cost = frame[frame.part == "cost"]
    for mode in ("loss", *EXACT, FG) if len(cost) else ():
        ws = sorted({int(w) for w in cost[cost.variant == mode].width})
        n = [int(results.metric("n_params", mode, part="cost", width=w)) for w in ws]
        cpu, wall, rev = ([results.time(m, clock=c, part="cost", width=w) for w in ws]
                          for m, c in ((mode, "cpu_s"), (mode, "wall_s"), ("reverse", "cpu_s")))
        counts = {c: [results.exact(results.metric(c, mode, part="cost", width=w)) for w in ws]
                  for c in ("sweeps", "flops")}
        for k, w in enumerate(ws):
            est.add("step_time", cpu[k], mode=mode, width=w, n_params=n[k])
            for c, qs in counts.items():
                est.add(c, qs[k], mode=mode, width=w, n_params=n[k])
        if len(ws) >= 2 and mode != "loss":  # the plain loss is not traced: nothing counted
            est.add("time_slope", log_slope(n, cpu), mode=mode, sizes=len(ws))
            est.add("wall_slope", log_slope(n, wall), mode=mode)
            est.add("time_over_reverse_slope", log_slope(n, [a / b for a, b in zip(cpu, rev)]),
                    mode=mode)
            for c, qs in counts.items():
                est.add(f"{c}_slope", log_slope(n, qs), mode=mode)
    return est


HEADLINE = """\
{% set acc = E("test_accuracy", mode="reverse", lr=cfg.learning_rate) %}
- Trained from the same start on the same batches, reverse, forward-looped and
  forward-vectorized mode give the same parameters (to {{ E("worst_rel_param_diff").value
  | num(2) }}) and a two-moons classifier with {{ acc | ci }} held-out accuracy over
  {{ acc.groups.seeds | num }} seeds{% if E.has("fg_accuracy_gap", budget=time_name) %}{%
  set g = E("fg_accuracy_gap", budget=time_name) %}; forward gradients, one random-direction
  JVP per step, reach {{ E("test_accuracy", mode="forward-gradient", budget=time_name,
  lr=g.groups.lr) | ci }} in the same CPU time{% endif %}.
"""

FINDINGS = """\
{% set ad = E("worst_rel_param_diff") %}
{% set acc = E("test_accuracy", mode="reverse", lr=cfg.learning_rate) %}
{% if E.has("max_rel_param_diff", model="array", mode="forward-looped") %}
- The exact modes agree: after every step, forward-looped and forward-vectorized parameters
  differ from reverse mode's by at most {{ ad.value | num(2) }} of the largest parameter
  ({{ "within" if ad.value <= cfg.agreement_tolerance else "NOT within" }}
  {{ cfg.agreement_tolerance | num }}), over the array model's whole run
  ({{ [cfg.exact_seeds, cfg.seeds] | min }} seeds) and the scalar model's first
  {{ cfg.scalar_steps }} steps ({{ cfg.seeds }} seeds).
{% endif %}
- Trained exactly, the {{ cfg.hidden | join("x") }} network reaches a held-out accuracy of
  {{ acc | versus(cfg.accuracy_threshold) }} (mean over {{ acc.groups.seeds | num }} seeds,
  95% interval), at a final training loss of {{ E("train_loss", **acc.groups) | ci }}.
{% if E.has("fg_accuracy_gap", budget=time_name) %}
{% set g1, g2 = E("fg_accuracy_gap", budget=steps_name), E("fg_accuracy_gap", budget=time_name) %}
{% set w = {"mode": "forward-gradient", "budget": time_name, "lr": g2.groups.lr} %}
- At their best learning rates, forward gradients reach a held-out accuracy of
  {{ E("test_accuracy", mode="forward-gradient", budget=steps_name, lr=g1.groups.lr) | ci }}
  at equal steps (lr {{ g1.groups.lr | num }}) and {{ E("test_accuracy", **w) | ci }} in the
  reverse run's CPU time (lr {{ g2.groups.lr | num }}, {{ E("steps_taken", **w) | ci }} steps,
  as a JVP-only step costs {{ E("jvp_over_reverse") | ci }} of a reverse one); reverse mode's
  accuracy minus theirs is {{ g1 | versus(0) }}, and {{ g2 | versus(0) }}.
{% endif %}
{% if E.has("time_slope", mode="forward-looped") %}
- Against the parameter count, CPU time per step grows with log-log slope
  {{ E("time_slope", mode="reverse") | ci(2) }} for reverse mode and {{ E("time_slope",
  mode="forward-looped") | ci(2) }} for forward-looped (counted sweeps: slopes {{ E("sweeps_slope",
  mode="reverse").value | num(2) }} and {{ E("sweeps_slope", mode="forward-looped").value | num(2)
  }}); forward-looped over reverse has slope {{ E("time_over_reverse_slope",
  mode="forward-looped") | versus(1) }}.
{% endif %}
"""

DETAILS = """\
## Training runs

Array-model runs, means over seeds (95% bootstrap intervals over seeds): learning rate
({{ cfg.optimizer }}), budget, steps, held-out accuracy and loss, final training loss, share
diverged, largest parameter difference from reverse mode after any step (relative).

{% set rows = [] %}
{% for e in E.all("test_accuracy") %}
{% set w, d = e.groups, {"model": "array", "mode": e.groups.mode} %}
{% set _ = rows.append([w.mode, w.lr | num, w.budget, w.seeds | num,
   E("steps_taken", **w) | ci, e | ci, E("test_loss", **w) | ci, E("train_loss", **w) | ci,
   E("diverged", **w).value | num, E("max_rel_param_diff", **d).value | num(2)
   if E.has("max_rel_param_diff", **d) else "-"]) %}
{% endfor %}
{{ table(rows, ["mode", "lr", "budget", "seeds", "steps", "test accuracy", "test loss",
   "train loss", "diverged", "rel. diff"], "lllrrrrrrr") | join("\\n") }}

Scalar model: the exact modes differ by at most {{ E.all("max_rel_param_diff",
model="scalar") | map(attribute="value") | max | num(2) }}. At the training size, a JVP-only
forward-gradient step costs {{ E("jvp_over_reverse") | ci }} of a reverse step, a whole one
{{ E("fg_over_reverse") | ci }}, drawing the direction {{ E("direction_share") | ci }} of it.

## Cost of one training step against the parameter count

Per mode: CPU time of one plain-SGD step (batch {{ cfg.cost_batch }}; median, 95% interval
over replicates and samples) at the smallest and largest parameter count n (forward-vectorized
in chunks of {{ cfg.chunk_size }}, not above {{ cfg.vectorized_max_params }} parameters); the
log-log slopes against n of CPU time, wall time, sweeps, flops and time over reverse mode's.

{% set rows = [] %}
{% for e in E.all("time_slope") %}
{% set m, t = e.groups.mode, E.all("step_time", mode=e.groups.mode) %}
{% set _ = rows.append([m, (t | first).groups.n_params | num, t | first | ci(2, seconds),
   (t | last).groups.n_params | num, t | last | ci(2, seconds), e | ci(2),
   E("wall_slope", mode=m) | ci(2), E("sweeps_slope", mode=m).value | num(2),
   E("flops_slope", mode=m).value | num(2), E("time_over_reverse_slope", mode=m) | ci(2)]) %}
{% endfor %}
{{ table(rows, ["mode", "n", "time", "n", "time", "slope: CPU", "wall", "sweeps", "flops",
   "time / reverse"], "lrrrrrrrrr") | join("\\n") }}
"""


def _per_step(curves):
    """Mean training loss per step over seeds with its interval, on the steps all have."""
    runs = [g.sort_values("step").train_loss.to_numpy(float) for _, g in curves.groupby("seed")]
    table = np.array([v[:min(map(len, runs))] for v in runs])
    return np.arange(table.shape[1]), [seed_mean(col, 400) for col in table.T], len(runs)


def _shown(ctx) -> list[str]:
    """The array runs the figures show: the exact modes and the best forward gradients."""
    best = [(FG, ctx.E("fg_best_lr", budget=b).value, b) for b in (STEPS, TIME)
            if ctx.E.has("fg_best_lr", budget=b)]
    return [f"{m}, lr {lr:g}, {b}" for m, lr, b in [(m, ctx.cfg["learning_rate"], STEPS)
                                                    for m in EXACT] + best]


def draw_losses(ctx):
    curves = ctx.results[ctx.results.variant == "curve"]
    fig, axes = new_figure(1, 2, width=6.2, height=4.6)
    for k, run in enumerate(_shown(ctx)):
        if len(rows := curves[(curves.model == "array") & (curves.run == run)]):
            x, ests, seeds = _per_step(rows)
            band(axes[0][0], x, ests, k, f"{run} ({seeds} seeds)", markevery=(2 * k, 10))
    for k, mode in enumerate(EXACT):
        x, ests, seeds = _per_step(curves[(curves.model == "scalar") & (curves["mode"] == mode)])
        band(axes[0][1], x, ests, k, f"scalar model, {mode} ({seeds} seeds)",
             color=SCALAR_COLOURS[k], marker="osD"[k], markerfacecolor="none")
    for ax, (name, hidden) in zip(axes[0], (("Array", "hidden"), ("Scalar", "scalar_hidden"))):
        ax.set(title=f"{name} model {'x'.join(map(str, ctx.cfg[hidden]))}",
               xlabel="training step", ylabel="loss on its training points", yscale="log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def draw_cost(ctx):
    if not (E := ctx.E).has("time_slope", mode="reverse"):
        return None
    fig, axes = new_figure(1, 3, width=4.8, height=4.4)
    for k, mode in enumerate(["loss", *EXACT, FG]):
        n = [e.groups["n_params"] for e in E.all("step_time", mode=mode)]
        band(axes[0][0], n, E.all("step_time", mode=mode), k, mode.replace("loss", "plain loss"))
        for ax, what in zip(axes[0][1:], ("sweeps", "flops") if mode != "loss" else ()):
            # coinciding series stay visible: hollow markers, the largest first
            ax.plot(n, [e.value for e in E.all(what, mode=mode)], label=mode,
                    markersize=12 - 2 * k, markerfacecolor="none", **style(k))
    for ax, label in zip(axes[0], ("CPU seconds", "sweeps", "executed flops")):
        log2_axis(ax, "x", {e.groups["n_params"] for e in E.all("step_time")}, "parameters")
        ax.set(yscale="log", ylabel=f"{label} per step")
        ax.tick_params(axis="x", labelrotation=45)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def draw_boundaries(ctx):
    frame, cfg = ctx.results, ctx.cfg
    params, runs = (frame[(frame.variant == v) & (frame.seed == 0)] for v in ("param", "run"))
    shown = [run for run in _shown(ctx) if (params.run == run).any()]
    _, _, Xt, yt = make_data(cfg, 0)
    (x0, y0), (x1, y1) = Xt.min(axis=0) - 0.4, Xt.max(axis=0) + 0.4
    xx, yy = np.meshgrid(np.linspace(x0, x1, cfg["grid"]), np.linspace(y0, y1, cfg["grid"]))
    fig, axes = new_figure(1, len(shown), width=3.4, height=3.6)
    for ax, run in zip(axes[0], shown):
        model = nn.ArrayMLP((2, *cfg["hidden"], 1), cfg["activation"])
        flat = iter(params[params.run == run].sort_values("index").value.to_numpy(float))
        model.params = [(np.fromiter(flat, float, W.size).reshape(W.shape),
                         np.fromiter(flat, float, b.size)) for W, b in model.params]
        prob = model.predict_proba(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
        filled = ax.contourf(xx, yy, prob, np.linspace(0, 1, 11), cmap="RdBu", alpha=0.55)
        ax.contour(xx, yy, prob, levels=[0.5], colors="black", linewidths=1.2)
        ax.scatter(*Xt[yt == 0].T, s=9, c="white", edgecolors="black", lw=0.4, label="class 0")
        ax.scatter(*Xt[yt == 1].T, s=10, marker="^", c="black", linewidths=0, label="class 1")
        acc = runs[(runs.model == "array") & (runs.run == run)].test_accuracy.iloc[0]
        ax.set(xticks=[], yticks=[], title=run.replace(", ", "\n", 1) + f": test acc. {acc:.3f}")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.colorbar(filled, ax=axes[0].tolist(), label="P(class 1)", shrink=0.85)
    return fig


QUICK: dict[str, Any] = {  # tuned to >= 0.95 held-out accuracy: 1000 points in batches of
    # 200 (few, large steps: forward-looped costs a JVP per parameter and step), He init, Adam
    "n_train": 1000, "n_test": 1000, "noise": 0.2, "hidden": (16, 16), "activation": "relu",
    "init": "he", "epochs": 12, "batch_size": 200, "optimizer": "adam", "learning_rate": 0.05,
    "fg_learning_rates": (0.01, 0.03, 0.1), "seeds": 5, "exact_seeds": 1,
    "scalar_hidden": (4, 4), "scalar_steps": 3, "scalar_batch": 16, "cost_widths": (2, 4, 8, 16),
    "cost_batch": 32, "chunk_size": 512, "vectorized_max_params": 5000,
    "agreement_tolerance": 1e-9, "accuracy_threshold": 0.95, "grid": 60,
    "replicates": 2, "samples": 3, "warmup": 0,  # the untimed calibration call warms up
}
FULL: dict[str, Any] = {
    **QUICK, "epochs": 15, "fg_learning_rates": (0.003, 0.01, 0.03, 0.1), "seeds": 10,
    "exact_seeds": 10, "scalar_hidden": (8, 8), "scalar_steps": 5,
    "cost_widths": (2, 4, 8, 16, 32, 64, 128), "grid": 100, "replicates": 3, "samples": 5,
}
CAPTIONS = {
    "loss_curves": "Loss on the whole training split after each step (0: the start), mean over "
    "the seeds in the legend, shaded: its 95% bootstrap interval. Left: the array model by each "
    "exact mode (identical: offset markers) and forward gradients at their best learning rate; "
    "right: the scalar model's first steps.",
    "cost_vs_params": "One plain-SGD step of the array model (two hidden layers of width "
    "{{ cfg.cost_widths | join(', ') }}) against its parameter count: CPU time (median, shaded: "
    "95% interval over {{ cfg.replicates }} replicates of {{ cfg.samples }} samples), counted "
    "sweeps and executed flops (hollow markers: coinciding series stay visible).",
    "decision_boundaries": "P(class 1) of the models trained on seed 0 (colour bar), the 0.5 "
    "boundary in black, held-out test points (white circles: class 0, black triangles: 1).",
}
EXPERIMENT = Experiment(
    name="mlp_training", title="MLP training with forward and reverse mode",
    summary=__doc__.split("\n\n")[1].replace("\n", " "), presets={"quick": QUICK, "full": FULL},
    cells=lambda cfg: ([{"part": "train", "seed": s} for s in range(cfg["seeds"])]
                       + [{"part": "cost", "width": w} for w in cfg["cost_widths"]]),
    measure=lambda cell, cfg, meter: (measure_training if cell["part"] == "train"
                                      else measure_cost)(cell, cfg, meter),
    estimate=estimate, findings=FINDINGS, details=DETAILS, headline=HEADLINE,
    figures=[FigureSpec(name, draw, CAPTIONS[name] + " Preset {{ manifest.preset }}.")
             for name, draw in (("loss_curves", draw_losses), ("cost_vs_params", draw_cost),
                                ("decision_boundaries", draw_boundaries))],
    namespace={"steps_name": STEPS, "time_name": TIME, "seconds": seconds},
)

if __name__ == "__main__":
    sys.exit(main(EXPERIMENT))
