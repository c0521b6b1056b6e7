"""How accurate the derivatives are: AD against finite differences over the step size h.

Finite differences trade two errors: truncation, which shrinks with h (like h for the
forward difference (f(x + h) - f(x)) / h, like h^2 for the central one), and rounding,
which grows like eps / h (eps = 2.2e-16). On log-log axes the error is a V whose bottom sits
near h = eps^(1/2) (forward) or eps^(1/3) (central). AD applies exact derivative rules in
floating point: its error is a few eps, whatever h might be.

For scalar functions with closed-form derivatives: the derivative at one point by ``jvp``
(forward), ``grad`` (reverse) and both differences for h from 1e-1 to 1e-15. Each arm of the
V is fitted on log-log axes (truncation on h >= 100 best h, rounding on h <= best h / 100),
and the best step is where the fitted arms meet; intervals come from resampling the points.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

import admodes
from admodes.harness import Estimates, Experiment, FigureSpec, Q, main
from admodes.harness.figures import new_figure, style
from admodes.harness.stats import fit_points

EPS = float(np.finfo(np.float64).eps)
FIT_MARGIN = 100.0  # fit each arm at least this factor in h away from the best step
# truncation and rounding slopes, and the best step, in theory
THEORY = {"forward_difference": (1.0, -1.0, EPS ** 0.5),
          "central_difference": (2.0, -1.0, EPS ** (1 / 3))}


def _exp_over_sqrt(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def _exp_over_sqrt_derivative(x: float) -> float:
    g = math.sin(x) ** 3 + math.cos(x) ** 3
    dg = 3 * math.sin(x) ** 2 * math.cos(x) - 3 * math.cos(x) ** 2 * math.sin(x)
    return math.exp(x) / math.sqrt(g) * (1 - dg / (2 * g))


# name: (formula, f, f' in closed form, x0)
FUNCTIONS: dict[str, tuple[str, Any, Any, float]] = {
    "sin": ("sin(x)", np.sin, math.cos, 1.0),
    "exp_over_sqrt": ("exp(x) / sqrt(sin(x)^3 + cos(x)^3)", _exp_over_sqrt,
                      _exp_over_sqrt_derivative, 1.5),
    "runge": ("1 / (1 + 25 x^2)", lambda x: 1.0 / (1.0 + 25.0 * x * x),
              lambda x: -50.0 * x / (1.0 + 25.0 * x * x) ** 2, 0.3),
    "x_to_the_x": ("x^x", lambda x: x ** x, lambda x: x ** x * (math.log(x) + 1.0), 2.0),
}
DIFFERENCES = {
    "forward_difference": lambda f, x, h: (f(x + h) - f(x)) / h,
    "central_difference": lambda f, x, h: (f(x + h) - f(x - h)) / (2 * h),
}


def step_sizes(per_decade: int) -> list[float]:
    """h = 10^-1 ... 10^-15, ``per_decade`` values per decade."""
    return [float(10.0 ** -(1 + k / per_decade)) for k in range(14 * per_decade + 1)]


def cells(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"function": name} for name in cfg["functions"]]


def measure(cell: dict[str, Any], cfg: dict[str, Any], meter) -> None:
    _, f, derivative, x0 = FUNCTIONS[cell["function"]]
    meter.time({"jvp": lambda: admodes.jvp(f, (x0,), (1.0,)),
                "grad": lambda: admodes.grad(f)(x0), "f": lambda: f(x0)})
    if not meter.first:  # floating point is deterministic: the derivatives once
        return
    exact = derivative(x0)
    computed = {("forward_ad", None): admodes.jvp(f, (x0,), (1.0,))[1],
                ("reverse_ad", None): admodes.grad(f)(x0)}
    for scheme, difference in DIFFERENCES.items():
        for h in step_sizes(cfg["steps_per_decade"]):
            computed[scheme, h] = difference(f, x0, h)
    for (method, h), value in computed.items():
        value = float(value)
        meter.note(f"{method} h={h:.3g}" if h else method, method=method, h=h, x0=x0,
                   derivative=value, exact=exact, rel_error=abs(value - exact) / abs(exact))


def estimate(results) -> Estimates:
    est = Estimates()
    frame = results.frame.dropna(subset=["method"])
    ad = frame[frame.method.str.endswith("_ad")]
    est.add("ad_worst_rel_error", ad.rel_error.max())
    est.add("ad_worst_in_eps", ad.rel_error.max() / EPS)
    for name, rows in ad.groupby("function", sort=False):
        gap = abs(rows.derivative.iloc[0] - rows.derivative.iloc[-1]) / abs(rows.exact.iloc[0])
        est.add("ad_mode_gap", gap, function=name)
    for name in frame.function.unique():
        for call in ("jvp", "grad"):
            est.add("ad_time_over_f", results.ratio(call, "f", function=name), function=name,
                    method=call)
    for (name, scheme), rows in frame[~frame.method.str.endswith("_ad")].groupby(
            ["function", "method"], sort=False):
        best = rows.loc[rows.rel_error.idxmin()]
        est.add("best_rel_error", best.rel_error, function=name, scheme=scheme)
        est.add("best_h_observed", best.h, function=name, scheme=scheme)
        arms = {}
        for arm, part in (("truncation", rows[rows.h >= FIT_MARGIN * best.h]),
                          ("rounding", rows[rows.h <= best.h / FIT_MARGIN])):
            arms[arm] = fit_points(part.h, part.rel_error, draws=results.draws,
                                   seed=len(arms))
            est.add(f"{arm}_slope", arms[arm][1], function=name, scheme=scheme)
        (a1, b1), (a2, b2) = arms["truncation"], arms["rounding"]
        est.add("best_h_fitted", ((a2 - a1) / (b1 - b2)).apply(lambda v: 10.0 ** v),
                function=name, scheme=scheme)
        est.add("worst_rel_error", rows.rel_error.max(), function=name, scheme=scheme)
    for scheme, (_, _, h_theory) in THEORY.items():
        est.add("best_h_theory", Q.exact(h_theory), scheme=scheme)
    return est


HEADLINE = """\
- AD is exact to {{ E("ad_worst_in_eps").value | num(2) }} machine epsilons in
  both modes, while the best central difference is off by {{ E.all("best_rel_error",
  scheme="central_difference") | map(attribute="value") | min | num(2) }} (relative), and
  only at a step that has to be tuned to the function.
