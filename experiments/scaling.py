"""How a Jacobian's cost grows with its inputs n and outputs m, forward mode against reverse.

Forward mode needs n sweeps and reverse mode m, each costing c < 6 (typically 2-3) times f;
a gradient costs about 4-5 f (Baydin et al. 2018, citing Griewank and Walther). Measured in
CPU time and counted flops for a dense tanh net, an elementwise map with a mixing matrix and
a deep chain of cheap ops, by jacfwd and jacrev, looped (a sweep per direction) and
vectorized (one sweep), on an (n, m) grid of powers of two and at the extremes m = 1, n = 1.

Variants, timed round-robin: primal (numpy f), the four Jacobians, reverse recording
(admodes.vjp) and reverse sweep (its pullback), and the two vectorized Jacobians through
admodes.jit (staged once per cell, then replayed); noted once: count_ops' counts,
max_abs_error.

Estimates (d = directions: n forward, m reverse; upper = sizes >= sqrt(largest)): c = T(J)
/ (d T(f)) and c_arith = flops(J) / (d flops(f)), medians over the grid cells with d in the
upper half (intervals resample cells and samples). cost_a (s), cost_b, cost_a_per_op (s):
looped time per sweep = a + b T(f) over those cells (b: the empirical c; a: the per-sweep
overhead); overhead_share: a / time per sweep at n = m = grid_max. slope_time, slope_flops,
slope_time_per_flop: log-log slopes on the upper half against n at the largest m (axis n)
and m at the largest n (axis m); slope_f_time, slope_f_flops: those of f; slope_reference:
of d, plus slope_f_flops. crossover, crossover_flops (per n, looped): the m* where forward
and reverse cost the same (0: forward is cheaper at m = 1; 2 grid_max: reverse is cheaper
over the whole grid); crossover_over_n, crossover_flops_over_n: median m* / n over the
upper n with m* inside the grid. At each extreme's largest size, over T(f): one_sweep_cost
(gradient: reverse looped; fan-out: forward looped), one_sweep_c_arith (its flops / flops(f)),
one_sweep_slope, many_sweep_cost (the other mode, looped), recording_cost, sweep_cost,
speedup (many-sweep mode, looped / vectorized). For figures, per cell: time, c_cell, over_f,
log2_fwd_over_rev. max_abs_error: the worst. c_jit: c of the jitted Jacobians; jit_speedup:
T(eager) / T(jit) of the vectorized Jacobians, over the same cells.
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np

import admodes
from admodes.harness import Estimates, Experiment, FigureSpec, Q, Results, main, median_of
from admodes.harness.figures import band, log2_axis, new_figure, reference_line, style
from admodes.harness.stats import crossing, linear_fit, log_slope, over_cells
from admodes.harness.text import ci, markdown_table, num, seconds, versus

JACOBIANS = {f"{mode} {kind}": (jac, kind == "vectorized") for (mode, jac), kind in
             itertools.product((("forward", admodes.jacfwd), ("reverse", admodes.jacrev)),
                               ("looped", "vectorized"))}
VARIANTS = ["primal", *JACOBIANS, "reverse recording", "reverse sweep"]
# the vectorized Jacobians staged by admodes.jit: the same arithmetic without the tracing
JITTED = {f"{mode} vectorized jit": jac for mode, jac in (("forward", admodes.jacfwd),
                                                          ("reverse", admodes.jacrev))}
COL = {"n": "inputs", "m": "outputs"}  # their names as estimate groups ("n" is taken)


def dense_net(n: int, m: int, rng: np.random.Generator, cfg: dict):
    """y = tanh(W2 tanh(W1 x + b1)) with ``cfg["hidden"]`` hidden units: 5 ops."""
    w1 = rng.standard_normal((cfg["hidden"], n)) / math.sqrt(n)
    b1 = 0.1 * rng.standard_normal(cfg["hidden"])
    w2 = rng.standard_normal((m, cfg["hidden"])) / math.sqrt(cfg["hidden"])
    return lambda x: np.tanh(w2 @ np.tanh(w1 @ x + b1))


def elementwise_mix(n: int, m: int, rng: np.random.Generator, cfg: dict):
    """Ten elementwise ops on x, one m x n mixing matrix, six elementwise ops: 17 ops."""
    mixing = rng.standard_normal((m, n)) / math.sqrt(n)

    def f(x):
        bump = np.sin(x) * np.exp(-0.5 * (x * x))
        v = mixing @ np.tanh(bump + x / (1.0 + x * x))
        return np.cos(v) * np.tanh(v) + 0.1 * (v * v)

    return f


def deep_chain(n: int, m: int, rng: np.random.Generator, cfg: dict):
    """x to ``chain_width`` numbers, ``chain_depth`` cheap ops on them, to m: many ops."""
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


FAMILIES = {f.__name__: f for f in (dense_net, elementwise_mix, deep_chain)}


def powers(largest: int) -> list[int]:
    return [2 ** k for k in range(int(math.log2(largest)) + 1)]


def upper(sizes: list[int]) -> list[int]:
    """The upper half of a log range, where per-call constants no longer dominate."""
    return [s for s in sizes if s * s >= sizes[-1]]


def cells(cfg: dict) -> list[dict]:
    """The (n, m) grid, then the extremes beyond it (from its m = 1 row and n = 1 column)."""
    if set(cfg["families"]) - set(FAMILIES):
        raise ValueError(f"unknown family in {cfg['families']}; known: {list(FAMILIES)}")
    grid = powers(cfg["grid_max"])
    beyond = powers(cfg["extreme_max"])[len(grid):]
    plan = ([("grid", n, m) for n in grid for m in grid] + [("gradient", s, 1) for s in beyond]
            + [("fan_out", 1, s) for s in beyond])
    return [{"part": p, "family": f, "n": n, "m": m} for f in cfg["families"] for p, n, m in plan]


def measure(cell: dict, cfg: dict, meter) -> None:
    n, m = cell["n"], cell["m"]
    rng = np.random.default_rng([cfg["seed"], n, m])
    f = FAMILIES[cell["family"]](n, m, rng, cfg)
    x, cotangent = rng.uniform(-1.0, 1.0, n), np.eye(1, m)[0]  # one output's seed
    _, pullback = admodes.vjp(f, x)
    jacobians = {v: jac(f, vectorized=vec) for v, (jac, vec) in JACOBIANS.items()}
    jitted = {v: admodes.jit(jac(f)) for v, jac in JITTED.items()}
    for j in jitted.values():
        j(x)  # staged here: the timed calls replay
    variants = {"primal": lambda: f(x), **{v: (lambda j=j: j(x)) for v, j in jacobians.items()},
                "reverse recording": lambda: admodes.vjp(f, x),
                "reverse sweep": lambda: pullback(cotangent),
                **{v: (lambda j=j: j(x)) for v, j in jitted.items()}}
    meter.time(variants)
    if not meter.first:
        return
    _, of_f = meter.count(admodes.vjp, f, x)  # plain numpy is not counted: f as recorded
    meter.note("primal", ops=sum(of_f.ops.values()), flops=of_f.primal_flops)
    out = {}
    for name, fn in list(variants.items())[1:len(VARIANTS)]:
        out[name], c = meter.count(fn)
        meter.note(name, ops=sum(c.ops.values()), rule_calls=sum(c.rule_ops.values()),
                   **{k: getattr(c, k) for k in ("sweeps", "recordings", "flops", "primal_flops",
                                                 "rule_flops", "tape_length", "tape_bytes")})
    for v in JACOBIANS:  # against the other mode's Jacobian, same strategy
        other = out[("reverse" if v[0] == "f" else "forward") + v[7:]]
        meter.note(v, max_abs_error=float(np.max(np.abs(out[v] - other))))
    for v, j in jitted.items():  # the same ops in the same order: the same bits
        eager = out[v.removesuffix(" jit")]
        if not np.array_equal(j(x), eager):
            raise RuntimeError(f"{v} differs from the eager Jacobian")
        meter.note(v, stagings=j.stagings, guard_failures=j.guard_failures)


def estimate(results: Results) -> Estimates:
    est, frame, cfg = Estimates(), results.frame, results.cfg
    est.add("max_abs_error", float(frame.max_abs_error.max()))
    counts = frame.dropna(subset=["flops"]).drop_duplicates(["cell", "variant"]).set_index(
        ["family", "n", "m", "variant"])
    for family in cfg["families"]:
        estimate_family(est, CellTimes(results, family), counts.loc[family], cfg, family)
    return est


class CellTimes(dict):
    """(n, m, variant) -> the CPU time of that cell and variant (``Results.time``), looked
    up when first asked for."""

    def __init__(self, results: Results, family: str) -> None:
        super().__init__()
        self.results, self.family = results, family

    def __missing__(self, key):
        n, m, variant = key
        q = self[key] = self.results.time(variant, family=self.family, n=n, m=m)
        return q


def estimate_family(est: Estimates, times: dict, counts, cfg: dict, family: str) -> None:
    grid, sizes, top = powers(cfg["grid_max"]), powers(cfg["extreme_max"]), cfg["grid_max"]
    up = upper(grid)

    def add(quantity, q, n=None, m=None, **groups):  # n, m name a cell
        cell = {k: v for k, v in (("inputs", n), ("outputs", m)) if v is not None}
        est.add(quantity, q, family=family, **groups, **cell)

    def flops(n, m, v):
        return Q.exact(counts.flops[n, m, v], cfg["draws"])

    def over_f(n, m, v):  # in multiples of T(f)
        return times[n, m, v] / times[n, m, "primal"]

    for n, m in itertools.product(grid, grid):
        for v in VARIANTS[:5] if top in (n, m) else ["primal"]:
            add("time", times[n, m, v], n, m, variant=v)
        for s in ("looped", "vectorized"):
            ratio = times[n, m, f"forward {s}"] / times[n, m, f"reverse {s}"]
            add("log2_fwd_over_rev", ratio.apply(np.log2), n, m, strategy=s)
    for v in JACOBIANS:
        cs = [(n, m, n if v[0] == "f" else m) for n, m in itertools.product(grid, grid)]
        cs = [(n, m, d) for n, m, d in cs if d in up]  # (n, m, directions)
        add("c", over_cells([over_f(n, m, v) / d for n, m, d in cs]), variant=v)
        add("c_arith", over_cells([flops(n, m, v) / (flops(n, m, "primal") * d)
                                   for n, m, d in cs]), variant=v)
        if v.endswith("vectorized"):
            jv = f"{v} jit"
            add("c_jit", over_cells([over_f(n, m, jv) / d for n, m, d in cs]), variant=jv)
            add("jit_speedup", over_cells([times[n, m, v] / times[n, m, jv] for n, m, _ in cs]),
                variant=jv)
            continue
        a, b = linear_fit([times[n, m, "primal"].value for n, m, _ in cs],
                          [times[n, m, v] / d for n, m, d in cs])
        for quantity, q in (("cost_a", a), ("cost_b", b), ("overhead_share", a * top / times[
                top, top, v]), ("cost_a_per_op", a / counts.ops[top, top, "primal"])):
            add(quantity, q, variant=v)
        for n, m, d in cs:
            add("c_cell", over_f(n, m, v) / d, n, m, variant=v)
    for axis in ("n", "m"):
        at = [(s, top) if axis == "n" else (top, s) for s in up]
        f_slope = log_slope(up, [flops(*c, "primal") for c in at])
        add("slope_f_flops", f_slope, axis=axis)
        add("slope_f_time", log_slope(up, [times[(*c, "primal")] for c in at]), axis=axis)
        for v in JACOBIANS:
            ts, fl = [times[(*c, v)] for c in at], [flops(*c, v) for c in at]
            add("slope_time", log_slope(up, ts), variant=v, axis=axis)
            add("slope_flops", log_slope(up, fl), variant=v, axis=axis)
            add("slope_time_per_flop", log_slope(up, [t / w for t, w in zip(ts, fl)]),
                variant=v, axis=axis)
            own = float((axis == "n") == (v[0] == "f"))  # d grows along this axis
            add("slope_reference", f_slope + own, variant=v, axis=axis)
    for name, cost in (("crossover", times.__getitem__),
                       ("crossover_flops", lambda k: flops(*k))):
        found = {}
        for n in grid:
            q = crossing(grid, [(cost((n, m, "forward looped")) / cost((n, m, "reverse looped"))
                                 ).apply(np.log2) for m in grid])
            # "no crossing" (inf) as 2 top: the harness's intervals would drop infinite draws
            found[n] = Q(min(q.value, 2 * top), np.minimum(q.draws, 2 * top), q.n)
            add(name, found[n], n)
        inside = [n for n in up if 0 < found[n].value < 2 * top]
        if inside:
            add(f"{name}_over_n", median_of([found[n] / n for n in inside]))
    for extreme, one, many in (("gradient", "reverse", "forward"),
                               ("fan_out", "forward", "reverse")):
        at = [(s, 1) if extreme == "gradient" else (1, s) for s in sizes]
        for c, v in itertools.product(at, VARIANTS[1:]):
            add("over_f", over_f(*c, v), *c, extreme=extreme, variant=v)
            add("flops_over_f", flops(*c, v) / flops(*c, "primal"), *c, extreme=extreme,
                variant=v)
        big, g, hi, lo = at[-1], {"extreme": extreme}, upper(sizes), f"{one} looped"
        add("one_sweep_cost", over_f(*big, lo), **g)
        add("one_sweep_c_arith", flops(*big, lo) / flops(*big, "primal"), **g)
        add("one_sweep_slope", log_slope(hi, [over_f(*c, lo) for c in at[-len(hi):]]), **g)
        for quantity, v in (("many_sweep_cost", f"{many} looped"), ("sweep_cost",
                            "reverse sweep"), ("recording_cost", "reverse recording")):
            add(quantity, over_f(*big, v), **g)
        add("speedup", over_f(*big, f"{many} looped") / over_f(*big, f"{many} vectorized"), **g)


# -- text: what the templates call ---------------------------------------------------------

def label(e) -> str:
    return ", ".join(str(e.groups[k]).replace("_", " ") for k in ("family", "variant")
                     if k in e.groups)


def span(E, quantity: str, fmt=num, against: float | str | None = None, **where) -> str:
    """The least and greatest ``quantity``, and whose, against ``against`` (versus) if given."""
    es, out = sorted(E.all(quantity, **where), key=lambda e: e.value), []
    for e in es[::len(es) - 1 or 1]:  # the first and the last
        limit = E(against, **e.groups).value if isinstance(against, str) else against
        out.append(f"{ci(e, 3, fmt) if limit is None else versus(e, limit)} ({label(e)})")
    return "from " * (len(out) > 1) + " to ".join(out) if out else "n/a"


# per table: caption (over g, u = upper(grid)[0], x), rows (the estimates of a quantity), groups
# shown, columns (at the row's groups, else without variant; "q>x": versus x; "q:s": seconds)
TABLES = [
    ("Table 1. Constants per sweep (looped) or direction (vectorized), over the grid cells "
     "with d >= {u}; c_arith against 6; the cost model (looped).", "c", {}, [],
     "c c_arith>6 cost_b cost_a:s cost_a_per_op:s overhead_share"),
    ("Table 2. Slopes over sizes >= {u}, against n at m = {g} and m at n = {g}; time against "
     "its reference.", "slope_time", {}, ["axis"], "slope_time>slope_reference "
     "slope_reference slope_flops slope_time_per_flop slope_f_time slope_f_flops"),
    ("Table 3. Crossovers per n ({g2}: beyond the grid), then m* / n per family; the "
     "references are m = n, 2n - 1 and n / 2 (ADOL-C).", "crossover", {},
     ["inputs"], "crossover crossover_flops"),
    ("", "slope_f_time", {"axis": "n"}, [], "crossover_over_n crossover_flops_over_n"),
    ("Table 4. The extremes at size {x}, in multiples of T(f).", "one_sweep_cost", {},
     ["extreme"], "one_sweep_cost one_sweep_c_arith one_sweep_slope recording_cost "
     "sweep_cost many_sweep_cost speedup")]


def details(E, cfg: dict) -> str:
    """``TABLES`` in Markdown, each after its caption."""
    g, out = cfg["grid_max"], []
    sizes = {"g": g, "g2": 2 * g, "u": upper(powers(g))[0], "x": cfg["extreme_max"]}
    for caption, base, where, keys, columns in TABLES:
        body = []
        for e in E.all(base, **where):
            at = {k: e.groups[k] for k in ("family", "variant", *keys) if k in e.groups}
            row = [label(e)] + [num(e.groups[k]).replace("_", "-") for k in keys]
            for column in columns.split():
                q, _, against = column.partition(">")
                q, fmt = (q[:-2], seconds) if q.endswith(":s") else (q, num)
                x = (E.all(q, **at) + E.all(q, **{**at, "variant": None}) + [None])[0]
                limit = against and (E(against, **at).value if against[0].isalpha() else
                                     float(against))
                row.append("" if x is None else versus(x, limit) if against else ci(x, 3, fmt))
            body.append(row)
        header = [c.partition(">")[0].removesuffix(":s") for c in columns.split()]
        align = "l" * (1 + len(keys)) + "r" * len(header)
        out += [caption.format(**sizes), ""] * bool(caption)
        out += markdown_table(body, ["family, strategy", *keys, *header], align) + [""]
    return "\n".join(out)


HEADLINE = """\
{% set g, d = {"extreme": "gradient", "family": "dense_net"}, {"family": "dense_net"} %}
- A gradient of f: R^{{ cfg.extreme_max }} -> R (a dense tanh net) costs
  {{ E("one_sweep_cost", **g) | ci }} times f in reverse mode (one recording and one
  backward sweep) against {{ E("many_sweep_cost", **g) | ci }} times f for
  {{ cfg.extreme_max }} forward sweeps: reverse mode's cost does not grow with the inputs,
  forward mode's grows with each one.
{% if E.has("crossover_over_n", **d) %}
- Looped, forward and reverse mode cost the same when the outputs m number
  {{ E("crossover_over_n", **d) | ci }} times the inputs n (dense net; counted arithmetic
  says {{ E("crossover_flops_over_n", **d).value | num }} n, as forward mode re-evaluates f
  every sweep): forward mode for n << m, reverse mode for m << n.
{% endif %}
"""

FINDINGS = """\
{% set big, vec = cfg.extreme_max, {"variant": "forward vectorized", "axis": "n"} %}
{% set cross = E.all("crossover_over_n") | sort(attribute="value") %}
- A gradient of f: R^{{ big }} -> R costs {{ span(E, "one_sweep_cost", extreme="gradient") }}
  times T(f) in reverse mode (one recording, one backward sweep) against
  {{ span(E, "many_sweep_cost", extreme="gradient") }} times T(f) for {{ big }} looped forward
  sweeps; counted in flops it is {{ span(E, "one_sweep_c_arith", against=5,
  extreme="gradient") }} evaluations of f (the cheap-gradient bound is about 4-5).
