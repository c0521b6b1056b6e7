"""Forward mode: dual numbers.

A ``Dual`` carries a primal value and its tangent through the user's function. Each
primitive computes its primal (by ``bind`` on the level below) and its tangent by the
op's JVP rule from the registry. The tangent may carry leading batch axes: k directions
pushed through ONE sweep (vector mode).
"""

from __future__ import annotations

from typing import Any

from .core import NO_PARAMS, Tracer, _counters, bind, check_constant, escaped, new_level
from .counting import counted_jvp
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
