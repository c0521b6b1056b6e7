"""How accurate the derivatives are: AD against finite differences over the step size h.

Finite differences trade two errors: truncation, which shrinks with h (like h for the
forward difference (f(x + h) - f(x)) / h, like h^2 for the central difference
(f(x + h) - f(x - h)) / 2h), and rounding, which grows like eps / h as h shrinks
(eps = 2.2e-16, float64's machine epsilon). On log-log axes the error is a V whose bottom
sits near h = sqrt(eps) (forward) or eps^(1/3) (central). Forward and reverse AD apply the
exact derivative rules in floating point, so their error is a few eps, whatever h might be.

For a few scalar functions with derivatives known in closed form, this script computes the
derivative at one point by ``jvp`` (forward), ``grad`` (reverse) and both finite
differences for h from 1e-1 to 1e-15, and the relative error of each against the closed
form. It fits the slopes of both arms of each V on log-log axes: the truncation arm on
h >= 100 * (best h), the rounding arm on h <= (best h) / 100.

Columns of ``results.csv`` (one row per derivative computed): ``experiment`` ("accuracy"),
``part`` ("scalar"), ``family`` (the function), ``mode`` (forward, reverse,
finite_difference), ``strategy`` (ad, forward_difference, central_difference),
``n_inputs`` and ``n_outputs`` (1), ``x0``, ``h`` (empty for AD), ``derivative``,
``exact``, ``abs_error``, ``rel_error`` (abs_error / |exact|), ``max_abs_error`` (= abs_error,
the column every experiment has).

Run ``python experiments/accuracy.py [--quick | --preset full] [--out DIR]``: it writes
``results.csv`` (row by row), ``summary.md`` and ``error_vs_step.png`` into DIR (default
``reports/accuracy``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
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
    markdown_table,
    merged_config,
    save_figure,
    write_atomic,
)

NAME = "accuracy"
EPS = float(np.finfo(np.float64).eps)

FULL_CONFIG: dict[str, Any] = {
    "functions": ["sin", "exp_over_sqrt", "runge", "x_to_the_x"],
    "steps_per_decade": 4,    # h = 10 ** (-k / steps_per_decade), from 1e-1 to 1e-15
    "checkpoint_csv": None,   # if a path: append each row there as soon as it is computed
}
QUICK_CONFIG: dict[str, Any] = {**FULL_CONFIG, "steps_per_decade": 2}
PRESETS: dict[str, dict[str, Any]] = {"quick": QUICK_CONFIG, "full": FULL_CONFIG}

COLUMNS = ["experiment", "part", "family", "mode", "strategy", "n_inputs", "n_outputs", "x0",
           "h", "derivative", "exact", "abs_error", "rel_error", "max_abs_error"]
# (truncation arm, rounding arm) slopes of the relative error against h
SCHEME_THEORY = {"forward_difference": (1.0, -1.0), "central_difference": (2.0, -1.0)}
BEST_STEP_THEORY = {"forward_difference": math.sqrt(EPS), "central_difference": EPS ** (1 / 3)}
FIT_MARGIN = 100.0  # fit each arm at least this factor in h away from the best step


@dataclass(frozen=True)
class TestFunction:
    """A scalar function, its derivative in closed form, and where to evaluate both."""

    name: str
    formula: str
    f: Callable[[Any], Any]
    derivative: Callable[[float], float]
    x0: float


def _exp_over_sqrt(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def _exp_over_sqrt_derivative(x: float) -> float:
    g = math.sin(x) ** 3 + math.cos(x) ** 3
    dg = 3 * math.sin(x) ** 2 * math.cos(x) - 3 * math.cos(x) ** 2 * math.sin(x)
    return math.exp(x) / math.sqrt(g) * (1 - dg / (2 * g))


FUNCTIONS: dict[str, TestFunction] = {t.name: t for t in [
    TestFunction("sin", "sin(x)", np.sin, math.cos, 1.0),
    TestFunction("exp_over_sqrt", "exp(x) / sqrt(sin(x)^3 + cos(x)^3)", _exp_over_sqrt,
                 _exp_over_sqrt_derivative, 1.5),
    TestFunction("runge", "1 / (1 + 25 x^2)", lambda x: 1.0 / (1.0 + 25.0 * x * x),
                 lambda x: -50.0 * x / (1.0 + 25.0 * x * x) ** 2, 0.3),
    TestFunction("x_to_the_x", "x^x", lambda x: x ** x,
                 lambda x: x ** x * (math.log(x) + 1.0), 2.0),
]}


def step_sizes(steps_per_decade: int) -> list[float]:
    """h = 10^(-1), ..., 10^(-15), ``steps_per_decade`` values per decade.

    Example:
        >>> step_sizes(1)[:3]
        [0.1, 0.01, 0.001]
    """
    count = 14 * steps_per_decade + 1
    return [float(10.0 ** -(1 + k / steps_per_decade)) for k in range(count)]


def forward_difference(f: Callable, x: float, h: float) -> float:
    """(f(x + h) - f(x)) / h."""
    return float((f(x + h) - f(x)) / h)


def central_difference(f: Callable, x: float, h: float) -> float:
    """(f(x + h) - f(x - h)) / (2 h)."""
    return float((f(x + h) - f(x - h)) / (2 * h))


def measure_function(test: TestFunction, steps: list[float]) -> list[dict[str, Any]]:
    """AD in both modes and both finite differences at every step, for one function."""
    exact = test.derivative(test.x0)
    base = {"experiment": NAME, "part": "scalar", "family": test.name, "n_inputs": 1,
            "n_outputs": 1, "x0": test.x0, "exact": exact}

    def row(mode: str, strategy: str, h: float, value: float) -> dict[str, Any]:
        error = abs(value - exact)
        return {**base, "mode": mode, "strategy": strategy, "h": h, "derivative": value,
                "abs_error": error, "rel_error": error / abs(exact), "max_abs_error": error}

    by_forward = float(admodes.jvp(test.f, (test.x0,), (1.0,))[1])
    by_reverse = float(admodes.grad(test.f)(test.x0))
    rows = [row("forward", "ad", math.nan, by_forward),
            row("reverse", "ad", math.nan, by_reverse)]
    for h in steps:
        rows.append(row("finite_difference", "forward_difference", h,
                        forward_difference(test.f, test.x0, h)))
        rows.append(row("finite_difference", "central_difference", h,
                        central_difference(test.f, test.x0, h)))
    return rows


def run(config: dict[str, Any] | None = None, *, show_progress: bool = True) -> pd.DataFrame:
    """Compute every derivative; one row per derivative (columns: ``COLUMNS``).

    ``config`` overrides keys of the full preset (``PRESETS["full"]``). The environment and
    the config are attached as ``df.attrs["environment"]`` and ``df.attrs["config"]``. On
    Ctrl-C the rows computed so far are returned with ``df.attrs["interrupted"] = True``.

    Example:
        >>> df = run({"functions": ["sin"], "steps_per_decade": 1}, show_progress=False)
        >>> bool(df[df.strategy == "ad"].rel_error.max() < 1e-15)
        True
    """
    cfg = merged_config(FULL_CONFIG, config)
    for name in cfg["functions"]:
        if name not in FUNCTIONS:
            raise ValueError(f"unknown function {name!r}; known: {sorted(FUNCTIONS)}")
    steps = step_sizes(cfg["steps_per_decade"])
    sink = RowSink(COLUMNS, cfg["checkpoint_csv"])
    env = environment()
    interrupted = sink.collect(list(cfg["functions"]),
                               lambda name: measure_function(FUNCTIONS[name], steps),
                               label=NAME, show_progress=show_progress, done="computed")
    used = {**cfg, "checkpoint_csv": str(cfg["checkpoint_csv"] or "")}
    return sink.frame(environment=env, config=used, interrupted=interrupted)


# -- analysis -----------------------------------------------------------------------------


def v_shapes(df: pd.DataFrame) -> pd.DataFrame:
    """Per function and finite-difference scheme: the best step and its error, and the
    fitted slopes of the truncation arm (h >= 100 * best h) and of the rounding arm
    (h <= best h / 100), next to the theory."""
    out = []
    fd = df[df["mode"] == "finite_difference"]
    for (family, scheme), rows in fd.groupby(["family", "strategy"], sort=False):
        best = rows.loc[rows.rel_error.idxmin()]
        truncation = rows[rows.h >= FIT_MARGIN * best.h]
        rounding = rows[rows.h <= best.h / FIT_MARGIN]
        theory_trunc, theory_round = SCHEME_THEORY[scheme]
        out.append({"family": family, "scheme": scheme, "best_h": best.h,
                    "best_h_theory": BEST_STEP_THEORY[scheme],
                    "best_rel_error": best.rel_error,
                    "truncation_slope": fit_slope(truncation.h, truncation.rel_error),
                    "truncation_theory": theory_trunc, "truncation_points": len(truncation),
                    "rounding_slope": fit_slope(rounding.h, rounding.rel_error),
                    "rounding_theory": theory_round, "rounding_points": len(rounding),
                    "worst_rel_error": rows.rel_error.max()})
    return pd.DataFrame(out, columns=[
        "family", "scheme", "best_h", "best_h_theory", "best_rel_error", "truncation_slope",
        "truncation_theory", "truncation_points", "rounding_slope", "rounding_theory",
        "rounding_points", "worst_rel_error"])


def findings(df: pd.DataFrame) -> list[str]:
    """The key results in plain sentences, generated from the numbers of ``run()``."""
    out: list[str] = []
    ad = df[df.strategy == "ad"]
    if ad.empty:
        return ["No derivative was computed."]
    worst = ad.rel_error.max()
    agree = ad.pivot_table(index="family", columns="mode", values="derivative")
    gap = float((agree.get("forward") - agree.get("reverse")).abs().max()) \
        if {"forward", "reverse"} <= set(agree.columns) else math.nan
    out.append(
        f"Forward and reverse AD are within {worst:.1e} relative error of the closed-form "
        f"derivative for all {ad.family.nunique()} functions ({worst / EPS:.1f} machine "
        f"epsilons at worst), and differ from each other by at most {gap:.1e}.")
    shapes = v_shapes(df)
    for scheme, words in (("central_difference", "Central differences"),
                          ("forward_difference", "Forward differences")):
        rows = shapes[shapes.scheme == scheme]
        if rows.empty:
            continue
        theory_trunc, theory_round = SCHEME_THEORY[scheme]
        out.append(
            f"{words} are at best {rows.best_rel_error.min():.1e} to "
            f"{rows.best_rel_error.max():.1e} relative error, at h from "
            f"{rows.best_h.min():.1e} to {rows.best_h.max():.1e} (theory: near "
            f"{BEST_STEP_THEORY[scheme]:.0e}); their error falls with slope "
            f"{rows.truncation_slope.median():.2f} above the best h (truncation, theory "
            f"{theory_trunc:.0f}) and rises with slope {rows.rounding_slope.median():.2f} "
            f"below it (rounding, theory {theory_round:.0f}), medians over the functions.")
    if len(shapes):
        ratio = shapes.best_rel_error.min() / max(worst, EPS)
        out.append(
            f"The best finite difference of any function is {ratio:,.0f} times less accurate "
            "than AD's worst, and reaching it needs h tuned to the function; at h = 1e-15 "
            f"the relative error reaches {shapes.worst_rel_error.max():.1e}.")
    if df.attrs.get("interrupted"):
        out.append("The run was interrupted: these numbers cover only the functions done.")
    return out


# -- figure and report --------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_errors(df: pd.DataFrame, path: Path) -> Path | None:
    """One panel per function: relative error against h for both finite differences (with
    the fitted slopes of each arm), and AD's error in both modes as flat lines (an exact
    result is drawn at eps / 10)."""
    families = list(df.family.unique())
    if not families:
        return None
    plt = _pyplot()
    columns = min(2, len(families))
    rows_count = math.ceil(len(families) / columns)
    fig, axes = plt.subplots(rows_count, columns, figsize=(6.4 * columns, 5.6 * rows_count),
                             squeeze=False)
    floor = EPS / 10
    shapes = v_shapes(df).set_index(["family", "scheme"])
    for ax, family in zip(axes.ravel(), families):
        rows = df[df.family == family]
        for scheme, color, marker in (("forward_difference", "tab:orange", "o"),
                                      ("central_difference", "tab:green", "s")):
            line = rows[rows.strategy == scheme].sort_values("h")
            if line.empty:
                continue
            fit = shapes.loc[(family, scheme)]
            label = (f"{scheme.replace('_', ' ')}: slopes {fit.truncation_slope:.2f} "
                     f"/ {fit.rounding_slope:.2f}")
            ax.plot(line.h, np.maximum(line.rel_error, floor), color=color, marker=marker,
                    markersize=3.5, label=label)
        for mode, dash in (("forward", "-"), ("reverse", "--")):
            hit = rows[(rows.strategy == "ad") & (rows["mode"] == mode)]
            if len(hit):
                error = float(hit.rel_error.iloc[0])
                label = f"{mode} AD: {error:.1e}" if error > 0 else f"{mode} AD: exact"
                ax.axhline(max(error, floor), color="tab:blue" if mode == "forward"
                           else "tab:red", linestyle=dash, linewidth=2, label=label)
        ax.axhline(EPS, color="gray", linestyle=":", linewidth=1, label="machine epsilon")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("step h (decreasing to the right)")
        ax.set_ylabel("relative error of f'(x0)")
        formula = FUNCTIONS[family].formula if family in FUNCTIONS else family
        ax.set_title(f"{formula} at x0 = {rows.x0.iloc[0]:g}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_ylim(bottom=floor / 10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    for ax in axes.ravel()[len(families):]:
        ax.set_visible(False)
    fig.suptitle("Finite differences: truncation / rounding slopes (theory: forward 1 / -1, "
                 "central 2 / -1); exact results drawn at eps/10", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def _scientific(value: float) -> str:
    return f"{value:.1e}"


def _two_decimals(value: float) -> str:
    return f"{value:.2f}"


def _integer(value: float) -> str:
    return f"{value:.0f}"


def _markdown(df: pd.DataFrame, env: dict[str, Any], cfg: dict[str, Any]) -> str:
    lines = ["# Accuracy: AD against finite differences", ""]
    if df.attrs.get("interrupted"):
        lines += ["**Interrupted run: only the functions done are included.**", ""]
    lines += ["## Findings", ""] + [f"- {s}" for s in findings(df)] + [""]
    ad = df[df.strategy == "ad"]
    if len(ad):
        lines += ["## AD", ""]
        shown = pd.DataFrame({"function": ad.family.map(
            lambda n: FUNCTIONS[n].formula if n in FUNCTIONS else n), "x0": ad.x0,
            "mode": ad["mode"], "derivative": ad.derivative, "exact": ad.exact,
            "relative error": ad.rel_error})
        lines += markdown_table(shown, {"derivative": lambda v: f"{v:.17g}",
                                        "exact": lambda v: f"{v:.17g}",
                                        "relative error": _scientific}) + [""]
    shapes = v_shapes(df)
    if len(shapes):
        lines += [
            "## Finite differences: the V", "",
            f"Relative error against h; the truncation arm is fitted on h >= {FIT_MARGIN:g} "
            f"x best h, the rounding arm on h <= best h / {FIT_MARGIN:g} (log-log least "
            "squares).", ""]
        shown = pd.DataFrame({
            "function": shapes.family, "scheme": shapes.scheme, "best h": shapes.best_h,
            "theory h": shapes.best_h_theory, "best error": shapes.best_rel_error,
            "truncation slope": shapes.truncation_slope,
            "theory": shapes.truncation_theory, "rounding slope": shapes.rounding_slope,
            "theory ": shapes.rounding_theory})
        lines += markdown_table(shown, {
            "best h": _scientific, "theory h": _scientific, "best error": _scientific,
            "truncation slope": _two_decimals, "rounding slope": _two_decimals,
            "theory": _integer, "theory ": _integer}) + [""]
    lines += [
        "## Setup", "",
        f"- h from 1e-1 to 1e-15, {cfg['steps_per_decade']} per decade; float64 "
        f"(eps = {EPS:.2e}); forward AD = `jvp(f, (x0,), (1.0,))`, reverse AD = "
        "`grad(f)(x0)`.",
        f"- admodes {env.get('admodes_version')}, numpy {env.get('numpy_version')}, Python "
        f"{env.get('python_version')}; CPU {env.get('cpu_model')}; git "
        f"{env.get('git_commit')}; {env.get('date')}.", ""]
    return "\n".join(lines)


def write_report(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write results.csv, summary.md and error_vs_step.png into ``out_dir``; return the
    paths.

    Example:
        >>> paths = write_report(run(PRESETS["quick"]), "reports/accuracy")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = df.attrs.get("environment") or environment()
    cfg = {**FULL_CONFIG, **df.attrs.get("config", {})}
    paths = [out / "results.csv", out / "summary.md"]
    write_atomic(paths[0], df.to_csv(index=False))
    write_atomic(paths[1], _markdown(df, env, cfg))
    figure = plot_errors(df, out / "error_vs_step.png")
    if figure is not None:
        paths.append(figure)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python experiments/accuracy.py [--quick | --preset P] [--out DIR]``."""
    args = experiment_args(
        argv, description=__doc__.splitlines()[0], name=NAME, presets=PRESETS,
        preset_help="2 (quick) or 4 (full) step sizes per decade; default full")
    df = run({**PRESETS[args.preset], "checkpoint_csv": args.out / "results.csv"})
    return announce(df, write_report(df, args.out), findings(df))


if __name__ == "__main__":
    sys.exit(main())
