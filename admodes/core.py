"""The machinery both engines share: tracers, trace levels, ``bind`` and op counting.

A *tracer* wraps a value that some transformation (a forward sweep or a reverse recording)
is watching. Each transformation gets its own *level*, a number larger than that of every
transformation already running, so nested transformations never confuse each other's
perturbations. ``bind(op, *args)`` applies a primitive: it hands the call to the tracer with
the highest level among the arguments, which unwraps its own level and calls ``bind`` again
on what is inside; plain numpy values at the bottom run the op's numpy implementation.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_next_level = itertools.count(1)

NO_PARAMS: dict = {}  # the parameters of an op that has none (shared, never modified)


def new_level() -> int:
    """A level higher than that of every transformation started so far."""
    return next(_next_level)


class Tracer:
    """Base class of the values that a transformation watches (``Dual`` and ``Var``).

    Subclasses set ``_level`` and ``_trace`` and expose the wrapped value as ``primal``.
    The numpy face (operators, ``__array_ufunc__``, ``__array_function__``, the ndarray
    methods) is the mixin ``numpy_api.NumpyMethods``, shared by both engines' values, so
    both accept the same user code.
    """

    __slots__ = ()
    __array_priority__ = 1000
    _stage = False  # True for the values of a jit staging (admodes.jit), which record ops
    _level: int
    _trace: Any
    primal: Any

    # -- array-like attributes ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return getattr(self.primal, "shape", ())

    @property
    def ndim(self) -> int:
        return getattr(self.primal, "ndim", 0)

    @property
    def size(self) -> int:
        return int(np.size(self.primal))

    @property
    def dtype(self) -> np.dtype:
        return result_dtype(self.primal)

    def __len__(self) -> int:
        return len(self.primal)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d traced value")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        # Evaluation is eager, so control flow on a traced value is fine: the branch taken
        # is differentiated, as in any operator-overloading AD tool.
        return bool(self.primal)

    def _refuse(self, what: str):
        raise TypeError(
            f"{what} of a traced value would drop its derivative; keep it as an array "
            f"and use numpy functions (np.exp, not math.exp). Value: {self!r}"
        )

    def __float__(self):
        self._refuse("float()")

    def __int__(self):
        self._refuse("int()")

    def __index__(self):
        self._refuse("using it as an integer (an index, a range or a shape)")

    def __complex__(self):
        self._refuse("complex()")

    def item(self, *args):
        self._refuse(".item()")

    def tolist(self):
        self._refuse(".tolist()")

    # A traced value is never modified in place, so a copy may be the value itself; a
    # deep copy that also copied its trace would be a constant to every transformation.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __array__(self, dtype=None, copy=None):
        # np.array([x[0] ** 2, 1.0]): numpy does not dispatch np.array, so it builds an
        # OBJECT array whose elements are the scalar (0-d) traced values. numpy's object
        # loops then apply the tracers' own operators (exact), a numeric cast calls
        # float() (refused), and the dispatch points (numpy_api.lift_objects, the
        # transformations' outputs) turn such an array back into one traced array. A
        # constant still holding traced values is refused by check_constant, so none is
        # ever silently a constant.
        if dtype is not None and np.dtype(dtype) != np.dtype(object):
            raise TypeError(
                f"a traced value cannot become a plain numpy array of dtype "
                f"{np.dtype(dtype)} (np.asarray(x, dtype=...), np.array([...], dtype=...)): "
                f"that would drop its derivative; build it with np.stack([...]) and cast "
                f"the result with .astype(...)")
        if self.ndim:  # np.asarray(x) itself: an array of scalar tracers would be slow
            raise TypeError(
                "a traced value (an array) cannot become a plain numpy array (np.asarray, "
                "np.array, or a numpy function without a registered derivative rule); that "
                "would silently drop its derivative. To build an array from traced arrays "
                "use np.stack / np.concatenate; np.array([...]) accepts traced scalars only")
        out = np.empty((), dtype=object)
        out[()] = self
        return out

    def __setitem__(self, key, value):
        raise TypeError(
            "in-place assignment to a traced array is not differentiable; build a new "
            "array instead (np.where, np.concatenate, or x + mask * delta)"
        )

    def __hash__(self) -> int:
        return id(self)

    # numpy's protocols (__array_ufunc__, __array_function__), the operators and the
    # ndarray methods are numpy_api.NumpyMethods, a mixin of every concrete tracer class.


def result_dtype(value: Any) -> np.dtype:
    """The numpy dtype of a possibly traced value."""
    while isinstance(value, Tracer):
        value = value.primal
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return dtype
    if isinstance(value, float):
        return np.dtype(np.float64)
    return np.result_type(value)


def concrete(value: Any) -> Any:
    """Strip every level of tracing: the plain numpy value underneath.

    Code that takes this value into Python (a decision, an index, a mask kept as a
    constant) makes a staged program depend on it: under ``admodes.jit`` the value is
    recorded as a guard, and a replay that sees another value stages again. For shapes,
    dtypes and types use ``peek``; for a value that goes back into numpy, ``strip``."""
    while isinstance(value, Tracer):
        if value._stage:
            value._trace.guard_value(value)
        value = value.primal
    return value


def peek(value: Any) -> Any:
    """The plain value underneath, for its type, shape and dtype only (never a guard)."""
    while isinstance(value, Tracer):
        value = value.primal
    return value


def zeros_of(value: Any) -> Any:
    """Zeros of a possibly traced value's shape and dtype (0.0 for a Python float)."""
    v = peek(value)
    return 0.0 if type(v) is float else np.zeros(np.shape(v), np.result_type(v))


