"""How plain numpy code reaches the registry.

numpy hands any call that involves a tracer to ``__array_ufunc__`` (for ufuncs such as
``np.sin`` and the operators) or ``__array_function__`` (for ``np.sum``, ``np.reshape``...).
Here each such call is mapped to a registered primitive with normalised parameters, or
composed from primitives. Anything else fails loudly, naming the function, instead of
silently dropping a derivative.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops as _ops  # noqa: F401  (the entries: OPS is complete from here on)
from .core import NO_PARAMS, Tracer, bind, concrete, holds_tracer, peek, result_dtype, strip
from .registry import FUNCTIONS, OPS, UFUNCS
from .shapes import index_params, ndim_of, normalize_axis, shape_of
from .tree import tree_flatten, tree_unflatten


def _nan_ignoring(pick: Callable) -> Callable:
    """np.fmax / np.fmin from np.maximum / np.minimum: a NaN loses to a number.

    Each NaN is first replaced by the other argument, so the derivative follows the
    argument selected and ties keep pick's even split. Where both are NaN, pick sees
    zeros and the result is x's NaN: no NaN reaches pick's partials, where a 0 * NaN
    would spread into the derivatives of other elements. Without NaNs this is pick."""

    def zero_nans(v, nan):
        # a Python float stays one: np.where would make it a float64 array, promoting
        # float32 arguments
        return (0.0 if nan else v) if isinstance(v, float) else np.where(nan, 0.0, v)

    def composite(x, y):
        x_nan, y_nan = np.isnan(strip(x)), np.isnan(strip(y))
        if not (np.any(x_nan) or np.any(y_nan)):
            return pick(x, y)
        picked = pick(np.where(x_nan, zero_nans(y, y_nan), x),
                      np.where(y_nan, zero_nans(x, x_nan), y))
        both = x_nan & y_nan
        return np.where(both, x, picked) if np.any(both) else picked

    return composite


# ufuncs with no primitive of their own, written in terms of the ones that have one
COMPOSITE_UFUNCS: dict[Any, Callable] = {
    # constants as Python floats, which do not promote float32 (numpy scalars would)
    np.log2: lambda x: np.log(x) * (1 / math.log(2.0)),
    np.log10: lambda x: np.log(x) * (1 / math.log(10.0)),
    np.exp2: lambda x: np.exp(x * math.log(2.0)),
    np.reciprocal: lambda x: 1 / x,
    np.fmax: _nan_ignoring(np.maximum),
    np.fmin: _nan_ignoring(np.minimum),
}


def _unsupported(what: str) -> TypeError:
    return TypeError(
        f"{what} has no registered derivative rule in admodes, so it cannot be applied to "
        f"traced values (that would drop the derivative). Express it with registered ops "
        f"(see `admodes ops`) or register a new op."
    )


# Every handler below computes what numpy computes or refuses, naming the argument it
# cannot honour: an argument dropped quietly would give a different number, unannounced.

_NOT_GIVEN: Any = object()  # an argument the caller left out (numpy's defaults vary)


def _refuse_out(func: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{func}(..., out=...) is not supported on traced values: traced "
                        f"arrays are never written in place; use the return value")


def _refuse(func: str, /, **flags: bool) -> None:
    """Raise naming every keyword flagged True: one that the handler does not implement."""
    names = [name for name, given in flags.items() if given]
    if names:
        listed = ", ".join(f"{name}=..." for name in names)
        raise TypeError(f"{func}(..., {listed}) is not supported on traced values: admodes "
                        f"does not implement {'that argument' if len(names) == 1 else 'those'}")


def _is_true(value: Any) -> bool:
    # where=True, numpy's "every element", also spelt np.True_
    return value is True or (isinstance(value, np.bool_) and bool(value))


# the keywords every ufunc takes, with the values that change nothing
_UFUNC_DEFAULTS = {"where": True, "casting": "same_kind", "order": "K", "dtype": None,
                   "subok": True, "signature": None}


def _refuse_ufunc_kwargs(func: str, kwargs: dict) -> None:
    def is_default(name, value):
        default = _UFUNC_DEFAULTS.get(name, _NOT_GIVEN)
        if default is True:
            return _is_true(value)
        return value is default or (isinstance(default, str) and value == default)

    _refuse(func, **{name: not is_default(name, v) for name, v in kwargs.items()})


_ORDERS = ("C", "F", "A", "K")


def _check_order(func: str, order: Any, supported: tuple[str, ...]) -> None:
    if order not in _ORDERS:
        raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    if order not in supported:
        raise TypeError(f"{func}(..., order={order!r}) is not supported on traced values: "
                        f"that order follows the memory layout, which tracing does not "
                        f"keep; use order='C' or order='F'")


# -- object arrays of traced values ------------------------------------------------------
# np.array([x[0] ** 2, 1.0]) is an object array of scalar traced values (Tracer.__array__).
# Wherever such an array (or a list holding traced values) meets the registry, it is first
# made one traced array again: its elements packed, numpy's shape and dtype kept.


_SEQUENCES = (list, tuple)  # operands that may hold traced values (with object arrays)
_NUMBERS = (bool, int, float, np.bool_, np.integer, np.floating)


def lift_objects(a: Any) -> Any:
    """An object array or list holding traced values -> one traced array (else ``a``)."""
    if type(a) in (list, tuple):
        if not holds_tracer(a):
            return a
        a = np.asarray(a)  # numpy's coercion (and its error for ragged input)
    if not (type(a) is np.ndarray and a.dtype.kind == "O"):
        return a
    items = a.ravel().tolist()
    if not any(isinstance(e, Tracer) for e in items):
        # numbers left over from such an array (np.sign(np.array([x[0], x[1]])) holds
        # plain floats): numpy would have had a float array all along, so the result of
        # meeting a traced value must not become a traced OBJECT array
        if items and all(isinstance(e, _NUMBERS) for e in items):
            return np.array(items).reshape(a.shape)
        return a
    for e in items:
        if isinstance(e, Tracer) and ndim_of(e) != 0:
            raise TypeError("an object array holds a traced value that is not a scalar; "
                            "build the array with np.stack or np.concatenate instead")
    # the dtype numpy gives these values (float32 stays float32; a Python float promotes)
    dtype = np.array([peek(e) for e in items]).dtype
    if dtype.kind != "f":
        raise TypeError(f"an object array of traced values and {dtype} values cannot become "
                        f"one traced array: only float arrays carry derivatives")
    packed = OPS["pack"](*items)
    if a.shape != (len(items),):
        packed = reshape(packed, a.shape)
    return packed if result_dtype(packed) == dtype else _astype(packed, dtype)


def lift_outputs(out: Any) -> Any:
    """A transformation's outputs with their object arrays of traced values lifted to
    traced arrays (done while the transformation still runs)."""
    leaves, tree = tree_flatten(out)
    if not any(type(o) is np.ndarray and o.dtype.kind == "O" for o in leaves):
        return out
    return tree_unflatten(tree, [lift_objects(o) for o in leaves])


def _lift_all(values: Any) -> Any:
    """``lift_objects`` on object arrays anywhere in (nested) lists and tuples of
    arguments; the lists stay lists (np.concatenate's sequence of arrays)."""
    if type(values) is np.ndarray:
        return lift_objects(values) if values.dtype.kind == "O" else values
    if type(values) in (list, tuple):
        return type(values)(_lift_all(v) for v in values)
    return values


def _lift_inputs(inputs: tuple) -> tuple:
    for x in inputs:
        if type(x) in _SEQUENCES or (type(x) is np.ndarray and x.dtype.hasobject):
            return tuple(lift_objects(v) for v in inputs)
    return inputs


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    inputs = _lift_inputs(inputs)
    op = UFUNCS.get(ufunc)
    if op is not None and method == "__call__" and not kwargs:
        # the hot path: a lone input is the top tracer, no need for bind to search
        if len(inputs) == 1 and not op.nondiff:
            return self._trace.process(op, inputs, NO_PARAMS)
        return bind(op, *inputs)
    return dispatch_ufunc(ufunc, method, inputs, kwargs)


def array_function(self, func, types, args, kwargs):
    if any(t is np.ndarray for t in types):  # an ndarray argument may be an object array
        args, kwargs = _lift_all(args), {k: _lift_all(v) for k, v in kwargs.items()}
    handler = HANDLERS.get(func)
    if handler is None:
        return dispatch_function(func, args, kwargs)
    return handler(*args, **kwargs)


_UFUNC_REDUCTIONS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max,
                     np.minimum: np.min}


