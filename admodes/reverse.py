"""Reverse mode: a tape (Wengert list) walked backwards.

Used directly, as in the notebook this project grew from::

    >>> from admodes import reverse
    >>> a, b = reverse.Variable(3.0, name="a"), reverse.Variable(4.0, name="b")
    >>> f = (a + b) * (a * b)
    >>> f.backward()
    >>> a.grad, b.grad
    (40.0, 33.0)


While the user's function runs, every primitive applied to a ``Var`` is appended to the
tape with its inputs, its output and its parameters (the residuals its VJP needs). The
backward sweep walks the tape from the end in a plain loop (no recursion, so a chain of a
million ops is fine), skipping nodes no cotangent reached. The tape is never modified by a
sweep, so a pullback can be called any number of times. Cotangents may carry leading batch
axes: k seeds pulled back through ONE sweep (vector mode).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .core import (
    NO_PARAMS,
    Tracer,
    _counters,
    bind,
    check_constant,
    escaped,
    new_level,
    note,
    peek,
    zeros_of,
)
from .counting import counted_sum, counted_vjp
from .inputs import _check_input
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
        self.names: dict[int, str] = {}  # entry index -> the name a user gave it
        self.inputs: list[int] = []  # the entries of reverse.record's arguments
        self.output: Var | None = None  # what reverse.record's function returned
        self.adjoints: list[Any] | None = None  # of every entry, from the last backward()
        self.seeded: int = -1  # the entry the last backward() started from

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<Tape: {len(self)} entries, {self.residual_bytes()} residual bytes>"

    def name(self, i: int) -> str:
        """Entry ``i``'s name: the one given to its Variable, else ``v<i>``."""
        return self.names.get(i, f"v{i}")

    def __str__(self) -> str:
        """The Wengert list, one line per entry: ``name = op(inputs)  -> value``."""
        lines = []
        for i, (op, parents, primals, out, _, _) in enumerate(self.nodes):
            if op is None:
                lines.append(f"{self.name(i)} = input {_short(out)}")
                continue
            args = ", ".join(self.name(p) if p >= 0 else _short(c)
                             for p, c in zip(parents, primals))
            lines.append(f"{self.name(i)} = {op.name}({args})  -> {_short(out)}")
        return "\n".join(lines)

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
                v = peek(v)
                if id(v) in seen:
                    continue
                seen.add(id(v))
                if isinstance(v, (np.ndarray, np.generic)):
                    total += v.nbytes
                elif isinstance(v, float):
                    total += 8
        return total

    def input(self, value: Any, name: str | None = None) -> Var:
        self.nodes.append((None, (), (), value, {}, ()))
        if name is not None:
            self.names[len(self.nodes) - 1] = name
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

    def backward(self, seed: Any = None, *, adjoints: bool = False) -> Any:
        """Pull ``seed`` back from the output of ``reverse.record``: the cotangents of its
        arguments, a tuple (one per argument, zeros where none arrived); with
        ``adjoints=True`` the adjoint of every entry instead, as a list in tape order (None
        where none arrived). ``seed`` defaults to 1 for a scalar output. The tape is not
        changed, so this can be called any number of times, with different seeds."""
        if self.output is None:
            raise TypeError("Tape.backward(seed) pulls back from the output of "
                            "reverse.record(fun, *args); this tape has none. Call "
                            ".backward() on a value instead (y.backward())")
        return self.output.backward(seed, _result="adjoints" if adjoints else "inputs")

    def sweep(self, seeds: Sequence[tuple[int, Any]], keep_all: bool = False) -> list[Any]:
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
        self._walk(cts, keep_all)
        return cts

    def _walk(self, cts: list[Any], keep_all: bool) -> None:
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
        name = self._trace.names.get(self._index)
        label = f", name={name!r}" if name is not None else ""
        return f"Var({self.primal!r}, index={self._index}{label})"

    @property
    def tape(self) -> Tape:
        """The tape this value is recorded on."""
        return self._trace

    @property
    def name(self) -> str:
        return self._trace.name(self._index)

    def backward(self, seed: Any = None, *, _result: str = "none") -> Any:
        """Reverse sweep from this value: afterwards ``v.grad`` is d(self)/dv (with cotangent
        ``seed``, by default 1 for a scalar) for every value ``v`` on the same tape. Each call
        starts afresh: gradients are replaced, never accumulated across calls."""
        tape = self._trace
        primal = peek(self.primal)
        if seed is None:
            if np.shape(primal) != ():
                raise TypeError(f"backward() without a seed needs a scalar value; this one "
                                f"has shape {np.shape(primal)}: pass seed= (an array of that "
                                f"shape), or reduce it first (np.sum)")
            seed = 1.0 if type(primal) is float else np.ones((), np.result_type(primal))
        elif np.shape(seed) != np.shape(primal):
            raise ValueError(f"seed has shape {np.shape(seed)}, expected {np.shape(primal)} "
                             f"(the shape of the value it seeds)")
        cts = tape.sweep([(self._index, seed)], keep_all=True)
        tape.adjoints, tape.seeded = cts, self._index
        if _result == "adjoints":
            return cts
        if _result == "inputs":
            return tuple(zeros_of(tape.nodes[i][3]) if cts[i] is None else cts[i]
                         for i in tape.inputs)
        return None

    @property
    def grad(self) -> Any:
        """d(seeded value)/d(this value) from the tape's last ``backward()``: zeros if this
        value does not influence it."""
        tape = self._trace
        if tape.adjoints is None:
            raise ValueError(f"{self.name} has no gradient yet: call .backward() on a value "
                             f"computed from it first")
        ct = tape.adjoints[self._index] if self._index < len(tape.adjoints) else None
        return zeros_of(self.primal) if ct is None else ct