- Per sweep (looped) or direction (vectorized) the arithmetic executed is c_arith =
  {{ span(E, "c_arith", against=6) }} evaluations of f (the textbook's c < 6), while in CPU
  time the same constant c runs {{ span(E, "c") }} (Table 1).
- Fitted as time per sweep = a + b T(f) over the grid, the empirical c is b = {{ span(E,
  "cost_b", against=6) }}, on top of a per-sweep overhead a of {{ span(E, "cost_a_per_op",
  as_seconds) }} per op of f: a fixed cost of interpreting each op, which makes
  {{ span(E, "overhead_share") }} of a sweep's time at n = m = {{ cfg.grid_max }}.
- Looped forward and reverse mode cost the same at m* = {{ span(E, "crossover_over_n",
  against=1) }} times n (m = n; Table 3){% if cross %}, the lowest {{ cross[0] | versus(0.5)
  }} (ADOL-C's m = n/2), the highest {{ cross[-1] | versus(2) }} (m = 2n - 1, as looped
  forward re-evaluates f){% endif %}; in counted flops m* / n is
  {{ span(E, "crossover_flops_over_n") }}.
- Through admodes.jit (staged once, then replayed), a vectorized Jacobian costs c = {{ span(E,
  "c_jit") }} times T(f) per direction, {{ span(E, "jit_speedup") }} times faster than eagerly:
  what tracing costs on top of the AD arithmetic.
- Vectorized forward mode's time grows against n with slope {{ span(E, "slope_time",
  against="slope_reference", **vec) }}, against the slope its arithmetic predicts (1 + that
  of flops(f); Table 2); for the largest gradient it is {{ span(E, "speedup",
  extreme="gradient") }} times faster than looping.
