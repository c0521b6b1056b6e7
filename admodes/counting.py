"""Counting the arithmetic a derivative rule executes (see ``core.OpCount``).

While counting, each rule runs on a level of its own: every value it receives is wrapped,
so each numpy call it makes on them reaches ``bind``, which counts the op with the shapes
it really ran on (a partial computed once is counted once).
"""

from __future__ import annotations

from typing import Any

from .core import NO_PARAMS, Tracer, _thread, bind, escaped, new_level, note_rule
from .numpy_api import NumpyMethods


class _Counted(NumpyMethods, Tracer):
    """A value a derivative rule received while counting: its numpy calls reach ``bind``."""

    __slots__ = ("primal", "_trace", "_level")

    def __init__(self, primal: Any, trace: _CountingLevel) -> None:
        self.primal = primal
        self._trace = trace
        self._level = trace.level


class _CountingLevel:
    """The level one derivative rule runs on while counting: each op applied to its values
    is passed on to ``bind`` (which counts it, with its real shapes, as rule arithmetic)."""

    __slots__ = ("level", "active", "origin", "_wrapped")

    def __init__(self) -> None:
        self.level = new_level()
        self.active = True
        self.origin = ("a derivative rule being counted", None)
        self._wrapped: dict[int, _Counted] = {}

    def wrap(self, value: Any) -> Any:
        # one wrapper per object, so identity tests in the rules (x * x) still hold
        if value is None:
            return None
        got = self._wrapped.get(id(value))
        if got is None:
            got = self._wrapped[id(value)] = _Counted(value, self)
        return got

    def unwrap(self, value: Any) -> Any:
        if type(value) is _Counted and value._trace is self:
            return value.primal
        if isinstance(value, (list, tuple)):
            return type(value)(self.unwrap(v) for v in value)
        return value

    def process(self, op, args, params):
        if not self.active:
            raise escaped(next(a for a in args if isinstance(a, Tracer) and a._trace is self))
        inner = [a.primal if type(a) is _Counted and a._trace is self else a for a in args]
        return _Counted(bind(op, *inner, **params), self)

    def binary(self, op, a, b):
        return self.process(op, (a, b), NO_PARAMS)

    def __enter__(self) -> _CountingLevel:
        _thread.rule_depth = getattr(_thread, "rule_depth", 0) + 1
        return self

    def __exit__(self, *exc) -> None:
        _thread.rule_depth -= 1
        self.active = False
        self._wrapped.clear()


def counted_jvp(op, primals, tangents, out, params):
    """``op.jvp`` with its arithmetic counted (see ``OpCount``)."""
    note_rule(op)
    with _CountingLevel() as level:
        w = level.wrap
        return level.unwrap(op.jvp(
            tuple(w(p) if t is not None else p for p, t in zip(primals, tangents)),
            tuple(w(t) for t in tangents), w(out), params))


def counted_vjp(op, ct, primals, out, params, wanted):
    """``op.vjp`` with its arithmetic counted (see ``OpCount``)."""
    note_rule(op)
    with _CountingLevel() as level:
        w = level.wrap
        return level.unwrap(op.vjp(
            w(ct), tuple(w(p) if want else p for p, want in zip(primals, wanted)), w(out),
            params, wanted))


def counted_sum(a: Any, b: Any) -> Any:
    """``a + b`` of two cotangents, counted as rule arithmetic."""
    with _CountingLevel() as level:
        return level.unwrap(level.wrap(a) + level.wrap(b))
