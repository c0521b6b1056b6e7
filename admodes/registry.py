"""The registry: the forms an op's derivative is declared in, and the live op tables.

``ops.py`` declares each primitive once, in the most natural of these forms; each form
expands the declaration into a forward rule (JVP: tangents in, tangent out) and a reverse
rule (VJP: cotangent in, cotangents out), so both modes come from one entry:

- ``elementwise``: one partial derivative per input, as a function of the primals and the
  output. JVP = sum of partial * tangent; VJP = cotangent * partial, summed back over the
  axes the input was broadcast along.
- ``linear``: the op is linear in its inputs, so its JVP is the op itself applied to the
  tangents, and its VJP is the declared *transpose* applied to the cotangent.
- ``bilinear``: linear in each input separately (matmul, einsum of two operands): the JVP
  is the op itself, f(ta, b) + f(a, tb); only the two transposes are declared.
- ``reduction``: an elementwise partial followed by a reduction over ``axis`` (max, min,
  prod): JVP = sum(partial * tangent, axis); VJP = cotangent expanded back * partial.
- ``explicit``: a JVP and a VJP written out, for the rare op no form fits (linear algebra).
- ``nondiff``: the output carries no derivative (comparisons, sign, floor); said explicitly.

Rules use ordinary numpy calls on whatever values they receive. When those values are
themselves traced by an outer transformation, the rule is differentiated too: that is what
makes grad-of-grad and forward-over-reverse work without any extra code. Tangents may
carry leading batch axes; ``shapes.py`` holds the arithmetic that keeps them apart.

The tables are live: ``OPS`` by name, ``UFUNCS`` by numpy ufunc and ``FUNCTIONS`` by numpy
function. An op registered at any time (``admodes.defop``) is reached from numpy at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import Tracer, bind, result_dtype, strip
from .shapes import (
    align,
    broadcast_core,
    expand_reduced,
    ndim_of,
    shape_of,
    size_of,
    unbroadcast,
)

Shapes = Sequence[tuple[int, ...]]


@dataclass(eq=False)
class Op:
    """One primitive: its primal, its derivative in one form, and its cost."""

    name: str
    impl: Callable[..., Any]
    form: str
    flops: Callable[[Shapes, dict], int]
    cost: str = ""
    jvp: Callable[..., Any] | None = field(default=None, repr=False)
    vjp: Callable[..., Any] | None = field(default=None, repr=False)
    nondiff: bool = False
    ufunc: Any = None
    doc: str = ""
    user: bool = False  # declared with admodes.defop (and so replaceable)

    def __call__(self, *args, **params):
        return bind(self, *args, **params)


OPS: dict[str, Op] = {}
UFUNCS: dict[Any, Op] = {}  # numpy (or scipy) ufunc -> the op that differentiates it
# numpy function -> handler(*args, **kwargs): calls of a numpy function on traced values
FUNCTIONS: dict[Any, Callable] = {}


def register(op: Op, replace: bool = False) -> Op:
    """Add ``op`` to the live tables (``replace`` lets a user re-declare their own op)."""
    if op.name in OPS and not replace:
        raise ValueError(f"op {op.name!r} registered twice")
    old = OPS.get(op.name)
    if old is not None and old.ufunc is not None:
        UFUNCS.pop(old.ufunc, None)
    OPS[op.name] = op
    if op.ufunc is not None:
        UFUNCS[op.ufunc] = op
    return op


def _elementwise_flops(per_element: int) -> Callable[[Shapes, dict], int]:
    return lambda shapes, params: per_element * size_of(np.broadcast_shapes(*shapes))


def apply_op(op: Op, *ts, **params):
    """The op itself on tangents: through ``bind`` when an outer level traces them (so it
    is differentiated like any other op: third derivatives of indexing), else directly."""
    for t in ts:
        if isinstance(t, Tracer):
            return bind(op, *ts, **params)
    return op.impl(*ts, **params)


# -- the elementwise form -------------------------------------------------------------


def _guarded_product(d: Any, t: Any) -> Any:
    """d * t, except 0 where t is exactly 0 and d is not finite: sqrt'(0) = inf, but a
    direction that does not move an element must not turn inf * 0 into nan.

    Only those elements are replaced, and only in d, through a constant mask: the product
    keeps its derivatives (for outer levels) everywhere else, including where t is an
    exact zero whose own derivative is not (1 / (1 + x * x) at x = 0)."""
    dc = strip(d)  # masks from values, still recorded by a jit staging beneath
    if type(dc) is float:
        if math.isfinite(dc):
            return d * t
        finite = np.False_
    else:
        finite = np.isfinite(dc)
        if np.all(finite):
            return d * t
    bad = ~finite & (strip(t) == 0)
    if not np.any(bad):
        return d * t  # inf times a real move: the honest answer is infinite
    return np.where(bad, 0.0, d) * t


Partial = Callable[..., Any] | float | None  # or a Select, below


class Select:
    """A partial derivative that is 1 where ``mask(*primals, out)`` holds and 0 elsewhere,
    applied by selection (np.where), not by multiplication: the tangent of the branch not
    taken may be inf or nan (np.where(x > 0, np.sqrt(x), 0.0) at x = 0), and 0 * inf
    would make it nan."""

    __slots__ = ("mask",)

    def __init__(self, mask: Callable[..., Any]) -> None:
        self.mask = mask


def _divide(x, y):
    """x / y with numpy's semantics (inf, nan and a warning) even for two Python floats,
    which would raise ZeroDivisionError: a rule never raises where its primal did not."""
    try:
        return x / y
    except ZeroDivisionError:
        return np.divide(np.float64(x), y)


# The "wanted" flags a tape gives a binary op whose two inputs are the same tape entry
# (x * x): recognised by identity, so that op's VJP can return one summed cotangent.
SAME_PARENT = (True, True)


def _applier(d: Partial, singular: bool) -> Callable | None:
    """``(primals, out, t) -> partial * t`` for one declared partial."""
    if d is None:
        return None
    if isinstance(d, Select):
        mask = d.mask
        return lambda primals, out, t: np.where(mask(*primals, out), t, 0.0)
    if callable(d):
        if singular:
            def apply(primals, out, t):
                if type(t) is float and type(out) is float and all(
                        type(x) is float for x in primals):
                    return _guarded_product(d(*primals, out), t)  # no numpy warnings
                # the partial is infinite at the kink itself (sqrt at 0): quietly, since
                # that value is a documented convention, not an accident
                with np.errstate(divide="ignore", invalid="ignore"):
                    return _guarded_product(d(*primals, out), t)
            return apply
        return lambda primals, out, t: d(*primals, out) * t
    if d == 1.0:
        return lambda primals, out, t: t
    return lambda primals, out, t: d * t


def elementwise(name: str, ufunc: Any, partials: Sequence[Partial], flops: int = 1,
                impl: Callable | None = None, singular: bool = False, doc: str = "",
                replace: bool = False) -> Op:
    """Declare an elementwise op (numpy's ``ufunc``) by its partial derivatives.

    ``impl`` computes the primal when it should not be the ufunc itself. ``singular``
    marks ops whose partials can be infinite where the primal is finite (sqrt at 0).
    Each partial is a function ``(*primals, out) -> array`` (broadcastable to ``out``), a
    constant such as 1.0 or -1.0, a ``Select`` (a 0/1 mask applied by selection), or None
    for an input with no derivative (a condition).
    """

    # each partial becomes "apply it to a tangent/cotangent t", decided once, here
    appliers = [_applier(d, singular) for d in partials]

    def jvp(primals, tangents, out, params):
        out_shape = shape_of(out)
        total = None
        partial_shape = False
        for x, t, apply in zip(primals, tangents, appliers):
            if t is None or apply is None:
                continue
            x_shape = shape_of(x)
            if x_shape != out_shape:
                partial_shape = True  # this term may not cover every output element
                if len(x_shape) != len(out_shape):
                    t = align(t, len(x_shape), len(out_shape))
            t = apply(primals, out, t)
            total = t if total is None else total + t
        if partial_shape:
            return broadcast_core(total, out_shape)
        return total

    def vjp(ct, primals, out, params, wanted):
        out_shape = shape_of(out)
        grads = []
        for x, w, apply in zip(primals, wanted, appliers):
            if not w or apply is None:
                grads.append(None)
                continue
            g = apply(primals, out, ct)
            if shape_of(x) != out_shape:
                g = unbroadcast(g, shape_of(x), len(out_shape))
            grads.append(g)
        return grads

    # FAST PATH (the one of this layer): binary and unary ops without the loops above.
    # Binary arithmetic is most of every workload. Measured on a 200-op chain of Python
    # float arithmetic, three alternating runs on this shared 2-core machine (2026-12-02):
    # reverse 3.4-5.9 us/op with it, 3.9-7.8 without; forward 2.5-4.6 against 3.4-5.6.
    # The general rules above stay the ones every broadcast or singular case runs.
    if len(partials) == 2:
        apply_x, apply_y = appliers
        general_jvp = jvp

        dx, dy = partials
        # x * x and the like: one operand twice, so one product with the summed partials
        same_operand = callable(dx) and callable(dy) and not singular

        def jvp(primals, tangents, out, params):  # noqa: F811
            tx, ty = tangents
            if tx is ty and same_operand and shape_of(primals[0]) == shape_of(out):
                return (dx(*primals, out) + dy(*primals, out)) * tx
            if ty is None and apply_x is not None and shape_of(primals[0]) == shape_of(out):
                return apply_x(primals, out, tx)
            if tx is None and apply_y is not None and shape_of(primals[1]) == shape_of(out):
                return apply_y(primals, out, ty)
            return general_jvp(primals, tangents, out, params)

        def vjp(ct, primals, out, params, wanted):  # noqa: F811
            out_shape = shape_of(out)
            if wanted is SAME_PARENT and same_operand and shape_of(primals[0]) == out_shape:
                # the sweep accumulates both cotangents into the same entry anyway
                return (ct * (dx(*primals, out) + dy(*primals, out)), None)
            gx = gy = None
            if wanted[0] and apply_x is not None:
                gx = apply_x(primals, out, ct)
                x_shape = shape_of(primals[0])
                if x_shape != out_shape:
                    gx = unbroadcast(gx, x_shape, len(out_shape))
            if wanted[1] and apply_y is not None:
                gy = apply_y(primals, out, ct)
                y_shape = shape_of(primals[1])
                if y_shape != out_shape:
                    gy = unbroadcast(gy, y_shape, len(out_shape))
            return (gx, gy)

    if len(partials) == 1 and callable(partials[0]) and not singular:
        # unary: the output shape is the input shape, so no broadcasting to undo
        (d,) = partials

        def jvp(primals, tangents, out, params):  # noqa: F811
            return d(primals[0], out) * tangents[0]

        def vjp(ct, primals, out, params, wanted):  # noqa: F811
            return (ct * d(primals[0], out),)

    return register(Op(name, impl or ufunc, "elementwise", _elementwise_flops(flops),
                       cost=f"{flops} * out.size", jvp=jvp, vjp=vjp, ufunc=ufunc, doc=doc),
                    replace)


# -- the linear form ------------------------------------------------------------------


def linear(name: str, impl: Callable, transpose: Callable, flops=None, cost: str = "0",
           doc: str = "", replace: bool = False) -> Op:
    """Declare an op that is linear in all its inputs.

    ``impl(*xs, **params)`` must accept leading batch axes on its inputs (so the same
    function maps tangents); ``transpose(ct, *primals, **params)`` returns the cotangent of
    each input: a tuple, one per input (a lone value for a one-input op). The JVP is the op
    itself applied to the tangents, so it is differentiated like any other op.
    """

    def jvp(primals, tangents, out, params):
        if len(primals) == 1:
            return apply_op(op, tangents[0], **params)
        nb_shape = next(shape_of(t)[: ndim_of(t) - ndim_of(x)]
                        for x, t in zip(primals, tangents) if t is not None)
        ts = [t if t is not None else np.zeros(nb_shape + shape_of(x), result_dtype(out))
              for x, t in zip(primals, tangents)]
        return apply_op(op, *ts, **params)

    def vjp(ct, primals, out, params, wanted):
        gs = transpose(ct, *primals, **params)
        if not isinstance(gs, tuple):  # a cotangent is never a tuple
            gs = (gs,)
        return [g if w else None for g, w in zip(gs, wanted)]

    op = Op(name, impl, "linear", flops or (lambda shapes, params: 0), cost=cost, jvp=jvp,
            vjp=vjp, doc=doc)
    return register(op, replace)


# -- the bilinear form ----------------------------------------------------------------


def bilinear(name: str, impl: Callable, batched: Callable, transposes: tuple[Callable, Callable],
             flops: Callable[[Shapes, dict], int], cost: str = "", ufunc: Any = None,
             doc: str = "", replace: bool = False) -> Op:
    """Declare an op that is linear in each of its two inputs separately (matmul).

    The JVP is the op itself: f(ta, b) + f(a, tb), where ``batched(x, y, a, b, out,
    **params)`` is ``impl(x, y)`` for operands x, y that may carry leading batch axes on
    top of the primals a, b. Only the two transposes are declared: ``transposes[i](ct, a,
    b, out, **params)`` is the cotangent of input i.
    """
    left, right = transposes

    def jvp(primals, tangents, out, params):
        a, b = primals
        ta, tb = tangents
        total = None if ta is None else batched(ta, b, a, b, out, **params)
        if tb is not None:
            term = batched(a, tb, a, b, out, **params)
            total = term if total is None else total + term
        return total

    def vjp(ct, primals, out, params, wanted):
        a, b = primals
        return [left(ct, a, b, out, **params) if wanted[0] else None,
                right(ct, a, b, out, **params) if wanted[1] else None]

    return register(Op(name, impl, "bilinear", flops, cost=cost, jvp=jvp, vjp=vjp,
                       ufunc=ufunc, doc=doc), replace)


# -- the reduction form ---------------------------------------------------------------


def reduction(name: str, impl: Callable, partial: Callable, flops: int = 1, doc: str = "",
              replace: bool = False) -> Op:
    """Declare a reduction ``impl(x, axis, keepdims)`` by the elementwise partial of the
    output with respect to each input element, ``partial(x, out_keepdims, axis)``."""

    def jvp(primals, tangents, out, params):
        (x,), (t,) = primals, tangents
        axis, keepdims = params["axis"], params["keepdims"]
        d = partial(x, expand_reduced(out, shape_of(x), axis, keepdims), axis)
        return np.sum(d * t, axis=axis, keepdims=keepdims)

    def vjp(ct, primals, out, params, wanted):
        (x,) = primals
        axis, keepdims = params["axis"], params["keepdims"]
        d = partial(x, expand_reduced(out, shape_of(x), axis, keepdims), axis)
        return [expand_reduced(ct, shape_of(x), axis, keepdims) * d]

    return register(Op(name, impl, "reduction", lambda shapes, params: flops * size_of(
        shapes[0]), cost=f"{flops} * in.size", jvp=jvp, vjp=vjp, doc=doc), replace)


# -- the explicit form ----------------------------------------------------------------


def explicit(name: str, impl: Callable, jvp: Callable, vjp: Callable,
             flops: Callable[[Shapes, dict], int] | None = None, cost: str = "",
             ufunc: Any = None, doc: str = "", replace: bool = False) -> Op:
    """Declare an op by a JVP and a VJP written out, for the ops no form fits.

    ``jvp(primals, tangents, out, **params)`` returns the output tangent; a tangent is None
    for an input that carries none, and tangents may carry leading batch axes.
    ``vjp(ct, primals, out, **params)`` returns one cotangent per input (None for none),
    a tuple for several inputs or a lone value for one. Both must be written with numpy
    calls (so nesting differentiates them) and must accept batch axes.
    """

    def jvp_rule(primals, tangents, out, params):
        if all(t is None for t in tangents):
            return None
        return jvp(primals, tangents, out, **params)

    def vjp_rule(ct, primals, out, params, wanted):
        gs = vjp(ct, primals, out, **params)
        if not isinstance(gs, (tuple, list)):
            gs = (gs,)
        return [g if w else None for g, w in zip(gs, wanted)]

    return register(Op(name, impl, "explicit", flops or (lambda shapes, params: 0),
                       cost=cost, jvp=jvp_rule, vjp=vjp_rule, ufunc=ufunc, doc=doc), replace)


# -- non-differentiable ops -----------------------------------------------------------


def nondiff(name: str, impl: Any, ufunc: Any = None, doc: str = "",
            replace: bool = False) -> Op:
    """Declare an op whose output carries no derivative (a comparison, a rounding)."""
    if ufunc is None and isinstance(impl, np.ufunc):
        ufunc = impl
    return register(Op(name, impl, "nondiff", lambda shapes, params: 0, cost="0",
                       nondiff=True, ufunc=ufunc, doc=doc), replace)


def ops_table():
    """The registered ops as rows: name, derivative form, cost formula."""
    return [{"op": op.name, "form": op.form, "cost (flops)": op.cost} for op in OPS.values()]
