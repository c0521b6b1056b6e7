"""What reverse mode pays in memory. For a chain of L elementwise ops on a vector (sin, * 0.9,
+ 0.1, tanh, repeated; then a sum): value_and_grad against jvp and the primal in time, peak memory
(tracemalloc), tape length and bytes, and the stored bytes its VJPs actually read. For the
gradient of f: R^n -> R: peak memory and time of jacfwd looped, vectorized (an n x n tangent
batch) and chunked, and of jacrev looped and vectorized. Log-log slopes over sizes >= sqrt(max).
"""

import math
import sys
from functools import partial
from typing import Any

import numpy as np

from admodes import jacfwd, jacrev, jvp, value_and_grad
from admodes.harness import Estimates, Experiment, FigureSpec, Q, linear_fit, log_slope, main
from admodes.harness.figures import band, log2_axis, new_figure, reference_line
from admodes.harness.text import ci, markdown_table, nbytes, num, seconds
from admodes.measure import tape_residuals

STEPS = (np.sin, lambda z: z * 0.9, lambda z: z + 0.1, np.tanh)
MODES = ("reverse", "forward", "primal")
# peak memory ~ n^p: an n x n tangent batch (vectorized forward); else n-vectors, k or a tape
THEORY_N = {"f": 1, "jacfwd looped": 1, "jacfwd vectorized": 2, "jacfwd chunked": 1,
            "jacrev looped": 1, "jacrev vectorized": 1}
THEORY_L = {"reverse": 1, "forward": 0, "primal": 0}  # memory against L (time: 1 for all)
SIZES = {"chain_length": ("chain_lengths", "L (ops in the chain)"),
         "n_inputs": ("jacobian_sizes", "n (inputs of f: R^n -> R)")}  # config, axis label


def make_chain(length: int):  # x -> sum of ``length`` ops; values stay in [-1, 1] however long
    def chain(x):
        for k in range(length):
            x = STEPS[k % 4](x)
        return np.sum(x)
    return chain


def measure(cell: dict[str, Any], cfg: dict[str, Any], meter) -> None:
    chain = "chain_length" in cell
    size = cfg["vector_size"] if chain else cell["n_inputs"]
    rng = np.random.default_rng([cfg["seed"], cell.get("chain_length", 0), size])
    x, t = rng.uniform(-1.0, 1.0, size), rng.standard_normal(size)
    f = make_chain(cell["chain_length"] if chain else cfg["jacobian_ops"])
    if chain:
        vg = value_and_grad(f)
        calls = {"primal": lambda: f(x), "reverse": lambda: vg(x),
                 "forward": lambda: jvp(f, (x,), (t,))}
    else:
        jacs = {"jacfwd looped": jacfwd(f, vectorized=False), "jacfwd vectorized": jacfwd(f),
                "jacfwd chunked": jacfwd(f, chunk_size=cfg["chunk_size"]),
                "jacrev looped": jacrev(f, vectorized=False), "jacrev vectorized": jacrev(f)}
        calls = {"f": lambda: f(x), **{s: (lambda j=j: j(x)) for s, j in jacs.items()}}
    meter.time(calls)
    for variant, fn in calls.items():  # every replicate, warm, and without counting around
        meter.note(variant, peak_bytes=meter.peak(fn)[1])
    for v in calls if meter.first else ():
        _, c = meter.count(calls[v])
        meter.note(v, tape_length=c.tape_length, tape_bytes=c.tape_bytes, sweeps=c.sweeps,
                   recordings=c.recordings, ops=sum(c.ops.values()))
    if chain and meter.first:
        meter.note("reverse", **tape_residuals(f, x))


def quantity(results, name: str, variant: str, **where: Any) -> Q:
    """Peaks (noted once per replicate) with draws resampling the replicates; times by
    ``results.time``; counts and bytes exact."""
    if name.startswith("time"):
        return results.time(variant, clock="wall_s" if "wall" in name else "cpu_s", **where)
    if name != "peak_bytes":
        return results.exact(results.metric(name, variant, **where))
    return results.per_replicate(name, variant, **where)


