"""Everyday numpy array functions on traced values (issue 11).

Each handler below computes what numpy computes, from registered ops (``ops.py``), or
refuses by name what it cannot honour. Most are composites (stacking, splitting, tile,
repeat, diagonal, tril, var, average, the products); ``einsum``, ``cumsum``, ``cumprod`` and
``pack`` (np.array of traced scalars) are primitives of their own.

Conventions: ``np.round`` has derivative zero (it is piecewise constant; at a jump the
result is numpy's and carries no derivative). ``np.std`` at exactly zero variance has
derivative zero in every direction (the norm-like cone there has no gradient; zero is its
minimal subgradient, as sign(0) = 0), never nan.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy._core.einsumfunc import _parse_einsum_input

from .core import Tracer, concrete, peek, result_dtype, strip
from .numpy_api import (
    _NOT_GIVEN,
    _astype,
    _is_true,
    _join,
    _refuse,
    _refuse_out,
    handles,
    moveaxis,
    ravel,
    reshape,
    root_at_zero,
    stack,
    transpose,
)
from .registry import OPS
from .shapes import index_params, ndim_of, normalize_axis, shape_of, size_of


def _traced(*xs: Any) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def _array(x: Any) -> Any:
    """A traced value as it is; anything else as numpy would take it."""
    return x if isinstance(x, Tracer) else np.asarray(x)


def _axis1(axis: Any, nd: int) -> int:
    return normalize_axis(operator.index(axis), nd)[0]


def _take_along(x: Any, axis: int, key: Any) -> Any:
    """x[..., key, :, ...] with ``key`` on (negative) ``axis``."""
    return x[(Ellipsis, key) + (slice(None),) * (-1 - axis)]


# -- einsum ---------------------------------------------------------------------------


@handles(np.einsum)
def einsum(*operands, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    _refuse_out("np.einsum", out)
    _refuse("np.einsum", dtype=dtype is not None, order=order != "K",
            casting=casting != "safe")
    # numpy's own parser: '...' expanded to letters, the implicit output, the sublist form
    ins, out_sub, _ = _parse_einsum_input(
        [peek(o) if isinstance(o, Tracer) else o for o in operands])
    if isinstance(operands[0], str):
        values = list(operands[1:])
    else:  # op0, sublist0, op1, sublist1, ..., [output sublist]
        values = list(operands[0:len(operands) - len(operands) % 2:2])
    values = [_array(v) for v in values]
    if isinstance(optimize, list):  # an einsum_path: parameters are kept hashable
        optimize = tuple(tuple(p) if isinstance(p, list) else p for p in optimize)
    # numpy's einsum on these explicit subscripts computes the value (and its errors)
    return OPS["einsum"](*values, subs=tuple(ins.split(",")), out=out_sub, optimize=optimize)


# -- var, std ---------------------------------------------------------------------------


def _moments_args(func, a, axis, dtype, out, ddof, keepdims, where, mean, correction):
    _refuse_out(func, out)
    _refuse(func, where=where is not _NOT_GIVEN and not _is_true(where),
            mean=mean is not _NOT_GIVEN)
    if correction is not _NOT_GIVEN:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    if dtype is not None:
        a = _astype(a, dtype)
    return a, normalize_axis(axis, ndim_of(a)), ddof, bool(keepdims)


def _var(a, axis, ddof, keepdims):
    shape = shape_of(a)
    n = size_of(tuple(shape[i] for i in axis))
    # numpy's steps: the mean, the squared deviations, their sum, / max(n - ddof, 0)
    m = np.sum(a, axis=axis, keepdims=True) / n if n else np.mean(a, axis=axis, keepdims=True)
    d = a - m
    s = np.sum(d * d, axis=axis, keepdims=keepdims)
    return s / max(n - ddof, 0)


@handles(np.var)
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NOT_GIVEN,
        mean=_NOT_GIVEN, correction=_NOT_GIVEN):
    a, axis, ddof, keepdims = _moments_args("np.var", a, axis, dtype, out, ddof, keepdims,
                                            where, mean, correction)
    return _var(a, axis, ddof, keepdims)


@handles(np.std)
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NOT_GIVEN,
        mean=_NOT_GIVEN, correction=_NOT_GIVEN):
    a, axis, ddof, keepdims = _moments_args("np.std", a, axis, dtype, out, ddof, keepdims,
                                            where, mean, correction)
    return root_at_zero(np.sqrt, _var(a, axis, ddof, keepdims))


# -- cumsum, cumprod --------------------------------------------------------------------


def _cumulative(name, func, a, axis, dtype, out):
    _refuse_out(func, out)
    if dtype is not None:
        a = _astype(a, dtype)
    if axis is None:
        a, axis = ravel(a), -1
    elif ndim_of(a) == 0:
        raise np.exceptions.AxisError(axis, 0)
    axis = _axis1(axis, ndim_of(a))
    if shape_of(a)[axis] == 0:
        return a
    if name == "cumsum":
        return OPS["cumsum"](a, axis=axis)
    moved = moveaxis(a, axis, -1)
    return moveaxis(OPS["cumprod"](moved), -1, axis)


@handles(np.cumsum)
def cumsum(a, axis=None, dtype=None, out=None):
    return _cumulative("cumsum", "np.cumsum", a, axis, dtype, out)


@handles(np.cumprod)
def cumprod(a, axis=None, dtype=None, out=None):
    return _cumulative("cumprod", "np.cumprod", a, axis, dtype, out)


# -- dimensions and stacking ------------------------------------------------------------


def _atleast(arys, shape_for):
    res = [reshape(a, shape_for(shape_of(a))) if isinstance(a, Tracer) else
           np.asarray(a).reshape(shape_for(np.shape(a))) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


@handles(np.atleast_1d)
def atleast_1d(*arys):
    return _atleast(arys, lambda s: s if len(s) >= 1 else (1,))


@handles(np.atleast_2d)
def atleast_2d(*arys):
    return _atleast(arys, lambda s: s if len(s) >= 2 else ((1,) + s if s else (1, 1)))


@handles(np.atleast_3d)
def atleast_3d(*arys):
    def shape3(s):
        if len(s) == 0:
            return (1, 1, 1)
        if len(s) == 1:
            return (1,) + s + (1,)
        if len(s) == 2:
            return s + (1,)
        return s

    return _atleast(arys, shape3)


def _seq(func, tup):
    if not isinstance(tup, (list, tuple)):
        raise TypeError(f"arrays to stack must be passed as a \"sequence\" type such as "
                        f"list or tuple ({func})")
    arrays = list(tup)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    return arrays


def _one_each(result):
    return [result] if not isinstance(result, tuple) else list(result)


@handles(np.hstack)
def hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = _one_each(atleast_1d(*_seq("np.hstack", tup)))
    axis = 0 if ndim_of(arrs[0]) == 1 else 1
    return _join("np.hstack", arrs, axis, None, dtype, casting)


@handles(np.vstack)
def vstack(tup, *, dtype=None, casting="same_kind"):
    arrs = _one_each(atleast_2d(*_seq("np.vstack", tup)))
    return _join("np.vstack", arrs, 0, None, dtype, casting)


@handles(np.dstack)
def dstack(tup):
    arrs = _one_each(atleast_3d(*_seq("np.dstack", tup)))
    return _join("np.dstack", arrs, 2, None, None, "same_kind")


@handles(np.column_stack)
def column_stack(tup):
    arrs = []
    for v in _seq("np.column_stack", tup):
        v = _array(v)
        if ndim_of(v) < 2:  # a scalar or a vector becomes a column
            v = reshape(v, (-1, 1)) if isinstance(v, Tracer) else np.asarray(v).reshape(-1, 1)
        arrs.append(v)
    return _join("np.column_stack", arrs, 1, None, None, "same_kind")


def _block_depth(arrays, index=()):
    if type(arrays) is tuple:
        raise TypeError(f"{list(index)} is a tuple. Only lists can be used to arrange "
                        f"blocks, and np.block does not allow implicit conversion from "
                        f"tuple to ndarray.")
    if type(arrays) is list:
        if not arrays:
            raise ValueError(f"List at {list(index)} cannot be empty")
        depths = {_block_depth(a, index + (i,))[0] for i, a in enumerate(arrays)}
        if len(depths) != 1:
            raise ValueError("List depths are mismatched. np.block needs every list of "
                             "blocks nested to the same depth")
        ndims = [_block_depth(a, index + (i,))[1] for i, a in enumerate(arrays)]
        return depths.pop() + 1, max(ndims)
    return 0, ndim_of(arrays)


@handles(np.block)
def block(arrays):
    depth, max_ndim = _block_depth(arrays)
    nd = max(depth, max_ndim)

    def build(a, level):
        if type(a) is list:
            parts = [build(b, level + 1) for b in a]
            return _join("np.block", parts, -(depth - level), None, None, "same_kind")
        a = _array(a)
        shape = (1,) * (nd - ndim_of(a)) + shape_of(a)
        return reshape(a, shape) if isinstance(a, Tracer) else np.reshape(a, shape)

    return build(arrays, 0)


# -- splitting ------------------------------------------------------------------------


def _split(ary, indices_or_sections, axis, equal):
    ary = _array(ary)
    nd = ndim_of(ary)
    if nd == 0:
        raise np.exceptions.AxisError(axis, 0)
    axis = _axis1(axis, nd)
    n = shape_of(ary)[axis]
    try:
        points = [0] + list(indices_or_sections) + [n]
    except TypeError:  # a number of sections
        sections = operator.index(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.") from None
        if equal and n % sections:
            raise ValueError("array split does not result in an equal division") from None
        each, extra = divmod(n, sections)
        sizes = [0] + extra * [each + 1] + (sections - extra) * [each]
        points = list(np.cumsum(sizes))
    return [_take_along(ary, axis, slice(int(lo), int(hi)))
            for lo, hi in zip(points[:-1], points[1:])]


@handles(np.split)
def split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, True)


@handles(np.array_split)
def array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, False)


@handles(np.hsplit)
def hsplit(ary, indices_or_sections):
    if ndim_of(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return _split(ary, indices_or_sections, 1 if ndim_of(ary) > 1 else 0, True)


@handles(np.vsplit)
def vsplit(ary, indices_or_sections):
    if ndim_of(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return _split(ary, indices_or_sections, 0, True)


@handles(np.dsplit)
def dsplit(ary, indices_or_sections):
    if ndim_of(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return _split(ary, indices_or_sections, 2, True)


# -- tile, repeat -----------------------------------------------------------------------


@handles(np.tile)
def tile(A, reps):
    reps = (operator.index(reps),) if np.ndim(reps) == 0 else tuple(
        operator.index(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError("negative dimensions are not allowed")
    shape = shape_of(A)
    d = max(len(reps), len(shape))
    shape = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    # each axis s becomes (r, s) by broadcasting, then one axis of r * s
    a = reshape(A, tuple(v for s in shape for v in (1, s)))
    a = np.broadcast_to(a, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(a, tuple(r * s for r, s in zip(reps, shape)))


@handles(np.repeat)
def repeat(a, repeats, axis=None):
    if isinstance(repeats, Tracer):
        raise TypeError("np.repeat(..., repeats=<traced>): repeats must be concrete integers")
    if axis is None:
        a, axis = ravel(a), -1
    axis = _axis1(axis, ndim_of(a))
    # numpy checks and broadcasts the repeats; the result gathers the repeated elements
    index = np.repeat(np.arange(shape_of(a)[axis]), repeats)
    return _take_along(a, axis, index)


def _method_repeat(self, repeats, axis=None):
    return repeat(self, repeats, axis)


# -- round ------------------------------------------------------------------------------


@handles(np.round, np.around)
def round_(a, decimals=0, out=None):
    # piecewise constant: derivative zero, so numpy's value as a plain array
    _refuse_out("np.round", out)
    return np.round(concrete(a), decimals)


def _method_round(self, decimals=0, out=None):
    return round_(self, decimals, out)


# -- diagonals and triangles --------------------------------------------------------------


@handles(np.diagonal)
def diagonal(a, offset=0, axis1=0, axis2=1):
    nd = ndim_of(a)
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    i, j = _axis1(axis1, nd), _axis1(axis2, nd)
    if i == j:
        raise ValueError("axis1 and axis2 cannot be the same")
    offset = operator.index(offset)
    rest = [k for k in range(-nd, 0) if k not in (i, j)]
    moved = transpose(a, [k % nd for k in rest] + [i % nd, j % nd])
    n1, n2 = shape_of(a)[i], shape_of(a)[j]
    r0, c0 = max(-offset, 0), max(offset, 0)
    length = max(0, min(n1 - r0, n2 - c0))
    k = np.arange(length)
    return moved[(Ellipsis, k + r0, k + c0)]


def _method_diagonal(self, offset=0, axis1=0, axis2=1):
    return diagonal(self, offset, axis1, axis2)


@handles(np.trace)
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _refuse_out("np.trace", out)
    if dtype is not None:
        a = _astype(a, dtype)
    return np.sum(diagonal(a, offset, axis1, axis2), axis=-1)


def _method_trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return trace(self, offset, axis1, axis2, dtype, out)


@handles(np.diag)
def diag(v, k=0):
    nd = ndim_of(v)
    k = operator.index(k)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = shape_of(v)[0]
    m = n + abs(k)
    i = np.arange(n)
    rows, cols = i + max(-k, 0), i + max(k, 0)
    p = index_params((m, m), (rows, cols))
    # v added into zeros at the diagonal: the transpose of reading the diagonal
    return OPS["scatter_add"](v, idx=p["idx"], in_shape=(m, m), out_ndim=p["out_ndim"],
                              adv=p["adv"], basic=p["basic"])


def _triangle(m, k, lower):
    m = _array(m)
    shape = shape_of(m)
    k = operator.index(k)
    # numpy's mask: np.tri of the last two axes (of a vector: a square one)
    mask = np.tri(*shape[-2:], k=k if lower else k - 1, dtype=bool)
    if not lower:
        mask = ~mask
    return np.where(mask, m, np.zeros(1, result_dtype(m)))


@handles(np.tril)
def tril(m, k=0):
    return _triangle(m, k, True)


@handles(np.triu)
def triu(m, k=0):
    return _triangle(m, k, False)


# -- average ----------------------------------------------------------------------------


@handles(np.average)
def average(a, axis=None, weights=None, returned=False, *, keepdims=_NOT_GIVEN):
    a = _array(a)
    nd = ndim_of(a)
    kd = False if keepdims is _NOT_GIVEN else bool(keepdims)
    axes = None if axis is None else tuple(k % nd for k in normalize_axis(axis, nd))
    red = normalize_axis(axes, nd)
    if weights is None:
        avg = np.mean(a, axis=red, keepdims=kd)
        scl = np.asarray(size_of(shape_of(a)) / max(size_of(shape_of(avg)), 1),
                         dtype=result_dtype(avg))[()]
    else:
        w = _array(weights)
        if shape_of(a) != shape_of(w):
            if axes is None:
                raise TypeError("Axis must be specified when shapes of a and weights "
                                "differ.")
            if shape_of(w) != tuple(shape_of(a)[ax] for ax in axes):
                raise ValueError("Shape of weights must be consistent with shape of a "
                                 "along specified axis.")
            w = transpose(w, tuple(np.argsort(axes))) if isinstance(w, Tracer) else \
                w.transpose(np.argsort(axes))
            new = tuple(s if ax in axes else 1 for ax, s in enumerate(shape_of(a)))
            w = reshape(w, new) if isinstance(w, Tracer) else w.reshape(new)
        dtype = np.result_type(result_dtype(a), result_dtype(w))
        if dtype.kind != "f":
            dtype = np.result_type(dtype, "f8")
        # numpy weighs (and sums the weights) in the result dtype
        w = _astype(w, dtype) if isinstance(w, Tracer) else w.astype(dtype)
        scl = np.sum(w, axis=red, keepdims=kd)
        if np.any(strip(scl) == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = np.sum(a * w, axis=red, keepdims=kd) / scl
    if returned:
        if shape_of(scl) != shape_of(avg):
            scl = np.broadcast_to(scl, shape_of(avg))
            if not isinstance(scl, Tracer):
                scl = scl.copy()
        return avg, scl
    return avg


# -- products -----------------------------------------------------------------------------


def _contract(a, b, a_axes, b_axes):
    """sum over a's ``a_axes`` against b's ``b_axes``; the rest of a's axes, then b's."""
    na, nb_ = ndim_of(a), ndim_of(b)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if na + nb_ > len(letters):
        raise ValueError("too many dimensions for a contraction")
    sa = list(letters[:na])
    sb = list(letters[na:na + nb_])
    for i, j in zip(a_axes, b_axes):
        sb[j] = sa[i]
    out = "".join(c for k, c in enumerate(sa) if k not in a_axes) + "".join(
        c for k, c in enumerate(sb) if k not in b_axes)
    return einsum("".join(sa) + "," + "".join(sb) + "->" + out, a, b)


def _shape_str(s):
    return "(" + ",".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


def _not_aligned(a, b, i, j):
    sa, sb = shape_of(a), shape_of(b)
    return ValueError(f"shapes {_shape_str(sa)} and {_shape_str(sb)} not aligned: {sa[i]} "
                      f"(dim {i}) != {sb[j]} (dim {j})")


@handles(np.dot)
def dot(a, b, out=None):
    _refuse_out("np.dot", out)
    a, b = _array(a), _array(b)
    na, nb_ = ndim_of(a), ndim_of(b)
    if na == 0 or nb_ == 0:
        return a * b
    j = 0 if nb_ == 1 else nb_ - 2
    if shape_of(a)[-1] != shape_of(b)[j]:
        raise _not_aligned(a, b, na - 1, j)
    if nb_ <= 2 or na == 1:  # here np.dot is np.matmul
        return OPS["matmul"](a, b)
    return _contract(a, b, [na - 1], [nb_ - 2])


def _method_dot(self, b, out=None):
    return dot(self, b, out)


@handles(np.tensordot)
def tensordot(a, b, axes=2):
    a, b = _array(a), _array(b)
    na, nb_ = ndim_of(a), ndim_of(b)
    try:
        axes_a, axes_b = axes
    except TypeError:
        n = operator.index(axes)
        axes_a, axes_b = list(range(na - n, na)), list(range(n))
    axes_a = [axes_a] if np.ndim(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if np.ndim(axes_b) == 0 else list(axes_b)
    if len(axes_a) != len(axes_b):
        raise ValueError("shape-mismatch for sum")
    axes_a = [operator.index(i) % na if na else operator.index(i) for i in axes_a]
    axes_b = [operator.index(i) % nb_ if nb_ else operator.index(i) for i in axes_b]
    for i, j in zip(axes_a, axes_b):
        if i >= na or j >= nb_ or shape_of(a)[i] != shape_of(b)[j]:
            raise ValueError("shape-mismatch for sum")
    return _contract(a, b, axes_a, axes_b)


@handles(np.inner)
def inner(a, b):
    a, b = _array(a), _array(b)
    na, nb_ = ndim_of(a), ndim_of(b)
    if na == 0 or nb_ == 0:
        return a * b
    if shape_of(a)[-1] != shape_of(b)[-1]:
        raise _not_aligned(a, b, na - 1, nb_ - 1)
    return _contract(a, b, [na - 1], [nb_ - 1])


@handles(np.vdot)
def vdot(a, b):
    a, b = ravel(_array(a)), ravel(_array(b))
    if shape_of(a) != shape_of(b):
        raise ValueError("cannot reshape array: vectors have different lengths")
    return OPS["matmul"](a, b)


@handles(np.kron)
def kron(a, b):
    a, b = _array(a), _array(b)
    na, nb_ = ndim_of(a), ndim_of(b)
    if na == 0 or nb_ == 0:
        return a * b
    nd = max(na, nb_)
    sa = (1,) * (nd - na) + shape_of(a)
    sb = (1,) * (nd - nb_) + shape_of(b)
    # a's axes interleaved with b's: out[i * n + k] = a[i] * b[k]
    a2 = reshape(a, tuple(v for s in sa for v in (s, 1)))
    b2 = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(a2 * b2, tuple(x * y for x, y in zip(sa, sb)))


@handles(np.outer)
def outer(a, b, out=None):
    _refuse_out("np.outer", out)
    return reshape(_array(a), (-1, 1)) * reshape(_array(b), (1, -1))


@handles(np.cross)
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    a, b = _array(a), _array(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    # numpy's checks, warnings and result shape, on the plain values
    np.cross(peek(a), peek(b), axisa, axisb, axisc)
    a = moveaxis(a, axisa, -1) if ndim_of(a) else a
    b = moveaxis(b, axisb, -1) if ndim_of(b) else b
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    na, nb_ = shape_of(a)[-1], shape_of(b)[-1]
    if na == 2 and nb_ == 2:
        return a0 * b1 - a1 * b0
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb_ == 3 else None
    if a2 is None:  # a's third component is zero
        comps = [a1 * b2, -(a0 * b2), a0 * b1 - a1 * b0]
    elif b2 is None:
        comps = [-(a2 * b1), a2 * b0, a0 * b1 - a1 * b0]
    else:
        comps = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    shape = np.broadcast_shapes(*[shape_of(c) for c in comps])
    comps = [np.broadcast_to(c, shape) for c in comps]
    r = stack(comps, axis=-1)
    return moveaxis(r, -1, axisc)