def _scan(ufunc, array, axis=0, dtype=None, out=None):
    """ufunc.accumulate for an associative ufunc: np.cumsum or np.cumprod for add and
    multiply; for maximum and minimum, log2(n) rounds of combining each element with the
    one ``shift`` before it (Hillis and Steele), each round a registered op."""
    name = f"np.{ufunc.__name__}.accumulate"
    _refuse_out(name, out)
    if dtype is not None:
        array = _astype(array, dtype)
    nd = ndim_of(array)
    if nd == 0:
        raise TypeError("cannot perform accumulation with a 0-d array")  # numpy's words
    ax = normalize_axis(axis, nd)[0]
    if ufunc in (np.add, np.multiply):
        # numpy's np.add.accumulate is np.cumsum (its order of additions, so its exact
        # values in float32, which the pairwise rounds below would round differently)
        return HANDLERS[np.cumsum if ufunc is np.add else np.cumprod](array, axis=ax)
    y = moveaxis(array, ax, -1)
    if ufunc in (np.maximum, np.minimum):
        tied = _tied_running_extremum(ufunc, y)
        if tied is not None:
            return moveaxis(tied, -1, ax)
    n, shift = shape_of(y)[-1], 1
    while shift < n:
        head = _ops.getitem(y, (Ellipsis, slice(None, shift)))
        tail = ufunc(_ops.getitem(y, (Ellipsis, slice(shift, None))),
                     _ops.getitem(y, (Ellipsis, slice(None, n - shift))))
        y = concatenate([head, tail], axis=-1)
        shift *= 2
    return moveaxis(y, -1, ax)


