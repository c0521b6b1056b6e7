"""Engine overhead: each engine's cost per primitive op and per gradient, as ratios to plain
numpy timed in the same process, against the issues' targets, for a 200-op elementwise chain on
a Python float, a length-1 array and a length-1000 vector and for the loss of a 2-layer tanh
network (X 64x256, W1 256x256, W2 256x1), the last two beside hand-written numpy gradients.
Each derivative runs eagerly (traced at every call) and through ``admodes.jit`` (staged once,
then replayed), which separates the interpreter's cost from the AD arithmetic. µs per op
divides a call's time by the primal ops ``count_ops`` counts in it."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

import admodes
from admodes.harness import Estimates, Experiment, FigureSpec, main
from admodes.harness.figures import new_figure, style
from admodes.tree import tree_flatten

ENGINES = ["numpy", "forward", "reverse", "jit forward", "jit reverse", "handwritten"]
# input: benchmark, title, targets (issues: µs per op for per_op, else T(engine) / T(numpy))
CELLS = {"python_float": ("per_op", "Python float", {"reverse": 2.0, "forward": 1.0}),
         "array_len1": ("per_op", "length-1 array", {"reverse": 3.0, "forward": 2.0,
                                                     "jit reverse": 0.7, "jit forward": 0.7}),
         "vector": ("vector_chain", "vector chain", {"reverse": 2.6, "forward": 3.0,
                                                     "jit reverse": 2.3, "jit forward": 2.2}),
         "mlp": ("mlp_loss", "MLP loss (per call)", {"reverse": 4.0, "jit reverse": 3.0})}
# Published by peers, as the issue quotes them (not measured here): on the same tanh network,
# PyTorch eager T(value_and_grad) / T(f) = 7.9 against 1.9 by hand.
PEERS = {"mlp": {"PyTorch eager": 7.9}}
SIZES = {"chain_ops": 200, "vector_size": 1000, "batch": 64, "features": 256, "hidden": 256}


def cyclic_garbage(fn: Callable[[], Any]) -> int:
    """Objects one call of ``fn`` leaves in reference cycles (call it warm: after timing)."""
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


def rel_diff(got: Any, want: Any) -> float:
    """max |got - want| / max |want| over the leaves of two pytrees of the same structure."""
    a, b = (np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in tree_flatten(t)[0]])
            for t in (got, want))
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def make_chain(n_ops: int, summed: bool = False) -> Callable[[Any], Any]:
    """``n_ops`` cheap elementwise ops that keep values bounded; then np.sum if ``summed``."""
    if n_ops <= 0 or n_ops % 8:
        raise ValueError(f"chain_ops must be a positive multiple of 8, got {n_ops}")

    def chain(x):
        for _ in range(n_ops // 8):  # 8 ops: *, +, sin, *, tanh, exp, -, cos
            x = np.sin(x * 0.7 + 0.3)
            x = np.exp(np.tanh(x * x))
            x = np.cos(x - 1.2)
        return np.sum(x) if summed else x

    return chain


def chain_grad_by_hand(x: np.ndarray, n_ops: int) -> tuple[Any, np.ndarray]:
    """``make_chain(n_ops, summed=True)(x)`` and its gradient: numpy forward + backward."""
    saved = []
    for _ in range(n_ops // 8):
        x2 = x * 0.7 + 0.3
        x3 = np.sin(x2)
        x5 = np.tanh(x3 * x3)
        x6 = np.exp(x5)
        saved.append((x2, x3, x5, x6, x6 - 1.2))
        x = np.cos(saved[-1][4])
    g = np.ones_like(x)
    for x2, x3, x5, x6, x7 in reversed(saved):
        g = -np.sin(x7) * g * x6 * (1.0 - x5 * x5) * 2.0 * x3 * np.cos(x2) * 0.7
    return np.sum(x), g


def mlp_loss(W1, W2, X):
    """The mean squared output of a 2-layer tanh network (no biases)."""
    return np.mean((np.tanh(X @ W1) @ W2) ** 2)


def mlp_grad_by_hand(W1, W2, X):
    """``mlp_loss`` and its gradient with respect to (W1, W2), written out in numpy."""
    h = np.tanh(X @ W1)
    y = h @ W2
    dy = (2.0 / y.size) * y
    return np.mean(y ** 2), (X.T @ ((dy @ W2.T) * (1.0 - h * h)), h.T @ dy)


def measure(cell: dict[str, Any], cfg: dict[str, Any], meter) -> None:
    """Times one input's calls by engine, each with its arguments bound, then counts them."""
    kind = cell["input"]
    rng = np.random.default_rng([cfg["seed"], list(CELLS).index(kind)])
    if kind == "mlp":
        d, h = cfg["features"], cfg["hidden"]
        args = (rng.standard_normal((d, h)) / np.sqrt(d),
                rng.standard_normal((h, 1)) / np.sqrt(h), rng.standard_normal((cfg["batch"], d)))
        vg = admodes.value_and_grad(mlp_loss, argnums=(0, 1))
        calls = {"numpy": partial(mlp_loss, *args), "handwritten": partial(mlp_grad_by_hand, *args),
                 "reverse": partial(vg, *args), "jit reverse": partial(admodes.jit(vg), *args)}
    else:
        x = {"python_float": 0.5, "array_len1": np.array([0.5]),
             "vector": rng.uniform(-1.0, 1.0, cfg["vector_size"])}[kind]
        f = make_chain(cfg["chain_ops"], summed=kind != "python_float")
        vg = admodes.value_and_grad(f)

        def jvp_f(x):
            return admodes.jvp(f, (x,), (x * 0.0 + 1.0,))

        calls = {"numpy": partial(f, x), "reverse": partial(vg, x), "forward": partial(jvp_f, x),
                 "jit reverse": partial(admodes.jit(vg), x),
                 "jit forward": partial(admodes.jit(jvp_f), x)}
        if kind == "vector":
            calls["handwritten"] = partial(chain_grad_by_hand, x, cfg["chain_ops"])
    for engine in ("jit reverse", "jit forward"):  # staged here, so that timing replays
        if engine in calls:
            calls[engine]()
    meter.time(calls)
    if meter.first:  # after timing, so that every call is warm
        ops = sum(meter.count(calls["reverse"])[1].ops.values())  # primal ops, not rules
        for engine, call in calls.items():  # every engine's µs/op divides by this count
            meter.note(engine, ops=ops, cyclic_garbage=cyclic_garbage(call))
        if "handwritten" in calls:
            diff = rel_diff(calls["handwritten"](), calls["reverse"]())
            if not diff <= 1e-8:
                raise RuntimeError(f"the hand-written gradient differs from admodes': {diff}")
            meter.note("handwritten", grad_rel_diff=diff)


