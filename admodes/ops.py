"""The op table: every primitive declared once, the only file with calculus in it.

Each entry names a primitive, its numpy implementation and its derivative in the most
natural form (see ``registry.py``: elementwise partials, linear with a transpose,
bilinear, reduction, explicit, nondiff). Partials are functions of the primals and the
output ``out``; ``flops`` is the entry's cost per element. The helpers the entries name
sit below the table, and the shape arithmetic in ``shapes.py``.
"""

from __future__ import annotations

import itertools
import math
import operator
from typing import Any

import numpy as np

from .core import Tracer, result_dtype, strip
from .registry import (
    OPS,
    Op,
    Select,
    _divide,
    bilinear,
    elementwise,
    linear,
    nondiff,
    reduction,
    register,
)
from .shapes import (
    broadcast_batched,
    core_shape,
    expand_reduced,
    getitem_batched,
    index_params,
    inverse_permutation,
    matmul_batched,
    matmul_out_core,
    ndim_of,
    promote,
    promote_cotangent,
    reshape_batched,
    scatter_batched,
    shape_of,
    size_of,
    swap_last,
    transpose_batched,
    unbroadcast,
)


def _step(z: Any) -> Any:
    """1 where z > 0, 0.5 where z == 0, 0 where z < 0: how ties split a derivative."""
    return 0.5 * (1 + np.sign(z))


def _truth(cond):
    c = strip(cond)  # a mask: constant to derivatives, recorded by a jit staging
    return c != 0 if isinstance(c, Tracer) else np.asarray(c) != 0


def _safe_log(x):
    return np.log(np.where(x == 0, 1, x))


def _power_dbase(x, y, out):
    # y * x**(y - 1), but 0 ** (y - 1) for y == 0 would be a spurious inf * 0
    if isinstance(y, (int, float)):
        return y * np.power(x, y - 1) if y != 0 else 0 * x
    return np.where(y == 0, 0 * x, y * np.power(x, y - 1))


def _power_dexp(x, y, out):
    # out * log(x), with the limit 0 at x == 0 instead of 0 * -inf = nan
    if isinstance(x, (int, float)):  # keep a Python base weakly typed (float32 stays)
        return out * (math.log(x) if x > 0 else 0.0 if x == 0 else math.nan)
    return np.where(x == 0, 0 * out, out * _safe_log(x))


def _clip_dx(x, lo, hi, out):
    return _step(hi - np.maximum(x, lo)) * _step(x - lo)


def _clip_dlo(x, lo, hi, out):
    return _step(hi - np.maximum(x, lo)) * _step(lo - x)


def _clip_dhi(x, lo, hi, out):
    return _step(np.maximum(x, lo) - hi)


# -- elementwise ------------------------------------------------------------------------
# Arithmetic runs through Python's operators: on arrays they are numpy's ufuncs, and on
# Python floats they stay Python floats, several times faster than a numpy scalar.

elementwise("add", np.add, [1.0, 1.0], impl=operator.add)
elementwise("subtract", np.subtract, [1.0, -1.0], impl=operator.sub)
elementwise("multiply", np.multiply, [lambda x, y, out: y, lambda x, y, out: x],
            impl=operator.mul)
elementwise("true_divide", np.divide, [lambda x, y, out: _divide(1.0, y),
                                       lambda x, y, out: _divide(-out, y)],
            impl=_divide, singular=True)
