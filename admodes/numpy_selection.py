"""numpy's reordering, selection, nan-ignoring reductions and elementwise extras on traced
values, composed from the registered ops (no calculus of their own).

Most reorderings are a *gather*: each output element is one input element. numpy itself
says which one: the handler applies the numpy function to an array of *labels* (the flat
position of every input element) with the caller's arguments, so numpy's own argument
checks, errors, index rules and shapes apply unchanged, and the traced value is then
indexed with the labels it returned (the ``getitem`` op, whose transpose is a scatter-add).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .core import Tracer, concrete, result_dtype
from .numpy_api import (
    _NOT_GIVEN,
    COMPOSITE_UFUNCS,
    _astype,
    _refuse,
    _refuse_out,
    handles,
    moveaxis,
    ravel,
    reshape,
    root_at_zero,
)
from .ops import getitem
from .registry import OPS
from .shapes import index_params, ndim_of, normalize_axis, shape_of


def _traced(*values: Any) -> bool:
    for v in values:
        if isinstance(v, Tracer):
            return True
        if isinstance(v, (list, tuple)) and _traced(*v):
            return True
    return False


def _refuse_traced(func: str, **args: Any) -> None:
    """Raise naming each argument that must be concrete (an index, a mask) but is traced."""
    names = [name for name, v in args.items() if _traced(v)]
    if names:
        raise TypeError(f"{func}: {', '.join(names)} must not be traced: admodes "
                        f"differentiates the data, not the positions it is taken from")


def _labels(a: Any) -> np.ndarray:
    """The flat position of every element of ``a``, in ``a``'s shape."""
    shape = shape_of(a)
    return np.arange(math.prod(shape), dtype=np.intp).reshape(shape)


def _gather(a: Any, labels: np.ndarray) -> Any:
    """The elements of ``a`` at the flat positions ``labels`` (any shape)."""
    labels = np.asarray(labels, dtype=np.intp)
    flat = ravel(a)
    return OPS["getitem"](flat, **index_params(shape_of(flat), labels))


def _as_float(v: Any, dtype: Any) -> Any:
    """``v`` in a float dtype: a traced value through the astype op, others by numpy."""
    if np.iscomplexobj(concrete(v)):  # a cast would drop the imaginary part
        raise TypeError("complex values are not supported with traced arguments here")
    if isinstance(v, Tracer):
        return _astype(v, dtype)
    return np.asarray(v, dtype=dtype)


def _gathering(func, name: str, out_at: int | None = None):
    """A handler for a numpy function that only moves elements of its first argument."""

    def handler(a, *args, **kwargs):
        if out_at is not None:
            out = args[out_at - 1] if len(args) >= out_at else kwargs.get("out")
            _refuse_out(name, out)
        _refuse_traced(name, arguments=(list(args), list(kwargs.values())))
        return _gather(a, func(_labels(a), *args, **kwargs))

    return handler


# the axis or index arguments are passed to numpy as given: its checks and errors apply
for _f in (np.take_along_axis, np.flip, np.fliplr, np.flipud, np.rot90, np.roll, np.delete):
    handles(_f)(_gathering(_f, f"np.{_f.__name__}"))
handles(np.take)(_gathering(np.take, "np.take", out_at=3))


# -- sort and the order statistics ----------------------------------------------------


def _sort_last(a: Any) -> Any:
    """``a`` sorted along its last axis, by gathering with the concrete values' argsort.

    Ties: a sort has no derivative where two elements are equal (which of them comes
    first depends on the direction of the move). Tied outputs get the mean of the tied
    inputs' derivatives: the even split np.max and np.min use, so np.sort(x)[-1] and
    np.max(x) have the same derivative everywhere."""
    c = np.asarray(concrete(a))
    order = np.argsort(c, axis=-1, kind="stable")
    labels = np.take_along_axis(_labels(a), order, axis=-1)
    out = _gather(a, labels)
    ordered = np.take_along_axis(c, order, axis=-1)
    # NaNs are never tied; infinities keep the gathered derivative (inf - inf is NaN)
    tie = (ordered[..., 1:] == ordered[..., :-1]) & np.isfinite(ordered[..., 1:])
    if not np.any(tie):
        return out
    # number the runs of equal values across the whole array, then average each run
    starts = np.ones(ordered.shape, dtype=bool)
    starts[..., 1:] = ~tie
    group = np.cumsum(starts.ravel()) - 1
    n_groups = int(group[-1]) + 1
    counts = np.bincount(group, minlength=n_groups).astype(result_dtype(a))
    flat = ravel(out)
    params = index_params((n_groups,), group)
    sums = OPS["scatter_add"](flat, idx=params["idx"], in_shape=(n_groups,),
                              out_ndim=params["out_ndim"], adv=params["adv"],
                              basic=params["basic"])
    means = reshape(getitem(sums, group) / counts[group], shape_of(a))
    # the mean of equal numbers may be an ulp off them: add back the exact difference (a
    # constant, so the derivative stays the mean's; m + (v - m) is v, as v - m is exact)
    return means + (np.asarray(concrete(out)) - np.asarray(concrete(means)))