def _short(v: Any) -> str:
    v = peek(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return np.array2string(np.asarray(v), precision=4, threshold=6)


# -- the engine as a library ----------------------------------------------------------

_local = threading.local()


def default_tape() -> Tape:
    """The tape ``Variable`` records on in this thread unless given another: it lives until
    ``new_tape()`` replaces it (everything computed from Variables is kept on it)."""
    tape = getattr(_local, "tape", None)
    if tape is None:
        tape = _local.tape = Tape(("reverse.Variable", None))
    return tape


def new_tape() -> Tape:
    """Start a fresh default tape (the old one and its values stay usable)."""
    _local.tape = Tape(("reverse.Variable", None))
    return _local.tape


def Variable(value: Any, name: str | None = None, tape: Tape | None = None) -> Var:
    """A float or float array recorded as an input on ``tape`` (the default tape): build a
    computation from it with operators and numpy, then ``y.backward()`` and read ``.grad``.

    Example:
        >>> import numpy as np
        >>> from admodes import reverse
        >>> x = reverse.Variable(np.array([1.0, 2.0]), name="x")
        >>> y = np.sum(np.sin(x) * x)
        >>> y.backward()
        >>> np.round(x.grad, 4)
        array([1.3818, 0.077 ])
    """
    _check_input(value, "a Variable's value")
    if isinstance(value, Tracer):
        raise TypeError("a Variable's value must be a plain float or array, not a value "
                        "traced by another transformation")
    tape = default_tape() if tape is None else tape
    if not tape.active:
        raise ValueError("that tape's recording has ended (reverse.record returned): "
                         "record a new one")
    return tape.input(value.copy() if isinstance(value, np.ndarray) else value, name)


def gradient(y: Var, *variables: Var) -> Any:
    """``y.backward()``, then the gradients of ``variables``: one value for one variable,
    a tuple for several."""
    if not isinstance(y, Var):
        raise TypeError(f"gradient(y, ...) needs a value recorded on a tape, got {y!r}")
    y.backward()
    grads = tuple(v.grad for v in variables)
    return grads[0] if len(grads) == 1 else grads


def record(fun: Callable[..., Any], *args: Any) -> Tape:
    """Record ``fun(*args)`` (float or float-array arguments, one array output) on a new
    tape and return the tape: ``print(tape)`` lists its entries, ``tape.output`` is the
    output value, ``tape.backward(seed)`` pulls a cotangent back to the arguments (any
    number of times) and ``tape.backward(seed, adjoints=True)`` gives every entry's.

    Example:
        >>> import numpy as np
        >>> from admodes import reverse
        >>> tape = reverse.record(lambda a, b: (a + b) * (a * b), 3.0, 4.0)
        >>> tape.backward()
        (40.0, 33.0)
    """
    tape = Tape(("reverse.record", fun))
    for k, a in enumerate(args):
        _check_input(a, f"argument {k}")
    names = getattr(getattr(fun, "__code__", None), "co_varnames", ())[: len(args)]
    xs = [tape.input(a.copy() if isinstance(a, np.ndarray) else a,
                     names[k] if k < len(names) else f"x{k}") for k, a in enumerate(args)]
    tape.inputs = [x._index for x in xs]
    try:
        out = fun(*xs)
    finally:
        tape.active = False
    if not (type(out) is Var and out._trace is tape):
        raise TypeError(f"reverse.record needs a function whose one output is computed from "
                        f"its arguments; it returned {type(out).__name__}")
    tape.output = out
    return tape
