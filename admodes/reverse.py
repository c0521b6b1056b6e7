"""Reverse mode: a tape (Wengert list) walked backwards.

While the user's function runs, every primitive applied to a ``Var`` is appended to the
tape with its inputs, its output and its parameters (the residuals its VJP needs). The
backward sweep walks the tape from the end in a plain loop (no recursion, so a chain of a
million ops is fine), skipping nodes no cotangent reached. The tape is never modified by a
sweep, so a pullback can be called any number of times. Cotangents may carry leading batch
axes: k seeds pulled back through ONE sweep (vector mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .core import IN_RULE, Tracer, bind, concrete, new_level, note


@dataclass(frozen=True)
class Node:
    """One tape entry: ``out = op(*primals, **params)``; ``parents[i]`` is the tape index
    of input i, or -1 for a constant. Inputs of the function are nodes with ``op=None``."""

    op: Any
    parents: tuple[int, ...]
    primals: tuple[Any, ...]
    out: Any
    params: dict


class Tape:
    """The record of one evaluation of a function, at one level."""

    def __init__(self) -> None:
        self.level = new_level()
        self.nodes: list[Node] = []

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<Tape: {len(self)} nodes, {self.residual_bytes()} residual bytes>"

    @property
    def ops(self) -> list[str]:
        """The op name of each entry, in recording order ('input' for the inputs)."""
        return [n.op.name if n.op is not None else "input" for n in self.nodes]

    def residual_bytes(self) -> int:
        """Bytes of the arrays the tape keeps alive (each array counted once)."""
        seen: set[int] = set()
        total = 0
        for node in self.nodes:
            for v in (*node.primals, node.out):
                v = concrete(v)
                if isinstance(v, np.ndarray | np.generic) and id(v) not in seen:
                    seen.add(id(v))
                    total += v.nbytes
                elif isinstance(v, float) and id(v) not in seen:
                    seen.add(id(v))
                    total += 8
        return total

    def input(self, value: Any) -> "Var":
        self.nodes.append(Node(None, (), (), value, {}))
        return Var(value, self, len(self.nodes) - 1)

    def process(self, op, args, params):
        primals = []
        parents = []
        for a in args:
            if type(a) is Var and a._trace is self:
                primals.append(a.primal)
                parents.append(a._index)
            else:
                primals.append(a)
                parents.append(-1)
        out = bind(op, *primals, **params)
        self.nodes.append(Node(op, tuple(parents), tuple(primals), out, params))
        return Var(out, self, len(self.nodes) - 1)

    def backward(self, seeds: Sequence[tuple[int, Any]]) -> list[Any]:
        """Pull cotangents back from ``(node index, cotangent)`` seeds.

        Returns the accumulated cotangent of every node (None where none arrived).
        """
        note("reverse_sweeps")
        nodes = self.nodes
        cts: list[Any] = [None] * len(nodes)
        for i, ct in seeds:
            cts[i] = ct if cts[i] is None else cts[i] + ct
        with IN_RULE:
            for i in range(len(nodes) - 1, -1, -1):
                ct = cts[i]
                node = nodes[i]
                if ct is None or node.op is None:
                    continue
                cts[i] = None  # free it early; inputs keep theirs
                wanted = [p >= 0 for p in node.parents]
                grads = node.op.vjp(ct, node.primals, node.out, node.params, wanted)
                for p, g in zip(node.parents, grads):
                    if p >= 0 and g is not None:
                        cts[p] = g if cts[p] is None else cts[p] + g
        return cts


class Var(Tracer):
    """A value recorded on a tape; numpy code and Python operators work on it."""

    __slots__ = ("primal", "_trace", "_level", "_index")

    def __init__(self, primal: Any, tape: Tape, index: int) -> None:
        self.primal = primal
        self._trace = tape
        self._level = tape.level
        self._index = index

    def __repr__(self) -> str:
        return f"Var({self.primal!r}, index={self._index})"


__all__ = ["Tape", "Var", "Node", "bind"]