def estimate(results) -> Estimates:
    est, verdicts, garbage = Estimates(), [], []
    for kind, (benchmark, _, targets) in CELLS.items():
        where = {"benchmark": benchmark, "input": kind}
        ops = results.metric("ops", "reverse", **where)
        est.add("ops", ops, **where)
        numpy = {c: results.time("numpy", clock=c, **where) for c in ("cpu_s", "wall_s")}
        for engine in [e for e in ENGINES if len(results.select(e, **where))]:
            t = results.time(engine, **where)
            best = results.time(engine, stat="min", **where)  # the fastest sample: the floor
            got = {"us_per_call": t * 1e6, "us_per_op": t * (1e6 / ops),
                   "us_per_op_min": best * (1e6 / ops),
                   "ratio": t / numpy["cpu_s"],
                   "ratio_wall": results.time(engine, clock="wall_s", **where) / numpy["wall_s"],
                   "cyclic_garbage": results.metric("cyclic_garbage", engine, **where)}
            for name, q in got.items():
                est.add(name, q, **where, engine=engine)
            if engine in targets:  # the engines: forward and reverse
                q = got["us_per_op" if benchmark == "per_op" else "ratio"]
                verdicts.append(q.compare(targets[engine]))
                garbage.append(got["cyclic_garbage"])
        if len(results.select("handwritten", **where)):
            for engine in ("reverse", "jit reverse"):
                est.add(f"{engine.replace(' ', '_')}_over_handwritten",
                        results.ratio(engine, "handwritten", **where), **where)
    est.add("admodes_cyclic_garbage", max(garbage))
    for verdict, name in zip(("below", "above", "not distinguishable from"),
                             ("met", "missed", "undecided")):
        est.add(f"targets_{name}", verdicts.count(verdict))
    return est


FINDINGS = """\
{% macro v(q, k, e) %}{{ E(q, input=k, engine=e) | versus(targets[k][e]) }}{% endmacro %}
{% macro c(q, k, e=none) %}{{ E(q, input=k, engine=e) | ci }}{% endmacro %}
{% macro op(k, e) %}{{ (v if e in targets[k] else c)("us_per_op", k, e) }}{% endmacro %}
- A primitive op costs {{ op("python_float", "reverse") }} µs under reverse mode (value_and_grad)
  on Python floats and {{ op("array_len1", "reverse") }} µs on length-1 arrays, {{ op(
  "python_float", "forward") }} µs and {{ op("array_len1", "forward") }} µs under forward mode
  (jvp), {{ op("python_float", "numpy") }} µs and {{ op("array_len1", "numpy") }} µs in numpy.
- For the {{ E("ops", input="vector").value | num }}-op chain on a length-{{ cfg.vector_size }}
  vector, T(value_and_grad f) / T(f) is {{ v("ratio", "vector", "reverse") }} (wall clock:
  {{ c("ratio_wall", "vector", "reverse") }}) and T(jvp f) / T(f) {{ v("ratio", "vector",
  "forward") }}; a hand-written gradient needs {{ c("ratio", "vector", "handwritten") }} times
  T(f), which value_and_grad exceeds by a factor {{ c("reverse_over_handwritten", "vector") }}.
- For the 2-layer tanh network, T(value_and_grad loss) / T(loss) is {{ v("ratio", "mlp",
  "reverse") }} (wall clock: {{ c("ratio_wall", "mlp", "reverse") }}) and by hand
  {{ c("ratio", "mlp", "handwritten") }}: admodes' gradient takes
  {{ c("reverse_over_handwritten", "mlp") }} times as long as the hand-written one.
- Through admodes.jit (staged once, then replayed), a primitive op costs {{ op("array_len1",
  "jit reverse") }} µs in reverse mode and {{ op("array_len1", "jit forward") }} µs in forward
  mode on length-1 arrays; on the chain T(jit value_and_grad) / T(f) is {{ v("ratio", "vector",
  "jit reverse") }} and T(jit jvp) / T(f) {{ v("ratio", "vector", "jit forward") }}, and on the
  network T(jit value_and_grad) / T(loss) is {{ v("ratio", "mlp", "jit reverse") }}, {{ c(
  "jit_reverse_over_handwritten", "mlp") }} times the hand-written gradient (PyTorch eager:
  {{ peers.mlp["PyTorch eager"] }}, as published; not measured here).
- {{ E("targets_met").value | num }} of {{ targets.values() | map("length") | sum }} targets are
  met (interval below), {{ E("targets_missed").value | num }} missed (above), the rest undecided;
  an engine call leaves at most {{ E("admodes_cyclic_garbage").value | num }} objects in cycles.
"""

