"""Estimates with intervals: every derived number carries its bootstrap draws.

A ``Q`` (quantity) is a point value and B bootstrap draws of it. Timings become Q's by
resampling their samples (replicates first, then the samples within each replicate), and
everything derived from them (ratios, slopes, fitted constants, crossovers) is computed
draw by draw, so its 95% interval is the 2.5th to 97.5th percentile of its draws. A count
is a Q whose draws are all equal: its interval has zero width.

Example:
    >>> import numpy as np
    >>> a = Q.of_samples({0: [1.0, 1.1, 0.9], 1: [1.0, 1.05]}, draws=200, seed=0)
    >>> b = Q.exact(2.0)
    >>> r = a / b
    >>> round(r.value, 3), r.low <= r.value <= r.high
    (0.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95


class Q:
    """A point value with bootstrap draws; arithmetic applies to both."""

    __slots__ = ("value", "draws", "n")

    def __init__(self, value: float, draws: np.ndarray, n: int = 1) -> None:
        self.value = float(value)
        self.draws = np.asarray(draws, dtype=float)
        self.n = int(n)  # how many observations it rests on

    # -- making one -----------------------------------------------------------------------
    @classmethod
    def exact(cls, value: float, draws: int = 1, n: int = 1) -> Q:
        """A number without sampling error (a count, a configured size)."""
        return cls(value, np.full(draws, float(value)), n)

    @classmethod
    def of_samples(cls, by_replicate: Mapping[Any, Sequence[float]], *, draws: int,
                   seed: int | np.random.Generator = 0, stat: str = "median") -> Q:
        """The median (or ``stat`` "min") of samples grouped by replicate, with draws from
        a two-stage bootstrap: replicates with replacement, then samples within each."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        groups = [np.asarray(v, dtype=float) for v in by_replicate.values() if len(v)]
        if not groups:
            return cls(math.nan, np.full(draws, math.nan), 0)
        pooled = np.concatenate(groups)
        reduce = np.median if stat == "median" else np.min
        value = reduce(pooled)
        size = max(len(g) for g in groups)
        # pad to a rectangle; each draw picks replicates, then positions within them
        table = np.full((len(groups), size), np.nan)
        lengths = np.array([len(g) for g in groups])
        for i, g in enumerate(groups):
            table[i, : len(g)] = g
        picked = rng.integers(0, len(groups), (draws, len(groups)))
        positions = (rng.random((draws, len(groups), size)) * lengths[picked][..., None])
        resampled = table[picked[..., None], positions.astype(int)]
        flat = resampled.reshape(draws, -1)
        draws_out = np.nanmedian(flat, axis=1) if stat == "median" else np.nanmin(flat, axis=1)
        return cls(value, draws_out, len(pooled))

    # -- reading one ----------------------------------------------------------------------
    @property
    def low(self) -> float:
        return _percentile(self.draws, 50 * (1 - CONFIDENCE), self.value)

    @property
    def high(self) -> float:
        return _percentile(self.draws, 100 - 50 * (1 - CONFIDENCE), self.value)

    def compare(self, threshold: float) -> str:
        """"above", "below", or "not distinguishable from" ``threshold`` at 95%."""
        return compare(self.low, self.high, threshold)

    def __repr__(self) -> str:
        return f"Q({self.value:.4g} [{self.low:.4g}, {self.high:.4g}], n={self.n})"

    # -- arithmetic, draw by draw ----------------------------------------------------------
    def _op(self, other: Any, fn: Callable[[Any, Any], Any]) -> Q:
        if isinstance(other, Q):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return Q(fn(self.value, other.value), fn(self.draws, other.draws),
                         min(self.n, other.n))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return Q(fn(self.value, other), fn(self.draws, other), self.n)

    def __add__(self, other: Any) -> Q:
        return self._op(other, lambda a, b: a + b)

    def __sub__(self, other: Any) -> Q:
        return self._op(other, lambda a, b: a - b)

    def __mul__(self, other: Any) -> Q:
        return self._op(other, lambda a, b: a * b)

    def __truediv__(self, other: Any) -> Q:
        return self._op(other, lambda a, b: np.divide(a, b))

    def __rtruediv__(self, other: Any) -> Q:
        return self._op(other, lambda a, b: np.divide(b, a))

    def __rsub__(self, other: Any) -> Q:
        return self._op(other, lambda a, b: b - a)

    def __neg__(self) -> Q:
        return self._op(-1.0, lambda a, b: a * b)

    __radd__ = __add__
    __rmul__ = __mul__

    def apply(self, fn: Callable[[Any], Any]) -> Q:
        """``fn`` of the value and of every draw (``fn`` must accept arrays)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return Q(fn(np.float64(self.value)), fn(self.draws), self.n)


def compare(low: float, high: float, threshold: float) -> str:
    """Where an interval [low, high] lies against ``threshold``: "above", "below", or "not
    distinguishable from" it when it contains it."""
    if low > threshold:
        return "above"
    if high < threshold:
        return "below"
    return "not distinguishable from"


