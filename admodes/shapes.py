"""Shape algebra for the derivative rules: no calculus here.

Tangents and cotangents may carry leading *batch* axes (vector mode: k directions in one
sweep), so every helper acts on trailing axes: negative axis numbers, shapes taken from
the end, and a batch count ``nb`` found as "the value's ndim minus the primal's". Axes and
indices from user code are normalised here once (``normalize_axis``, ``index_params``), so
the rules never see numpy's many spellings of them.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .core import Tracer


def ndim_of(v: Any) -> int:
    if type(v) is float:
        return 0
    ndim = getattr(v, "ndim", None)
    return np.ndim(v) if ndim is None else ndim


def shape_of(v: Any) -> tuple[int, ...]:
    # Python floats first: getattr's failed lookup would cost more than the op itself
    if type(v) is float:
        return ()
    shape = getattr(v, "shape", None)
    return np.shape(v) if shape is None else shape  # lists, ints


def size_of(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def batch_ndim(value: Any, core_ndim: int) -> int:
    """How many leading batch axes ``value`` carries on top of a ``core_ndim`` array."""
    return ndim_of(value) - core_ndim


def unbroadcast(g: Any, shape: tuple[int, ...], out_ndim: int) -> Any:
    """Sum ``g`` (batch axes + an ``out_ndim`` core) back to batch axes + ``shape``.

    The single place where broadcasting is undone for every VJP.
    """
    gshape = shape_of(g)
    nb = len(gshape) - out_ndim
    if gshape[nb:] == shape:
        return g
    extra = out_ndim - len(shape)
    lead = tuple(range(nb, nb + extra))
    ones = tuple(
        nb + extra + i
        for i, n in enumerate(shape)
        if n == 1 and gshape[nb + extra + i] != 1
    )
    if not ones:  # only leading axes to sum: no size-1 axes to keep
        if type(g) is np.ndarray:  # np.add.reduce skips np.sum's Python wrapper
            return np.add.reduce(g, axis=lead)
        return np.sum(g, axis=lead)
    g = np.sum(g, axis=lead + ones, keepdims=True)
    return np.reshape(g, gshape[:nb] + shape)


def align(t: Any, in_ndim: int, out_ndim: int) -> Any:
    """Insert axes after the batch axes so a tangent broadcasts against the output."""
    if in_ndim == out_ndim:
        return t
    tshape = shape_of(t)
    nb = len(tshape) - in_ndim
    return np.reshape(t, tshape[:nb] + (1,) * (out_ndim - in_ndim) + tshape[nb:])


def broadcast_core(t: Any, out_shape: tuple[int, ...]) -> Any:
    tshape = shape_of(t)
    nb = len(tshape) - len(out_shape)
    if nb >= 0 and tshape[nb:] == out_shape:
        return t
    nb = max(nb, 0)
    return np.broadcast_to(align(t, len(tshape) - nb, len(out_shape)), tshape[:nb] + out_shape)


def kept_shape(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[int, ...]:
    nd = len(shape)
    red = {a % nd for a in axis}
    return tuple(1 if i in red else n for i, n in enumerate(shape))


def expand_reduced(ct: Any, shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> Any:
    """Undo a reduction's squeeze: give ``ct`` size-1 axes where ``axis`` was reduced."""
    if keepdims:
        return ct
    cshape = shape_of(ct)
    kept = kept_shape(shape, axis)
    nb = len(cshape) - (len(shape) - len(axis))
    return np.reshape(ct, cshape[:nb] + kept)


def inverse_permutation(axes) -> tuple[int, ...]:
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


def transpose_batched(x, axes):
    nb = ndim_of(x) - len(axes)
    if nb == 0:
        return np.transpose(x, axes)
    return np.transpose(x, tuple(range(nb)) + tuple(nb + a for a in axes))


def reshape_batched(x, shape, in_shape):
    xshape = shape_of(x)
    new = xshape[: len(xshape) - len(in_shape)] + shape
    # the method skips np.reshape's Python wrapper; Python floats have none
    return np.reshape(x, new) if type(x) is float else x.reshape(new)


def broadcast_batched(x, shape, in_shape):
    x = align(x, len(in_shape), len(shape))
    xshape = shape_of(x)
    return np.broadcast_to(x, xshape[: len(xshape) - len(shape)] + shape)


def core_shape(x: Any, core_ndim: int) -> tuple[int, ...]:
    """The shape of ``x`` without the batch axes it may carry in front."""
    shape = shape_of(x)
    return shape[len(shape) - core_ndim:]


def batched_key(idx: tuple, nb: int) -> tuple:
    return (slice(None),) * nb + idx if nb else idx