def _to_last(a: Any, axis: Any) -> tuple[Any, tuple[int, ...]]:
    """``a`` with the axes ``axis`` (None: all) merged into one last axis, and the shape of
    the axes kept."""
    nd = ndim_of(a)
    axes = [ax % nd for ax in normalize_axis(axis, nd)] if nd else []
    keep = [i for i in range(nd) if i not in axes]
    kept = tuple(shape_of(a)[i] for i in keep)
    if nd:
        a = np.transpose(a, keep + axes)
    return reshape(a, kept + (-1,)), kept


@handles(np.sort)
def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _refuse("np.sort", order=order is not None)
    c = concrete(a)
    np.argsort(c, axis=axis, kind=kind, stable=stable)  # numpy's argument checks
    if axis is None:
        return _sort_last(ravel(a))
    if ndim_of(a) == 0:
        raise np.exceptions.AxisError(axis, 0)
    ax = normalize_axis(axis, ndim_of(a))[0]
    return moveaxis(_sort_last(moveaxis(a, ax, -1)), -1, ax)


def _quantile(func: str, a, q, axis, out, overwrite_input, method, keepdims, weights, want):
    """Linear interpolation between order statistics, numpy's default method; ``want``
    is numpy's answer on the concrete values (its checks, shape, dtype and NaNs)."""
    _refuse_out(func, out)
    _refuse_traced(func, q=q)
    _refuse(func, method=method != "linear", weights=weights is not None)
    # overwrite_input only lets numpy reuse the input's memory: a traced value is never
    # modified in place
    if math.prod(shape_of(a)) == 0 or math.prod(np.shape(want)) == 0:
        return want  # numpy's NaNs or empty result: no element to differentiate
    s, _ = _to_last(a, axis)
    s = _sort_last(s)
    n = shape_of(s)[-1]
    qa = np.asarray(q, dtype=np.float64)
    virtual = qa * (n - 1)
    lo = np.clip(np.floor(virtual), 0, n - 1).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    dtype = np.result_type(want)
    gamma = (virtual - lo).astype(dtype)
    below, above = getitem(s, (Ellipsis, lo)), getitem(s, (Ellipsis, hi))
    d = above - below
    # numpy's lerp: from the nearer end, so that gamma = 1 gives the upper value exactly
    r = np.where(gamma >= 0.5, above - d * (1 - gamma), below + d * gamma)
    if qa.ndim:
        r = moveaxis(r, tuple(range(-qa.ndim, 0)), tuple(range(qa.ndim)))
    r = reshape(r, np.shape(want))
    if result_dtype(r) != dtype:
        r = _astype(r, dtype)
    nan = np.isnan(want)
    return np.where(nan, want, r) if np.any(nan) else r


@handles(np.quantile)
def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    _refuse("np.quantile", interpolation=interpolation is not None)
    _refuse_traced("np.quantile", q=q)
    want = np.quantile(concrete(a), q, axis, keepdims=keepdims, method=method,
                       weights=weights)
    return _quantile("np.quantile", a, q, axis, out, overwrite_input, method, keepdims,
                     weights, want)


@handles(np.percentile)
def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    _refuse("np.percentile", interpolation=interpolation is not None)
    _refuse_traced("np.percentile", q=q)
    want = np.percentile(concrete(a), q, axis, keepdims=keepdims, method=method,
                         weights=weights)
    return _quantile("np.percentile", a, np.true_divide(q, 100), axis, out, overwrite_input,
                     method, keepdims, weights, want)


