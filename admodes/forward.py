"""Forward mode: dual numbers.

A ``Dual`` carries a primal value and its tangent through the user's function. Each
primitive computes its primal (by ``bind`` on the level below) and its tangent by the
op's JVP rule from the registry. The tangent may carry leading batch axes: k directions
pushed through ONE sweep (vector mode).
"""

from __future__ import annotations

from typing import Any

from .core import _counters, IN_RULE, Tracer, bind, new_level


class ForwardTrace:
    """One forward sweep: the level its duals live at."""

    __slots__ = ("level",)

    def __init__(self) -> None:
        self.level = new_level()

    def process(self, op, args, params):
        primals = []
        tangents = []
        nested = False  # does a lower level still watch some input?
        for a in args:
            if type(a) is Dual and a._trace is self:
                a, t = a.primal, a.tangent
            else:
                t = None
            primals.append(a)
            tangents.append(t)
            if isinstance(a, Tracer):
                nested = True
        if nested or _counters:
            out = bind(op, *primals, **params)
        else:
            out = op.impl(*primals, **params)
        if _counters:
            with IN_RULE:
                tangent = op.jvp(primals, tangents, out, params)
        else:
            tangent = op.jvp(primals, tangents, out, params)
        if tangent is None:
            return out
        return Dual(out, tangent, self)


class Dual(Tracer):
    """A (primal, tangent) pair; numpy code and Python operators work on it."""

    __slots__ = ("primal", "tangent", "_trace", "_level")

    def __init__(self, primal: Any, tangent: Any, trace: ForwardTrace) -> None:
        self.primal = primal
        self.tangent = tangent
        self._trace = trace
        self._level = trace.level

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"