DETAILS = """\
## Every engine on every input

numpy: the function alone; handwritten: numpy forward + backward; ops: primal ops `count_ops`
counts per call; µs: CPU time, the median over samples (and the fastest sample, the floor
the machine allows); × numpy: time over plain numpy's (CPU, then wall clock); target:
the issue's bound (on µs per op for per_op, else × numpy); cycles: objects a call leaves in cycles.

{% set rows = [] %}
{% for e in E.all("us_per_op") %}
{% set g = e.groups %}{% set w, t = {"input": g.input, "engine": g.engine},
   targets[g.input].get(g.engine) %}
{% set _ = rows.append([g.benchmark, g.input, g.engine, E("ops", input=g.input).value | num,
   E("us_per_call", **w) | ci, e | ci, E("us_per_op_min", **w) | ci, E("ratio", **w) | ci,
   E("ratio_wall", **w) | ci,
   "" if t is none else (e if g.benchmark == "per_op" else E("ratio", **w)) | versus(t),
   E("cyclic_garbage", **w).value | num]) %}
{% endfor %}
{{ table(rows, ["benchmark", "input", "engine", "ops", "µs per call", "µs per op",
   "µs per op (fastest)", "× numpy", "× numpy (wall)", "target", "cycles"], "lllrrrrrrlr")
   | join("\\n") }}
"""


def draw(ctx):
    fig, axes = new_figure(1, len(CELLS), width=3.0, height=3.6)
    for ax, (kind, (benchmark, title, targets)) in zip(axes[0], CELLS.items()):
        q = "us_per_call" if kind == "mlp" else "us_per_op"
        shown = [(g, ctx.E(q, input=kind, engine=g)) for g in ENGINES
                 if ctx.E.has(q, input=kind, engine=g)]
        scale = 1.0 if benchmark == "per_op" else shown[0][1].value  # a ratio's target, in µs
        for i, (engine, e) in enumerate(shown):
            ax.bar(i, e.value, yerr=[[e.value - e.low], [e.high - e.value]], capsize=3,
                   color=style(ENGINES.index(engine))["color"])
            if engine in targets:
                ax.hlines(targets[engine] * scale, i - 0.45, i + 0.45, "black", "--")
        ax.set_xticks(range(len(shown)), [g for g, _ in shown], rotation=30)
        ax.set(title=title, ylabel=q.replace("us_per_", "µs per "))
    return fig


EXPERIMENT = Experiment(
    name="overhead", title="Speed: engine overhead against plain numpy",
    summary=" ".join(__doc__.split()),
    presets={"quick": {**SIZES, "replicates": 2, "samples": 8, "min_sample_s": 0.005},
             "full": {**SIZES, "replicates": 5, "samples": 15, "warmup": 2, "min_sample_s": 0.02}},
    cells=lambda cfg: [{"benchmark": b, "input": kind} for kind, (b, _, _) in CELLS.items()],
    measure=measure, estimate=estimate, findings=FINDINGS, details=DETAILS,
    figures=[FigureSpec("us_per_op", draw, (
        "µs per primitive op (CPU time, median) of each engine, eager and through admodes.jit, "
        "on each input beside plain numpy and the hand-written gradient; for the MLP, µs per "
        "call. Error bars: 95% bootstrap intervals ({{ cfg.replicates }} replicates of "
        "{{ cfg.samples }} samples); dashed: the target (a ratio's times plain numpy's time). "
        "Preset {{ manifest.preset }}."))],
    namespace={"targets": {kind: targets for kind, (_, _, targets) in CELLS.items()},
               "peers": PEERS})

if __name__ == "__main__":
    sys.exit(main(EXPERIMENT))
