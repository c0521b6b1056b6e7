"""Reverse mode: a tape (Wengert list) walked backwards.

While the user's function runs, every primitive applied to a ``Var`` is appended to the
tape with its inputs, its output and its parameters (the residuals its VJP needs). The
backward sweep walks the tape from the end in a plain loop (no recursion, so a chain of a
million ops is fine), skipping nodes no cotangent reached. The tape is never modified by a
sweep, so a pullback can be called any number of times. Cotangents may carry leading batch
axes: k seeds pulled back through ONE sweep (vector mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .core import (
    NO_PARAMS,
    Tracer,
    _counters,
    bind,
    check_constant,
    concrete,
    escaped,
    new_level,
    note,
)
from .counting import counted_sum, counted_vjp
from .numpy_api import NumpyMethods
from .registry import SAME_PARENT


class Node(NamedTuple):
    """One tape entry: ``out = op(*primals, **params)``. ``parents[i]`` is the tape index
    of input i, or -1 for a constant. The function's inputs are entries with ``op=None``."""

    op: Any
    parents: tuple[int, ...]
    primals: tuple[Any, ...]
    out: Any
    params: dict
    wanted: tuple[bool, ...]  # which inputs are on the tape (need a cotangent)


_WANTED_1 = (True,)


class Tape:
    """The record of one evaluation of a function, at one level. ``active`` is cleared when
    the recording ends (the tape can still be swept backwards any number of times), so a
    ``Var`` that escaped it is refused instead of growing the tape or giving a wrong
    derivative; ``origin`` (transformation name, user function) says where it came from."""

    def __init__(self, origin: tuple[str, Any] = ("a reverse-mode recording", None)) -> None:
        self.level = new_level()
        self.active = True
        self.origin = origin
        # plain tuples in Node's field order: building a tuple is the cheapest record
        self.nodes: list[tuple] = []

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<Tape: {len(self)} entries, {self.residual_bytes()} residual bytes>"

    def entries(self) -> list[Node]:
        """The tape as ``Node`` records, in recording order."""
        return [Node(*n) for n in self.nodes]

    @property
    def ops(self) -> list[str]:
        """The op name of each entry, in recording order ('input' for the inputs)."""
        return [n[0].name if n[0] is not None else "input" for n in self.nodes]

    def residual_bytes(self) -> int:
        """Bytes of the values the tape keeps alive (each one counted once)."""
        seen: set[int] = set()
        total = 0
        for _, _, primals, out, _, _ in self.nodes:
            for v in (*primals, out):
                v = concrete(v)
                if id(v) in seen:
                    continue
                seen.add(id(v))
                if isinstance(v, (np.ndarray, np.generic)):
                    total += v.nbytes
                elif isinstance(v, float):
                    total += 8
        return total

    def input(self, value: Any) -> Var:
        self.nodes.append((None, (), (), value, {}, ()))
        return Var(value, self, len(self.nodes) - 1)

    def process(self, op, args, params):
        if not self.active:
            raise escaped(next(a for a in args if isinstance(a, Tracer) and a._trace is self))
        if len(args) == 2 and not params:
            return self.binary(op, args[0], args[1])
        if len(args) == 1:  # a unary op's only argument is the top tracer: ours
            (a,) = args
            parents, wanted = (a._index,), _WANTED_1
            a = a.primal
            primals = (a,)
            nested = isinstance(a, Tracer)
        else:
            mine = [type(a) is Var and a._trace is self for a in args]
            for a, m in zip(args, mine):
                if not m and type(a) is not float:
                    check_constant(op, a)
            primals = tuple(a.primal if m else a for a, m in zip(args, mine))
            parents = tuple(a._index if m else -1 for a, m in zip(args, mine))
            wanted = tuple(mine)
            nested = any(isinstance(p, Tracer) for p in primals)
        if nested or _counters:
            out = bind(op, *primals, **params)  # a lower level still watches an input
        else:
            out = op.impl(*primals, **params)
        nodes = self.nodes
        nodes.append((op, parents, primals, out, params, wanted))
        return Var(out, self, len(nodes) - 1)

    def binary(self, op, a, b):
        """``process`` for a binary op without parameters: the hot path of every Python
        operator (``x * w``, ``h + b``), spelled out."""
        if not self.active:
            raise escaped(a if isinstance(a, Tracer) and a._trace is self else b)
        if type(a) is Var and a._trace is self:
            ia, a = a._index, a.primal
        else:
            ia = -1
            if type(a) is not float:
                check_constant(op, a)
        if type(b) is Var and b._trace is self:
            ib, b = b._index, b.primal
        else:
            ib = -1
            if type(b) is not float:
                check_constant(op, b)
        if _counters or isinstance(a, Tracer) or isinstance(b, Tracer):
            out = bind(op, a, b)  # a lower level still watches an input
        else:
            out = op.impl(a, b)
        nodes = self.nodes
        index = len(nodes)
        nodes.append((op, (ia, ib), (a, b), out, NO_PARAMS,
                      SAME_PARENT if ia == ib >= 0 else (ia >= 0, ib >= 0)))
        return Var(out, self, index)

    def backward(self, seeds: Sequence[tuple[int, Any]], keep_all: bool = False) -> list[Any]:
        """Pull cotangents back from ``(entry index, cotangent)`` seeds.

        Returns the accumulated cotangent (adjoint) of every input entry, None where none
        arrived; with ``keep_all`` of every entry (otherwise intermediate ones are freed as
        soon as they have been pulled back).
        """
        note("reverse_sweeps")
        nodes = self.nodes
        cts: list[Any] = [None] * len(nodes)
        for i, ct in seeds:
            cts[i] = ct if cts[i] is None else cts[i] + ct
        self._sweep(cts, keep_all)
        return cts

    def _sweep(self, cts: list[Any], keep_all: bool) -> None:
        nodes = self.nodes
        for i in range(len(nodes) - 1, -1, -1):
            ct = cts[i]
            if ct is None:
                continue
            op, parents, primals, out, params, wanted = nodes[i]
            if op is None:
                continue
            if not keep_all:
                cts[i] = None  # free it early; the inputs keep theirs
            if _counters:
                grads = counted_vjp(op, ct, primals, out, params, wanted)
                for p, g in zip(parents, grads):
                    if p >= 0 and g is not None:
                        old = cts[p]
                        cts[p] = g if old is None else counted_sum(old, g)
                continue
            grads = op.vjp(ct, primals, out, params, wanted)
            for p, g in zip(parents, grads):
                if p >= 0 and g is not None:
                    old = cts[p]
                    cts[p] = g if old is None else old + g


class Var(NumpyMethods, Tracer):
    """A value recorded on a tape; numpy code and Python operators work on it."""

    __slots__ = ("primal", "_trace", "_level", "_index")

    def __init__(self, primal: Any, tape: Tape, index: int) -> None:
        self.primal = primal
        self._trace = tape
        self._level = tape.level
        self._index = index

    def __repr__(self) -> str:
        return f"Var({self.primal!r}, index={self._index})"
