"""How plain numpy code reaches the registry.

numpy hands any call that involves a tracer to ``__array_ufunc__`` (for ufuncs such as
``np.sin`` and the operators) or ``__array_function__`` (for ``np.sum``, ``np.reshape``...).
Here each such call is mapped to a registered primitive with normalised parameters, or
composed from primitives. Anything else fails loudly, naming the function, instead of
silently dropping a derivative.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .core import NO_PARAMS, Tracer, bind, concrete, result_dtype
from .registry import OPS, _ndim, _shape

UFUNCS: dict[Any, Any] = {op.ufunc: op for op in OPS.values() if op.ufunc is not None}

# ufuncs with no primitive of their own, written in terms of the ones that have one
COMPOSITE_UFUNCS: dict[Any, Callable] = {
    # constants as Python floats, which do not promote float32 (numpy scalars would)
    np.log2: lambda x: np.log(x) * (1 / math.log(2.0)),
    np.log10: lambda x: np.log(x) * (1 / math.log(10.0)),
    np.exp2: lambda x: np.exp(x * math.log(2.0)),
    np.reciprocal: lambda x: 1 / x,
    np.fmax: lambda x, y: np.maximum(x, y),
    np.fmin: lambda x, y: np.minimum(x, y),
}


def _unsupported(what: str) -> TypeError:
    return TypeError(
        f"{what} has no registered derivative rule in admodes, so it cannot be applied to "
        f"traced values (that would drop the derivative). Express it with registered ops "
        f"(see `admodes ops`) or register a new op."
    )




def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    op = UFUNCS.get(ufunc)
    if op is not None and method == "__call__" and not kwargs:
        # the hot path: a lone input is the top tracer, no need for bind to search
        if len(inputs) == 1 and not op.nondiff:
            return self._trace.process(op, inputs, NO_PARAMS)
        return bind(op, *inputs)
    return dispatch_ufunc(ufunc, method, inputs, kwargs)


def _array_function(self, func, types, args, kwargs):
    handler = HANDLERS.get(func)
    if handler is None:
        return dispatch_function(func, args, kwargs)
    return handler(*args, **kwargs)


def dispatch_ufunc(ufunc, method, inputs, kwargs):
    inputs = [np.asarray(x) if isinstance(x, (list, tuple)) else x for x in inputs]
    if method != "__call__":
        raise _unsupported(f"np.{ufunc.__name__}.{method}")
    extra = {k: v for k, v in kwargs.items() if v is not None}
    if extra:
        raise TypeError(
            f"np.{ufunc.__name__} on traced values takes no keyword arguments "
            f"(got {sorted(extra)})"
        )
    op = UFUNCS.get(ufunc)
    if op is not None:
        return op(*inputs)
    composite = COMPOSITE_UFUNCS.get(ufunc)
    if composite is not None:
        return composite(*inputs)
    raise _unsupported(f"np.{ufunc.__name__}")


HANDLERS: dict[Any, Callable] = {}


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


def _reduce(name):
    def handler(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        if dtype is not None or out is not None or kw:
            raise TypeError(f"np.{name} on traced values supports only axis and keepdims")
        return OPS[name](a, axis=normalize_axis(axis, _ndim(a)), keepdims=bool(keepdims))

    return handler


HANDLERS[np.sum] = _reduce("sum")
HANDLERS[np.mean] = _reduce("mean")
HANDLERS[np.max] = HANDLERS[np.amax] = _reduce("max")
HANDLERS[np.min] = HANDLERS[np.amin] = _reduce("min")
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
    if order != "C":
        raise TypeError("only order='C' reshapes are supported on traced values")
    shape = newshape if shape is None else shape
    in_shape = _shape(a)
    new = _resolve_shape(shape, math.prod(in_shape))
    if new == in_shape:
        return a
    return OPS["reshape"](a, shape=new, in_shape=in_shape)


@handles(np.ravel)
def ravel(a, order="C"):
    return reshape(a, (-1,), order)


@handles(np.transpose)
def transpose(a, axes=None):
    nd = _ndim(a)
    if axes is None:
        axes = tuple(range(nd - 1, -1, -1))
    axes = tuple(operator.index(x) % nd for x in axes) if nd else ()
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"axes {axes} don't match array of {nd} dimensions")
    if axes == tuple(range(nd)):
        return a
    return OPS["transpose"](a, axes=axes)


@handles(np.swapaxes)
def swapaxes(a, axis1, axis2):
    nd = _ndim(a)
    perm = list(range(nd))
    i, j = normalize_axis(axis1, nd)[0] % nd, normalize_axis(axis2, nd)[0] % nd
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


@handles(np.moveaxis)
def moveaxis(a, source, destination):
    nd = _ndim(a)
    src = [s % nd for s in normalize_axis(source, nd)]
    dst = [d % nd for d in normalize_axis(destination, nd)]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


@handles(np.expand_dims)
def expand_dims(a, axis):
    shape = list(_shape(a))
    nd = len(shape) + (1 if isinstance(axis, (int, np.integer)) else len(axis))
    for ax in sorted(s % nd for s in normalize_axis(axis, nd)):
        shape.insert(ax, 1)
    return reshape(a, tuple(shape))


@handles(np.squeeze)
def squeeze(a, axis=None):
    shape = _shape(a)
    if axis is None:
        axes = {i for i, n in enumerate(shape) if n == 1}
    else:
        axes = {s % len(shape) for s in normalize_axis(axis, len(shape))}
        if any(shape[i] != 1 for i in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not "
                             "equal to one")
    return reshape(a, tuple(n for i, n in enumerate(shape) if i not in axes))


@handles(np.broadcast_to)
def broadcast_to(a, shape, subok=False):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    in_shape = _shape(a)
    if np.broadcast_shapes(in_shape, shape) != shape:
        raise ValueError(f"cannot broadcast a value of shape {in_shape} to {shape}")
    if in_shape == shape:
        return a
    return OPS["broadcast_to"](a, shape=shape, in_shape=in_shape)


@handles(np.concatenate)
def concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [ravel(x) for x in arrays], 0
    nd = _ndim(arrays[0])
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return OPS["concatenate"](*arrays, axis=normalize_axis(axis, nd)[0])


@handles(np.stack)
def stack(arrays, axis=0, out=None, dtype=None, casting=None):
    arrays = list(arrays)
    shapes = {_shape(x) for x in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    return concatenate([expand_dims(x, axis) for x in arrays], axis=axis)


@handles(np.where)
def where(condition, x=None, y=None):
    if x is None and y is None:
        return np.where(concrete(condition))
    return OPS["where"](condition, x, y)


@handles(np.clip)
def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kwargs):
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    return OPS["clip"](a, lo, hi)


@handles(np.dot)
def dot(a, b, out=None):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    if _ndim(a) > 2 or _ndim(b) > 2:
        raise _unsupported("np.dot of arrays with more than 2 dimensions (use np.matmul)")
    return OPS["matmul"](a, b)


@handles(np.outer)
def outer(a, b, out=None):
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


@handles(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro") or (ord == 2 and _ndim(x) != 1 and axis is None):
        raise _unsupported(f"np.linalg.norm with ord={ord!r}")
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


@handles(np.copy)
def copy(a, order="K", subok=False):
    return a  # traced values are never modified in place


@handles(np.shape)
def shape(a):
    return np.shape(concrete(a))


@handles(np.ndim)
def ndim(a):
    return np.ndim(concrete(a))


@handles(np.size)
def size(a, axis=None):
    return np.size(concrete(a), axis)


def _constant_like(fill):
    def handler(a, dtype=None, order="K", subok=True, shape=None, **kw):
        s = _shape(a) if shape is None else shape
        return np.full(s, fill, dtype=dtype or result_dtype(a))

    return handler


HANDLERS[np.zeros_like] = _constant_like(0)
HANDLERS[np.ones_like] = _constant_like(1)
HANDLERS[np.empty_like] = _constant_like(0)


@handles(np.full_like)
def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return _constant_like(concrete(fill_value))(a, dtype=dtype, shape=shape)


def _on_concrete(func):
    # functions whose result has no derivative: apply them to the plain values
    def handler(*args, **kwargs):
        args = [[concrete(v) for v in a] if isinstance(a, (list, tuple)) else concrete(a)
                for a in args]
        return func(*args, **{k: concrete(v) for k, v in kwargs.items()})

    return handler


for _f in (np.argmax, np.argmin, np.argsort, np.nonzero, np.isclose, np.allclose,
           np.array_equal, np.count_nonzero, np.result_type, np.any, np.all,
           np.sign, np.isfinite, np.isnan, np.shape):
    HANDLERS[_f] = _on_concrete(_f)
HANDLERS[np.shape] = shape


# -- methods and operators on tracers -------------------------------------------------


def _method_reduce(name):
    def method(self, axis=None, dtype=None, out=None, keepdims=False):
        return HANDLERS[getattr(np, name)](self, axis=axis, dtype=dtype, out=out,
                                           keepdims=keepdims)

    return method


def _shape_arg(args):
    return args[0] if len(args) == 1 else args


def _astype(self, dtype, copy=True):
    dtype = np.dtype(dtype)
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
            if isinstance(other, Tracer) and other._level > self._level:
                return other._trace.binary(op, other, self)
            return self._trace.binary(op, other, self)
    else:
        def method(self, other):
            if isinstance(other, Tracer) and other._level > self._level:
                return other._trace.binary(op, self, other)
            return self._trace.binary(op, self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _pow(self, other):
    if isinstance(other, (int, float)) and other == 2:
        return OPS["square"](self)
    return OPS["power"](self, other)


def _nondiff_op(ufunc):
    return lambda self, other: ufunc(concrete(self), concrete(other))


_METHODS: dict[str, Any] = {
    "__array_ufunc__": _array_ufunc, "__array_function__": _array_function,
    "__add__": _op("add"), "__radd__": _op("add", True),
    "__sub__": _op("subtract"), "__rsub__": _op("subtract", True),
    "__mul__": _op("multiply"), "__rmul__": _op("multiply", True),
    "__truediv__": _op("true_divide"), "__rtruediv__": _op("true_divide", True),
    "__pow__": _pow, "__rpow__": _op("power", True),
    "__matmul__": _op("matmul"), "__rmatmul__": _op("matmul", True),
    "__neg__": lambda self: self._trace.process(OPS["negative"], (self,), NO_PARAMS),
    "__pos__": lambda self: self,
    "__abs__": lambda self: OPS["abs"](self),
    "__lt__": _nondiff_op(np.less), "__le__": _nondiff_op(np.less_equal),
    "__gt__": _nondiff_op(np.greater), "__ge__": _nondiff_op(np.greater_equal),
    "__eq__": _nondiff_op(np.equal), "__ne__": _nondiff_op(np.not_equal),
    "__getitem__": lambda self, key: OPS["getitem"](self, **index_params(self.shape, key)),
    "sum": _method_reduce("sum"), "mean": _method_reduce("mean"),
    "max": _method_reduce("max"), "min": _method_reduce("min"),
    "prod": _method_reduce("prod"),
    "reshape": lambda self, *shape, order="C": reshape(self, _shape_arg(shape), order),
    "transpose": lambda self, *axes: transpose(self, _shape_arg(axes) if axes else None),
    "T": property(lambda self: transpose(self)),
    "swapaxes": swapaxes, "squeeze": squeeze, "ravel": ravel, "flatten": ravel,
    "dot": dot, "clip": lambda self, lo=None, hi=None: clip(self, lo, hi),
    "astype": _astype, "copy": lambda self: self,
    "argmax": lambda self, axis=None: np.argmax(concrete(self), axis=axis),
    "argmin": lambda self, axis=None: np.argmin(concrete(self), axis=axis),
}
for _name, _fn in _METHODS.items():
    setattr(Tracer, _name, _fn)