def _tied_running_extremum(ufunc, y):
    """np.maximum/minimum.accumulate along the last axis where a running extremum is
    tied (None where none is): each output the mean of the elements equal to it so far,
    the even split np.max uses, so accumulate(x)[..., -1] has np.max(x)'s derivative
    (the pairwise rounds of ``_scan`` would split a tie unevenly, 1/2, 1/4, 1/4)."""
    c = np.asarray(concrete(y))
    if c.size == 0 or not np.all(np.isfinite(c)):
        return None
    m = ufunc.accumulate(c, axis=-1)
    hit = c == m  # the elements equal to the running extremum when they arrive
    starts = np.ones(c.shape, dtype=bool)  # where the running extremum changes
    starts[..., 1:] = m[..., 1:] != m[..., :-1]
    if np.all(hit == starts):  # each extremum reached once: no tie
        return None
    # each position's run: from the last change of the running extremum up to it
    start = np.maximum.accumulate(np.where(starts, np.arange(c.shape[-1]), 0), axis=-1)

    def so_far_in_run(v):  # the cumulative sum of v within each run (traced or not)
        run = np.cumsum(v, axis=-1)
        before = np.concatenate([np.zeros_like(run[..., :1]), run], axis=-1)
        return run - np.take_along_axis(before, start, axis=-1)

    count = so_far_in_run(hit.astype(c.dtype))
    mean = so_far_in_run(np.where(hit, y, 0)) / count
    # the mean of equal numbers may be an ulp off them: add back the exact difference
    return mean + (m - np.asarray(concrete(mean)))


def dispatch_ufunc(ufunc, method, inputs, kwargs):
    inputs = [np.asarray(x) if isinstance(x, (list, tuple)) else x for x in inputs]
    if method == "reduce" and ufunc in _UFUNC_REDUCTIONS:
        (array,) = inputs
        kwargs.setdefault("axis", 0)  # a ufunc reduces axis 0 unless told
        dtype = kwargs.pop("dtype", None) if ufunc in (np.maximum, np.minimum) else None
        if dtype is not None:  # np.maximum.reduce takes dtype=, which np.max does not
            array = _astype(array, dtype)
        return HANDLERS[_UFUNC_REDUCTIONS[ufunc]](array, **kwargs)
    if method == "accumulate" and ufunc in _UFUNC_REDUCTIONS:
        return _scan(ufunc, *inputs, **kwargs)
    if method != "__call__":
        raise _unsupported(f"np.{ufunc.__name__}.{method}")
    where = kwargs.pop("where", True)
    if not _is_true(where):
        raise TypeError(f"np.{ufunc.__name__}(..., where=...) is not supported on traced "
                        f"values: without out= numpy leaves the elements where= excludes "
                        f"uninitialised; use np.where(mask, np.{ufunc.__name__}(...), other)")
    dtype = kwargs.pop("dtype", None)
    extra = {k: v for k, v in kwargs.items() if v is not None}
    if extra:
        raise TypeError(
            f"np.{ufunc.__name__} on traced values takes no keyword arguments "
            f"(got {sorted(extra)})"
        )
    if dtype is not None:  # numpy computes in dtype: cast the inputs (float dtypes only)
        dtype = np.dtype(dtype)
        inputs = [_astype(x, dtype) if isinstance(x, Tracer) else np.asarray(x, dtype)
                  for x in inputs]
    op = UFUNCS.get(ufunc)
    if op is not None:
        return op(*inputs)
    composite = COMPOSITE_UFUNCS.get(ufunc)
    if composite is not None:
        return composite(*inputs)
    raise _unsupported(f"np.{ufunc.__name__}")


# numpy function -> handler: the registry's live table, filled here and by admodes.defop
HANDLERS: dict[Any, Callable] = FUNCTIONS


def handles(*funcs):
    def deco(fn):
        for f in funcs:
            HANDLERS[f] = fn
        return fn

    return deco


def dispatch_function(func, args, kwargs):
    handler = HANDLERS.get(func)
    if handler is None:
        name = getattr(func, "__module__", "numpy").replace("numpy", "np", 1)
        raise _unsupported(f"{name}.{func.__name__}")
    return handler(*args, **kwargs)


# -- parameter normalisation ----------------------------------------------------------


