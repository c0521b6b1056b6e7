"""Training speed of admodes.nn against floors that need no engine: a full-batch training step
(gradient and SGD update) of ArrayMLP 2-16-16-1 on moons(1000) by reverse mode, eager and
through admodes.jit, against the same step by hand in numpy (targets: at most 1.5 and 1.1 times),
and a reverse-mode step of the scalar MLP 2-16-16-1 on moons(100) against its loss on plain
Python floats, garbage collector off and on, and through jit (target: 10 times faster)."""

from __future__ import annotations

import functools
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from admodes.experiments.overhead import cyclic_garbage, rel_diff

import admodes
from admodes.harness import Estimates, Experiment, main
from admodes.nn import MLP, ArrayMLP, moons, sgd_step

# model: {variant: the variant its time is divided by}
RATIOS = {"array": {"reverse": "handwritten", "loss": "handwritten",
                    "jit reverse": "handwritten"},
          "scalar": {"reverse": "floats", "reverse gc on": "floats gc on",
                     "jit reverse": "reverse"}}
# Published by peers for this step over the hand-written one, as issue 12 quotes them (not
# measured here): JAX's jit, PyTorch eager, HIPS autograd.
PEERS = {"JAX jit": "0.79", "PyTorch eager": "1.3-1.8", "HIPS autograd": "2.9-3.2"}
FULL = {"sizes": [2, 16, 16, 1], "array_samples": 1000, "scalar_samples": 100, "noise": 0.2,
        "learning_rate": 0.03, "replicates": 5, "samples": 6, "min_sample_s": 0.02}


def handwritten_step(params: list, X: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, list]:
    """One SGD step of the ReLU network on the mean binary cross-entropy in numpy, by hand."""
    inputs, pre, h, last = [], [], X, len(params) - 1
    for k, (W, b) in enumerate(params):
        inputs.append(h)
        pre.append(h @ W + b)
        h = np.maximum(pre[-1], 0.0) if k < last else pre[-1]
    z = h[:, 0]
    softplus = np.logaddexp(0.0, z)
    g = ((np.exp(z - softplus) - y) / len(y))[:, None]  # d loss / d z; exp(z - sp) = sigmoid
    new: list = [None] * len(params)
    for k in range(last, -1, -1):
        W, b = params[k]
        g = g * (pre[k] > 0.0) if k < last else g
        new[k] = (W - lr * (inputs[k].T @ g), b - lr * g.sum(axis=0))
        g = g @ W.T if k > 0 else g
    return float(np.mean(softplus - y * z)), new


