"""How user code reaches the ops that existed before issue 11 (see ``opspec.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from opspec import (
    BINARY,
    NONZERO,
    POSITIVE,
    STD,
    TERNARY,
    UNARY,
    UNIT,
    AwayFromZero,
    Case,
    Distinct,
    Domain,
    Shape,
    SomeZeros,
    Uniform,
    _clip_far_apart,
    _far_apart,
    each,
    spec,
)

from admodes import OPS
from admodes.shapes import index_params

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