# what where= fills the elements it leaves out with, and how initial= joins the result
_REDUCE_FILL = {"sum": 0.0, "mean": 0.0, "prod": 1.0, "max": -np.inf, "min": np.inf}
_REDUCE_INITIAL = {"sum": operator.add, "prod": operator.mul,
                   "max": lambda r, v: np.maximum(r, v), "min": lambda r, v: np.minimum(r, v)}


def _reduce(name):
    op, func = OPS[name], f"np.{name}"

    def handler(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOT_GIVEN,
                where=_NOT_GIVEN):
        _refuse_out(func, out)
        if dtype is not None:  # numpy reduces in dtype: cast first (float dtypes only)
            a = _astype(a, dtype)
        axes = normalize_axis(axis, ndim_of(a))
        keepdims = bool(keepdims)
        if initial is _NOT_GIVEN and where is _NOT_GIVEN:  # the common case
            return op(a, axis=axes, keepdims=keepdims)
        has_initial = initial is not _NOT_GIVEN and initial is not np._NoValue
        if has_initial:
            if name == "mean":
                raise TypeError("mean() got an unexpected keyword argument 'initial'")
            if isinstance(initial, Tracer):
                raise TypeError(f"{func}(..., initial=...) must not be traced")
            # a Python scalar, which numpy casts to the reduction's dtype (and which
            # does not promote float32)
            initial = float(np.asarray(initial).item())
        count = None
        if where is not _NOT_GIVEN and where is not np._NoValue and not _is_true(where):
            mask = np.asarray(concrete(where), dtype=bool)
            shape = shape_of(a)
            if np.broadcast_shapes(mask.shape, shape) != shape:
                raise ValueError(f"{func}: where= of shape {mask.shape} does not broadcast "
                                 f"to the input's shape {shape}")
            if name in ("max", "min") and not has_initial:
                ufunc = "maximum" if name == "max" else "minimum"
                raise ValueError(f"reduction operation '{ufunc}' does not have an "
                                 f"identity, so to use a where mask one has to specify "
                                 f"'initial'")
            # the elements left out become the reduction's identity
            a = np.where(mask, a, _REDUCE_FILL[name])
            if name == "mean":
                count = np.sum(np.broadcast_to(mask, shape), axis=axes, keepdims=keepdims)
        reduced = math.prod(shape_of(a)[ax] for ax in axes)
        if name == "mean" and count is not None:
            total = OPS["sum"](a, axis=axes, keepdims=keepdims)
            with np.errstate(invalid="ignore", divide="ignore"):  # numpy's nan, warned
                if np.any(count == 0):
                    import warnings
                    warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=2)
                return total / np.asarray(count, dtype=result_dtype(total))
        if reduced == 0 and has_initial and name in ("max", "min"):
            # nothing to reduce: numpy's answer is initial itself, a constant
            out_shape = np.shape(np.sum(np.zeros(shape_of(a)), axis=axes, keepdims=keepdims))
            return np.full(out_shape, initial, dtype=result_dtype(a))
        r = op(a, axis=axes, keepdims=keepdims)
        if has_initial:
            r = _REDUCE_INITIAL[name](r, initial)
        return r

    return handler


def _reduce_without_dtype(name):
    # np.max and np.min take no dtype: their third positional argument is out
    reduce = _reduce(name)

    def handler(a, axis=None, out=None, keepdims=False, initial=_NOT_GIVEN, where=_NOT_GIVEN):
        return reduce(a, axis, None, out, keepdims, initial, where)

    return handler


HANDLERS[np.sum] = _reduce("sum")
HANDLERS[np.mean] = _reduce("mean")
HANDLERS[np.max] = HANDLERS[np.amax] = _reduce_without_dtype("max")
HANDLERS[np.min] = HANDLERS[np.amin] = _reduce_without_dtype("min")
HANDLERS[np.prod] = _reduce("prod")


def _resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


@handles(np.reshape)
def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    # copy only decides whether numpy may share memory; a traced value is never written
    # in place, so no caller can tell a view from a copy. (newshape: numpy < 2.4.)
    _check_order("np.reshape", order, ("C", "F"))
    shape = newshape if shape is None else shape
    in_shape = shape_of(a)
    new = _resolve_shape(shape, math.prod(in_shape))
    if new == in_shape:
        return a
    if order == "F":  # Fortran order is C order with every axis reversed
        return transpose(reshape(transpose(a), new[::-1]))
    return OPS["reshape"](a, shape=new, in_shape=in_shape)


@handles(np.ravel)
def ravel(a, order="C"):
    # 'A' and 'K' follow the memory layout; with at most one axis every order agrees
    _check_order("np.ravel", order, ("C", "F") if ndim_of(a) > 1 else _ORDERS)
    return reshape(a, (-1,), "F" if order == "F" else "C")


@handles(np.transpose)
def transpose(a, axes=None):
    nd = ndim_of(a)
    if axes is None:
        axes = tuple(range(nd - 1, -1, -1))
    else:  # an int is a permutation of one axis, as in x.transpose(0) on a vector
        axes = tuple(s % nd for s in normalize_axis(axes, nd))
    if len(axes) != nd:
        raise ValueError(f"axes {axes} don't match array of {nd} dimensions")
    if axes == tuple(range(nd)):
        return a
    return OPS["transpose"](a, axes=axes)


