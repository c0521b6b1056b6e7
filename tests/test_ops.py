"""Per-op derivative tests: every op in ``admodes.OPS``, reached through plain numpy code.

``SPECS`` says, for each registered op, how user code calls it and where its inputs are
sampled. Elementwise and nondiff ops get a default spec from their ufunc (``op.ufunc``), so
for them only a domain may need overriding (``DOMAINS``, ``APART``); ``SPECS`` then adds
other spellings (operators, methods, Python float constants). ``test_op`` is parametrised
over every entry of ``admodes.OPS`` and every check its form calls for, so a newly
registered op is tested, or reported as missing a spec, without new test code.

The checks of a differentiable op, on float64 inputs of several shapes:

- ``jvp_fd``: the JVP against central finite differences in a random direction (and the
  case really applies the op: a spec that misses its op fails);
- ``vjp_adjoint``: the VJP against the JVP, by ``<u, J v> == <J^T u, v>``;
- ``jacobians``: jacfwd and jacrev, vectorized and looped, agree;
- ``second_order``: the JVP of a VJP function (forward over reverse) against finite
  differences of that VJP function, and the VJP of a JVP function (reverse over forward)
  against it by the symmetry of second derivatives;
- ``float32``: float32 inputs, with Python float constants mixed in, keep numpy's float32
  results, and give float32 tangents and cotangents close to the float64 ones.

A ``nondiff`` op must hand back plain (untraced) values and contribute no derivative.
"""

from __future__ import annotations

import itertools
import math
import traceback
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import admodes
from admodes import OPS
from admodes.core import Tracer
from admodes.numpy_api import index_params

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
DOMAINS: dict[str, tuple[Domain, ...]] = {
    "true_divide": (STD, NONZERO),
    "power": (POSITIVE, Uniform(-2.0, 2.0)),
    "sqrt": (POSITIVE,),
    "log": (POSITIVE,),
    "log1p": (Uniform(-0.5, 2.0),),
    "tan": (Uniform(-1.2, 1.2),),
    "arcsin": (UNIT,),
    "arccos": (UNIT,),
    "abs": (AwayFromZero(0.2, 1.5),),
}
# Elementwise ops with a kink where two inputs meet: sample them apart.
APART: dict[str, Callable[..., bool]] = {"maximum": _far_apart, "minimum": _far_apart}


def _checkerboard(*arrays: Any) -> np.ndarray:
    """A boolean condition of the arrays' broadcast shape (concrete, never traced)."""
    shape = np.broadcast_shapes(*[np.shape(a) for a in arrays])
    return np.indices(shape).sum(axis=0) % 2 == 0


ROW_MASK = np.array([True, False, False, True])
MASK_4x5 = np.arange(20).reshape(4, 5) % 3 == 0
W_4x2 = np.linspace(-1.0, 1.0, 8).reshape(4, 2)


def reduction_specs(func: Callable, domain: Domain) -> list[Case]:
    """np.sum-like reductions: axis None, int, negative, tuple, empty tuple; keepdims."""
    name = func.__name__

    def method(x, **kw):
        return getattr(x, name)(**kw)

    return [
        spec(f"np.{name}(x)", lambda x: func(x), each((), (5,), (2, 3)), domain),
        spec(f"np.{name}(x, axis=1, keepdims=True)",
             lambda x: func(x, axis=1, keepdims=True), each((2, 3), (2, 3, 4)), domain),
        spec(f"x.{name}(axis=-1)", lambda x: method(x, axis=-1), each((4,), (2, 3)), domain),
        spec(f"np.{name}(x, axis=(0, 2))", lambda x: func(x, axis=(0, 2)),
             each((2, 3, 4)), domain),
        spec(f"x.{name}(axis=(-1, 0), keepdims=True)",
             lambda x: method(x, axis=(-1, 0), keepdims=True), each((2, 3, 4), (3, 2)),
             domain),
        spec(f"np.{name}(x, axis=())", lambda x: func(x, axis=()), each((2, 3)), domain),
    ]


def getitem_spec(label: str, key: Any, *shapes: Shape) -> Case:
    return spec(label, lambda x: x[key], each(*shapes))


def scatter_add_spec(label: str, in_shape: Shape, key: Any) -> Case:
    """scatter_add has no numpy spelling (it is getitem's transpose): call the op."""
    params = index_params(in_shape, key)
    ct_shape = np.zeros(in_shape)[key].shape

    def fn(ct):
        return OPS["scatter_add"](ct, idx=params["idx"], in_shape=in_shape,
                                  out_ndim=params["out_ndim"], adv=params["adv"],
                                  basic=params["basic"])

    return spec(label, fn, each(ct_shape))


MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)),
                 ((2, 3, 4), (4, 2)), ((2, 3, 4), (2, 4, 2)), ((4,), (2, 4, 3)),
                 ((2, 3, 4), (4,)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 2))]