def strip(value: Any) -> Any:
    """``value`` without its derivative levels: the plain value, or the staged value of a
    jit staging beneath them (so ops on it are still recorded)."""
    while isinstance(value, Tracer) and not value._stage:
        value = value.primal
    return value


# -- counting -------------------------------------------------------------------------


@dataclass
class OpCount:
    """What the engines did inside a ``count_ops()`` block.

    ``ops`` counts the primitive ops evaluated on plain numpy values outside derivative
    rules, by op name: the primal work of every traced evaluation. ``rule_ops`` counts
    derivative-rule applications by op name: one per JVP that a forward sweep applies and
    one per VJP that a backward sweep applies. ``rule_arithmetic`` counts, by op name, the
    ops those rules executed (with the accumulation of cotangents): while counting, each
    rule runs on a counting level, so every numpy call it makes on the values it was given
    is counted with the shapes it really had (a partial computed once is counted once, its
    product with k tangents at k times the size). Plain numpy on constants inside a rule
    (a mask from a comparison) is not arithmetic on derivatives and is not counted.
    ``primal_flops`` and ``rule_flops`` are the floating-point operations of both, from
    each op's cost formula at the shapes it ran on; ``flops`` is their sum.
    ``forward_sweeps`` counts evaluations of a function on dual numbers; ``recordings``
    evaluations onto a tape; ``reverse_sweeps`` backward walks of a tape; ``tape_length``
    and ``tape_bytes`` are those of the largest tape recorded.
    """

    ops: Counter = field(default_factory=Counter)
    rule_ops: Counter = field(default_factory=Counter)
    rule_arithmetic: Counter = field(default_factory=Counter)
    primal_flops: int = 0
    rule_flops: int = 0
    forward_sweeps: int = 0
    recordings: int = 0
    reverse_sweeps: int = 0
    tape_length: int = 0
    tape_bytes: int = 0
    stagings: int = 0  # admodes.jit: functions staged into programs
    replays: int = 0  # programs run instead of their function
    guard_failures: int = 0  # replays that saw another outcome and staged again
    # the thread that opened the block: work done by other threads meanwhile is theirs
    thread: int = field(default_factory=threading.get_ident, repr=False, compare=False)

    @property
    def flops(self) -> int:
        """Floating-point operations executed: primal ops plus derivative rules."""
        return self.primal_flops + self.rule_flops

    @property
    def total_ops(self) -> int:
        """Primal op evaluations plus derivative-rule applications."""
        return sum(self.ops.values()) + sum(self.rule_ops.values())

    @property
    def sweeps(self) -> int:
        return self.forward_sweeps + self.reverse_sweeps


_counters: list[OpCount] = []
_thread = threading.local()  # rule_depth: how many counted rules are running here


class count_ops:
    """Context manager that counts the work both engines do inside it.

    Example:
        >>> import numpy as np, admodes
        >>> with admodes.count_ops() as c:
        ...     _ = admodes.jacfwd(np.sin)(np.ones(3))
        >>> c.forward_sweeps, c.ops["sin"], c.rule_ops["sin"]
        (1, 1, 1)
    """

    def __enter__(self) -> OpCount:
        self.count = OpCount()
        _counters.append(self.count)
        return self.count

    def __exit__(self, *exc) -> None:
        _counters.remove(self.count)


