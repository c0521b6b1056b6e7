"""The vocabulary of the per-op test tables (``specs_*.py``): input domains and cases.

A ``Case`` says how user code reaches an op and where its inputs are sampled; ``spec``
builds one. The tables live in ``specs_*.py`` files (one per group of ops), each defining
``SPECS`` (op name -> cases) and optionally ``DOMAINS`` and ``APART`` for the default case
an elementwise or nondiff op gets from its ufunc; ``test_ops.py`` merges them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Shape = tuple[int, ...]

# -- input domains --------------------------------------------------------------------


@dataclass(frozen=True)
class Uniform:
    """Uniform in (lo, hi)."""

    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        return rng.uniform(self.lo, self.hi, shape)

    @property
    def constant(self) -> float:
        """A Python float inside the domain, for cases that mix in a constant."""
        return round(self.lo + 0.7 * (self.hi - self.lo), 2)


@dataclass(frozen=True)
class AwayFromZero:
    """|x| in (lo, hi) with a random sign: for a kink or a pole at zero."""

    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        return rng.uniform(self.lo, self.hi, shape) * rng.choice([-1.0, 1.0], shape)

    @property
    def constant(self) -> float:
        return -round((self.lo + self.hi) / 2, 2)


@dataclass(frozen=True)
class Distinct:
    """Values at least 0.15 apart, so max and min never see a tie."""

    def draw(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        n = math.prod(shape)
        ranks = rng.permutation(n) - n / 2
        return (0.25 * ranks + rng.uniform(-0.05, 0.05, n)).reshape(shape)

    constant = 0.3


@dataclass(frozen=True)
class SomeZeros:
    """Uniform in (-1.5, 1.5) with about a third of the entries exactly 0 (for prod,
    whose rule special-cases zeros although prod is smooth there)."""

    def draw(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        x = rng.uniform(-1.5, 1.5, shape)
        return np.where(rng.random(shape) < 0.35, 0.0, x)

    constant = 0.0


Domain = Uniform | AwayFromZero | Distinct | SomeZeros
STD = Uniform(-1.5, 1.5)
POSITIVE = Uniform(0.3, 2.0)
NONZERO = AwayFromZero(0.3, 2.0)
UNIT = Uniform(-0.9, 0.9)


# -- the case table -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One way user code reaches an op: ``fn`` of float arrays, and where to sample them.

    Everything that is not a differentiated float input (axes, indices, conditions)
    lives inside ``fn``.
    """

    label: str  # the user code, as a reader would write it
    fn: Callable[..., Any]
    shapes: Sequence[tuple[Shape, ...]]  # one tuple of argument shapes per call
    domains: tuple[Domain, ...]
    apart: Callable[..., bool] | None = None  # inputs far enough from every kink
    elementwise: bool = False  # any mutually broadcastable argument shapes will do
    single: bool = False  # computes in float32 inside: finite differences are coarser


def spec(label: str, fn: Callable, shapes: Sequence[tuple[Shape, ...]], *domains: Domain,
         apart: Callable[..., bool] | None = None, elementwise: bool = False,
         single: bool = False) -> Case:
    """A Case; with no domains, every argument is drawn from STD."""
    domains = domains or (STD,) * len(shapes[0])
    assert all(len(s) == len(domains) for s in shapes), label
    return Case(label, fn, shapes, tuple(domains), apart, elementwise, single)


def each(*shapes: Shape) -> list[tuple[Shape]]:
    """Argument shapes for a one-argument case."""
    return [(s,) for s in shapes]


UNARY = each((), (5,), (2, 3))
BINARY = [((), ()), ((4,), (4,)), ((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (3,)),
          ((), (2, 2)), ((2, 2), ()), ((2, 1, 3), (4, 1))]
TERNARY = [((), (), ()), ((2, 3), (2, 3), (2, 3)), ((3, 1), (1, 4), ()),
           ((2, 3), (3,), (2, 1))]
SHAPES_BY_ARITY = {1: UNARY, 2: BINARY, 3: TERNARY}


def _far_apart(x: Any, y: Any) -> bool:
    return bool(np.all(np.abs(x - y) > 0.05))


def _clip_far_apart(x: Any, lo: Any, hi: Any) -> bool:
    return _far_apart(x, lo) and _far_apart(x, hi)


# Domains of the elementwise ops whose default (ufunc) spec needs them, one per argument.