def with_gc(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with the garbage collector on (timing turns it off): its passes count."""
    def call() -> Any:
        was_enabled = gc.isenabled()
        gc.enable()
        try:
            return fn()
        finally:
            if not was_enabled:
                gc.disable()
    return call


def measure(cell: dict[str, Any], cfg: dict[str, Any], meter) -> None:
    kind, lr = cell["model"], cfg["learning_rate"]
    X, y = moons(cfg[f"{kind}_samples"], cfg["noise"], cfg["seed"])
    model = (ArrayMLP if kind == "array" else MLP)(tuple(cfg["sizes"]), seed=cfg["seed"])
    params, grad = model.params, admodes.grad(model.loss)
    loss = functools.partial(model.loss, params, X, y)

    def step() -> Any:  # the gradient and the SGD update
        return sgd_step(params, grad(params, X, y), lr)

    staged_step = admodes.jit(lambda p, X, y: sgd_step(p, grad(p, X, y), lr))
    jit_step = functools.partial(staged_step, params, X, y)
    staging = time.process_time()
    jit_step()  # staged now: the timed calls replay (the same parameters and data)
    staging = time.process_time() - staging
    calls = ({"reverse": step, "handwritten": functools.partial(handwritten_step, params, X, y, lr),
              "loss": loss, "jit reverse": jit_step} if kind == "array" else
             {"reverse": step, "floats": loss, "reverse gc on": with_gc(step),
              "floats gc on": with_gc(loss), "jit reverse": jit_step})
    meter.time(calls)
    if meter.first:
        meter.note("jit reverse", staging_ms=staging * 1e3,
                   stagings=staged_step.stagings, guard_failures=staged_step.guard_failures)
    if meter.first:  # after timing, so that every call is warm; with the collector on, no
        for name in [n for n in calls if not n.endswith("gc on")]:  # cycles would be left
            meter.note(name, cyclic_garbage=cyclic_garbage(calls[name]))
        if rel_diff(jit_step(), step()) != 0.0:
            raise RuntimeError("the jitted step differs from the eager one")
        if kind == "array":  # the hand-written step must compute what admodes computes
            diff = rel_diff(handwritten_step(params, X, y, lr)[1], step())
            if not diff <= 1e-10:
                raise RuntimeError(f"the hand-written step differs from admodes': {diff}")
            meter.note("handwritten", step_rel_diff=diff)


def estimate(results) -> Estimates:
    est = Estimates()
    for kind, ratios in RATIOS.items():
        for v in results.select(model=kind).variant.unique():
            g = {"model": kind, "variant": v}
            est.add("ms", results.time(v, model=kind) * 1e3, **g)
            if not v.endswith("gc on"):  # not counted with the collector on
                est.add("cyclic_garbage", results.metric("cyclic_garbage", v, model=kind), **g)
        for variant, base in ratios.items():
            wall = [results.time(v, clock="wall_s", model=kind) for v in (variant, base)]
            g = {"model": kind, "variant": variant, "over": base}
            est.add("ratio", results.ratio(variant, base, model=kind), **g)
            est.add("ratio_wall", wall[0] / wall[1], **g)
    for kind in RATIOS:  # the first call of the jitted step, which stages it
        est.add("staging_ms", results.metric("staging_ms", "jit reverse", model=kind),
                model=kind)
    for v in ("reverse", "floats"):  # the collector's cost: the time with it on over off
        est.add("gc_cost", results.ratio(f"{v} gc on", v, model="scalar"), model="scalar",
                variant=v)
    return est


FINDINGS = """\
{% macro c(q, m, v=none) %}{{ E(q, model=m, variant=v) | ci }}{% endmacro %}
- A full-batch training step of ArrayMLP {{ cfg.sizes | join("-") }} on moons({{
  cfg.array_samples }}) by reverse mode takes {{ c("ms", "array", "reverse") }} ms of CPU time,
  the same step by hand in numpy {{ c("ms", "array", "handwritten") }} ms: {{ E("ratio",
  model="array", variant="reverse") | versus(target) }} times (wall clock: {{ c("ratio_wall",
  "array", "reverse") }}); the loss alone costs {{ c("ratio", "array", "loss") }} of that step.
  Through admodes.jit the step takes {{ c("ms", "array", "jit reverse") }} ms, {{ E("ratio",
  model="array", variant="jit reverse") | versus(jit_target) }} times the hand-written one (its
  first call, which stages it, took {{ E("staging_ms", model="array").value | num }} ms). Peers'
  published ratios for this step (not measured here): {% for name, r in peers.items() %}{{ name
  }} {{ r }}{{ ", " if not loop.last }}{% endfor %}.
- On the scalar MLP and moons({{ cfg.scalar_samples }}), a reverse-mode step takes
  {{ c("ms", "scalar", "reverse") }} ms, {{ c("ratio", "scalar", "reverse") }} times the loss on
  plain Python floats (wall clock: {{ c("ratio_wall", "scalar", "reverse") }}); through
  admodes.jit {{ c("ms", "scalar", "jit reverse") }} ms, {{ E("ratio", model="scalar",
  variant="jit reverse") | versus(0.1) }} times the eager step (target: 10 times faster, 0.1),
  replayed at fixed parameters and data; in training, each new batch and each ReLU that changes
  sides is a guard that stages the step again (staging took {{ E("staging_ms",
  model="scalar").value | num }} ms).
- With the garbage collector on, that step takes {{ c("gc_cost", "scalar", "reverse") }} times as
  long as with it off, {{ c("ratio", "scalar", "reverse gc on") }} times the plain-float loss (on
  which the collector costs a factor {{ c("gc_cost", "scalar", "floats") }}); a reverse-mode step
  leaves {{ E("cyclic_garbage", model="array", variant="reverse").value | num }} (array) and {{
  E("cyclic_garbage", model="scalar", variant="reverse").value | num }} (scalar) objects in cycles.
"""

DETAILS = """\
## Every step timed

ms: CPU time per call; ratio: the time over the time of the variant under "over", by CPU and
wall clock; cycles: objects a call leaves in reference cycles (not counted with the collector
on, "gc on"). The harness freezes what is alive when the run starts (gc.freeze), so collections
scan only what the steps allocate. Brackets: 95% intervals.

{% set rows = [] %}
{% for e in E.all("ms") %}
{% set w = {"model": e.groups.model, "variant": e.groups.variant} %}
{% set r, rw, has = E.all("ratio", **w), E.all("ratio_wall", **w), E.has("cyclic_garbage", **w) %}
{% set _ = rows.append([w.model, w.variant, e | ci, r[0] | ci if r else "", rw[0] | ci if rw else
   "", r[0].groups.over if r else "", E("cyclic_garbage", **w).value | num if has else ""]) %}
{% endfor %}
{{ table(rows, ["model", "variant", "ms", "ratio", "ratio (wall)", "over", "cycles"],
   "llrrrlr") | join("\\n") }}
"""

EXPERIMENT = Experiment(
    name="nn_speed", title="Speed: training a network, against floors without an engine",
    summary=" ".join(__doc__.split()),
    presets={"quick": {**FULL, "replicates": 2, "samples": 3, "warmup": 0, "min_sample_s": 0.005},
             "full": FULL},
    cells=lambda cfg: [{"model": kind} for kind in RATIOS],
    measure=measure, estimate=estimate, findings=FINDINGS, details=DETAILS,
    # the issues' bounds on the ArrayMLP step's ratio, eager and through jit
    namespace={"target": 1.5, "jit_target": 1.1, "peers": PEERS})

if __name__ == "__main__":
    sys.exit(main(EXPERIMENT))