# (quantity, variant) estimated at every size, per size key
SERIES = {"chain_length": [(m, v) for m in ("peak_bytes", "time", "time_wall") for v in MODES]
          + [(m, v) for m in ("tape_length", "tape_bytes") for v in MODES[:2]]
          + [(m, "reverse") for m in ("python_bytes_per_entry", "kept_bytes", "needed_bytes",
                                      "python_bytes")],
          "n_inputs": [(m, v) for m in ("peak_bytes", "time") for v in THEORY_N]}


def estimate(results) -> Estimates:
    est, q, top = Estimates(), {}, {}
    for key, series in SERIES.items():
        sizes = sorted(results.cfg[SIZES[key][0]])
        fit, top[key] = [x for x in sizes if x >= math.sqrt(sizes[-1])], sizes[-1]
        for m, v in series:
            q[m, v] = by = {x: quantity(results, m, v, **{key: x}) for x in sizes}
            for x, value in by.items():
                est.add(m, value, variant=v, **{key: x})
            if all(e.value > 0 for e in by.values()):  # forward mode's tape: zeros, no log
                est.add("slope", log_slope(fit, [by[x] for x in fit]), measure=m, variant=v,
                        against=key)
            if m.endswith("bytes") and v == "reverse":  # linear slope; fixed costs: intercept
                est.add("bytes_per_op", linear_fit(fit, [by[x] for x in fit])[1], measure=m,
                        variant=v, against=key)
    L, n = top["chain_length"], top["n_inputs"]
    for v, where, base in ([(v, {"chain_length": L}, "primal") for v in MODES[:2]]
                           + [(s, {"n_inputs": n}, "f") for s in THEORY_N]):
        est.add("time_over_primal", results.ratio(v, base, **where), variant=v, **where)
    kept, needed, python = (q[s][L] for s in SERIES["chain_length"][-3:])
    est.add("saving_fraction", (kept - needed) / kept, of="residuals", chain_length=L)
    est.add("saving_fraction", (kept - needed) / (kept + python), of="tape", chain_length=L)
    est.add("tape_over_peak", (kept + python) / q["peak_bytes", "reverse"][L], chain_length=L)
    for s in THEORY_N:
        est.add("peak_over_reverse", q["peak_bytes", s][n] / q["peak_bytes", "jacrev "
                "vectorized"][n], variant=s, n_inputs=n)
        est.add("sweeps", results.metric("sweeps", s, n_inputs=n), variant=s, n_inputs=n)
    return est


HEADLINE = """\
- Reverse mode pays in memory: its tape keeps {{ E("bytes_per_op", measure="kept_bytes").value
  | num }} bytes per op (peak memory slope {{ E("slope", measure="peak_bytes", variant="reverse")
  | ci }} against the chain length; its rules read only {{ E("bytes_per_op",
  measure="needed_bytes").value | num }} of them), while forward mode's peak stays flat (slope
  {{ E("slope", measure="peak_bytes", variant="forward") | ci }}).
"""