def getitem_batched(x, idx, in_ndim, adv):
    if type(x) is float:  # a Python float tangent of a 0-d value: index it as numpy would
        x = np.float64(x)
    nb = ndim_of(x) - in_ndim
    if nb == 0:
        return x[idx]
    r = x[batched_key(idx, nb)]
    adv_ndim, split = adv
    if split:
        perm = tuple(range(adv_ndim, adv_ndim + nb)) + tuple(range(adv_ndim)) + tuple(
            range(adv_ndim + nb, ndim_of(r)))
        r = np.transpose(r, perm)
    return r


def scatter_batched(ct, idx, in_shape, out_ndim, adv, basic):
    """Transpose of indexing: zeros of ``in_shape`` with ``ct`` added at ``idx``."""
    cshape = shape_of(ct)
    nb = len(cshape) - out_ndim
    adv_ndim, split = adv
    if nb and split:
        perm = tuple(range(nb, nb + adv_ndim)) + tuple(range(nb)) + tuple(
            range(nb + adv_ndim, len(cshape)))
        ct = np.transpose(ct, perm)
    z = np.zeros(cshape[:nb] + in_shape, dtype=np.result_type(ct))
    key = batched_key(idx, nb)
    if basic:
        z[key] = ct
    else:
        np.add.at(z, key, ct)  # repeated indices accumulate
    return z


def promote(x: Any, core_ndim: int, side: str, target_ndim: int) -> Any:
    xshape = shape_of(x)
    nb = len(xshape) - core_ndim
    core = xshape[nb:]
    if core_ndim == 1:
        core = (1,) + core if side == "left" else core + (1,)
    pad = (1,) * (target_ndim - len(core)) if nb else ()
    new = xshape[:nb] + pad + core
    return x if new == xshape else np.reshape(x, new)


def matmul_out_core(a_ndim: int, b_ndim: int, out_shape: tuple[int, ...]) -> int:
    return len(out_shape) + (a_ndim == 1) + (b_ndim == 1)


def matmul_batched(a, b, a_ndim, b_ndim, out_shape):
    """a @ b where either operand may carry leading batch axes."""
    if ndim_of(a) == a_ndim and ndim_of(b) == b_ndim:
        return np.matmul(a, b)
    core = matmul_out_core(a_ndim, b_ndim, out_shape)
    r = np.matmul(promote(a, a_ndim, "left", core), promote(b, b_ndim, "right", core))
    rshape = shape_of(r)
    nb = len(rshape) - core
    return np.reshape(r, rshape[:nb] + out_shape)


def swap_last(x):
    nd = ndim_of(x)
    return np.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def promote_cotangent(ct, nb, out_shape, a_nd, b_nd):
    """Give the cotangent back the axes a 1-D operand's promotion would have produced."""
    core = out_shape
    if a_nd == 1:
        core = core[:-1] + (1,) + core[-1:] if b_nd > 1 else core + (1,)
    if b_nd == 1:
        core = core + (1,)
    return np.reshape(ct, shape_of(ct)[:nb] + core)


# -- normalising user arguments -------------------------------------------------------


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Axis argument -> tuple of negative axis numbers (so leading batch axes don't shift
    them)."""
    if axis is None:
        return tuple(range(-ndim, 0))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim - ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(out)


def index_params(shape: tuple[int, ...], key: Any) -> dict:
    """Normalise an index once: booleans to integer arrays, and what the rules need."""
    if not isinstance(key, tuple):
        key = (key,)
    idx: list[Any] = []
    for k in key:
        if isinstance(k, Tracer):
            raise TypeError("an index must be a concrete value, not a traced one")
        if isinstance(k, list):
            k = np.asarray(k)
        if isinstance(k, np.ndarray):
            if k.dtype == bool:
                idx.extend(np.nonzero(k))
                continue
            if not np.issubdtype(k.dtype, np.integer):
                raise IndexError(f"arrays used as indices must be integer or boolean, "
                                 f"got dtype {k.dtype}")
        idx.append(k)
    arrays = [i for i, k in enumerate(idx) if isinstance(k, np.ndarray)]
    basic = not arrays
    if basic:
        adv: tuple[int, bool] = (0, False)
    else:
        positions = [i for i, k in enumerate(idx)
                     if isinstance(k, np.ndarray) or isinstance(k, (int, np.integer))]
        split = positions != list(range(positions[0], positions[-1] + 1))
        adv = (np.broadcast(*[idx[i] for i in arrays]).ndim, split)
    t = tuple(idx)
    if basic:  # ints drop an axis, None adds one; numpy checks the bounds when it indexes
        out_ndim = len(shape) + sum(k is None for k in t) - sum(
            not isinstance(k, (slice, type(None), type(Ellipsis))) for k in t)
    else:
        # the result's shape, found on a zero-strided stand-in (also checks the bounds)
        probe = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape=shape,
                                                strides=(0,) * len(shape))
        out_ndim = probe[t].ndim
    return {"idx": t, "in_ndim": len(shape), "adv": adv, "out_ndim": out_ndim, "basic": basic}
