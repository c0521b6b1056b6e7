"""Record once, run many: ``jit`` stages a function into a straight-line numpy program.

The first call for an input signature (pytree structure, shapes, dtypes, static values)
runs the function on *staged* values: every primitive op applied to them is recorded, with
values computed as usual. Derivative rules are ordinary numpy calls, so staging
``value_and_grad(loss)`` records the forward and the backward sweep alike. The record
becomes Python source, one numpy statement per op, compiled once; later calls run it.

Wherever a staged value leaves numpy for Python (``if x > 0:``, ``float(x)``, an index or
a mask taken from values), the outcome is recorded as a *guard*. A replay that sees another
outcome stages again and keeps both programs (ADOL-C's re-taping), so a jitted function is
always the function: it never replays a branch its inputs would not take.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import (
    NO_PARAMS,
    Tracer,
    _counters,
    bind,
    describe_origin,
    escaped,
    new_level,
    note,
    peek,
)
from .numpy_api import NumpyMethods, lift_outputs
from .registry import Op
from .tree import tree_flatten, tree_unflatten


class GuardFailed(Exception):
    """A replay reached a guard whose outcome differs from the staged one."""


# -- staging ----------------------------------------------------------------------------


class Staged(NumpyMethods, Tracer):
    """A value of a staging: ops on it are recorded as program variable ``_var``."""

    __slots__ = ("primal", "_trace", "_level", "_var")
    _stage = True

    def __init__(self, primal: Any, trace: Staging, var: int) -> None:
        self.primal = primal
        self._trace = trace
        self._level = trace.level
        self._var = var

    def __repr__(self) -> str:
        return f"Staged(v{self._var}={self.primal!r})"

    # Python taking the value: the program depends on it, so it is a guard
    def __bool__(self) -> bool:
        return self._trace.guard_bool(self)

    def __float__(self) -> float:
        return float(self._trace.guard_value(self))

    def __int__(self) -> int:
        return int(self._trace.guard_value(self))

    def __index__(self) -> int:
        return int(np.asarray(self._trace.guard_value(self)).__index__())

    def item(self, *args):
        return np.asarray(self._trace.guard_value(self)).item(*args)

    def tolist(self):
        return np.asarray(self._trace.guard_value(self)).tolist()

    def __array__(self, dtype=None, copy=None):
        if self.ndim == 0 and dtype is None:
            return Tracer.__array__(self)  # np.array([...]) of scalars: packed, recorded
        return np.asarray(self._trace.guard_value(self), dtype=dtype)


@dataclass
class Instr:
    """One program step: ``v{out} = op(*args, **params)``; an arg is ("v", k) for a
    program variable or ("c", value) for a constant. Guards have ``op`` None."""

    op: Op | None
    args: tuple[tuple[str, Any], ...]
    params: dict
    out: int
    guard: tuple[str, Any] | None = None  # ("bool", outcome) or ("value", array)


class Staging:
    """The level a function is staged on: it records every op applied to its values."""

    def __init__(self, fun: Callable) -> None:
        self.level = new_level()
        self.active = True
        self.origin = ("jit", fun)
        self.instrs: list[Instr] = []
        self.values: list[Any] = []  # each variable's staged value (for identity checks)

    def new_var(self, value: Any) -> Staged:
        self.values.append(value)
        return Staged(value, self, len(self.values) - 1)

    def _ref(self, op: Op, a: Any) -> tuple[str, Any]:
        if type(a) is Staged and a._trace is self:
            return ("v", a._var)
        if isinstance(a, Tracer):
            raise TypeError(
                f"jit of {describe_origin(self.origin)} met a traced value from "
                f"{describe_origin(a._trace.origin)} that it was not given as an "
                f"argument (a closure over it, or a global): the staged program would keep "
                f"it as a constant. Pass it to the jitted function as an argument.")
        if isinstance(a, (list, tuple)) and any(isinstance(e, Tracer) for e in a):
            raise TypeError(f"jit: np.{op.name} got a list holding traced values")
        return ("c", a)

    def process(self, op: Op, args: Sequence[Any], params: dict) -> Any:
        if not self.active:
            raise escaped(next(a for a in args if isinstance(a, Tracer) and a._trace is self))
        refs = tuple(self._ref(op, a) for a in args)
        inner = [a.primal if r[0] == "v" else a for a, r in zip(args, refs)]
        # the staging is the lowest level, so its values are plain: the op itself
        out = op.impl(*inner, **params)
        if _counters:
            bind(op, *inner, **params)  # counted like any evaluation (then discarded)
        if isinstance(out, tuple):
            raise TypeError(f"jit cannot stage op {op.name!r}: it returns several values")
        staged = self.new_var(out)
        self.instrs.append(Instr(op, refs, params, staged._var))
        return staged

    def binary(self, op: Op, a: Any, b: Any) -> Any:
        """``process`` for a binary op without parameters (every Python operator)."""
        if not self.active:
            raise escaped(a if isinstance(a, Tracer) and a._trace is self else b)
        if type(a) is Staged and a._trace is self:
            ra, a = ("v", a._var), a.primal
        else:
            ra = self._ref(op, a)
        if type(b) is Staged and b._trace is self:
            rb, b = ("v", b._var), b.primal
        else:
            rb = self._ref(op, b)
        if _counters:
            bind(op, a, b)
        staged = self.new_var(op.impl(a, b))
        self.instrs.append(Instr(op, (ra, rb), NO_PARAMS, staged._var))
        return staged

    def guard_bool(self, x: Staged) -> bool:
        outcome = bool(x.primal)
        self.instrs.append(Instr(None, (("v", x._var),), {}, -1, ("bool", outcome)))
        return outcome

    def guard_value(self, x: Staged) -> Any:
        value = x.primal
        kept = value.copy() if isinstance(value, np.ndarray) else value
        self.instrs.append(Instr(None, (("v", x._var),), {}, -1, ("value", kept)))
        return value


# -- programs ---------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Exactly the staged value: same type, dtype, shape and bits (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    return a == b or (a != a and b != b)


_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "matmul": "@"}


def _is_identity(ins: Instr, values: dict[int, Any]) -> int | None:
    """The variable an op only passes on unchanged (x * 1.0, a reshape to its own shape),
    or None. Checked on the staged values: same shape and dtype, and a neutral operand."""
    op = ins.op
    if op is None or op.name not in ("multiply", "true_divide", "reshape", "broadcast_to",
                                     "astype", "transpose", "sum", "positive"):
        return None
    (kind, ref) = ins.args[0]
    if kind != "v":
        if op.name == "multiply" and ins.args[1][0] == "v" and _is_one(ref):
            kind, ref = ins.args[1]
        else:
            return None
    elif op.name in ("multiply", "true_divide") and not _is_one(ins.args[1][1]):
        return None
    src, out = values[ref], values[ins.out]
    if type(src) is not type(out) or np.shape(src) != np.shape(out) or (
            np.result_type(src) != np.result_type(out)):
        return None
    if op.name == "sum" and ins.params.get("axis") != ():
        return None
    if op.name == "transpose" and tuple(ins.params["axes"]) != tuple(range(len(np.shape(src)))):
        return None
    return ref


def _is_one(c: Any) -> bool:
    """A constant whose product leaves every value as it is: 1.0, or an array of ones
    (the caller checks that the product keeps the other operand's shape and dtype)."""
    if type(c) is float:
        return c == 1.0
    return isinstance(c, (np.ndarray, np.generic)) and c.dtype.kind == "f" and bool(
        np.all(c == 1))


class _Namer:
    """Names for the constants and functions a generated program refers to."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"np": np, "GuardFailed": GuardFailed, "same": _same}
        self._ids: dict[int, str] = {}
        self._count = itertools.count()

    def const(self, value: Any) -> str:
        if type(value) in (int, bool) or (type(value) is float and math.isfinite(value)):
            return repr(value)
        if value is None or type(value) is str:
            return repr(value)
        if type(value) is tuple and all(type(v) in (int, bool) or v is None for v in value):
            return repr(value)
        name = self._ids.get(id(value))
        if name is None:
            name = self._ids[id(value)] = f"c{next(self._count)}"
            self.namespace[name] = value
        return name

    def function(self, op: Op) -> str:
        impl = op.impl
        if getattr(np, getattr(impl, "__name__", ""), None) is impl:
            return f"np.{impl.__name__}"
        name = f"{op.name.replace('.', '_')}_"
        self.namespace[name] = impl
        return name


@dataclass
class Program:
    """A staged function: its steps, which outputs they give, and the compiled source."""

    n_inputs: int
    instrs: list[Instr]
    outputs: list[tuple[str, Any]]  # per output leaf: ("v", k) or ("c", value)
    out_tree: Any
    source: str = ""
    run: Callable[..., tuple] = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def length(self) -> int:
        """Ops in the program (guards not counted)."""
        return sum(1 for ins in self.instrs if ins.op is not None)


def build_program(staging: Staging, n_inputs: int, outputs: list, out_tree: Any,
                  name: str = "program") -> Program:
    """The staged steps with identity ops dropped and dead code removed (steps no output
    and no guard needs), compiled once into Python source."""
    alias: dict[int, int] = {}

    def resolve(ref):
        return ("v", alias.get(ref[1], ref[1])) if ref[0] == "v" else ref

    # an output stays its own array: dropping x * 1.0 there would hand back the input
    # itself, which a caller writing into the result would then change
    outputs_of = {r[1] for r in outputs if r[0] == "v"}
    steps: list[Instr] = []
    for ins in staging.instrs:
        ins = Instr(ins.op, tuple(resolve(a) for a in ins.args), ins.params, ins.out, ins.guard)
        same_as = None if ins.out in outputs_of else _is_identity(ins, staging.values)
        if same_as is not None:
            alias[ins.out] = same_as
            continue
        steps.append(ins)
    out_refs = [resolve(r) for r in outputs]
    live = {r[1] for r in out_refs if r[0] == "v"}
    for ins in reversed(steps):
        if ins.op is None or ins.out in live:
            live.update(a[1] for a in ins.args if a[0] == "v")
    steps = [ins for ins in steps if ins.op is None or ins.out in live]
    program = Program(n_inputs, steps, out_refs, out_tree)
    program.source, program.run = _compile(program, name, staging.values)
    return program


def _direct(ins: Instr, args: list[str], names: _Namer, values: list) -> str | None:
    """The numpy call an op's implementation makes on the staged types, written out: the
    same call, so the same bits, without the implementation's dispatch on types and
    batch axes (which replays never have). None: call the implementation itself."""
    op, p = ins.op, ins.params
    x = values[ins.args[0][1]] if ins.args[0][0] == "v" else ins.args[0][1]
    plain = type(x) is np.ndarray
    if op.name == "true_divide":
        y = values[ins.args[1][1]] if ins.args[1][0] == "v" else ins.args[1][1]
        if isinstance(x, (np.ndarray, np.generic)) or isinstance(y, (np.ndarray, np.generic)):
            return f"{args[0]} / {args[1]}"  # numpy's division: no ZeroDivisionError
        return None
    if op.name == "square":
        return f"{args[0]} * {args[0]}"
    if not plain:
        return None
    if op.name == "reshape" and x.ndim == len(p["in_shape"]):
        return f"{args[0]}.reshape({names.const(p['shape'])})"
    if op.name == "transpose" and x.ndim == len(p["axes"]):
        return f"{args[0]}.transpose({names.const(tuple(p['axes']))})"
    if op.name in ("sum", "mean"):
        reduce = (f"np.add.reduce({args[0]}, axis={names.const(tuple(p['axis']))}, "
                  f"keepdims={p['keepdims']})")
        if op.name == "sum":
            return reduce
        count = math.prod(x.shape[a] for a in p["axis"])
        return f"{reduce} / {count}" if count else None
    if op.name == "broadcast_to" and x.ndim == len(p["in_shape"]) == len(p["shape"]):
        return f"np.broadcast_to({args[0]}, {names.const(p['shape'])})"
    if op.name == "getitem" and p["basic"] and x.ndim == p["in_ndim"]:
        return f"{args[0]}[{names.const(p['idx'])}]"
    return None


def _compile(program: Program, name: str, values: list | None = None) -> tuple[str, Callable]:
    names = _Namer()

    def arg(ref):
        return f"v{ref[1]}" if ref[0] == "v" else names.const(ref[1])

    lines = [f"def {name}({', '.join(f'v{i}' for i in range(program.n_inputs))}):"]
    # each variable is freed after its last use (as the tape frees cotangents): fewer
    # arrays alive at once, and numpy can reuse a temporary's memory for the next result
    last_use: dict[int, int] = {}
    for k, ins in enumerate(program.instrs):
        for a in ins.args:
            if a[0] == "v":
                last_use[a[1]] = k
    keep = {r[1] for r in program.outputs if r[0] == "v"}
    guard_no = 0
    for k, ins in enumerate(program.instrs):
        dead = sorted({a[1] for a in ins.args if a[0] == "v" and last_use[a[1]] == k} - keep)
        if ins.op is None:
            kind, outcome = ins.guard
            var = arg(ins.args[0])
            if kind == "bool":
                lines.append(f"    if {'not ' if outcome else ''}{var}:")
            else:
                lines.append(f"    if not same({var}, {names.const(outcome)}):")
            lines.append(f"        raise GuardFailed({guard_no})")
            guard_no += 1
            if dead:
                lines.append(f"    del {', '.join(f'v{v}' for v in dead)}")
            continue
        op, args = ins.op, [arg(a) for a in ins.args]
        params = [f"{k}={names.const(v)}" for k, v in ins.params.items()]
        expr = _direct(ins, args, names, values) if values is not None else None
        if expr is not None:
            pass
        elif op.name in _INFIX and len(args) == 2 and not params:
            expr = f"{args[0]} {_INFIX[op.name]} {args[1]}"
        elif op.name == "negative" and not params:
            expr = f"-{args[0]}"
        else:
            expr = f"{names.function(op)}({', '.join(args + params)})"
        lines.append(f"    v{ins.out} = {expr}")
        if dead:
            lines.append(f"    del {', '.join(f'v{v}' for v in dead)}")
    outs = [arg(r) for r in program.outputs]
    lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    code = compile(source, f"<admodes.jit {name}>", "exec")
    exec(code, names.namespace)  # our own generated source, never user text
    return source, names.namespace[name]


# -- the jitted function ------------------------------------------------------------------


def _quick_signature(leaf: Any) -> tuple:
    """What a program depends on in an argument: its type, shape and dtype (checked to
    be stageable, by ``_leaf_signature``, when a program is staged)."""
    t = type(leaf)
    if t is np.ndarray:
        return (t, leaf.shape, leaf.dtype)
    if t is float or t is int or t is bool:
        return (t,)
    v = peek(leaf)
    return (type(v), np.shape(v), getattr(v, "dtype", None))


def _leaf_signature(leaf: Any) -> tuple:
    v = peek(leaf)
    if isinstance(v, (np.ndarray, np.generic)):
        if v.dtype.kind not in "biuf":
            raise TypeError(f"jit: an argument of dtype {v.dtype} cannot be staged; pass "
                            f"float, integer or boolean arrays (others as static_argnums)")
        return (type(v).__name__, v.shape, v.dtype.str)
    if type(v) in (float, int, bool):
        return (type(v).__name__,)
    raise TypeError(f"jit: an argument of type {type(v).__name__} cannot be staged; pass "
                    f"numbers and arrays (or tuples, lists and dicts of them), and mark "
                    f"other arguments with static_argnums")


class Jitted:
    """``fun`` staged per input signature into programs (see ``jit``)."""

    def __init__(self, fun: Callable, static_argnums: tuple[int, ...]) -> None:
        self.fun = fun
        self.static_argnums = static_argnums
        self.__name__ = getattr(fun, "__name__", "jitted")
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__wrapped__ = fun
        self.variants: dict[tuple, list[Program]] = {}
        self.stagings = 0
        self.replays = 0
        self.guard_failures = 0

    def __repr__(self) -> str:
        return (f"<jit of {self.__name__}: {self.stagings} stagings, {self.replays} replays, "
                f"{self.guard_failures} guard failures>")

    def _split(self, args: tuple):
        n = len(args)
        static = tuple(sorted({i % n for i in self.static_argnums if -n <= i < n}))
        for i in self.static_argnums:
            if not -n <= i < n:
                raise ValueError(f"static_argnums has {i}, but {self.__name__} got {n} "
                                 f"arguments")
        statics = tuple((i, args[i]) for i in static)
        try:
            hash(statics)
        except TypeError as e:
            raise TypeError(f"jit: static arguments must be hashable ({e})") from None
        dynamic = [a for i, a in enumerate(args) if i not in static]
        leaves, tree = tree_flatten(dynamic)
        signature = (tree.nodes, statics, tuple(_quick_signature(x) for x in leaves))
        return signature, leaves, tree, static

    def _args(self, args: tuple, static: tuple[int, ...], tree, leaves: list) -> list:
        dynamic = iter(tree_unflatten(tree, leaves))
        return [args[i] if i in static else next(dynamic) for i in range(len(args))]

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"jit of {self.__name__}: pass arguments by position (keyword "
                            f"arguments {sorted(kwargs)} are not staged)")
        signature, leaves, tree, static = self._split(args)
        variants = self.variants.setdefault(signature, [])
        # traced arguments (grad(jit(f)), jit inside jit): the program's ops are applied
        # through the registry, so the transformation around differentiates them
        traced = any(isinstance(x, Tracer) for x in leaves)
        for program in variants:
            try:
                outs = _replay(program, leaves) if traced else program.run(*leaves)
            except GuardFailed:
                self.guard_failures += 1
                note("guard_failures")
                continue
            self.replays += 1
            note("replays")
            return tree_unflatten(program.out_tree, list(outs))
        program, outs = self._stage(args, static, tree, [peek(x) for x in leaves])
        variants.append(program)
        return tree_unflatten(program.out_tree, _replay(program, leaves) if traced else outs)

    def _stage(self, args, static, tree, leaves) -> tuple[Program, list]:
        for x in leaves:
            _leaf_signature(x)  # a clear error for an argument that cannot be staged
        staging = Staging(self.fun)
        self.stagings += 1
        note("stagings")
        inputs = [staging.new_var(x) for x in leaves]
        try:
            out = lift_outputs(self.fun(*self._args(args, static, tree, inputs)))
            out_leaves, out_tree = tree_flatten(out)
        finally:
            staging.active = False
        outputs = []
        for k, o in enumerate(out_leaves):
            if type(o) is Staged and o._trace is staging:
                outputs.append(("v", o._var))
            elif isinstance(o, Tracer):
                raise escaped(o) if not o._trace.active else TypeError(
                    f"jit of {self.__name__}: output {k} is a traced value of "
                    f"{describe_origin(o._trace.origin)}, which the jitted function was not "
                    f"given; pass it as an argument")
            elif isinstance(o, (int, float, np.ndarray, np.generic)):
                outputs.append(("c", o))
            else:
                raise TypeError(f"jit of {self.__name__}: output {k} is "
                                f"{type(o).__name__}; return numbers and arrays (or tuples, "
                                f"lists and dicts of them)")
        name = "".join(c if c.isalnum() else "_" for c in self.__name__) or "program"
        program = build_program(staging, len(inputs), outputs, out_tree,
                                name if name.isidentifier() else f"f_{name}")
        values = [staging.values[r[1]] if r[0] == "v" else r[1] for r in outputs]
        return program, values

    def programs(self, *args) -> list[Program]:
        """The programs staged for the signature of ``args`` (staging one if none)."""
        signature, leaves, tree, static = self._split(args)
        if not self.variants.get(signature):
            self(*args)
        return self.variants[signature]

    def source(self, *args) -> str:
        """The generated Python source for the signature of ``args`` (each variant's, if
        guards have staged several)."""
        return "\n".join(p.source for p in self.programs(*args))


def _replay(program: Program, leaves: list) -> list:
    """Run ``program`` by applying each op through ``bind``, on values that may be traced."""
    from .core import concrete

    env: dict[int, Any] = dict(enumerate(leaves))
    for ins in program.instrs:
        if ins.op is None:
            kind, outcome = ins.guard
            v = env[ins.args[0][1]]
            ok = bool(v) == outcome if kind == "bool" else _same(concrete(v), outcome)
            if not ok:
                raise GuardFailed(kind)
            continue
        args = [env[a[1]] if a[0] == "v" else a[1] for a in ins.args]
        env[ins.out] = bind(ins.op, *args, **ins.params)
    return [env[r[1]] if r[0] == "v" else r[1] for r in program.outputs]


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = ()) -> Any:
    """Stage ``fun`` into a straight-line numpy program at its first call for each input
    signature, and run that program on later calls (see the module docstring).

    Works on any function of numbers and arrays, derivatives included (``jit(grad(f))``),
    and composes the other way too (``grad(jit(f))``). Python side effects in ``fun``
    (printing, appending to a list) happen at staging only. ``static_argnums`` marks
    arguments that are not arrays (they are part of the signature, by value).

    Example:
        >>> import numpy as np, admodes
        >>> f = admodes.jit(lambda a, b: (a + b) * (a * b))
        >>> f(3.0, 4.0), f(1.0, 2.0)
        (84.0, 6.0)
        >>> print(f.source(3.0, 4.0))
        def _lambda_(v0, v1):
            v2 = v0 + v1
            v3 = v0 * v1
            del v0, v1
            v4 = v2 * v3
            del v2, v3
            return (v4,)
        <BLANKLINE>
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"static_argnums must be ints, got {static_argnums!r}")
    if fun is None:
        return lambda f: Jitted(f, nums)
    if not callable(fun):
        raise TypeError(f"jit needs a function, got {type(fun).__name__}")
    return Jitted(fun, nums)