FINDINGS = """\
{% set L, n, vec, chunk = cfg.chain_lengths | max, cfg.jacobian_sizes | max,
   "jacfwd vectorized", "jacfwd chunked" %}{% set peak = {"measure": "peak_bytes"} %}
- Reverse mode's tape grows with the computation: against L its length rises with slope
  {{ E("slope", measure="tape_length", variant="reverse").value | num }} and the peak memory of
  one value_and_grad call with slope {{ E("slope", variant="reverse", **peak) | versus(1) }};
  forward mode records no tape and its peak stays at {{ E("peak_bytes", variant="forward",
  chain_length=L).value | nbytes }} (slope {{ E("slope", variant="forward", **peak) | versus(0) }}).
- Of the {{ E("bytes_per_op", measure="kept_bytes").value | num }} bytes per op the tape keeps,
  its VJPs read only {{ E("bytes_per_op", measure="needed_bytes").value | num }}: storing only
  those would save {{ E("saving_fraction", of="residuals").value | num(2) }} of the residual bytes
  ({{ E("saving_fraction", of="tape").value | num(2) }} with the {{ E("python_bytes_per_entry",
  chain_length=L).value | num }} bytes of Python objects per entry counted); residuals plus
  objects are {{ E("tape_over_peak") | ci(2) }} times the peak at L = {{ L }}.
- At L = {{ L }} a reverse-mode gradient takes {{ E("time_over_primal", variant="reverse")
  | ci }} times the primal's CPU time, a forward-mode directional derivative
  {{ E("time_over_primal", variant="forward") | ci }} times.
- For a gradient of f: R^{{ n }} -> R, vectorized jacfwd peaks at {{ E("peak_bytes",
  variant=vec, n_inputs=n) | ci(3, nbytes) }}, {{ E("peak_over_reverse", variant=vec) | ci }}
  times vectorized jacrev's {{ E("peak_bytes", variant="jacrev vectorized", n_inputs=n)
  | ci(3, nbytes) }} (slope against n {{ E("slope", variant=vec, **peak) | versus(2) }});
  chunks of {{ cfg.chunk_size }} directions bring it to {{ E("peak_bytes", variant=chunk,
  n_inputs=n) | ci(3, nbytes) }} (slope {{ E("slope", variant=chunk, **peak) | versus(1) }}).
"""
# table columns: (quantity, variant, format, header); the rows of ratios: the column they fit
COLUMNS = ([("tape_length", "reverse", num, "entries")]
           + [(m, "reverse", nbytes, h) for m, h in (("kept_bytes", "tape keeps"),
              ("needed_bytes", "VJPs read"), ("python_bytes", "Python objects"))]
           + [(m, v, fmt, f"{m[:4]} {v}") for m, fmt in (("peak_bytes", nbytes),
              ("time", seconds)) for v in MODES])
JAC_COLUMNS = [(m, s, fmt, s) for m, fmt in (("peak_bytes", nbytes), ("time", seconds))
               for s in THEORY_N]
THEORY = {**{("peak_bytes", s): p for s, p in THEORY_N.items()},
          **{(m, v): THEORY_L[v] if "bytes" in m else 1 for m, v, _, _ in COLUMNS}}
ROWS = {"peak_over_reverse": "peak_bytes", "time_over_primal": "time", "sweeps": "time"}


def size_table(E, key: str, sizes, columns) -> str:
    """Per size each column's estimate; then its slopes, ratios at the largest size, theory."""
    def cell(name, fmt=num, **where):  # one look-up, not has() then get: the page has ~400
        return "".join(ci(e, 3, fmt) for e in E.all(name, **where))
    rows = [[num(x)] + [cell(m, fmt, variant=v, **{key: x}) for m, v, fmt, _ in columns]
            for x in sorted(sizes)]
    rows += [[name] + [cell(name, measure=m, variant=v) for m, v, _, _ in columns]
             for name in ("slope", "bytes_per_op")]
    rows += [[name] + [cell(name, variant=v, **{key: max(sizes)}) if m == of else ""
                       for m, v, _, _ in columns] for name, of in ROWS.items()]
    rows.append(["theory"] + [str(THEORY.get((m, v), "")) for m, v, _, _ in columns])
    rows = [[r[0].replace("_", " ")] + r[1:] for r in rows if any(r[1:])]  # none: dropped
    return "\n".join(markdown_table(rows, [key] + [c[-1] for c in columns]))


