"""scipy.special on traced values (when scipy is installed).

``expit``, ``logit``, ``erf``, ``erfc``, ``gammaln``, ``digamma``, ``xlogy``, ``xlog1py`` and
``entr`` are numpy ufuncs: numpy hands them to ``__array_ufunc__``, so declaring an op per
ufunc is all it takes, whichever way the function was imported. ``polygamma``,
``logsumexp``, ``softmax`` and ``log_softmax`` are plain Python functions that convert their
arguments with ``asarray`` (which a traced value refuses): importing admodes replaces those
four attributes of the ``scipy.special`` module with wrappers that call admodes' version
when a traced value is among the arguments and scipy's own otherwise. A name bound before
admodes was imported (``from scipy.special import logsumexp`` first) keeps scipy's
function, which refuses traced values with a clear error; use ``scipy.special.logsumexp``
or import admodes first.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .core import Tracer, concrete, peek, result_dtype, strip
from .registry import OPS, _divide, elementwise, explicit
from .shapes import ndim_of

try:
    import scipy.special as sc
except ImportError:  # scipy is optional: without it there is nothing to support
    sc = None


def _traced(args: Any) -> bool:
    return any(isinstance(a, Tracer) or (isinstance(a, (list, tuple)) and _traced(a))
               for a in args)


def _polygamma_impl(x, n):
    # scipy computes polygamma(n >= 1) in float64; numpy's dtype rule keeps x's dtype
    return np.asarray(sc.polygamma(n, x)).astype(result_dtype(x))


def _polygamma_jvp(primals, tangents, out, n):
    return OPS["polygamma"](primals[0], n=n + 1) * tangents[0]


def _polygamma_vjp(ct, primals, out, n):
    return ct * OPS["polygamma"](primals[0], n=n + 1)


def _x_over(x, y):
    """x / y, with y replaced by 1 where both are 0 (x log y is 0 along x = 0 for every
    y, so its slope in y is 0 there, and 0 / 0 would be NaN)."""
    both = (strip(x) == 0) & (strip(y) == 0)
    if not np.any(both):
        return _divide(x, y)
    return x / np.where(both, 1.0, y)


def _declare() -> None:
    # an explicit op: the n-th derivative of digamma, differentiated by raising n
    explicit("polygamma", _polygamma_impl, _polygamma_jvp, _polygamma_vjp,
             doc="scipy.special.polygamma(n, x) for a concrete integer n")
    two_over_root_pi = 2 / math.sqrt(math.pi)
    elementwise("expit", sc.expit, [lambda x, out: out * (1 - out)], flops=10)
    elementwise("logit", sc.logit, [lambda x, out: _divide(1.0, x * (1 - x))], flops=10,
                singular=True)
    elementwise("erf", sc.erf, [lambda x, out: two_over_root_pi * np.exp(-(x * x))],
                flops=20)
    elementwise("erfc", sc.erfc, [lambda x, out: -two_over_root_pi * np.exp(-(x * x))],
                flops=20)
    elementwise("gammaln", sc.gammaln, [lambda x, out: sc.digamma(x)], flops=20)
    elementwise("digamma", sc.digamma, [lambda x, out: OPS["polygamma"](x, n=1)],
                flops=20)
    # xlogy(0, y) = 0 for every y: the partials are log(y) and x / y, singular at y = 0
    elementwise("xlogy", sc.xlogy, [lambda x, y, out: np.log(y),
                                    lambda x, y, out: _x_over(x, y)], flops=10,
                singular=True)
    elementwise("xlog1py", sc.xlog1py, [lambda x, y, out: np.log1p(y),
                                        lambda x, y, out: _x_over(x, 1 + y)], flops=10,
                singular=True)
    # entr(x) = -x log x (0 at 0, -inf below): slope -(log x + 1), infinite at 0
    elementwise("entr", sc.entr, [lambda x, out: -(np.log(x) + 1)], flops=10,
                singular=True)


# -- the Python-level functions -------------------------------------------------------


def _shift(a: Any, axis: Any) -> np.ndarray:
    """The largest finite element of each slice, a constant: shifting by it keeps exp
    from overflowing and changes no derivative (log-sum-exp is shift-invariant)."""
    c = np.asarray(concrete(a))
    dtype = c.dtype if c.dtype.kind == "f" else np.dtype(np.float64)
    if c.size == 0:
        return np.zeros(np.shape(np.sum(c, axis=axis, keepdims=True)), dtype)
    m = np.max(c, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0).astype(dtype)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over ``axis``, shifted by the largest element for stability;
    with ``return_sign`` also the sign of the sum (and log of its magnitude)."""
    a = _at_least_1d(a)
    if b is not None:  # scipy computes in the common dtype of a and b
        dtype = np.result_type(result_dtype(a), result_dtype(b))
        if result_dtype(a) != dtype:
            a = a.astype(dtype) if isinstance(a, Tracer) else np.asarray(a, dtype)
    m = _shift(a, axis)
    e = np.exp(a - m)
    if b is not None:
        e = b * e
    s = np.sum(e, axis=axis, keepdims=keepdims)
    m_out = m if keepdims else np.reshape(m, np.shape(peek(s)))
    with np.errstate(divide="ignore", invalid="ignore"):
        if return_sign:
            sign = np.sign(concrete(s))
            return _log_at_zero(np.abs(s)) + m_out, sign
        return _log_at_zero(s) + m_out