elementwise("negative", np.negative, [-1.0], impl=operator.neg)
elementwise("positive", np.positive, [1.0], flops=0)
elementwise("power", np.power, [_power_dbase, _power_dexp], flops=10, singular=True)
elementwise("square", np.square, [lambda x, out: 2 * x], impl=lambda x: x * x)
elementwise("sqrt", np.sqrt, [lambda x, out: _divide(0.5, out)], flops=4, singular=True)
elementwise("exp", np.exp, [lambda x, out: out], flops=10)
elementwise("log", np.log, [lambda x, out: _divide(1.0, x)], flops=10, singular=True)
elementwise("log1p", np.log1p, [lambda x, out: _divide(1.0, 1 + x)], flops=10, singular=True)
elementwise("expm1", np.expm1, [lambda x, out: out + 1], flops=10)
elementwise("sin", np.sin, [lambda x, out: np.cos(x)], flops=10)
elementwise("cos", np.cos, [lambda x, out: -np.sin(x)], flops=10)
elementwise("tan", np.tan, [lambda x, out: 1 + out * out], flops=10)
elementwise("tanh", np.tanh, [lambda x, out: 1 - out * out], flops=10)
elementwise("sinh", np.sinh, [lambda x, out: np.cosh(x)], flops=10)
elementwise("cosh", np.cosh, [lambda x, out: np.sinh(x)], flops=10)
elementwise("arctan", np.arctan, [lambda x, out: 1 / (1 + x * x)], flops=10)
elementwise("arcsin", np.arcsin, [lambda x, out: 1 / np.sqrt(1 - x * x)], flops=10,
            singular=True)
elementwise("arccos", np.arccos, [lambda x, out: -1 / np.sqrt(1 - x * x)], flops=10,
            singular=True)
elementwise("abs", np.absolute, [lambda x, out: np.sign(x)])
elementwise("maximum", np.maximum,
            [lambda x, y, out: _step(x - y), lambda x, y, out: _step(y - x)])
elementwise("minimum", np.minimum,
            [lambda x, y, out: _step(y - x), lambda x, y, out: _step(x - y)])
elementwise("logaddexp", np.logaddexp,
            [lambda x, y, out: np.exp(x - out), lambda x, y, out: np.exp(y - out)], flops=20)
elementwise("where", np.where,
            [None, Select(lambda c, x, y, out: _truth(c)),
             Select(lambda c, x, y, out: ~_truth(c))])
elementwise("clip", np.clip, [_clip_dx, _clip_dlo, _clip_dhi])


def _sinc_d(x, out):
    """sinc'(x) = (cos(pi x) - sinc(x)) / x, by its Taylor series near 0 (where the
    quotient cancels), so that every order of derivative is right at 0 too."""
    z = math.pi * x
    z2 = z * z
    series = math.pi * z * (-1 / 3 + z2 * (1 / 30 + z2 * (-1 / 840 + z2 * (1 / 45360))))
    near = np.abs(strip(z)) < 0.1
    if not np.any(near):
        return (np.cos(z) - out) / x
    safe = np.where(near, 1.0, x)
    return np.where(near, series, (np.cos(z) - out) / safe)


def _fmod_quotient(x, y, out):
    # the integer quotient fmod used: (x - out) / y is it up to rounding
    return np.rint((strip(x) - strip(out)) / strip(y))


# issue 11, elementwise extras. Where a partial is infinite at a finite primal (cbrt at 0,
# arccosh at 1, arctanh at +-1, hypot and arctan2 at the origin) the op is singular=True:
# an exactly-zero tangent gives 0 there, any other tangent the honest infinity.
elementwise("arctan2", np.arctan2, [lambda y, x, out: _divide(x, x * x + y * y),
                                    lambda y, x, out: _divide(-y, x * x + y * y)],
            flops=20, singular=True)
elementwise("hypot", np.hypot, [lambda x, y, out: _divide(x, out),
                                lambda x, y, out: _divide(y, out)], flops=10, singular=True)
elementwise("arcsinh", np.arcsinh, [lambda x, out: 1 / np.sqrt(1 + x * x)], flops=10)
elementwise("arccosh", np.arccosh, [lambda x, out: _divide(1.0, np.sqrt(x * x - 1))],
            flops=10, singular=True)
elementwise("arctanh", np.arctanh, [lambda x, out: _divide(1.0, 1 - x * x)], flops=10,
            singular=True)
elementwise("cbrt", np.cbrt, [lambda x, out: _divide(1.0, 3 * (out * out))], flops=10,
            singular=True)
# |x|'s convention: sign(0) = 0
elementwise("fabs", np.fabs, [lambda x, out: np.sign(x)])
# copysign(x, y) = |x| sgn(y): derivative sign(x) sgn(y) in x (0 at x = 0, as for abs);
# piecewise constant in y (its jump at y = 0 gets no derivative)
elementwise("copysign", np.copysign,
            [lambda x, y, out: np.sign(x) * np.copysign(1.0, strip(y)), None])