DETAILS = """\
Per chain length: tape entries; bytes the tape keeps, the part its VJPs read, its Python objects;
per mode, peak bytes of one call and CPU time per call [95% interval]. Below: slopes against L
(log-log; linear: bytes per op), time over the primal's at the largest L, the theory's slopes.

{{ size_table(E, "chain_length", cfg.chain_lengths, columns) }}

Per n, the peak bytes of each Jacobian strategy (chunks of {{ cfg.chunk_size }} directions), then
its slope against n and its peak over vectorized jacrev's at the largest n; next, CPU time per
call with its ratio to f and the sweeps counted.

{{ size_table(E, "n_inputs", cfg.jacobian_sizes, jac_columns[:6]) }}

{{ size_table(E, "n_inputs", cfg.jacobian_sizes, jac_columns[6:]) }}
"""


def draw(ctx, key: str):
    """The table columns' bytes (left) and times (right) against size, log-log."""
    (name, xlabel), columns = SIZES[key], COLUMNS if key == "chain_length" else JAC_COLUMNS
    sizes = sorted(ctx.cfg[name])
    fig, axes = new_figure(1, 2, width=5.8, height=4.4)
    for ax, fmt in zip(axes[0], (nbytes, seconds)):
        for k, (quantity, variant, _, label) in enumerate(c for c in columns if c[2] is fmt):
            ests = ctx.E.all(quantity, variant=variant)
            band(ax, [e.groups[key] for e in ests], ests, k, label)
        for s in ("jacfwd vectorized", "jacrev vectorized") if key == "n_inputs" and \
                fmt is nbytes else ():  # theory lines through the largest n
            p, top = THEORY_N[s], ctx.E("peak_bytes", variant=s, n_inputs=sizes[-1]).value
            reference_line(ax, sizes, top / (sizes[-1] / sizes[0]) ** p, p, f"theory slope {p}")
        log2_axis(ax, "x", sizes, xlabel)
        ax.set(yscale="log", ylabel="bytes" if fmt is nbytes else "CPU time per call (s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    return fig


BANDS = ("Log-log axes; shaded: 95% bootstrap interval over the {{ cfg.replicates }} replicates"
         " (peaks) or replicates and samples (times); preset {{ manifest.preset }}.")
COMMON = {"vector_size": 64, "jacobian_ops": 8, "chunk_size": 16}
FIGURES = [  # name, size key, caption
    ("chain", "chain_length", "Bytes against L (left; vectors of {{ cfg.vector_size }} float64): "
     "kept by reverse mode's tape, read by its VJPs, in its Python objects (exact), and each "
     "mode's peak (tracemalloc); CPU seconds per call (right)."),
    ("jacobian_memory", "n_inputs", "A gradient of f: R^n -> R ({{ cfg.jacobian_ops }} ops, a "
     "sum) per strategy: peak bytes (left; dotted: theory slopes) and CPU seconds per call.")]
EXPERIMENT = Experiment(
    name="memory", title="Memory: reverse mode's tape against forward mode",
    summary=__doc__.replace("\n", " ").strip(),
    presets={"quick": {**COMMON, "chain_lengths": [10, 30, 100, 300, 1000], "replicates": 2,
                       "jacobian_sizes": [16, 32, 64, 128, 256], "samples": 3, "warmup": 0},
             "full": {**COMMON, "chain_lengths": [10, 30, 100, 300, 1000, 3000, 10_000, 30_000,
                                                  100_000], "replicates": 3, "samples": 5,
                      "jacobian_sizes": [16, 32, 64, 128, 256, 512, 1024]}},
    cells=lambda cfg: [{key: x} for key, (name, _) in SIZES.items() for x in cfg[name]],
    measure=measure, estimate=estimate, findings=FINDINGS, details=DETAILS,
    headline=HEADLINE,
    figures=[FigureSpec(name, partial(draw, key=key), caption + " " + BANDS) for name, key,
             caption in FIGURES],
    namespace={"nbytes": nbytes, "size_table": size_table, "columns": COLUMNS,
               "jac_columns": JAC_COLUMNS},
)

if __name__ == "__main__":
    sys.exit(main(EXPERIMENT))