@handles(np.swapaxes)
def swapaxes(a, axis1, axis2):
    nd = ndim_of(a)
    perm = list(range(nd))
    i, j = normalize_axis(axis1, nd)[0] % nd, normalize_axis(axis2, nd)[0] % nd
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


@handles(np.moveaxis)
def moveaxis(a, source, destination):
    nd = ndim_of(a)
    src = [s % nd for s in normalize_axis(source, nd)]
    dst = [d % nd for d in normalize_axis(destination, nd)]
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number "
                         "of elements")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


@handles(np.expand_dims)
def expand_dims(a, axis):
    shape = list(shape_of(a))
    nd = len(shape) + (1 if isinstance(axis, (int, np.integer)) else len(axis))
    for ax in sorted(s % nd for s in normalize_axis(axis, nd)):
        shape.insert(ax, 1)
    return reshape(a, tuple(shape))


@handles(np.squeeze)
def squeeze(a, axis=None):
    shape = shape_of(a)
    if axis is None:
        axes = {i for i, n in enumerate(shape) if n == 1}
    else:
        axes = {s % len(shape) for s in normalize_axis(axis, len(shape))}
        if any(shape[i] != 1 for i in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not "
                             "equal to one")
    return reshape(a, tuple(n for i, n in enumerate(shape) if i not in axes))