"""

DETAILS = """\
{{ glossary }}

{{ details(E, cfg) }}
Forward and reverse Jacobians agree to {{ E("max_abs_error").value | num(2) }} at worst.
"""


# -- figures --------------------------------------------------------------------------------

def rows(ctx, quantity: str, **where):  # estimates as a frame (value, low, high) by n, m
    frame = ctx.E.frame[ctx.E.frame.quantity == quantity]
    for key, wanted in where.items():
        frame = frame[frame[COL.get(key, key)] == wanted]
    return frame.rename(columns={"ci_low": "low", "ci_high": "high"}).sort_values([*COL.values()])


def finish(fig, axes, ncol: int = 4):
    for ax in axes.ravel():
        ax.grid(True, alpha=0.3)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center",
               ncol=ncol, fontsize=8, frameon=False)
    return fig


def draw_curves(ctx, quantity: str):
    """Cost curves (``time``) or the extremes (``over_f``): bands, and theory slopes."""
    families, grid = ctx.cfg["families"], powers(ctx.cfg["grid_max"])
    sizes = grid if quantity == "time" else powers(ctx.cfg["extreme_max"])
    fig, axes = new_figure(2, len(families), width=4.3, height=3.5)
    for (i, axis, other, mode), (j, family) in itertools.product(
            ((0, "n", "m", "forward"), (1, "m", "n", "reverse")), enumerate(families)):
        ax, where, slopes = axes[i][j], {"family": family}, {"slope 1": 1.0}
        if quantity == "time":
            ref = rows(ctx, "slope_reference", variant=f"{mode} vectorized", axis=axis,
                       **where).value.iloc[0]
            slopes["slope of d * flops(f), vectorized"] = ref
            where[other] = grid[-1]
            title = f"{family.replace('_', ' ')}\n{other} = {grid[-1]}; reference slope {ref:.2f}"
        else:
            where["extreme"] = "gradient" if axis == "n" else "fan_out"
            title = f"{family.replace('_', ' ')}: {where['extreme'].replace('_', '-')}"
        for v in VARIANTS[:5] if quantity == "time" else VARIANTS[1:]:
            line = rows(ctx, quantity, variant=v, **where)
            band(ax, line[COL[axis]].tolist(), list(line.itertuples()), VARIANTS.index(v), v)
        y0 = rows(ctx, quantity, variant=f"{mode} looped", **where, **{axis: upper(sizes)[0]})
        for k, (what, slope) in enumerate(slopes.items()):
            reference_line(ax, upper(sizes), y0.value.iloc[0], slope, f"reference: {what}", 6 - k)
        ax.set(yscale="log", title=title, ylabel="CPU time / T(f)" if quantity == "over_f"
               else "CPU time per Jacobian (s)")
        log2_axis(ax, "x", sizes, f"{axis} ({'inputs' if axis == 'n' else 'outputs'})")
    return finish(fig, axes)


def draw_heatmap(ctx):
    families, grid = ctx.cfg["families"], np.array(powers(ctx.cfg["grid_max"]), float)
    maps = {(s, f): rows(ctx, "log2_fwd_over_rev", family=f, strategy=s).pivot(
        index="outputs", columns="inputs", values="value").to_numpy()
        for s in ("looped", "vectorized") for f in families}
    limit = max(float(np.nanmax(np.abs(v))) for v in maps.values()) or 1.0  # one scale
    edges = np.append(grid / math.sqrt(2), grid[-1] * math.sqrt(2))
    fig, axes = new_figure(2, len(families), width=4.1, height=3.6)
    for ax, ((strategy, family), values) in zip(axes.ravel(), maps.items()):
        mesh = ax.pcolormesh(edges, edges, values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        if len(grid) > 1 and np.nanmin(values) < 0 < np.nanmax(values):
            ax.contour(grid, grid, values, levels=[0.0], colors="black", linewidths=2)
        ax.plot([], [], color="black", linewidth=2, label="measured crossover (0 contour)")
        for k, (what, m) in enumerate(zip(("m = n", "m = 2n - 1", "m = n / 2 (ADOL-C)"),
                                          (grid, 2 * grid - 1, grid / 2))):
            ax.plot(grid, m, color=style(k + 2)["color"], ls=style(k + 1)["linestyle"], label=what)
        log2_axis(ax, "x", grid, "n (inputs)")
        log2_axis(ax, "y", grid, "m (outputs)")
        ax.set(xlim=edges[[0, -1]], ylim=edges[[0, -1]],
               title=f"{family.replace('_', ' ')}: {strategy}")
    fig.colorbar(mesh, ax=axes, shrink=0.8, label="log2(T_forward / T_reverse)\n"
                 "> 0 (red): reverse faster; < 0 (blue): forward faster")
    return finish(fig, axes)


def draw_cost_model(ctx):
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    fig, axes = new_figure(1, len(ctx.cfg["families"]), width=4.3, height=3.9)
    for ax, family in zip(axes[0], ctx.cfg["families"]):
        t_f = rows(ctx, "time", family=family, variant="primal")[["inputs", "outputs", "value"]]
        for k, v in enumerate(("forward looped", "reverse looped")):
            c = rows(ctx, "c_cell", family=family, variant=v).merge(
                t_f, on=["inputs", "outputs"], suffixes=("", "_t")).sort_values("value_t")
            band(ax, (c.value_t * 1e6).tolist(), list(c.itertuples()), k, v, linestyle="none")
            a, b = (rows(ctx, q, family=family, variant=v).value.iloc[0]
                    for q in ("cost_a", "cost_b"))
            ax.plot(c.value_t * 1e6, a / c.value_t + b, color="black",
                    linestyle=style(k)["linestyle"], label=f"{v}: fit a / T(f) + b")
        ax.axhline(6, color="gray", linestyle=":", label="textbook bound c = 6")
        ax.set(xscale="log", yscale="log", xlabel="T(f), CPU time of f (µs)",
               ylabel="c = time per sweep / T(f)", title=family.replace("_", " "))
        for axis in (ax.xaxis, ax.yaxis):  # ticks at 1, 2, 5 x 10^k, as plain numbers
            axis.set(major_locator=LogLocator(subs=(1, 2, 5)), minor_formatter=NullFormatter(),
                     major_formatter=FuncFormatter(lambda v, _: f"{v:g}"))
    return finish(fig, axes, ncol=3)


SHARED = {"families": list(FAMILIES), "hidden": 32, "chain_depth": 32, "chain_width": 4}

EXPERIMENT = Experiment(
    name="scaling", title="Jacobian scaling: forward vs reverse mode",
    summary=" ".join(__doc__.split("\n\n")[1].split()),
    presets={"quick": dict(SHARED, grid_max=32, extreme_max=128, replicates=2, samples=3),
             # full: ~18 min; no warm-up call, the untimed calibration call warms each variant
             "full": dict(SHARED, grid_max=1024, extreme_max=4096, replicates=3, samples=5,
                          warmup=0)},
    cells=cells, measure=measure, estimate=estimate, findings=FINDINGS, details=DETAILS,
    headline=HEADLINE,
    figures=[
        FigureSpec("cost_curves", lambda ctx: draw_curves(ctx, "time"), "CPU time per Jacobian "
                   "(s) against n at m = {{ cfg.grid_max }} (top) and m at n = {{ cfg.grid_max }}"
                   " (bottom); dotted: theory slopes.", bands=True),
        FigureSpec("crossover_heatmap", draw_heatmap, "log2(T_forward / T_reverse), CPU time, "
                   "looped (top) and vectorized (bottom), one symmetric colour scale (red: reverse"
                   " faster), the measured zero contour and the lines m = n, 2n - 1 and n/2. "
                   "Preset {{ manifest.preset }}, medians of {{ cfg.replicates }} replicates."),
        FigureSpec("cost_model", draw_cost_model, "c = CPU time per sweep / T(f) of the looped "
                   "strategies (points) against T(f) (µs), over the cells with at least "
                   "sqrt({{ cfg.grid_max }}) sweeps, and the fit a / T(f) + b.", bands=True),
        FigureSpec("extremes", lambda ctx: draw_curves(ctx, "over_f"), "CPU time over T(f) of "
                   "the gradient (m = 1, top) and the fan-out (n = 1, bottom), reverse mode's "
                   "recording and backward sweep apart; dotted: slope 1.", bands=True)],
    namespace={"span": span, "details": details, "as_seconds": seconds,
               "glossary": " ".join(__doc__.split("\n\n")[3].split())},
)

if __name__ == "__main__":
    sys.exit(main(EXPERIMENT))