def _log_at_zero(s: Any) -> Any:
    """np.log(s), with derivative 0 where s is exactly 0 (a slice of -inf only, or b = 0
    there): the result is -inf for every nearby input, and forward mode gives 0 (an
    exactly-zero tangent), but reverse mode would pull back log'(0) * 0 = inf * 0 = nan."""
    zero = strip(s) == 0
    if not np.any(zero):
        return np.log(s)
    return np.where(zero, -np.inf, np.log(np.where(zero, 1.0, s)))


def _at_least_1d(a: Any) -> Any:
    """scipy's view of a 0-d input as shape (1,): axis=0 is valid on it, and
    logsumexp(x, keepdims=True) of a 0-d x has shape (1,)."""
    if ndim_of(a) != 0:
        return a
    return np.reshape(a, (1,)) if isinstance(a, Tracer) else np.reshape(np.asarray(a), (1,))


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) over ``axis``, shifted by the largest element."""
    x1 = _at_least_1d(x)
    e = np.exp(x1 - _shift(x1, axis))
    out = e / np.sum(e, axis=axis, keepdims=True)
    return out if x1 is x else np.reshape(out, ())


def log_softmax(x, axis=None):
    """x - logsumexp(x) over ``axis``, shifted by the largest element."""
    x1 = _at_least_1d(x)
    shifted = x1 - _shift(x1, axis)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out if x1 is x else np.reshape(out, ())


def polygamma(n, x):
    """scipy.special.polygamma for a concrete integer order ``n`` and a traced ``x``."""
    if isinstance(n, Tracer):
        raise TypeError("scipy.special.polygamma: the order n must not be traced")
    orders = np.unique(np.asarray(n))
    if orders.size != 1 or orders[0] != int(orders[0]) or orders[0] < 0:
        raise TypeError("scipy.special.polygamma on traced values takes one non-negative "
                        "integer order n")
    want = np.asarray(_ORIGINALS["polygamma"](n, peek(x)))  # scipy's shape and dtype
    k = int(orders[0])
    # scipy: digamma in x's dtype for n = 0, the others in float64; the result in float64
    if k == 0:
        r = OPS["digamma"](x)
    else:
        if result_dtype(x) != want.dtype:
            x = x.astype(want.dtype) if isinstance(x, Tracer) else np.asarray(x, want.dtype)
        r = OPS["polygamma"](x, n=k)
    if result_dtype(r) != want.dtype:
        r = r.astype(want.dtype)
    return r if np.shape(peek(r)) == want.shape else np.broadcast_to(r, want.shape)


def _wrap(original, ours):
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if _traced(args) or _traced(tuple(kwargs.values())):
            return ours(*args, **kwargs)
        return original(*args, **kwargs)

    wrapper.__admodes_original__ = original
    return wrapper


_ORIGINALS: dict[str, Any] = {}
WRAPPED = {"logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
           "polygamma": polygamma}

if sc is not None:
    _declare()
    for _name, _ours in WRAPPED.items():
        _current = getattr(sc, _name)
        _original = getattr(_current, "__admodes_original__", _current)
        _ORIGINALS[_name] = _original
        setattr(sc, _name, _wrap(_original, _ours))