def _mine() -> list[OpCount]:
    """The open counts of the calling thread (``_counters`` holds every thread's, so the
    engines' hot paths test one global list)."""
    me = threading.get_ident()
    return [c for c in _counters if c.thread == me]


def counting() -> bool:
    return bool(_counters) and bool(_mine())


def note(attr: str, amount: int = 1) -> None:
    for c in _mine():
        setattr(c, attr, getattr(c, attr) + amount)


def note_tape(length: int, nbytes: int) -> None:
    for c in _mine():
        c.tape_length = max(c.tape_length, length)
        c.tape_bytes = max(c.tape_bytes, nbytes)


def _shapes(args) -> list[tuple[int, ...]]:
    return [np.shape(concrete(a)) for a in args]


def _note_op(op, args, params) -> None:
    mine = _mine()
    if not mine:
        return
    flops = op.flops(_shapes(args), params)
    inside_rule = getattr(_thread, "rule_depth", 0) > 0
    for c in mine:
        if inside_rule:
            c.rule_arithmetic[op.name] += 1
            c.rule_flops += flops
        else:
            c.ops[op.name] += 1
            c.primal_flops += flops


def note_rule(op) -> None:
    """Count one JVP or VJP application of ``op``."""
    for c in _mine():
        c.rule_ops[op.name] += 1


# -- what may flow through a trace ------------------------------------------------------

def check_constant(op, c: Any) -> None:
    """Refuse a complex constant entering a traced computation: the rules are those of
    real functions, so it would give a plausible wrong derivative. The inputs of every
    transformation are checked to be real, so complex values can only come in as
    constants, and checking those (not every result) keeps the hot paths cheap."""
    if isinstance(c, (float, int, Tracer)):  # a tracer's value was checked at its level
        return
    if (type(c) in (list, tuple) or (isinstance(c, np.ndarray) and c.dtype == object)) \
            and holds_tracer(c):
        raise TypeError(
            f"np.{op.name} got an array-like holding traced values (a list, or the object "
            f"array np.array([...]) builds from traced values) where it could only treat "
            f"it as a constant, which would drop their derivatives; pass np.stack([...]) "
            f"(or the object array to a numpy function or operator) instead")
    if c.dtype.kind == "c" if isinstance(c, np.ndarray) else np.iscomplexobj(c):
        raise TypeError(
            f"np.{op.name} of a complex value ({np.result_type(c)}) inside a traced "
            f"computation; admodes differentiates real computations only, so complex "
            f"intermediates are refused rather than pushed through real derivative rules. "
            f"Keep the computation real (np.cos(x) and np.sin(x) instead of "
            f"np.exp(1j * x)).")


def holds_tracer(c: Any) -> bool:
    """Whether a list, tuple or object array holds a traced value at any depth."""
    stack = [c]
    while stack:
        v = stack.pop()
        if isinstance(v, Tracer):
            return True
        if type(v) in (list, tuple):
            stack.extend(v)
        elif isinstance(v, np.ndarray) and v.dtype == object:
            stack.extend(v.ravel().tolist())
    return False


def describe_origin(origin: tuple[str, Any]) -> str:
    """``("grad", f)`` -> "grad of f (file.py:12)": where a trace came from."""
    kind, fun = origin
    if fun is None:
        return kind
    name = getattr(fun, "__qualname__", None) or type(fun).__name__
    code = getattr(fun, "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
    return f"{kind} of {name}{where}"


def escaped(tracer: Tracer) -> TypeError:
    """The error for a traced value used after its transformation has returned."""
    return TypeError(
        f"a traced value ({type(tracer).__name__} from "
        f"{describe_origin(tracer._trace.origin)}) was used "
        f"after that transformation returned: it escaped, e.g. kept in a global, a list "
        f"or an attribute. Its derivative is gone, so using it would give a wrong number. "
        f"Use traced values only inside the function being differentiated, or return "
        f"them from it.")


# -- bind -----------------------------------------------------------------------------


def bind(op, *args, **params):
    """Apply primitive ``op`` to ``args``, letting the innermost transformation see it."""
    top = None
    level = 0
    for a in args:
        if isinstance(a, Tracer) and a._level > level:
            top, level = a, a._level
    if top is None:
        if _counters:
            _note_op(op, args, params)
        return op.impl(*args, **params)
    if op.nondiff and not top._stage:  # no derivative: only a staging still sees the op
        return bind(op, *[strip(a) for a in args], **params)
    return top._trace.process(op, args, params)