elementwise("logaddexp2", np.logaddexp2,
            [lambda x, y, out: np.exp2(x - out), lambda x, y, out: np.exp2(y - out)],
            flops=20)
# np.sinc is a Python function, not a ufunc: numpy_selection maps it here
elementwise("sinc", None, [_sinc_d], flops=20, impl=np.sinc)
# remainder(x, y) = x - floor(x / y) y and fmod(x, y) = x - trunc(x / y) y: slope 1 in x
# and minus the (piecewise constant) quotient in y; at a jump, the derivative of the piece
# numpy's value lies on (the quotient numpy used)
elementwise("remainder", np.remainder,
            [1.0, lambda x, y, out: -np.floor_divide(strip(x), strip(y))])
elementwise("fmod", np.fmod, [1.0, lambda x, y, out: -_fmod_quotient(x, y, out)])
nondiff("heaviside", np.heaviside)  # piecewise constant: zero derivative (none at 0)
nondiff("floor_divide", np.floor_divide)
# -- more elementwise ops go here -------------------------------------------------------


# -- no derivative ----------------------------------------------------------------------

for _u in (np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
           np.sign, np.floor, np.ceil, np.rint, np.trunc, np.isfinite, np.isnan, np.isinf,
           np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.signbit):
    nondiff(_u.__name__, _u)
nondiff("argmax", lambda x, axis=None: np.argmax(x, axis=axis))
nondiff("argmin", lambda x, axis=None: np.argmin(x, axis=axis))


# -- linear -----------------------------------------------------------------------------


def _sum_impl(x, axis, keepdims):
    if type(x) is np.ndarray:  # np.add.reduce skips np.sum's Python wrapper
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


def _sum_transpose(ct, x, axis, keepdims):
    shape = shape_of(x)
    g = expand_reduced(ct, shape, axis, keepdims)
    return np.broadcast_to(g, shape_of(g)[: ndim_of(g) - len(shape)] + shape)


def _mean_impl(x, axis, keepdims):
    if type(x) is np.ndarray:
        count = size_of(tuple(x.shape[a] for a in axis))
        if count:
            return np.add.reduce(x, axis=axis, keepdims=keepdims) / count
    return np.mean(x, axis=axis, keepdims=keepdims)


def _mean_transpose(ct, x, axis, keepdims):
    count = size_of(tuple(shape_of(x)[a] for a in axis))
    return _sum_transpose(ct, x, axis, keepdims) / max(count, 1)


def _in_size(shapes, params):
    return size_of(shapes[0])


def _in_size_flops2(shapes, params):
    return 2 * size_of(shapes[0])


def _in_size_all(shapes, params):
    return sum(size_of(s) for s in shapes)