"""

FINDINGS = """\
- Forward and reverse AD are within {{ E("ad_worst_rel_error").value | num(2) }} relative
  error of the closed-form derivative for all {{ cfg.functions | length }} functions
  ({{ E("ad_worst_in_eps").value | num(2) }} machine epsilons at worst).
{% for scheme, words in [("central_difference", "Central"), ("forward_difference", "Forward")] %}
- {{ words }} differences reach at best {{ E.all("best_rel_error", scheme=scheme)
  | map(attribute="value") | min | num(2) }} relative error; the fitted arms meet at h from
  {{ E.all("best_h_fitted", scheme=scheme) | map(attribute="value") | min | num(2) }} to
  {{ E.all("best_h_fitted", scheme=scheme) | map(attribute="value") | max | num(2) }}
  (theory: near {{ E("best_h_theory", scheme=scheme).value | num(2) }}).
{% endfor %}
- At h = 1e-15 a finite difference is off by up to
  {{ E.all("worst_rel_error") | map(attribute="value") | max | num(2) }} relative error;
  AD has no step to tune.
"""

DETAILS = """\
## Finite differences: the two arms of the V

Slopes of log10(relative error) against log10(h), with 95% intervals from resampling the
points of each arm; the best step is where the two fitted lines meet.

{% set rows = [] %}
{% for e in E.all("truncation_slope") %}
{% set where = {"function": e.groups.function, "scheme": e.groups.scheme} %}
{% set _ = rows.append([e.groups.function, e.groups.scheme.replace("_", " "), e | ci,
   E("rounding_slope", **where) | ci, E("best_h_fitted", **where) | ci(2),
   E("best_h_theory", scheme=e.groups.scheme).value | num(2),
   E("best_rel_error", **where).value | num(2)]) %}
{% endfor %}
{{ table(rows, ["function", "scheme", "truncation slope", "rounding slope", "best h (fitted)",
                "best h (theory)", "best error"], "llrrrrr") | join("\\n") }}

Theory: truncation slope 1 (forward) or 2 (central), rounding slope -1.
"""


def draw_errors(ctx):
    frame = ctx.results.dropna(subset=["method"])
    names = list(frame.function.unique())
    cols = min(2, len(names))
    fig, axes = new_figure(math.ceil(len(names) / cols), cols, width=5.6, height=4.4)
    floor = EPS / 10
    for ax, name in zip(axes.ravel(), names):
        rows = frame[frame.function == name]
        for k, scheme in enumerate(DIFFERENCES):
            line = rows[rows.method == scheme].sort_values("h")
            ax.plot(line.h, np.maximum(line.rel_error, floor), label=scheme.replace("_", " "),
                    markersize=3, **style(k + 1))
        for k, mode in enumerate(("forward_ad", "reverse_ad")):
            error = float(rows[rows.method == mode].rel_error.iloc[0])
            ax.axhline(max(error, floor), linewidth=2, label=mode.replace("_", " "),
                       color=style(k * 3)["color"], linestyle=style(k * 3)["linestyle"])
        ax.axhline(EPS, color="gray", linestyle=":", linewidth=1, label="machine epsilon")
        ax.set(xscale="log", yscale="log", xlabel="step h", ylabel="relative error",
               title=f"{FUNCTIONS[name][0]} at x0 = {rows.x0.iloc[0]:g}")
        ax.invert_xaxis()
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    return fig


EXPERIMENT = Experiment(
    name="accuracy",
    title="Accuracy: AD against finite differences",
    summary=" ".join(__doc__.split("\n\n")[1].split()),
    presets={
        "quick": {"functions": list(FUNCTIONS), "steps_per_decade": 2, "replicates": 2,
                  "samples": 3, "draws": 400},
        "full": {"functions": list(FUNCTIONS), "steps_per_decade": 4, "replicates": 3,
                 "samples": 5},
    },
    cells=cells,
    measure=measure,
    estimate=estimate,
    findings=FINDINGS,
    headline=HEADLINE,
    details=DETAILS,
    figures=[FigureSpec(
        "error_vs_step", draw_errors,
        "Relative error of f'(x0) against the step h (decreasing to the right), for forward "
        "and central differences, with AD in both modes as flat lines (an exact result is "
        "drawn at eps/10). Preset {{ manifest.preset }}.")],
    namespace={"eps": EPS},
)

if __name__ == "__main__":
    sys.exit(main(EXPERIMENT))