# How user code reaches each op. For elementwise and nondiff ops these cases come on top
# of the default one built from the ufunc.
SPECS: dict[str, list[Case]] = {
    "add": [
        spec("x + y", lambda x, y: x + y, BINARY, elementwise=True),
        spec("0.5 + x", lambda x: 0.5 + x, UNARY),
    ],
    "subtract": [
        spec("x - y", lambda x, y: x - y, BINARY, elementwise=True),
        spec("1.0 - x", lambda x: 1.0 - x, UNARY),
    ],
    "multiply": [
        spec("x * y", lambda x, y: x * y, BINARY, elementwise=True),
        spec("2.0 * x", lambda x: 2.0 * x, UNARY),
    ],
    "true_divide": [
        spec("x / y", lambda x, y: x / y, BINARY, STD, NONZERO, elementwise=True),
        spec("1.0 / x", lambda x: 1.0 / x, UNARY, NONZERO),
        spec("x / 4.0", lambda x: x / 4.0, UNARY),
        spec("np.reciprocal(x)", lambda x: np.reciprocal(x), UNARY, NONZERO),
    ],
    "negative": [spec("-x", lambda x: -x, UNARY)],
    "power": [
        spec("x ** y", lambda x, y: x ** y, BINARY, POSITIVE, Uniform(-2.0, 2.0),
             elementwise=True),
        spec("x ** 2.5", lambda x: x ** 2.5, UNARY, POSITIVE),
        spec("x ** 3", lambda x: x ** 3, UNARY),
        spec("x ** -1.5", lambda x: x ** -1.5, UNARY, POSITIVE),
        spec("x ** 0.0", lambda x: x ** 0.0, UNARY, POSITIVE),
        spec("2.0 ** x", lambda x: 2.0 ** x, UNARY),
    ],
    "square": [spec("x ** 2", lambda x: x ** 2, UNARY)],
    "exp": [spec("np.exp2(x)", lambda x: np.exp2(x), UNARY)],
    "log": [spec("np.log2(x)", lambda x: np.log2(x), UNARY, POSITIVE)],
    "abs": [spec("abs(x)", lambda x: abs(x), UNARY, AwayFromZero(0.2, 1.5))],
    "maximum": [spec("np.fmax(x, y)", lambda x, y: np.fmax(x, y), BINARY, apart=_far_apart)],
    "minimum": [spec("np.fmin(x, y)", lambda x, y: np.fmin(x, y), BINARY, apart=_far_apart)],
    "where": [
        spec("np.where(checkerboard, x, y)", lambda x, y: np.where(_checkerboard(x, y), x, y),
             BINARY, elementwise=True),
        spec("np.where(row_mask, x, 0.0)", lambda x: np.where(ROW_MASK, x, 0.0),
             each((), (4,), (3, 4))),
        spec("np.where(row_mask, 2.5, x)", lambda x: np.where(ROW_MASK, 2.5, x),
             each((4,), (2, 1))),
        spec("np.where(x > 0, x, 0.1 * x)", lambda x: np.where(x > 0, x, 0.1 * x), UNARY,
             AwayFromZero(0.2, 1.5)),
    ],
    "clip": [
        spec("np.clip(x, lo, hi)", lambda x, lo, hi: np.clip(x, lo, hi), TERNARY,
             STD, Uniform(-1.0, -0.3), Uniform(0.3, 1.0), apart=_clip_far_apart,
             elementwise=True),
        spec("np.clip(x, -0.5, 0.5)", lambda x: np.clip(x, -0.5, 0.5), UNARY,
             apart=lambda x: _clip_far_apart(x, -0.5, 0.5)),
        spec("x.clip(-0.5)", lambda x: x.clip(-0.5), UNARY,
             apart=lambda x: _far_apart(x, -0.5)),
        spec("np.clip(x, None, 0.5)", lambda x: np.clip(x, None, 0.5), UNARY,
             apart=lambda x: _far_apart(x, 0.5)),
    ],
    # np.argmax and x.argmax are answered on the concrete values (numpy_api._on_concrete)
    # and never reach these ops, so the ops are called directly.
    "argmax": [
        spec("OPS['argmax'](x, axis=-1)", lambda x: OPS["argmax"](x, axis=-1),
             each((4,), (2, 3))),
        spec("OPS['argmax'](x)", lambda x: OPS["argmax"](x), each((2, 3))),
    ],
    "argmin": [
        spec("OPS['argmin'](x, axis=0)", lambda x: OPS["argmin"](x, axis=0),
             each((4,), (2, 3))),
    ],
    "sum": reduction_specs(np.sum, STD),
    "mean": reduction_specs(np.mean, STD),
    "max": reduction_specs(np.max, Distinct()),
    "min": reduction_specs(np.min, Distinct()),
    "prod": reduction_specs(np.prod, SomeZeros()) + [
        spec("np.prod(x, axis=0) away from zero", lambda x: np.prod(x, axis=0),
             each((3,), (3, 2)), NONZERO),
    ],
    "reshape": [
        spec("x.reshape(-1)", lambda x: x.reshape(-1), each((2, 3), (2, 1, 2))),
        spec("np.reshape(x, (3, 2))", lambda x: np.reshape(x, (3, 2)), each((2, 3), (6,))),
        spec("x.reshape(2, -1)", lambda x: x.reshape(2, -1), each((6,), (4,))),
        spec("np.reshape(x, ())", lambda x: np.reshape(x, ()), each((1,), (1, 1))),
        spec("np.expand_dims(x, (0, -1))", lambda x: np.expand_dims(x, (0, -1)),
             each((), (3,))),
        spec("np.squeeze(x)", lambda x: np.squeeze(x), each((1, 3, 1))),
        spec("x.ravel()", lambda x: x.ravel(), each((2, 2))),
        spec("x.flatten()", lambda x: x.flatten(), each((3, 1, 2))),
    ],
    "transpose": [
        spec("x.T", lambda x: x.T, each((2, 3), (2, 3, 4))),
        spec("np.transpose(x, (1, 2, 0))", lambda x: np.transpose(x, (1, 2, 0)),
             each((2, 3, 4))),
        spec("np.swapaxes(x, 0, -1)", lambda x: np.swapaxes(x, 0, -1), each((2, 3), (2, 1, 3))),
        spec("np.moveaxis(x, 0, -1)", lambda x: np.moveaxis(x, 0, -1), each((2, 3, 4))),
        spec("x.transpose()", lambda x: x.transpose(), each((3, 2))),
    ],
    "broadcast_to": [
        spec("np.broadcast_to(x, (3, 4))", lambda x: np.broadcast_to(x, (3, 4)),
             each((), (4,), (3, 1), (1, 4))),
        spec("np.broadcast_to(x, (2, 3, 4))", lambda x: np.broadcast_to(x, (2, 3, 4)),
             each((3, 1), (2, 1, 4))),
    ],
    "astype": [
        spec("x.astype(np.float32)", lambda x: x.astype(np.float32), UNARY, single=True),
        spec("x.astype(np.float32).astype(np.float64)",
             lambda x: x.astype(np.float32).astype(np.float64), UNARY, single=True),
    ],
    "concatenate": [
        spec("np.concatenate([x, y])", lambda x, y: np.concatenate([x, y]),
             [((2,), (3,)), ((2, 3), (1, 3))]),
        spec("np.concatenate([x, y], axis=1)", lambda x, y: np.concatenate([x, y], axis=1),
             [((2, 3), (2, 1)), ((2, 1, 2), (2, 3, 2))]),
        spec("np.concatenate([x, y, x], axis=-1)",
             lambda x, y: np.concatenate([x, y, x], axis=-1), [((2, 3), (2, 2))]),
        spec("np.concatenate([x, y], axis=None)",
             lambda x, y: np.concatenate([x, y], axis=None), [((2, 3), (4,))]),
        spec("np.concatenate([x, constant], axis=1)",
             lambda x: np.concatenate([x, np.full((2, 2), 0.5)], axis=1), each((2, 3))),
        spec("np.stack([x, y])", lambda x, y: np.stack([x, y]), [((3,), (3,)), ((), ())]),
        spec("np.stack([x, y, x], axis=-1)", lambda x, y: np.stack([x, y, x], axis=-1),
             [((2, 3), (2, 3))]),
    ],
    "getitem": [
        getitem_spec("x[1:3, ::-1]", (slice(1, 3), slice(None, None, -1)), (4, 5, 3), (4, 5)),
        getitem_spec("x[::-2, 1]", (slice(None, None, -2), 1), (4, 5, 3)),
        getitem_spec("x[None, ..., 0]", (None, Ellipsis, 0), (4, 5, 3), (3,)),
        getitem_spec("x[..., None, 1:]", (Ellipsis, None, slice(1, None)), (4, 5, 3)),
        getitem_spec("x[-1]", -1, (4,), (4, 5, 3)),
        getitem_spec("x[()]", (), (), (3,)),
        getitem_spec("x[np.int64(2)]", np.int64(2), (4,)),
        getitem_spec("x[mask_4x5]", MASK_4x5, (4, 5), (4, 5, 3)),
        getitem_spec("x[row_mask]", ROW_MASK, (4,), (4, 5, 3)),
        getitem_spec("x[[0, 2, 2, 0]] (repeated)", [0, 2, 2, 0], (4,), (4, 5, 3)),
        getitem_spec("x[:, [1, 1, 3]]", (slice(None), [1, 1, 3]), (4, 5, 3), (2, 5)),
        getitem_spec("x[[0, 1], :, [1, 0]] (non-adjacent)",
                     ([0, 1], slice(None), [1, 0]), (4, 5, 3)),
        getitem_spec("x[[0, 1, 1], None, [1, 0, 0]] (non-adjacent)",
                     ([0, 1, 1], None, [1, 0, 0]), (4, 5, 3)),
        getitem_spec("x[1, :, [0, 2, 2]] (int and array apart)",
                     (1, slice(None), [0, 2, 2]), (4, 5, 3)),
        getitem_spec("x[0, [1, 2]]", (0, [1, 2]), (4, 5, 3)),
        getitem_spec("x[[[0], [3]], [[1, 2, 1]]] (2-D index arrays)",
                     ([[0], [3]], [[1, 2, 1]]), (4, 5), (4, 5, 3)),
        getitem_spec("x[np.array([3, -1]), 1:4:2]", (np.array([3, -1]), slice(1, 4, 2)),
                     (4, 5, 3)),
        getitem_spec("x[..., [2, 0, 2]]", (Ellipsis, [2, 0, 2]), (4, 5, 3), (3,)),
    ],
    "scatter_add": [
        scatter_add_spec("scatter_add at x[1:3, ::-1]", (4, 5),
                         (slice(1, 3), slice(None, None, -1))),
        scatter_add_spec("scatter_add at x[[0, 2, 2, 0]]", (4, 3), [0, 2, 2, 0]),
        scatter_add_spec("scatter_add at x[[0, 1], :, [1, 0]]", (4, 5, 3),
                         ([0, 1], slice(None), [1, 0])),
        scatter_add_spec("scatter_add at x[mask_4x5]", (4, 5), MASK_4x5),
    ],
    "matmul": [
        spec("x @ y", lambda x, y: x @ y, MATMUL_SHAPES),
        spec("np.matmul(x, y)", lambda x, y: np.matmul(x, y), MATMUL_SHAPES[::3]),
        spec("np.dot(x, y)", lambda x, y: np.dot(x, y),
             [((3, 4), (4,)), ((3, 4), (4, 2)), ((4,), (4,))]),
        spec("x.dot(W) (constant W)", lambda x: x.dot(W_4x2), each((3, 4))),
        spec("x @ W (constant W)", lambda x: x @ W_4x2, each((4,), (3, 4), (2, 3, 4))),
        spec("W.T @ x (constant W)", lambda x: W_4x2.T @ x, each((4,), (4, 3))),
    ],
}