@handles(np.median)
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle element, or the mean of the two middle ones, as numpy computes it."""
    _refuse_out("np.median", out)
    want = np.median(concrete(a), axis, keepdims=keepdims)
    if math.prod(shape_of(a)) == 0 or np.size(want) == 0:
        return want
    s, _ = _to_last(a, axis)
    n = shape_of(s)[-1]
    s = _sort_last(s)
    middle = getitem(s, (Ellipsis, slice((n - 1) // 2, n // 2 + 1)))
    r = reshape(np.mean(middle, axis=-1), np.shape(want))
    nan = np.isnan(want)
    return np.where(nan, want, r) if np.any(nan) else r


@handles(np.ptp)
def ptp(a, axis=None, out=None, keepdims=False):
    _refuse_out("np.ptp", out)
    keepdims = bool(keepdims) if keepdims is not np._NoValue else False
    return (np.max(a, axis=axis, keepdims=keepdims)
            - np.min(a, axis=axis, keepdims=keepdims))


# -- building arrays: append, insert, pad, diff, select ---------------------------------


@handles(np.append)
def append(arr, values, axis=None):
    if axis is None:
        arr = ravel(arr) if ndim_of(arr) != 1 else arr
        values = ravel(values)
        axis = ndim_of(arr) - 1
    return np.concatenate((arr, values), axis=axis)


@handles(np.insert)
def insert(arr, obj, values, axis=None):
    """numpy inserts ``values`` cast to ``arr``'s dtype: label both and let numpy place
    them, then gather from the two joined."""
    _refuse_traced("np.insert", obj=obj)
    dtype = result_dtype(arr) if isinstance(arr, Tracer) else np.asarray(arr).dtype
    values = _as_float(values, dtype) if isinstance(values, Tracer) else np.asarray(
        values, dtype=dtype)
    n = math.prod(shape_of(arr))
    value_labels = n + _labels(values)
    labels = np.insert(_labels(arr), obj, value_labels, axis)
    source = np.concatenate((ravel(arr), ravel(values)))
    return _gather(source, labels)


_PAD_GATHERS = ("edge", "reflect", "symmetric", "wrap")


@handles(np.pad)
def pad(array, pad_width, mode="constant", **kwargs):
    _refuse_traced("np.pad", pad_width=pad_width, constant_values=kwargs.get(
        "constant_values"))
    if callable(mode) or mode not in ("constant",) + _PAD_GATHERS:
        raise TypeError(f"np.pad(..., mode={mode!r}) is not supported on traced values: "
                        f"admodes implements 'constant', 'edge', 'reflect', 'symmetric' "
                        f"and 'wrap'")
    # reflect_type='odd' is 2 * edge - the reflection: not a gather
    _refuse("np.pad", reflect_type=kwargs.get("reflect_type", "even") != "even")
    labels = _labels(array)
    if mode != "constant":
        return _gather(array, np.pad(labels, pad_width, mode, **kwargs))
    values = kwargs.pop("constant_values", 0)
    padded = np.pad(labels, pad_width, "constant", constant_values=-1, **kwargs)
    dtype = result_dtype(array) if isinstance(array, Tracer) else np.asarray(array).dtype
    fill = np.pad(np.zeros(shape_of(array), dtype), pad_width, "constant",
                  constant_values=values)
    inside = padded >= 0
    if not np.any(inside):
        return fill  # nothing of the array is left: a constant
    return np.where(inside, _gather(array, np.where(inside, padded, 0)), fill)


@handles(np.diff)
def diff(a, n=1, axis=-1, prepend=_NOT_GIVEN, append=_NOT_GIVEN):
    if n == 0:
        return a
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n!r}")
    nd = ndim_of(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    ax = normalize_axis(axis, nd)[0] % nd
    parts = []
    for extra in (prepend, None, append):
        if extra is None:
            parts.append(a)
        elif extra is not _NOT_GIVEN and extra is not np._NoValue:
            if not isinstance(extra, Tracer):
                extra = np.asanyarray(extra)
            if ndim_of(extra) == 0:
                shape = list(shape_of(a))
                shape[ax] = 1
                extra = np.broadcast_to(extra, tuple(shape))
            parts.append(extra)
    if len(parts) > 1:
        a = np.concatenate(parts, axis=ax)
    head = (slice(None),) * ax
    for _ in range(n):
        a = getitem(a, head + (slice(1, None),)) - getitem(a, head + (slice(None, -1),))
    return a


@handles(np.select)
def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    conds = [np.asarray(concrete(c)) for c in condlist]
    # numpy's answer on the plain values: its dtype (Python scalars stay weak) and shape
    want = np.select(conds, [concrete(c) for c in choicelist], concrete(default))
    result = default
    for cond, choice in zip(reversed(conds), reversed(list(choicelist))):
        result = np.where(cond, choice, result)
    if not isinstance(result, Tracer):
        return want
    if result_dtype(result) != want.dtype:
        result = _astype(result, want.dtype)
    return result if shape_of(result) == want.shape else np.broadcast_to(result, want.shape)


@handles(np.interp)
def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation, differentiable in ``x``, ``fp``, ``left`` and
    ``right``. At a knot xp[k] the slope in x is that of the segment to its right (the
    one numpy's search lands in), at the last knot that of the last segment; outside
    [xp[0], xp[-1]] the value is left or right, with slope 0. Repeated xp values give
    the slope numpy's formula gives: not a derivative."""
    _refuse_traced("np.interp", xp=xp)
    _refuse("np.interp", period=period is not None)
    want = np.interp(concrete(x), xp, concrete(fp), concrete(left), concrete(right))
    knots = np.asarray(xp, dtype=np.float64)
    fp = _as_float(fp, np.float64)
    x = _as_float(x, np.float64) if isinstance(x, Tracer) else np.asarray(x, np.float64)
    cx = np.asarray(concrete(x))
    n = len(knots)
    left = getitem(fp, 0) if left is None else _as_float(left, np.float64)
    right = getitem(fp, -1) if right is None else _as_float(right, np.float64)
    if n == 1:
        inside = np.broadcast_to(getitem(fp, 0), cx.shape)
    else:
        j = np.clip(np.searchsorted(knots, cx, side="right") - 1, 0, n - 2)
        x0, x1 = knots[j], knots[j + 1]
        f0, f1 = getitem(fp, j), getitem(fp, j + 1)
        inside = (f1 - f0) / (x1 - x0) * (x - x0) + f0
    below, above = cx < knots[0], cx > knots[-1]
    r = np.where(below, left, np.where(above, right, inside))
    nan = np.isnan(want)
    if np.any(nan):
        r = np.where(nan, want, r)
    return r


