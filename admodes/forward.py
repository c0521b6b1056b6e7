"""Forward mode: dual numbers.

A ``Dual`` carries a primal value and its tangent through the user's function. Each
primitive computes its primal (by ``bind`` on the level below) and its tangent by the
op's JVP rule from the registry. The tangent may carry leading batch axes: k directions
pushed through ONE sweep (vector mode).

Used directly, inside a ``level`` (one forward sweep; levels nest)::

    >>> import numpy as np
    >>> from admodes import forward
    >>> with forward.level():
    ...     x = forward.dual(0.5, 1.0)
    ...     y = np.sin(x) * x
    ...     print(round(forward.primal(y), 6), round(forward.tangent(y), 6))
    0.239713 0.918217
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .core import (
    NO_PARAMS,
    Tracer,
    _counters,
    bind,
    check_constant,
    escaped,
    new_level,
    peek,
    zeros_of,
)
from .counting import counted_jvp
from .inputs import _check_input
from .numpy_api import NumpyMethods


class ForwardTrace:
    """One forward sweep: the level its duals live at. ``active`` is cleared when the sweep
    ends, so a dual that escaped it is refused instead of giving a wrong derivative;
    ``origin`` (transformation name, user function) says where it came from."""

    __slots__ = ("level", "active", "origin")

    def __init__(self, origin: tuple[str, Any] = ("a forward sweep", None)) -> None:
        self.level = new_level()
        self.active = True
        self.origin = origin

    def process(self, op, args, params):
        if not self.active:
            raise escaped(next(a for a in args if isinstance(a, Tracer) and a._trace is self))
        if len(args) == 2 and not params:
            return self.binary(op, args[0], args[1])
        if len(args) == 1:  # a unary op's only argument is the top tracer: ours
            (a,) = args
            a = a.primal
            primals, tangents = (a,), (args[0].tangent,)
            nested = isinstance(a, Tracer)
        else:
            primals = tuple(a.primal if type(a) is Dual and a._trace is self else a
                            for a in args)
            tangents = tuple(a.tangent if type(a) is Dual and a._trace is self else None
                             for a in args)
            for a, t in zip(primals, tangents):
                if t is None and type(a) is not float:
                    check_constant(op, a)
            nested = any(isinstance(p, Tracer) for p in primals)
        if nested or _counters:
            out = bind(op, *primals, **params)  # a lower level still watches an input
        else:
            out = op.impl(*primals, **params)
        if _counters:
            tangent = counted_jvp(op, primals, tangents, out, params)
        else:
            tangent = op.jvp(primals, tangents, out, params)
        if tangent is None:
            return out
        return Dual(out, tangent, self)

    def binary(self, op, a, b):
        """``process`` for a binary op without parameters: the hot path of every Python
        operator (``x * w``, ``h + b``), spelled out."""
        if not self.active:
            raise escaped(a if isinstance(a, Tracer) and a._trace is self else b)
        if type(a) is Dual and a._trace is self:
            a, ta = a.primal, a.tangent
        else:
            ta = None
            if type(a) is not float:
                check_constant(op, a)
        if type(b) is Dual and b._trace is self:
            b, tb = b.primal, b.tangent
        else:
            tb = None
            if type(b) is not float:
                check_constant(op, b)
        if _counters or isinstance(a, Tracer) or isinstance(b, Tracer):
            out = bind(op, a, b)  # a lower level still watches an input
        else:
            out = op.impl(a, b)
        if _counters:
            tangent = counted_jvp(op, (a, b), (ta, tb), out, NO_PARAMS)
        else:
            tangent = op.jvp((a, b), (ta, tb), out, NO_PARAMS)
        if tangent is None:
            return out
        return Dual(out, tangent, self)


class Dual(NumpyMethods, Tracer):
    """A (primal, tangent) pair; numpy code and Python operators work on it."""

    __slots__ = ("primal", "tangent", "_trace", "_level")

    def __init__(self, primal: Any, tangent: Any, trace: ForwardTrace) -> None:
        self.primal = primal
        self.tangent = tangent
        self._trace = trace
        self._level = trace.level

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"


# -- the engine as a library ----------------------------------------------------------

_local = threading.local()  # the levels open in this thread, innermost last


def _open_levels() -> list[ForwardTrace]:
    levels = getattr(_local, "levels", None)
    if levels is None:
        levels = _local.levels = []
    return levels


class level:
    """A scope for dual numbers made by ``dual``: one forward sweep. Levels nest, and the
    innermost open one is the default of ``dual``, ``primal`` and ``tangent``; a dual used
    after its level has closed is refused (its derivative would be wrong).

    Example (a second derivative, by nesting):
        >>> from admodes import forward
        >>> with forward.level() as outer:
        ...     x = forward.dual(2.0, 1.0)
        ...     with forward.level() as inner:
        ...         y = forward.dual(x, 1.0)
        ...         dy = forward.tangent(y ** 3)          # 3 x^2, still a dual of outer
        ...     print(forward.tangent(dy, outer))          # 6 x
        12.0
    """

    def __init__(self) -> None:
        self.trace = ForwardTrace(("forward.level", None))

    def __enter__(self) -> level:
        _open_levels().append(self)
        return self

    def __exit__(self, *exc) -> None:
        self.trace.active = False
        _open_levels().remove(self)


def _level_of(lv: level | None, what: str) -> ForwardTrace:
    if lv is None:
        levels = _open_levels()
        if not levels:
            raise TypeError(f"forward.{what} needs an open level: use it inside "
                            f"`with forward.level():`")
        lv = levels[-1]
    if not isinstance(lv, level):
        raise TypeError(f"level must be a forward.level, got {type(lv).__name__}")
    if not lv.trace.active:
        raise ValueError("that forward.level has closed")
    return lv.trace


def dual(primal: Any, tangent: Any, lv: level | None = None) -> Dual:
    """A dual number (primal, tangent) at level ``lv`` (the innermost open one).

    ``tangent`` has the primal's shape, or extra leading axes for a batch of k directions
    pushed through one sweep: ``dual(x, np.eye(3))`` for a length-3 ``x`` carries all three.
    The primal may itself be a dual of an outer level (for higher derivatives).
    """
    trace = _level_of(lv, "dual")
    _check_input(primal, "the primal of a dual")
    p_shape = np.shape(peek(primal))
    t = np.asarray(tangent) if not isinstance(tangent, (float, Tracer)) else tangent
    _check_input(t, "the tangent of a dual")
    t_shape = np.shape(peek(t))
    if t_shape[len(t_shape) - len(p_shape):] != p_shape or len(t_shape) < len(p_shape):
        raise ValueError(f"a tangent of shape {t_shape} does not fit a primal of shape "
                         f"{p_shape}: give it the primal's shape, or extra leading axes "
                         f"for a batch of directions")
    if isinstance(t, np.ndarray) and t.dtype != np.result_type(peek(primal)):
        t = t.astype(np.result_type(peek(primal)))
    return Dual(primal, t, trace)


def primal(y: Any, lv: level | None = None) -> Any:
    """The value of ``y`` with level ``lv``'s perturbation removed (``y`` itself when it
    does not depend on that level's duals)."""
    trace = _level_of(lv, "primal")
    return y.primal if type(y) is Dual and y._trace is trace else y


def tangent(y: Any, lv: level | None = None) -> Any:
    """The tangent of ``y`` at level ``lv``: its derivative along that level's directions
    (zeros when ``y`` does not depend on them)."""
    trace = _level_of(lv, "tangent")
    if type(y) is Dual and y._trace is trace:
        return y.tangent
    return zeros_of(y)