def _with_constant(pred: Callable[..., bool] | None, pos: int, value: float):
    if pred is None:
        return None
    return lambda x: pred(*((x, value) if pos == 1 else (value, x)))


def default_cases(op) -> list[Case]:
    """The case an elementwise or nondiff op gets from its ufunc, with the right arity;
    for a binary differentiable op, also each argument replaced by a Python float."""
    ufunc = op.ufunc
    if op.form not in ("elementwise", "nondiff") or not isinstance(ufunc, np.ufunc):
        return []
    n = ufunc.nin
    domains = DOMAINS.get(op.name, (STD,) * n)
    apart = APART.get(op.name)
    names = ", ".join("xyz"[:n])
    cases = [Case(f"np.{ufunc.__name__}({names})", lambda *xs: ufunc(*xs),
                  SHAPES_BY_ARITY[n], domains, apart, elementwise=True)]
    if n == 2 and not op.nondiff:
        c0, c1 = domains[0].constant, domains[1].constant
        cases += [
            Case(f"np.{ufunc.__name__}(x, {c1})", lambda x: ufunc(x, c1), UNARY,
                 domains[:1], _with_constant(apart, 1, c1)),
            Case(f"np.{ufunc.__name__}({c0}, y)", lambda y: ufunc(c0, y), UNARY,
                 domains[1:], _with_constant(apart, 0, c0)),
        ]
    return cases