# -- nan-ignoring reductions ----------------------------------------------------------


def _given(v: Any) -> bool:
    return v is not _NOT_GIVEN and v is not np._NoValue


def _keep(keepdims: Any) -> bool:
    return bool(keepdims) if _given(keepdims) else False


def _extra(initial: Any, where: Any) -> dict:
    kw = {}
    if _given(initial):
        kw["initial"] = initial
    if _given(where):
        kw["where"] = where
    return kw


@handles(np.nansum)
def nansum(a, axis=None, dtype=None, out=None, keepdims=_NOT_GIVEN, initial=_NOT_GIVEN,
           where=_NOT_GIVEN):
    a = np.where(np.isnan(concrete(a)), 0.0, a)
    return np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=_keep(keepdims),
                  **_extra(initial, where))


@handles(np.nanprod)
def nanprod(a, axis=None, dtype=None, out=None, keepdims=_NOT_GIVEN, initial=_NOT_GIVEN,
            where=_NOT_GIVEN):
    a = np.where(np.isnan(concrete(a)), 1.0, a)
    return np.prod(a, axis=axis, dtype=dtype, out=out, keepdims=_keep(keepdims),
                   **_extra(initial, where))


def _nan_extremum(name: str, pick, stand_in: float):
    func = f"np.{name}"

    def handler(a, axis=None, out=None, keepdims=_NOT_GIVEN, initial=_NOT_GIVEN,
                where=_NOT_GIVEN):
        _refuse_out(func, out)
        nan = np.isnan(concrete(a))
        r = pick(np.where(nan, stand_in, a), axis=axis, keepdims=_keep(keepdims),
                 **_extra(initial, where))
        if _given(initial):
            return r  # numpy's fmax.reduce: an all-NaN slice gives initial
        seen = ~nan if not _given(where) else ~nan & np.asarray(where)
        empty = ~np.any(seen, axis=axis, keepdims=_keep(keepdims))
        if np.any(empty):
            # numpy: NaN, with a warning, for a slice of NaNs only
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
            r = np.where(empty, np.nan, r)
        return r

    return handler