def _percentile(draws: np.ndarray, q: float, fallback: float) -> float:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return fallback
    return float(np.percentile(finite, q))


def stack(qs: Sequence[Q]) -> tuple[np.ndarray, np.ndarray]:
    """The values (k,) and the draws (B, k) of k quantities with equally many draws."""
    values = np.array([q.value for q in qs], dtype=float)
    draws = np.column_stack([q.draws for q in qs]) if qs else np.empty((0, 0))
    return values, draws


# -- fits ------------------------------------------------------------------------------


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares intercept and slope of y (..., k) against x (k,) or (..., k), along
    the last axis, ignoring points whose y is not finite."""
    y = np.asarray(y, dtype=float)
    x = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
    mask = np.isfinite(y)
    xs = np.where(mask, x, 0.0)
    count = mask.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = xs.sum(axis=-1) / count
        my = np.where(mask, y, 0.0).sum(axis=-1) / count
        dx = np.where(mask, x - mx[..., None], 0.0)
        dy = np.where(mask, y - my[..., None], 0.0)
        slope = (dx * dy).sum(axis=-1) / (dx * dx).sum(axis=-1)
    return my - slope * mx, slope


def linear_fit(x: Iterable[float], ys: Sequence[Q]) -> tuple[Q, Q]:
    """Intercept a and slope b of y = a + b x (least squares), with intervals."""
    x = np.asarray(list(x), dtype=float)
    values, draws = stack(ys)
    a, b = _line(x, values)
    a_draws, b_draws = _line(x, draws)
    n = len(ys)
    return Q(a, a_draws, n), Q(b, b_draws, n)


def fit_points(x: Iterable[float], y: Iterable[float], *, draws: int, seed: int = 0,
               log: bool = True) -> tuple[Q, Q]:
    """Intercept and slope of a line through fixed points (x, y) (on log10-log10 axes when
    ``log``), with intervals from resampling the points (a pairs bootstrap): for
    deterministic data whose scatter is the uncertainty, like rounding errors."""
    x, y = np.asarray(list(x), dtype=float), np.asarray(list(y), dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            x, y = np.log10(x), np.log10(np.where(y > 0, y, np.nan))
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        nan = Q(math.nan, np.full(draws, math.nan), int(x.size))
        return nan, nan
    a, b = _line(x, y)
    picks = np.random.default_rng(seed).integers(0, x.size, (draws, x.size))
    a_draws, b_draws = _line(x[picks], y[picks])
    return Q(a, a_draws, x.size), Q(b, b_draws, x.size)


def log_slope(x: Iterable[float], ys: Sequence[Q]) -> Q:
    """p in y ~ x ** p: the least-squares slope of log2 y against log2 x, with interval.
    Points with y <= 0 carry no log and are left out."""
    x = np.log2(np.asarray(list(x), dtype=float))
    logs = [q.apply(lambda v: np.log2(np.where(v > 0, v, np.nan))) for q in ys]
    values, draws = stack(logs)
    _, b = _line(x, values)
    _, b_draws = _line(x, draws)
    return Q(b, b_draws, len(ys))


def crossing(x: Sequence[float], ys: Sequence[Q], *, log_x: bool = True) -> Q:
    """The x where y first falls from > 0 to <= 0 along increasing x (interpolated on log2
    x): 0 when y <= 0 already at the first x, inf when it never falls; with interval."""
    xs = np.asarray(x, dtype=float)
    pos = np.log2(xs) if log_x else xs
    values, draws = stack(ys)

    def one(y: np.ndarray) -> float:
        if y.size == 0 or not np.isfinite(y[0]):
            return math.nan
        if y[0] <= 0:
            return 0.0
        for k in range(1, len(y)):
            if y[k] <= 0:
                frac = y[k - 1] / (y[k - 1] - y[k])
                p = pos[k - 1] + frac * (pos[k] - pos[k - 1])
                return float(2 ** p) if log_x else float(p)
        return math.inf

    return Q(one(values), np.array([one(row) for row in draws]), len(ys))


def over_cells(qs: Sequence[Q], seed: int = 0) -> Q:
    """The median over several cells' quantities, whose draws resample the cells too: its
    interval covers their spread over the grid as well as each one's noise."""
    values, draws = stack(qs)
    picks = np.random.default_rng(seed).integers(0, len(qs), draws.shape)
    return Q(float(np.median(values)), np.median(np.take_along_axis(draws, picks, 1), 1),
             len(qs))


def median_of(qs: Sequence[Q]) -> Q:
    """The median over several quantities, draw by draw."""
    values, draws = stack(qs)
    return Q(float(np.median(values)), np.median(draws, axis=1), len(qs))