def _concat_impl(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concat_transpose(ct, *xs, axis):
    bounds = list(itertools.accumulate([0] + [shape_of(x)[axis] for x in xs]))
    nd = ndim_of(xs[0])
    pos = ndim_of(ct) - nd + axis % nd
    return tuple(getitem(ct, (slice(None),) * pos + (slice(int(lo), int(hi)),))
                 for lo, hi in zip(bounds[:-1], bounds[1:]))


def getitem(x, key):
    """Index ``x`` (traced or not) with a plain numpy index."""
    return OPS["getitem"](x, **index_params(shape_of(x), key))


linear("sum", _sum_impl, _sum_transpose, _in_size, "in.size")
linear("mean", _mean_impl, _mean_transpose, _in_size, "in.size")
linear("reshape", reshape_batched,
       lambda ct, x, shape, in_shape: reshape_batched(ct, in_shape, shape))
linear("transpose", transpose_batched,
       lambda ct, x, axes: transpose_batched(ct, inverse_permutation(axes)))
linear("broadcast_to", broadcast_batched,
       lambda ct, x, shape, in_shape: unbroadcast(ct, in_shape, len(shape)))
linear("astype", lambda x, dtype, in_dtype: x.astype(dtype),
       lambda ct, x, dtype, in_dtype: ct.astype(in_dtype))
linear("concatenate", _concat_impl, _concat_transpose)
# Indexing: an index is normalised once (shapes.index_params); its transpose adds the
# cotangent into zeros at the index (scatter_add), whose transpose is indexing again.
linear("getitem",
       lambda x, idx, in_ndim, adv, out_ndim, basic: getitem_batched(x, idx, in_ndim, adv),
       lambda ct, x, idx, in_ndim, adv, out_ndim, basic: OPS["scatter_add"](
           ct, idx=idx, in_shape=core_shape(x, in_ndim), out_ndim=out_ndim, adv=adv,
           basic=basic))
linear("scatter_add",
       lambda ct, idx, in_shape, out_ndim, adv, basic: scatter_batched(
           ct, idx, in_shape, out_ndim, adv, basic),
       lambda g, ct, idx, in_shape, out_ndim, adv, basic: OPS["getitem"](
           g, idx=idx, in_ndim=len(in_shape), adv=adv, out_ndim=out_ndim, basic=basic))
# pack: scalars -> a vector (np.array of a list of traced scalars, see numpy_api);
# its transpose hands each scalar its element of the cotangent
linear("pack", lambda *xs: np.stack(xs, axis=-1),
       lambda ct, *xs: tuple(ct[..., i] for i in range(len(xs))), _in_size_all, "0")
# cumsum along one (negative) axis; its transpose is the sum from the other end: the
# cumsum of the cotangent reversed, reversed back
def _reverse(x, axis):
    return x[(Ellipsis, slice(None, None, -1)) + (slice(None),) * (-1 - axis)]


linear("cumsum", lambda x, axis: np.cumsum(x, axis=axis),
       lambda ct, x, axis: _reverse(OPS["cumsum"](_reverse(ct, axis), axis=axis), axis),
       _in_size, "in.size")
# -- more linear ops go here ------------------------------------------------------------


# -- reductions -------------------------------------------------------------------------


def _extremum_partial(x, out, axis):
    # ties share the derivative evenly
    hit = x == out
    share = hit / np.sum(hit, axis=axis, keepdims=True)
    return share.astype(result_dtype(x))


def _prod_partial(x, out, axis):
    # the product of the other elements; out / x only where that divides by no zero
    if not np.any(strip(x) == 0):
        return out / x
    return _prod_of_others(x, axis)


def _prod_of_others(x, axis):
    """For each element, the product of the other elements of its reduced slice, built
    from differentiable ops only (so second derivatives at zeros are right): lay each
    slice out K times with a 1 on the diagonal, and multiply along it."""
    shape = shape_of(x)
    nd = len(shape)
    red = [a % nd for a in axis]
    keep = [i for i in range(nd) if i not in red]
    k = size_of(tuple(shape[i] for i in red))
    kept = tuple(shape[i] for i in keep)
    xm = np.reshape(np.transpose(x, keep + red), kept + (1, k))
    tiled = np.broadcast_to(xm, kept + (k, k))
    others = np.prod(np.where(np.eye(k, dtype=bool), 1, tiled), axis=-1)
    back = np.reshape(others, kept + tuple(shape[i] for i in red))
    return np.transpose(back, inverse_permutation(keep + red))


reduction("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
          _extremum_partial)
reduction("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
          _extremum_partial)
reduction("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
          _prod_partial)


# -- bilinear ---------------------------------------------------------------------------
# matmul: a 1-D operand is promoted to a matrix (a row on the left, a column on the right)
# so all cases share one formula (see shapes.promote).


def _matmul_batched(x, y, a, b, out):
    return matmul_batched(x, y, ndim_of(a), ndim_of(b), shape_of(out))


def _matmul_transpose(ct, a, b, out, side):
    a_nd, b_nd = ndim_of(a), ndim_of(b)
    if a_nd == 2 and b_nd == 2 and ndim_of(ct) == 2:  # the common case, no promotions
        return np.matmul(ct, np.transpose(b)) if side == 0 else np.matmul(np.transpose(a), ct)
    core = matmul_out_core(a_nd, b_nd, shape_of(out))
    nb = ndim_of(ct) - ndim_of(out)
    ct2 = promote_cotangent(ct, nb, shape_of(out), a_nd, b_nd)
    a2 = promote(a, a_nd, "left", core)
    b2 = promote(b, b_nd, "right", core)
    x, x2 = (a, a2) if side == 0 else (b, b2)
    g = np.matmul(ct2, swap_last(b2)) if side == 0 else np.matmul(swap_last(a2), ct2)
    g = unbroadcast(g, shape_of(x2), core)
    return np.reshape(g, shape_of(g)[:nb] + shape_of(x))


def _matmul_flops(shapes, params):
    a, b = shapes
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    stack = np.broadcast_shapes(a2[:-2], b2[:-2])
    return 2 * size_of(stack) * a2[-2] * a2[-1] * b2[-1]


bilinear("matmul", np.matmul, _matmul_batched,
         (lambda ct, a, b, out: _matmul_transpose(ct, a, b, out, 0),
          lambda ct, a, b, out: _matmul_transpose(ct, a, b, out, 1)),
         _matmul_flops, cost="2 * n * k * m", ufunc=np.matmul)
# -- einsum: multilinear, one form for any number of operands -------------------------
# Subscripts arrive fully explicit (numpy's parser expands '...' and the implicit output,
# numpy_arrays.einsum). Operands may carry extra leading batch axes (tangents, cotangents);
# those get fresh letters, aligned from the right like broadcasting.

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _fresh(used: str, n: int) -> str:
    free = [c for c in _LETTERS if c not in used]
    if len(free) < n:
        raise ValueError("einsum: too many axes for the 52 subscript letters")
    return "".join(free[:n])


def _einsum_impl(*xs, subs, out, optimize=False):
    nbs = [ndim_of(x) - len(s) for x, s in zip(xs, subs)]
    nb = max(nbs)
    if nb == 0:
        return np.einsum(",".join(subs) + "->" + out, *xs, optimize=optimize)
    batch = _fresh("".join(subs) + out, nb)
    full = [batch[nb - k:] + s for k, s in zip(nbs, subs)]
    return np.einsum(",".join(full) + "->" + batch + out, *xs, optimize=False)


def _batch_letters(primals, out, subs, out_sub):
    """Letters for the batch axes the primals (and the output) carry on top of their
    subscripts, aligned from the right: the subscripts made fully explicit."""
    nb_out = ndim_of(out) - len(out_sub)
    used = "".join(subs) + out_sub
    lead = _fresh(used, nb_out)
    full = [lead[nb_out - (ndim_of(x) - len(s)):] + s for x, s in zip(primals, subs)]
    return full, lead + out_sub, used + lead


def _einsum_jvp(primals, tangents, out, params):
    full, out_full, used = _batch_letters(primals, out, params["subs"], params["out"])
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        # the tangent's own batch axes lead, in the operand and in the result
        tb = _fresh(used, ndim_of(t) - ndim_of(primals[i]))
        subs = tuple(tb + s if j == i else s for j, s in enumerate(full))
        xs = primals[:i] + (t,) + primals[i + 1:]
        term = OPS["einsum"](*xs, subs=subs, out=tb + out_full)
        total = term if total is None else total + term
    return total


def _einsum_vjp(ct, primals, out, params, wanted):
    full, out_full, used = _batch_letters(primals, out, params["subs"], params["out"])
    cb = _fresh(used, ndim_of(ct) - ndim_of(out))  # the cotangent's own batch axes
    ct_sub = cb + out_full
    return [_einsum_transpose(ct, ct_sub, primals, full, i, cb, used + cb) if wanted[i]
            else None for i in range(len(primals))]


def _einsum_transpose(ct, ct_sub, primals, full, i, cb, used):
    """The cotangent of operand i: the contraction of ct with the other operands onto
    i's subscripts. A letter repeated in i ('ii') is written once and tied to its copies
    by identity matrices; a letter of i alone (summed in i only) comes from ones."""
    x, sub = primals[i], full[i]
    dims = dict(zip(sub, shape_of(x)))
    dtype = result_dtype(ct)
    operands, subs = [ct], [ct_sub]
    for j, (y, s) in enumerate(zip(primals, full)):
        if j != i:
            operands.append(y)
            subs.append(s)
    target = ""
    for c in sub:
        if c in target:  # a repeated letter: a fresh one, tied by an identity
            f = _fresh(used, 1)
            used += f
            operands.append(np.eye(dims[c], dtype=dtype))
            subs.append(c + f)
            target += f
        else:
            target += c
    present = "".join(subs)
    for c in sub:
        if c not in present:
            operands.append(np.ones(dims[c], dtype=dtype))
            subs.append(c)
            present += c
    g = OPS["einsum"](*operands, subs=tuple(subs), out=cb + target)
    # a size-1 axis of x that einsum broadcast against the other operands: sum it back
    gshape, xshape = shape_of(g), shape_of(x)
    nc = len(cb)
    ones = tuple(nc + k for k, n in enumerate(xshape) if n == 1 and gshape[nc + k] != 1)
    if ones:
        g = np.sum(g, axis=ones, keepdims=True)
    return g


def _einsum_flops(shapes, params):
    sizes: dict[str, int] = {}
    for shape, sub in zip(shapes, params["subs"]):
        for c, n in zip(sub, shape[len(shape) - len(sub):]):
            sizes[c] = max(sizes.get(c, 1), n)
    return len(shapes) * size_of(tuple(sizes.values()))


register(Op("einsum", _einsum_impl, "explicit", _einsum_flops, cost="n_ops * prod(sizes)",
            jvp=_einsum_jvp, vjp=_einsum_vjp,
            doc="multilinear: the JVP sums the op with one operand replaced by its "
                "tangent; an operand's cotangent contracts the others with ct"))


# -- cumprod along the last axis ------------------------------------------------------
# d out_k / d x_j = prod_{i <= k, i != j} x_i for j <= k. Without zeros that is
# out_k / x_j (O(n)); with a zero, W[j, k] = (prod_{i < j} x_i) (prod_{j < i <= k} x_i),
# built from cumprods of ones and x (O(n^2) per slice), an exact polynomial identity.


def _cumprod_weights(x):
    n = shape_of(x)[-1]
    lower = np.tri(n, n, -1, dtype=bool)  # lower[k, j]: j < k... used as i > j below
    later = lower.T  # later[j, i]: i > j
    spread = np.broadcast_to(np.expand_dims(x, -2), shape_of(x)[:-1] + (n, n))
    within = np.cumprod(np.where(later, spread, 1.0), axis=-1)  # [j, k]: prod_{j<i<=k}
    before = np.cumprod(np.concatenate(
        [np.ones(shape_of(x)[:-1] + (1,), result_dtype(x)), x[..., :-1]], axis=-1), axis=-1)
    upper = np.tri(n, n, 0, dtype=bool).T  # [j, k]: j <= k
    return np.where(upper, np.expand_dims(before, -1) * within, 0.0)


def _cumprod_jvp(primals, tangents, out, params):
    (x,), (t,) = primals, tangents
    if not np.any(strip(x) == 0):
        return out * OPS["cumsum"](t / x, axis=-1)
    w = _cumprod_weights(x)  # [j, k]
    return np.sum(w * np.expand_dims(t, -1), axis=-2)


def _cumprod_vjp(ct, primals, out, params, wanted):
    (x,) = primals
    if not np.any(strip(x) == 0):
        return [_reverse(OPS["cumsum"](_reverse(ct * out, -1), axis=-1), -1) / x]
    w = _cumprod_weights(x)
    return [np.sum(w * np.expand_dims(ct, -2), axis=-1)]


register(Op("cumprod", lambda x: np.cumprod(x, axis=-1), "explicit", _in_size_flops2,
            cost="2 * in.size", jvp=_cumprod_jvp, vjp=_cumprod_vjp,
            doc="along the last axis; exact where x has zeros"))
# -- more bilinear ops go here ----------------------------------------------------------