handles(np.nanmax)(_nan_extremum("nanmax", np.max, -np.inf))
handles(np.nanmin)(_nan_extremum("nanmin", np.min, np.inf))


def _nan_count(a: Any, axis: Any, keepdims: bool, where: Any) -> np.ndarray:
    seen = ~np.isnan(np.asarray(concrete(a)))
    if _given(where):
        seen = seen & np.asarray(where)
    return np.sum(seen, axis=axis, keepdims=keepdims)


@handles(np.nanmean)
def nanmean(a, axis=None, dtype=None, out=None, keepdims=_NOT_GIVEN, *, where=_NOT_GIVEN):
    _refuse_out("np.nanmean", out)
    total = nansum(a, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    count = _nan_count(a, axis, _keep(keepdims), where)
    if np.any(count == 0):
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        # numpy divides in the sum's dtype (float32 stays float32)
        return total / np.asarray(count, dtype=result_dtype(total))


@handles(np.nanvar)
def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NOT_GIVEN, *,
           where=_NOT_GIVEN, mean=_NOT_GIVEN, correction=_NOT_GIVEN):
    _refuse_out("np.nanvar", out)
    _refuse("np.nanvar", mean=_given(mean))
    if _given(correction):
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    centre = nanmean(a, axis=axis, dtype=dtype, keepdims=True, where=where)
    nan = np.isnan(concrete(a))
    dev = np.where(nan, 0.0, a - centre)
    total = np.sum(dev * dev, axis=axis, keepdims=_keep(keepdims),
                   **_extra(_NOT_GIVEN, where))
    dof = _nan_count(a, axis, _keep(keepdims), where) - ddof
    if np.any(dof <= 0):
        warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning, stacklevel=3)
    dof = np.where(dof > 0, dof, np.nan)
    return total / np.asarray(dof, dtype=result_dtype(total))


@handles(np.nanstd)
def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NOT_GIVEN, *,
           where=_NOT_GIVEN, mean=_NOT_GIVEN, correction=_NOT_GIVEN):
    # a slice with one value has variance 0: derivative 0 there, as np.std (not nan)
    return root_at_zero(np.sqrt, nanvar(a, axis, dtype, out, ddof, keepdims, where=where,
                                       mean=mean, correction=correction))


# -- elementwise extras ---------------------------------------------------------------


@handles(np.sinc)
def sinc(x):
    return OPS["sinc"](x)


@handles(np.nan_to_num)
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """The value where it is finite (derivative 1), numpy's replacement elsewhere (a
    constant: derivative 0)."""
    _refuse_traced("np.nan_to_num", nan=nan, posinf=posinf, neginf=neginf)
    if not copy:
        raise TypeError("np.nan_to_num(..., copy=False) is not supported on traced "
                        "values: traced arrays are never written in place; use the "
                        "return value (copy=True)")
    c = concrete(x)
    finite = np.isfinite(c)
    if np.all(finite):
        return x
    replaced = np.nan_to_num(c, nan=nan, posinf=posinf, neginf=neginf)
    return np.where(finite, x, replaced)


@handles(np.real)
def real(val):
    return val  # traced values are real


@handles(np.imag)
def imag(val):
    return np.zeros_like(concrete(val))  # the imaginary part of a real value: constant 0


def _float_power(x, y):
    # numpy computes float_power in float64 (never float32)
    return np.power(_as_float(x, np.float64) if not isinstance(x, float) else x,
                    _as_float(y, np.float64) if not isinstance(y, float) else y)


def _scaling(ufunc):
    # numpy's constant for the dtype: its float32 loop uses 180f / pi_f, which is not
    # float32(180 / pi); the ufunc applied to 1 gives exactly the factor it multiplies by
    return lambda x: x * ufunc(result_dtype(x).type(1))


COMPOSITE_UFUNCS.update({
    np.float_power: _float_power,
    np.deg2rad: _scaling(np.deg2rad),
    np.radians: _scaling(np.deg2rad),
    np.rad2deg: _scaling(np.rad2deg),
    np.degrees: _scaling(np.rad2deg),
    np.conjugate: lambda x: x,  # the conjugate of a real value is itself
    np.divmod: lambda x, y: (np.floor_divide(x, y), np.remainder(x, y)),
})


from . import special as _special  # noqa: E402,F401  (scipy.special, when installed)
