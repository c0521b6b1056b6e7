"""How user code reaches the everyday array functions of issue 11 (einsum, var, stacking...);
see ``opspec.py``. Composites are filed under an op they apply."""

from __future__ import annotations

import warnings

import numpy as np
from opspec import POSITIVE, STD, SomeZeros, each, spec

ONES_3x4 = np.linspace(0.5, 1.5, 12).reshape(3, 4)
W3 = np.array([1.0, 2.0, 0.5])


def _cross2(x, y):
    with warnings.catch_warnings():  # numpy 2 deprecates 2-vectors, and still computes them
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(x, y)


SPECS: dict = {
    "pack": [
        spec("np.array([x[0] ** 2, x[1] * x[0], 1.5])",
             lambda x: np.array([x[0] ** 2, x[1] * x[0], 1.5]), each((2,), (3,))),
        spec("np.array([[x[0], y[1]], [y[0] * x[1], 2.0]]) @ y",
             lambda x, y: np.array([[x[0], y[1]], [y[0] * x[1], 2.0]]) @ y,
             [((2,), (2,)), ((3,), (2,))]),
        spec("np.asarray((x[0], x[-1])) * 2.0 + x[:2]",
             lambda x: np.asarray((x[0], x[-1])) * 2.0 + x[:2], each((2,), (4,))),
    ],
    "einsum": [
        spec("np.einsum('ij,jk->ik', x, y)", lambda x, y: np.einsum("ij,jk->ik", x, y),
             [((2, 3), (3, 4)), ((1, 2), (2, 2))]),
        spec("np.einsum('ii->i', x)", lambda x: np.einsum("ii->i", x), each((3, 3))),
        spec("np.einsum('ii', x)", lambda x: np.einsum("ii", x), each((3, 3), (1, 1))),
        spec("np.einsum('ij,ij', x, y)", lambda x, y: np.einsum("ij,ij", x, y),
             [((2, 3), (2, 3))]),
        spec("np.einsum('...i,...i->...', x, y)",
             lambda x, y: np.einsum("...i,...i->...", x, y),
             [((2, 3), (2, 3)), ((3,), (2, 3)), ((2, 1, 3), (4, 3))]),
        spec("np.einsum('ij,jk,k->i', x, y, z)",
             lambda x, y, z: np.einsum("ij,jk,k->i", x, y, z), [((2, 3), (3, 2), (2,))]),
        spec("np.einsum('ij,jk->ik', x, constant, optimize=True)",
             lambda x: np.einsum("ij,jk->ik", x, ONES_3x4, optimize=True), each((2, 3))),
        spec("np.einsum(x, [0, 1], y, [1], [0])",
             lambda x, y: np.einsum(x, [0, 1], y, [1], [0]), [((2, 3), (3,))]),
        spec("np.einsum('iij->j', x)", lambda x: np.einsum("iij->j", x), each((2, 2, 3))),
        spec("np.einsum('ij,j->ij', x, y) (size-1 broadcast)",
             lambda x, y: np.einsum("ij,ij->ij", x, y), [((1, 3), (2, 3))]),
        spec("np.tensordot(x, y, axes=([0], [1]))",
             lambda x, y: np.tensordot(x, y, axes=([0], [1])), [((2, 3), (4, 2))]),
        spec("np.tensordot(x, y) (axes=2)", lambda x, y: np.tensordot(x, y),
             [((2, 3), (2, 3)), ((2, 2, 3), (2, 3, 2))]),
        spec("np.inner(x, y)", lambda x, y: np.inner(x, y), [((2, 3), (4, 3)), ((3,), (3,))]),
        spec("np.dot(x, y) (y 3-d)", lambda x, y: np.dot(x, y), [((2, 3), (2, 3, 2))]),
    ],
    "cumsum": [
        spec("np.cumsum(x)", lambda x: np.cumsum(x), each((4,), (2, 3))),
        spec("np.cumsum(x, axis=0)", lambda x: np.cumsum(x, axis=0), each((3, 2))),
        spec("x.cumsum(axis=-1)", lambda x: x.cumsum(axis=-1), each((2, 3))),
    ],
    "cumprod": [
        spec("np.cumprod(x)", lambda x: np.cumprod(x), each((4,), (2, 3))),
        spec("np.cumprod(x, axis=0) with zeros", lambda x: np.cumprod(x, axis=0),
             each((4, 2), (3,)), SomeZeros()),
        spec("x.cumprod(axis=1)", lambda x: x.cumprod(axis=1), each((2, 3))),
    ],
    "sum": [
        spec("np.var(x)", lambda x: np.var(x), each((4,), (2, 3))),
        spec("np.var(x, axis=0, ddof=1, keepdims=True)",
             lambda x: np.var(x, axis=0, ddof=1, keepdims=True), each((3, 2))),
        spec("x.std(axis=-1)", lambda x: x.std(axis=-1), each((2, 3))),
        spec("np.std(x, ddof=1)", lambda x: np.std(x, ddof=1), each((4,))),
        spec("np.trace(x)", lambda x: np.trace(x), each((3, 3), (2, 4))),
        spec("x.trace(offset=1, axis1=1, axis2=2)",
             lambda x: x.trace(offset=1, axis1=1, axis2=2), each((2, 3, 3))),
        spec("np.average(x, axis=0, weights=y)",
             lambda x, y: np.average(x, axis=0, weights=y), [((3, 2), (3,))],
             STD, POSITIVE),
        spec("np.average(x, weights=y, returned=True)[0] * ...[1]",
             lambda x, y: np.prod(np.average(x, weights=y, returned=True)),
             [((2, 3), (2, 3))], STD, POSITIVE),
    ],
    "mean": [
        spec("np.average(x, axis=1)", lambda x: np.average(x, axis=1), each((2, 3))),
    ],
    "concatenate": [
        spec("np.hstack([x, y])", lambda x, y: np.hstack([x, y]),
             [((3,), (2,)), ((2, 3), (2, 1))]),
        spec("np.vstack([x, y])", lambda x, y: np.vstack([x, y]), [((3,), (3,)), ((2, 3), (3,))]),
        spec("np.dstack([x, y])", lambda x, y: np.dstack([x, y]), [((2, 3), (2, 3))]),
        spec("np.column_stack([x, y])", lambda x, y: np.column_stack([x, y]),
             [((3,), (3, 2))]),
        spec("np.block([[x, y], [y, x]])", lambda x, y: np.block([[x, y], [y, x]]),
             [((2, 2), (2, 2))]),
        spec("np.block([x, 1.0])", lambda x: np.block([x, 1.0]), each((3,))),
    ],
    "getitem": [
        spec("np.split(x, 2)[1]", lambda x: np.split(x, 2)[1], each((4,), (2, 3))),
        spec("np.array_split(x, 3, axis=1)[0]", lambda x: np.array_split(x, 3, axis=1)[0],
             each((2, 4))),
        spec("np.hsplit(x, [1, 3])[1]", lambda x: np.hsplit(x, [1, 3])[1], each((2, 4))),
        spec("np.vsplit(x, 2)[0]", lambda x: np.vsplit(x, 2)[0], each((4, 2))),
        spec("np.dsplit(x, 2)[1]", lambda x: np.dsplit(x, 2)[1], each((1, 2, 4))),
        spec("np.repeat(x, [1, 0, 2], axis=0)", lambda x: np.repeat(x, [1, 0, 2], axis=0),
             each((3,), (3, 2))),
        spec("x.repeat(2)", lambda x: x.repeat(2), each((2, 2))),
        spec("np.diagonal(x, 1)", lambda x: np.diagonal(x, 1), each((3, 3), (2, 4))),
        spec("x.diagonal(0, 2, 0)", lambda x: x.diagonal(0, 2, 0), each((2, 3, 2))),
        spec("np.diag(x, k=-1) (matrix)", lambda x: np.diag(x, k=-1), each((3, 3))),
        spec("np.cross(x, y)", lambda x, y: np.cross(x, y), [((3,), (3,)), ((2, 3), (3,))]),
        spec("np.cross(x, y, axis=0)", lambda x, y: np.cross(x, y, axis=0),
             [((3, 2), (3, 2))]),
        spec("np.cross(x, y) (2-vectors)", _cross2, [((2,), (2,)), ((2,), (3,))]),
    ],
    "broadcast_to": [
        spec("np.tile(x, 2)", lambda x: np.tile(x, 2), each((3,), (2, 2))),
        spec("np.tile(x, (2, 1, 2))", lambda x: np.tile(x, (2, 1, 2)), each((2, 3))),
    ],
    "scatter_add": [
        spec("np.diag(x)", lambda x: np.diag(x), each((3,))),
        spec("np.diag(x, k=1)", lambda x: np.diag(x, k=1), each((2,))),
    ],
    "where": [
        spec("np.tril(x)", lambda x: np.tril(x), each((3, 3), (2, 3, 4))),
        spec("np.triu(x, k=1)", lambda x: np.triu(x, k=1), each((3, 3), (3,))),
    ],
    "matmul": [
        spec("np.dot(x, y)", lambda x, y: np.dot(x, y),
             [((2, 3), (3, 2)), ((3,), (3,)), ((2, 2, 3), (3,)), ((3,), (2, 3, 2))]),
        spec("x.dot(constant)", lambda x: x.dot(W3), each((2, 3))),
        spec("np.vdot(x, y)", lambda x, y: np.vdot(x, y), [((2, 3), (3, 2))]),
    ],
    "multiply": [
        spec("np.kron(x, y)", lambda x, y: np.kron(x, y), [((2,), (3,)), ((2, 2), (2, 1))]),
        spec("np.outer(x, y)", lambda x, y: np.outer(x, y), [((2, 2), (3,))]),
    ],
    "reshape": [
        spec("np.atleast_2d(x)", lambda x: np.atleast_2d(x), each((), (3,))),
        spec("np.atleast_3d(x)", lambda x: np.atleast_3d(x), each((3,), (2, 2))),
        spec("np.atleast_1d(x)", lambda x: np.atleast_1d(x), each(())),
    ],
}