def ops_cases(name: str) -> list[Case]:
    """Every case of op ``name``; fails (never skips) when the op has none."""
    op = OPS[name]
    cases = default_cases(op) + SPECS.get(name, [])
    if not cases:
        pytest.fail(f"op {name!r} (form {op.form!r}) has no spec and no default: add an "
                    f"entry to SPECS in tests/test_ops.py saying how numpy code calls it "
                    f"and where to sample its inputs")
    return cases


# -- sampling -------------------------------------------------------------------------


def case_rng(*key: Any) -> np.random.Generator:
    """A generator seeded by the case, so every run (and every check) sees one sample."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def sample_inputs(case: Case, shapes: tuple[Shape, ...],
                  rng: np.random.Generator) -> list[np.ndarray]:
    """float64 inputs of ``shapes`` from the case's domains, clear of its kinks."""
    for _ in range(200):
        xs = [np.asarray(d.draw(rng, s), np.float64) for d, s in zip(case.domains, shapes)]
        if case.apart is None or case.apart(*xs):
            return xs
    raise AssertionError(f"{case.label}: no sample on {shapes} clear of the kinks")


def random_like(rng: np.random.Generator, value: Any) -> np.ndarray:
    """A random direction or cotangent with ``value``'s shape and dtype."""
    return np.asarray(rng.standard_normal(np.shape(value)), dtype=np.result_type(value))


# -- comparing ------------------------------------------------------------------------


def leaves(tree: Any) -> list[Any]:
    return admodes.tree_flatten(tree)[0]


def as_f64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def max_abs(x: Any) -> float:
    return float(np.max(np.abs(as_f64(x)), initial=0.0))