@handles(np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    # subok only matters for ndarray subclasses; the result is a traced value either way
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    in_shape = shape_of(array)
    if np.broadcast_shapes(in_shape, shape) != shape:
        raise ValueError(f"cannot broadcast a value of shape {in_shape} to {shape}")
    if in_shape == shape:
        return array
    return OPS["broadcast_to"](array, shape=shape, in_shape=in_shape)


def _dtype_of(x: Any) -> np.dtype:
    return result_dtype(x) if isinstance(x, Tracer) else np.asarray(x).dtype


def _join(func, arrays, axis, out, dtype, casting):
    """np.concatenate with numpy's dtype and casting: join, then cast the result."""
    _refuse_out(func, out)
    if axis is None:
        arrays, axis = [ravel(x) for x in arrays], 0
    nd = ndim_of(arrays[0])
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    joined = OPS["concatenate"](*arrays, axis=normalize_axis(axis, nd)[0])
    if dtype is None and casting == "same_kind":
        return joined  # the common dtype of the inputs is reached by a same-kind cast
    target = _dtype_of(joined) if dtype is None else np.dtype(dtype)
    for x in arrays:  # numpy casts each input to the result's dtype under this rule
        if not np.can_cast(_dtype_of(x), target, casting):
            raise TypeError(f"{func}(..., casting={casting!r}) cannot cast {_dtype_of(x)} "
                            f"to {target}, and neither can numpy")
    # joining in the inputs' common dtype and casting once gives numpy's numbers: each
    # float converts exactly to the wider of two float dtypes
    return _astype(joined, target)


@handles(np.concatenate)
def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    return _join("np.concatenate", list(arrays), axis, out, dtype, casting)


@handles(np.stack)
def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    if len({shape_of(x) for x in arrays}) != 1:
        raise ValueError("all input arrays must have the same shape")
    return _join("np.stack", [expand_dims(x, axis) for x in arrays], axis, out, dtype,
                 casting)


@handles(np.where)
def where(condition, x=None, y=None):
    if x is None and y is None:
        return np.where(concrete(condition))
    return OPS["where"](condition, x, y)


@handles(np.clip)
def clip(a, a_min=_NOT_GIVEN, a_max=_NOT_GIVEN, out=None, *, min=_NOT_GIVEN, max=_NOT_GIVEN,
         **kwargs):
    _refuse_out("np.clip", out)
    _refuse_ufunc_kwargs("np.clip", kwargs)
    # numpy's rules: both bounds positionally, or any of them as min= / max=
    if a_min is _NOT_GIVEN and a_max is _NOT_GIVEN:
        a_min = None if min is _NOT_GIVEN else min
        a_max = None if max is _NOT_GIVEN else max
    elif a_min is _NOT_GIVEN or a_max is _NOT_GIVEN:
        missing = "a_min" if a_min is _NOT_GIVEN else "a_max"
        raise TypeError(f"clip() missing 1 required positional argument: '{missing}'")
    elif min is not _NOT_GIVEN or max is not _NOT_GIVEN:
        raise ValueError("Passing `min` or `max` keyword argument when `a_min` and `a_max` "
                         "are provided is forbidden.")
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return OPS["clip"](a, lo, hi)


def root_at_zero(root: Callable, v: Any) -> Any:
    """root(v) of a sum of squares or powers (np.sqrt of a variance or squared norm,
    s ** (1 / p)), with derivative 0 where v is exactly 0 (np.std, np.nanstd, the norms).

    There the function is a cone with no gradient; 0 is its minimal subgradient (as
    sign(0) = 0). Forward mode gives 0 anyway (an exactly-zero tangent), but reverse mode
    would pull back root'(0) * 0 = inf * 0 = nan, so both modes take 0.
    """
    zero = strip(v) == 0  # a mask (recorded by a jit staging, not a guard on v)
    if not np.any(zero):
        return root(v)
    return np.where(zero, 0.0, root(np.where(zero, 1.0, v)))


@handles(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    """numpy's norms, step by step as numpy takes them, from the registered ops; the
    norms that need singular values refuse by name."""
    if math.prod(shape_of(x)) == 0:  # no element to differentiate: numpy's own value
        return np.linalg.norm(concrete(x), ord, axis, keepdims)
    nd = ndim_of(x)
    if axis is None:
        # numpy's shortcut: the 2-norm of all the elements (any ndim when ord is None)
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            ret = root_at_zero(np.sqrt, np.sum(x * x))
            return reshape(ret, (1,) * nd) if keepdims else ret
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (int(axis),)
        except (TypeError, ValueError) as e:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from e
    if len(axis) == 1:
        return _vector_norm(x, ord, axis, keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def _vector_norm(x, ord, axis, keepdims):
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord is None or ord == 2:
        return root_at_zero(np.sqrt, np.sum(x * x, axis=axis, keepdims=keepdims))
    if ord == 0:  # the count of nonzero elements has no derivative: numpy's own value
        return np.linalg.norm(concrete(x), 0, axis, keepdims)
    a = np.abs(x)
    if ord == np.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    if ord == 1:
        return np.sum(a, axis=axis, keepdims=keepdims)
    s = np.sum(a ** ord, axis=axis, keepdims=keepdims)
    power = np.reciprocal(ord, dtype=result_dtype(s))  # numpy's exponent, its dtype
    return root_at_zero(lambda v: v ** power, s) if ord > 0 else s ** power


def _matrix_norm(x, ord, axis, keepdims):
    nd = ndim_of(x)
    row, col = (normalize_axis(operator.index(a), nd)[0] for a in axis)
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord in (2, -2, "nuc"):
        # the largest, smallest or summed singular values (admodes.linalg's svdvals op,
        # whose convention splits ties evenly and gives a zero singular value slope 0)
        s = OPS["svdvals"](moveaxis(x, (row, col), (-2, -1)))
        pick = {2: np.max, -2: np.min, "nuc": np.sum}[ord]
        ret = np.expand_dims(pick(s, axis=-1), (row, col))
    elif ord is None or ord in ("f", "fro"):
        ret = root_at_zero(np.sqrt, np.sum(x * x, axis=(row, col), keepdims=True))
    elif ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum of |x|; inf: the largest row sum; negative: smallest
        summed, across = (row, col) if ord in (1, -1) else (col, row)
        pick = np.max if ord > 0 else np.min
        ret = pick(np.sum(np.abs(x), axis=summed, keepdims=True), axis=across, keepdims=True)
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        return ret
    return reshape(ret, tuple(n for i, n in enumerate(shape_of(x)) if i - nd not in (row, col)))


@handles(np.copy)
def copy(a, order="K", subok=False):
    # order and subok shape a plain copy's memory; a traced value is never modified in
    # place, so it is its own copy
    _check_order("np.copy", order, _ORDERS)
    return a


@handles(np.shape)
def shape(a):
    return np.shape(peek(a))


@handles(np.ndim)
def ndim(a):
    return np.ndim(peek(a))


@handles(np.size)
def size(a, axis=None):
    return np.size(peek(a), axis)


def _out_position(func) -> int | None:
    try:
        params = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    return params.index("out") if "out" in params else None


def _on_concrete(func, name=None, metadata=False):
    # functions whose result has no derivative: numpy applies them to the plain values,
    # with every argument as given. ``metadata``: they read shapes and dtypes only, so a
    # jit staging need not guard the values
    out_at, name = _out_position(func), name or f"np.{func.__name__}"
    plain = peek if metadata else concrete

    def handler(*args, **kwargs):
        out = args[out_at] if out_at is not None and len(args) > out_at else kwargs.get("out")
        if isinstance(out, Tracer):  # numpy would overwrite the traced value's primal
            _refuse_out(name, out)
        args = [[plain(v) for v in a] if isinstance(a, (list, tuple)) else plain(a)
                for a in args]
        return func(*args, **{k: plain(v) for k, v in kwargs.items()})

    return handler


for _f in (np.argmax, np.argmin, np.argsort, np.nonzero, np.isclose, np.allclose,
           np.array_equal, np.count_nonzero, np.any, np.all, np.sign, np.isfinite,
           np.isnan):
    HANDLERS[_f] = _on_concrete(_f)
for _f in (np.result_type, np.zeros_like, np.ones_like):
    HANDLERS[_f] = _on_concrete(_f, metadata=True)
HANDLERS[np.shape] = shape
# any content will do for an empty array: zeros, the same on every run
HANDLERS[np.empty_like] = _on_concrete(np.zeros_like, "np.empty_like", metadata=True)


@handles(np.full_like)
def full_like(a, fill_value, *args, **kwargs):
    # dtype, order, subok, shape and device go to numpy, which builds the result
    if not isinstance(fill_value, Tracer):
        return np.full_like(peek(a), fill_value, *args, **kwargs)
    # a traced fill keeps its derivative: broadcast to numpy's result, in its dtype
    like = np.empty_like(peek(a), *args, **kwargs)
    return _astype(broadcast_to(fill_value, like.shape), like.dtype)


# -- methods and operators on tracers -------------------------------------------------


def _method_reduce(name):
    # ndarray's signatures: keepdims, initial and where are keyword-only, and max and min
    # take no dtype; the handler implements or refuses each of them
    handler = HANDLERS[getattr(np, name)]
    if name in ("max", "min"):
        def method(self, axis=None, out=None, **kwargs):
            return handler(self, axis, out=out, **kwargs)
    else:
        def method(self, axis=None, dtype=None, out=None, **kwargs):
            return handler(self, axis, dtype, out, **kwargs)

    return method


def _shape_arg(args):
    return args[0] if len(args) == 1 else args


def _method_reshape(self, *shape, order="C", copy=None):
    if not shape:
        raise TypeError("reshape() takes exactly 1 argument (0 given)")
    return reshape(self, _shape_arg(shape), order, copy=copy)


def _method_transpose(self, *axes):
    # x.transpose(), x.transpose(None), x.transpose((1, 0)), x.transpose(1, 0), x.transpose(0)
    return transpose(self, _shape_arg(axes) if axes else None)


def _method_clip(self, min=None, max=None, out=None, **kwargs):
    return clip(self, min, max, out, **kwargs)


def _method_copy(self, order="C"):
    _check_order("x.copy", order, _ORDERS)
    return self  # traced values are never modified in place


def _astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    # order, subok and copy only shape a plain array's memory, which a traced value has
    # none of to share or lay out
    _check_order("x.astype", order, _ORDERS)
    dtype = np.dtype(dtype)
    if casting != "unsafe" and not np.can_cast(self.dtype, dtype, casting):
        raise TypeError(f"x.astype({dtype}, casting={casting!r}): cannot cast {self.dtype} "
                        f"to {dtype} under that rule, and neither can numpy")
    if dtype == self.dtype:
        return self
    if dtype.kind != "f":
        raise TypeError(f"cannot cast a traced value to {dtype}: only float dtypes carry "
                        "derivatives")
    return OPS["astype"](self, dtype=dtype, in_dtype=self.dtype)


def _op(name, reflected=False):
    op = OPS[name]

    # the hot path of every overloaded operator: find the innermost level without bind
    if reflected:
        def method(self, other):
            if type(other) in _SEQUENCES or (type(other) is np.ndarray
                                             and other.dtype.hasobject):
                other = lift_objects(other)
            if isinstance(other, Tracer) and other._level > self._level:
                return other._trace.binary(op, other, self)
            return self._trace.binary(op, other, self)
    else:
        def method(self, other):
            if type(other) in _SEQUENCES or (type(other) is np.ndarray
                                             and other.dtype.hasobject):
                other = lift_objects(other)
            if isinstance(other, Tracer) and other._level > self._level:
                return other._trace.binary(op, self, other)
            return self._trace.binary(op, self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _pow(self, other, modulo=None):
    other = lift_objects(other)
    if modulo is not None:  # pow(x, y, m): an integer operation, with no derivative
        raise TypeError("pow() with a modulus is not differentiable: pow(x, y, mod) on "
                        "a traced value is not supported")
    if isinstance(other, (int, float)) and other == 2:
        return OPS["square"](self)
    return OPS["power"](self, other)


def _check_mask(x: Any, symbol: str) -> None:
    if result_dtype(x) != np.bool_:
        raise TypeError(f"{symbol} on a traced value of dtype {result_dtype(x)}: admodes "
                        f"applies &, |, ^ and ~ to boolean masks only")


def _mask_op(ufunc, symbol: str):
    # symmetric ops: the order of the operands does not matter
    def method(self, other):
        _check_mask(self, symbol)
        if not isinstance(other, Tracer) and np.result_type(other) != np.bool_:
            raise TypeError(f"{symbol} of a boolean mask with a {np.result_type(other)} "
                            f"value: admodes applies it to boolean masks only")
        return ufunc(strip(self), strip(other))

    return method


def _nondiff_op(ufunc):
    # no derivative: a staging beneath (admodes.jit) still records the comparison
    return lambda self, other: ufunc(strip(self), strip(other))


class NumpyMethods:
    """The numpy face of every tracer: numpy's two protocols, Python's operators and the
    ndarray methods, each mapped to a registered op or to a handler above. A mixin, so
    both engines' values (and any other tracer) accept the same user code."""

    __slots__ = ()
    __array_ufunc__ = array_ufunc
    __array_function__ = array_function

    __add__, __radd__ = _op("add"), _op("add", True)
    __sub__, __rsub__ = _op("subtract"), _op("subtract", True)
    __mul__, __rmul__ = _op("multiply"), _op("multiply", True)
    __truediv__, __rtruediv__ = _op("true_divide"), _op("true_divide", True)
    __pow__, __rpow__ = _pow, _op("power", True)
    __matmul__, __rmatmul__ = _op("matmul"), _op("matmul", True)

    def __neg__(self):
        return self._trace.process(OPS["negative"], (self,), NO_PARAMS)

    def __pos__(self):
        return self

    def __abs__(self):
        return OPS["abs"](self)

    __lt__, __le__ = _nondiff_op(np.less), _nondiff_op(np.less_equal)
    __gt__, __ge__ = _nondiff_op(np.greater), _nondiff_op(np.greater_equal)
    __eq__, __ne__ = _nondiff_op(np.equal), _nondiff_op(np.not_equal)
    __hash__ = Tracer.__hash__  # defining __eq__ would otherwise unset it
    # &, |, ^ and ~ of boolean masks (a staged mask under admodes.jit), as numpy's
    # logical ops, which agree with the bitwise ones on booleans
    __and__, __rand__ = _mask_op(np.logical_and, "&"), _mask_op(np.logical_and, "&")
    __or__, __ror__ = _mask_op(np.logical_or, "|"), _mask_op(np.logical_or, "|")
    __xor__, __rxor__ = _mask_op(np.logical_xor, "^"), _mask_op(np.logical_xor, "^")

    def __invert__(self):
        _check_mask(self, "~")
        return np.logical_not(strip(self))

    def __getitem__(self, key):
        return OPS["getitem"](self, **index_params(self.shape, key))

    sum, mean = _method_reduce("sum"), _method_reduce("mean")
    max, min, prod = _method_reduce("max"), _method_reduce("min"), _method_reduce("prod")
    reshape, transpose = _method_reshape, _method_transpose

    @property
    def T(self):
        return transpose(self)

    swapaxes, squeeze, ravel, flatten = swapaxes, squeeze, ravel, ravel
    clip, astype, copy = _method_clip, _astype, _method_copy

    def argmax(self, axis=None, out=None, *, keepdims=False):
        return np.argmax(concrete(self), axis, out, keepdims=keepdims)

    def argmin(self, axis=None, out=None, *, keepdims=False):
        return np.argmin(concrete(self), axis, out, keepdims=keepdims)

    # the handlers of numpy_arrays.py, as ndarray's methods (found when called: that
    # module registers them after this class is built)
    def dot(self, b, out=None):
        return HANDLERS[np.dot](self, b, out)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        return HANDLERS[np.var](self, axis, dtype, out, ddof, keepdims, **kwargs)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        return HANDLERS[np.std](self, axis, dtype, out, ddof, keepdims, **kwargs)

    def cumsum(self, axis=None, dtype=None, out=None):
        return HANDLERS[np.cumsum](self, axis, dtype, out)

    def cumprod(self, axis=None, dtype=None, out=None):
        return HANDLERS[np.cumprod](self, axis, dtype, out)

    def repeat(self, repeats, axis=None):
        return HANDLERS[np.repeat](self, repeats, axis)

    def round(self, decimals=0, out=None):
        return HANDLERS[np.round](self, decimals, out)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return HANDLERS[np.diagonal](self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return HANDLERS[np.trace](self, offset, axis1, axis2, dtype, out)

    # issue 11: %, //, divmod (floor division has no derivative: a plain value)
    __mod__, __rmod__ = _op("remainder"), _op("remainder", True)

    def __floordiv__(self, other):
        return np.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return np.floor_divide(other, self)

    def __divmod__(self, other):
        return self // other, self % other

    def __rdivmod__(self, other):
        return other // self, other % self

    def sort(self, axis=-1, kind=None, order=None, *, stable=None):
        raise TypeError("x.sort() sorts in place, and a traced array is never modified in "
                        "place: use x = np.sort(x)")

    def argsort(self, axis=-1, kind=None, order=None, *, stable=None):
        return np.argsort(concrete(self), axis, kind, order, stable=stable)

    def conj(self):
        return self  # traced values are real

    conjugate = conj

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return np.zeros_like(peek(self))


from . import linalg as _linalg  # noqa: E402,F401
from . import numpy_arrays as _numpy_arrays  # noqa: E402,F401
from . import numpy_selection as _numpy_selection  # noqa: E402,F401
