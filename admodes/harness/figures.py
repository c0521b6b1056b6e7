"""Figures through matplotlib's object API (never pyplot's global state or backend), in one
style: a colour-blind-safe palette (Okabe and Ito) with a line style per series, log axes
with ticks at the sizes measured, shaded intervals.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Okabe & Ito (2008), distinguishable with every common colour-vision deficiency
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


# the sentence every figure with intervals ends its caption with
BANDS = ("Preset {{ manifest.preset }}, {{ cfg.replicates }} replicates of {{ cfg.samples }} "
         "samples per cell; lines are medians, shaded bands 95% bootstrap intervals.")


@dataclass(frozen=True)
class FigureSpec:
    """A figure an experiment draws: ``draw(context) -> Figure`` (or None to skip it), saved
    as ``name``.png, shown with ``caption`` (a Jinja2 template over the same context);
    ``bands`` appends the sentence that says what the shaded bands are (``BANDS``)."""

    name: str
    draw: Callable[[Any], Any]
    caption: str
    bands: bool = False

    @property
    def template(self) -> str:
        return f"{self.caption.rstrip()} {BANDS}" if self.bands else self.caption


def style(k: int) -> dict[str, Any]:
    """Colour, line style and marker of series ``k``: distinct in colour AND in shape."""
    return {"color": PALETTE[k % len(PALETTE)], "linestyle": LINESTYLES[k % len(LINESTYLES)],
            "marker": MARKERS[k % len(MARKERS)]}


def new_figure(rows: int = 1, cols: int = 1, *, width: float = 6.0, height: float = 4.2,
               sharey: bool = False):
    """A Figure and its axes grid (always 2-D), laid out with constrained layout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=sharey)
    return fig, axes


def log2_axis(ax, which: str, sizes: Iterable[float], label: str) -> None:
    """A log2 axis with a tick at each measured size (every other one when crowded)."""
    sizes = sorted({float(s) for s in sizes if s > 0})
    step = 2 if len(sizes) > 8 else 1
    shown = sizes[::-1][::step][::-1]
    labels = [f"{int(s)}" if float(s).is_integer() else f"{s:g}" for s in shown]
    if which == "x":
        ax.set_xscale("log", base=2)
        ax.set_xticks(shown, labels)
        ax.set_xlabel(label)
    else:
        ax.set_yscale("log", base=2)
        ax.set_yticks(shown, labels)
        ax.set_ylabel(label)
    ax.minorticks_off()


def band(ax, x: Sequence[float], estimates: Sequence[Any], k: int, label: str,
         **line: Any):
    """A series of estimates (anything with value, low, high) as a line with markers and
    a shaded 95% interval."""
    s = {**style(k), "linewidth": 1.8, "markersize": 4, **line}
    values = [e.value for e in estimates]
    ax.plot(x, values, label=label, **s)
    lows = [e.low for e in estimates]
    highs = [e.high for e in estimates]
    if any(lo != hi for lo, hi in zip(lows, highs)):
        ax.fill_between(x, lows, highs, color=s["color"], alpha=0.18, linewidth=0)


def reference_line(ax, x: Sequence[float], y0: float, slope: float, label: str,
                   k: int = 6) -> None:
    """y = y0 * (x / x[0]) ** slope on log-log axes: a theory line to compare with."""
    if not x or not math.isfinite(y0):
        return
    xs = [x[0], x[-1]]
    ax.plot(xs, [y0, y0 * (xs[1] / xs[0]) ** slope], color=PALETTE[k % len(PALETTE)],
            linestyle=":", linewidth=1.2, label=label)


def png(fig, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (written into the run's folder by the harness)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