def assert_close(actual: Any, expected: Any, rtol: float, what: str, floor: float = 1.0):
    """max|actual - expected| <= rtol * max(floor, max|expected|); NaN never passes."""
    a, e = as_f64(actual), as_f64(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    bound = rtol * max(floor, max_abs(e))
    err = max_abs(a - e)
    assert err <= bound, (
        f"{what}: max abs error {err:.3g} > {bound:.3g}\n"
        f"  got:      {np.array2string(a, precision=8, threshold=12)}\n"
        f"  expected: {np.array2string(e, precision=8, threshold=12)}")


def assert_like(value: Any, like: Any, what: str) -> None:
    """Same shape and dtype (derivatives must match their primals exactly)."""
    assert np.shape(value) == np.shape(like), (
        f"{what}: shape {np.shape(value)}, expected {np.shape(like)}")
    assert np.result_type(value) == np.result_type(like), (
        f"{what}: dtype {np.result_type(value)}, expected {np.result_type(like)}")


def is_single(case: Case, *values: Any) -> bool:
    """Whether the case computes in float32 or any value is float32: looser tolerances."""
    return case.single or any(np.result_type(v) == np.float32 for v in values)


def central_difference(fn: Callable, xs: Sequence, vs: Sequence, h: float) -> list:
    """(f(x + h v) - f(x - h v)) / 2h, leaf by leaf, in float64."""
    plus = fn(*[np.asarray(x + h * v) for x, v in zip(xs, vs)])
    minus = fn(*[np.asarray(x - h * v) for x, v in zip(xs, vs)])
    return [(as_f64(p) - as_f64(m)) / (2 * h) for p, m in zip(leaves(plus), leaves(minus))]


def vdot(a: Sequence, b: Sequence) -> tuple[float, float]:
    """sum <a_i, b_i> in float64, and the sum of |a_i * b_i| (its rounding scale)."""
    products = [as_f64(x) * as_f64(y) for x, y in zip(a, b)]
    return (float(sum(np.sum(p) for p in products)),
            float(sum(np.sum(np.abs(p)) for p in products)))


# -- the checks -----------------------------------------------------------------------


def check_jvp_fd(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Forward mode matches central finite differences; the primal matches numpy."""
    vs = [random_like(rng, x) for x in xs]
    with admodes.count_ops() as count:
        out, tangent = admodes.jvp(case.fn, tuple(xs), tuple(vs))
    assert count.ops[op_name] > 0, (
        f"this case never applies op {op_name!r} (it applied {dict(count.ops)}): fix its "
        f"spec in tests/test_ops.py")
    want = case.fn(*xs)
    assert_like(out, want, "jvp primal output")
    assert_close(out, want, 1e-12, "jvp primal output vs numpy")
    assert_like(tangent, want, "jvp tangent")
    h, rtol = (1e-3, 2e-3) if is_single(case, want) else (1e-6, 1e-6)
    (fd,) = central_difference(case.fn, xs, vs, h)
    assert_close(tangent, fd, rtol, "JVP vs central differences", floor=max(1, max_abs(want)))


def check_vjp_adjoint(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Reverse mode is forward mode's adjoint: <u, J v> == <J^T u, v>."""
    vs = [random_like(rng, x) for x in xs]
    _, tangent = admodes.jvp(case.fn, tuple(xs), tuple(vs))
    out, pullback = admodes.vjp(case.fn, *xs)
    u = random_like(rng, out)
    cts = pullback(u)
    assert isinstance(cts, tuple) and len(cts) == len(xs), f"vjp_fn returned {cts!r}"
    for i, (ct, x) in enumerate(zip(cts, xs)):
        assert_like(ct, x, f"cotangent of argument {i}")
    lhs, lhs_scale = vdot([u], [tangent])
    rhs, rhs_scale = vdot(cts, vs)
    rtol = 1e-5 if is_single(case, out, *xs) else 1e-10
    assert abs(lhs - rhs) <= rtol * (lhs_scale + rhs_scale), (
        f"<u, J v> = {lhs!r} but <J^T u, v> = {rhs!r}")


JACOBIANS = {
    "jacfwd(vectorized=True)": lambda f, n: admodes.jacfwd(f, n, vectorized=True),
    "jacfwd(vectorized=False)": lambda f, n: admodes.jacfwd(f, n, vectorized=False),
    "jacrev(vectorized=True)": lambda f, n: admodes.jacrev(f, n, vectorized=True),
    "jacrev(vectorized=False)": lambda f, n: admodes.jacrev(f, n, vectorized=False),
}


def check_jacobians(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Vector mode (one sweep, batched) and the looped sweeps give the same Jacobian."""
    argnums = tuple(range(len(xs)))
    out = case.fn(*xs)
    jacs = {name: leaves(make(case.fn, argnums)(*xs)) for name, make in JACOBIANS.items()}
    reference_name = "jacfwd(vectorized=False)"
    reference = jacs[reference_name]
    for name, blocks in jacs.items():
        assert len(blocks) == len(xs), f"{name} gave {len(blocks)} blocks for {len(xs)} inputs"
        for i, (block, ref, x) in enumerate(zip(blocks, reference, xs)):
            expected_shape = np.shape(out) + np.shape(x)
            assert np.shape(block) == expected_shape, (
                f"{name} block {i}: shape {np.shape(block)}, expected {expected_shape}")
            assert_close(block, ref, 1e-12, f"{name} vs {reference_name}, block {i}",
                         floor=1e-300)


def check_second_order(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Forward over reverse: the JVP (direction w) of ``x -> J(x)^T u`` matches its finite
    differences. Reverse over forward: the gradient g of ``x -> <u, J(x) v>`` satisfies
    ``<g, w> == <d/dw (J^T u), v>`` (second derivatives are symmetric)."""
    out = case.fn(*xs)
    u = random_like(rng, out)
    vs = [random_like(rng, x) for x in xs]
    ws = [random_like(rng, x) for x in xs]

    def pulled_back(*ys):
        return admodes.vjp(case.fn, *ys)[1](u)

    first, second = admodes.jvp(pulled_back, tuple(xs), tuple(ws))
    second = leaves(second)
    h, rtol = (1e-3, 2e-3) if is_single(case, out) else (1e-5, 1e-6)
    fd = central_difference(pulled_back, xs, ws, h)
    floor = max([1.0] + [max_abs(g) for g in first])
    for i, (got, want) in enumerate(zip(second, fd)):
        assert_close(got, want, rtol, f"d/dw of the cotangent of argument {i}", floor=floor)

    def pushed_forward(*ys):
        return admodes.jvp(case.fn, ys, tuple(vs))[1]

    g = admodes.vjp(pushed_forward, *xs)[1](u)
    lhs, lhs_scale = vdot(g, ws)
    rhs, rhs_scale = vdot(second, vs)
    rtol = 1e-5 if is_single(case, out, *xs) else 1e-10
    assert abs(lhs - rhs) <= rtol * (lhs_scale + rhs_scale), (
        f"reverse over forward <g, w> = {lhs!r} but forward over reverse gives {rhs!r}")


def check_float32(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """float32 stays float32 (as in numpy), with Python float constants mixed in, and the
    float32 derivatives are close to the float64 ones."""

    def fn(*ys):
        return 2.5 * case.fn(*ys) - 0.5

    xs32 = [x.astype(np.float32) for x in xs]
    vs32 = [random_like(rng, x) for x in xs32]
    want = fn(*xs32)
    out, tangent = admodes.jvp(fn, tuple(xs32), tuple(vs32))
    assert_like(out, want, "float32 primal output (numpy's dtype)")
    assert_like(tangent, want, "float32 tangent")
    _, tangent64 = admodes.jvp(fn, tuple(x.astype(np.float64) for x in xs32),
                               tuple(v.astype(np.float64) for v in vs32))
    floor = max(1.0, max_abs(want))
    assert_close(tangent, tangent64, 1e-3, "float32 tangent vs float64 tangent", floor)
    _, pullback = admodes.vjp(fn, *xs32)
    cts = pullback(random_like(rng, want))
    for i, (ct, x) in enumerate(zip(cts, xs32)):
        assert_like(ct, x, f"float32 cotangent of argument {i}")


def check_nondiff(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """A nondiff op hands back numpy's plain value under tracing and adds no derivative."""
    want = case.fn(*xs)
    seen: list[Any] = []

    def probe(*ys):
        seen.append(case.fn(*ys))
        return seen[-1]

    vs = [random_like(rng, x) for x in xs]
    with admodes.count_ops() as count:
        _, tangent = admodes.jvp(probe, tuple(xs), tuple(vs))
    assert count.ops[op_name] > 0, (
        f"this case never applies op {op_name!r}: fix its spec in tests/test_ops.py")
    admodes.vjp(probe, *xs)
    assert len(seen) == 2, f"the function ran {len(seen)} times for one jvp and one vjp"
    for mode, result in zip(("forward", "reverse"), seen):
        assert not isinstance(result, Tracer), f"{mode} mode: a traced result {result!r}"
        assert_like(result, want, f"{mode} mode result")
        np.testing.assert_array_equal(result, want, err_msg=f"{mode} mode result")
    assert np.shape(tangent) == np.shape(want) and not np.any(tangent), (
        f"tangent of a nondiff output: {tangent!r}")

    def total(*ys):  # differentiable inputs plus the op's (constant) result
        return sum(np.sum(y) for y in ys) + np.sum(np.asarray(case.fn(*ys), np.float64))

    grads = admodes.grad(total, argnums=tuple(range(len(xs))))(*xs)
    for i, (g, x) in enumerate(zip(grads, xs)):
        assert_close(g, np.ones_like(x), 0.0, f"gradient through argument {i}")
    _, t = admodes.jvp(total, tuple(xs), tuple(vs))
    assert_close(t, sum(np.sum(v) for v in vs), 1e-12, "jvp through the nondiff op")


# -- orders 2 and 3, in every combination of the modes ---------------------------------
# Each case is restricted to a line through its sample, x + s v for a scalar s, and paired
# with a random cotangent u, which gives scalar functions of s whose derivatives at s = 0
# are known or can be compared across all 2**order ways of nesting jacfwd and jacrev.

NESTINGS = {
    order: [tuple(mode) for mode in itertools.product(("jacfwd", "jacrev"), repeat=order)]
    for order in (2, 3)
}


def nested_derivative(fn: Callable, nesting: tuple[str, ...], at: float = 0.0) -> float:
    """d^k fn / ds^k at ``at``, by nesting the named transformations (outermost first)."""
    for name in reversed(nesting):
        fn = getattr(admodes, name)(fn)
    return fn(at)


def along_line(case: Case, xs: list, rng: np.random.Generator, scale: Callable, path):
    """``s -> scale(s) * <u, case.fn(x + path(s) v)>``; also returns <u, J v>."""
    vs = [random_like(rng, x) for x in xs]
    out, tangent = admodes.jvp(case.fn, tuple(xs), tuple(vs))
    u = [random_like(rng, o) for o in leaves(out)]
    u_jv = vdot(u, leaves(tangent))[0]

    def g(s):
        t = path(s)
        ys = [x + t * v for x, v in zip(xs, vs)]
        return scale(s) * sum(np.sum(ui * o) for ui, o in zip(u, leaves(case.fn(*ys))))

    return g, u_jv


def assert_all_nestings(g: Callable, order: int, want: float, what: str, rtol: float):
    """Every nesting of ``order`` transformations gives ``want`` (within ``rtol``)."""
    scale = max(1.0, abs(want))
    for nesting in NESTINGS[order]:
        got = nested_derivative(g, nesting)
        assert np.ndim(got) == 0 and abs(got - want) <= rtol * scale, (
            f"{what}: {' of '.join(nesting)} gives {got!r}, expected {want!r}")


def check_exact_zero_derivatives(op_name: str, case: Case, xs: list,
                                 rng: np.random.Generator) -> None:
    """Orders 2 and 3 where an inner tangent or cotangent is exactly 0 but its own
    derivative is not, which random points never hit. Along x + s^k v the op's input
    tangent is exactly 0 at s = 0, and d^k/ds^k <u, f> = k! <u, J v>; scaling by s^(k-1)
    makes the cotangent reaching the op exactly 0, with the same k-th derivative."""
    rtol = 1e-5 if case.single else 1e-9
    for order, factorial in ((2, 2.0), (3, 6.0)):
        def power(s, k=order):
            result = s
            for _ in range(k - 1):
                result = result * s
            return result

        def lower(s, k=order):
            return power(s, k - 1) if k > 1 else 1.0

        g, u_jv = along_line(case, xs, rng, scale=lambda s: 1.0, path=power)
        assert_all_nestings(g, order, factorial * u_jv,
                            f"order {order} along x + s^{order} v (zero inner tangent)", rtol)
        h, u_jv = along_line(case, xs, rng, scale=lower, path=lambda s: s)
        assert_all_nestings(h, order, factorial * u_jv,
                            f"order {order} of s^{order - 1} <u, f(x + s v)> (zero "
                            f"cotangent)", rtol)


def check_third_order(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """The third derivative along a random line agrees in all 8 nestings of jacfwd and
    jacrev, and with central differences of the second derivative."""
    k, _ = along_line(case, xs, rng, scale=lambda s: 1.0, path=lambda s: s)
    second = admodes.jacfwd(admodes.jacrev(k))
    h = 1e-4
    want = (second(h) - second(-h)) / (2 * h)
    floor = max(1.0, abs(second(0.0)))
    assert_all_nestings(k, 3, want, "third derivative vs central differences of the second",
                        1e-5 * floor)


DIFF_CHECKS = {
    "jvp_fd": check_jvp_fd,
    "vjp_adjoint": check_vjp_adjoint,
    "jacobians": check_jacobians,
    "second_order": check_second_order,
    "float32": check_float32,
    "exact_zeros": check_exact_zero_derivatives,
    "third_order": check_third_order,
}
# the checks that nest three levels run on each case's first shapes only
SHAPE_LIMIT = {"exact_zeros": 3, "third_order": 3}
NONDIFF_CHECKS = {"nondiff": check_nondiff}
ALL_CHECKS = {**DIFF_CHECKS, **NONDIFF_CHECKS}


def checks_for(op) -> dict[str, Callable]:
    return NONDIFF_CHECKS if op.form == "nondiff" else DIFF_CHECKS


def run_check(check: Callable, op_name: str, case: Case, shapes: tuple[Shape, ...],
              failures: list[str]) -> None:
    """Run one check on one case and shape tuple, recording a failure as a line."""
    rng = case_rng(op_name, case.label, shapes)
    try:
        check(op_name, case, sample_inputs(case, shapes, rng), rng)
    except Exception as exc:  # noqa: BLE001  (report every failing case, not the first)
        text = str(exc).split("\nassert ")[0]  # drop pytest's re-evaluation of an assert
        if not isinstance(exc, AssertionError):  # say where admodes raised it
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            text += f"\n(raised at {frame.filename}:{frame.lineno}, in {frame.name})"
        message = f"{type(exc).__name__}: {text}".replace("\n", "\n      ")
        failures.append(f"  {case.label} on shapes {shapes}:\n      {message[:1200]}")


def assert_no_failures(op_name: str, failures: list[str]) -> None:
    assert not failures, (f"{len(failures)} failing case(s) of op {op_name!r}:\n"
                          + "\n".join(failures))


# -- the per-op test ------------------------------------------------------------------


@pytest.mark.parametrize("op_name, check", [
    pytest.param(name, check, id=f"{name}-{check}")
    for name, op in OPS.items() for check in checks_for(op)
])
def test_op(op_name: str, check: str) -> None:
    failures: list[str] = []
    for c in ops_cases(op_name):
        for shapes in c.shapes[: SHAPE_LIMIT.get(check)]:
            run_check(ALL_CHECKS[check], op_name, c, shapes, failures)
    assert_no_failures(op_name, failures)


def test_every_spec_names_a_registered_op() -> None:
    stale = sorted(set(SPECS) - set(OPS)) + sorted(set(DOMAINS) - set(OPS))
    assert not stale, f"specs for ops that are not registered: {stale}"


# -- drawn shapes, axes and indices ---------------------------------------------------

FEW = settings(max_examples=20, deadline=None, database=None, derandomize=True)
ELEMENTWISE = [name for name, op in OPS.items() if op.form == "elementwise"]


def broadcasting_case(op_name: str) -> Case:
    for c in ops_cases(op_name):
        if c.elementwise:
            return c
    pytest.fail(f"elementwise op {op_name!r} has no case with elementwise=True in SPECS")


@pytest.mark.parametrize("op_name", ELEMENTWISE)
@FEW
@given(data=st.data())
def test_elementwise_op_on_drawn_broadcast_shapes(op_name: str, data) -> None:
    c = broadcasting_case(op_name)
    shapes = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=len(c.domains), min_dims=0, max_dims=3, max_side=3)).input_shapes
    failures: list[str] = []
    for check in (check_jvp_fd, check_vjp_adjoint):
        run_check(check, op_name, c, shapes, failures)
    assert_no_failures(op_name, failures)


REDUCTION_DOMAINS = {"sum": STD, "mean": STD, "max": Distinct(), "min": Distinct(),
                     "prod": SomeZeros()}


@st.composite
def axis_arguments(draw, ndim: int):
    """None, an int (maybe negative) or a tuple of distinct axes (maybe negative)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none", "tuple"]))
    if kind == "none":
        return None
    size = 1 if kind == "int" else draw(st.integers(0, ndim))
    axes = draw(st.permutations(range(ndim)))[:size]
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    return axes[0] if kind == "int" else tuple(axes)


@pytest.mark.parametrize("op_name", list(REDUCTION_DOMAINS))
@FEW
@given(data=st.data())
def test_reduction_on_drawn_axes(op_name: str, data) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    axis = data.draw(axis_arguments(len(shape)))
    keepdims = data.draw(st.booleans())
    func = getattr(np, op_name)
    c = spec(f"np.{op_name}(x, axis={axis!r}, keepdims={keepdims})",
             lambda x: func(x, axis=axis, keepdims=keepdims), each(shape),
             REDUCTION_DOMAINS[op_name])
    failures: list[str] = []
    for check in (check_jvp_fd, check_vjp_adjoint, check_jacobians):
        run_check(check, op_name, c, (shape,), failures)
    assert_no_failures(op_name, failures)


@st.composite
def mixed_indices(draw, shape: Shape):
    """Per axis a slice, an int or an integer array (all arrays of one length, repeats
    allowed), with a None sometimes inserted."""
    length = draw(st.integers(1, 3))
    key = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "array"]))
        if kind == "slice":
            key.append(draw(st.slices(n)))
        elif kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        else:
            key.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=length,
                                              max_size=length)), dtype=np.intp))
    if draw(st.booleans()):
        key.insert(draw(st.integers(0, len(key))), None)
    return tuple(key)


@settings(FEW, max_examples=100)
@given(data=st.data())
def test_getitem_on_drawn_indices(data) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    key = data.draw(st.one_of(
        hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True),
        hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2,
                                                                       max_side=3)),
        mixed_indices(shape)))
    c = spec(f"x[{key!r}]", lambda x: x[key], each(shape))
    failures: list[str] = []
    for check in (check_jvp_fd, check_vjp_adjoint, check_jacobians):
        run_check(check, "getitem", c, (shape,), failures)
    assert_no_failures("getitem", failures)


# -- zero-size arrays -----------------------------------------------------------------

ZERO_SIZE_SHAPES = {
    1: each((0,), (2, 0)),
    2: [((0,), (0,)), ((2, 0), (2, 0)), ((2, 0), ()), ((0,), (2, 1))],
    3: [((0,), (0,), (0,)), ((2, 0), (), (1,))],
}
ZERO_SIZE_SPECS: dict[str, list[Case]] = {
    "sum": [
        spec("np.sum(x)", lambda x: np.sum(x), each((0,), (2, 0))),
        spec("np.sum(x, axis=1)", lambda x: np.sum(x, axis=1), each((2, 0))),
        spec("np.sum(x, axis=0, keepdims=True)", lambda x: np.sum(x, axis=0, keepdims=True),
             each((2, 0))),
    ],
    "matmul": [
        spec("x @ y", lambda x, y: x @ y,
             [((2, 0), (0, 3)), ((0,), (0,)), ((0, 2), (2,)), ((3, 0), (0,)),
              ((2, 3), (3, 0)), ((2, 0, 3), (3, 1))]),
    ],
    "concatenate": [
        spec("np.concatenate([x, y])", lambda x, y: np.concatenate([x, y]),
             [((0,), (3,)), ((0,), (0,))]),
        spec("np.concatenate([x, y], axis=1)", lambda x, y: np.concatenate([x, y], axis=1),
             [((2, 0), (2, 3))]),
    ],
    "reshape": [
        spec("x.reshape(-1)", lambda x: x.reshape(-1), each((2, 0))),
        spec("np.reshape(x, (0, 2))", lambda x: np.reshape(x, (0, 2)), each((2, 0))),
        spec("x.reshape(0, 5)", lambda x: x.reshape(0, 5), each((0,))),
    ],
}


def zero_size_cases(op_name: str) -> list[Case]:
    if op_name in ZERO_SIZE_SPECS:
        return ZERO_SIZE_SPECS[op_name]
    c = broadcasting_case(op_name)
    return [Case(c.label, c.fn, ZERO_SIZE_SHAPES[len(c.domains)], c.domains, c.apart)]


@pytest.mark.parametrize("op_name", ELEMENTWISE + list(ZERO_SIZE_SPECS))
def test_zero_size_arrays(op_name: str) -> None:
    """Empty inputs: derivatives of the right (often empty) shapes and dtypes."""
    failures: list[str] = []
    for c in zero_size_cases(op_name):
        for shapes in c.shapes:
            for check in (check_jvp_fd, check_vjp_adjoint, check_jacobians):
                run_check(check, op_name, c, shapes, failures)
    assert_no_failures(op_name, failures)
