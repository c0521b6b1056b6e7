"""The op registry: every primitive declared once, the only file with calculus in it.

Each entry gives a primitive's numpy implementation (its *primal*), a cost estimate, and its
derivative in ONE of these forms; the registry turns that form into both a forward rule
(JVP: tangents in, tangent out) and a reverse rule (VJP: cotangent in, cotangents out):

- ``elementwise``: one partial derivative per input, as a function of the primals and the
  output. JVP = sum of partial * tangent; VJP = cotangent * partial, summed back over the
  axes the input was broadcast along.
- ``linear``: the op is linear in its inputs, so its JVP is the op itself applied to the
  tangents, and its VJP is the declared *transpose* applied to the cotangent.
- ``reduction``: an elementwise partial followed by a reduction over ``axis`` (max, min,
  prod): JVP = sum(partial * tangent, axis); VJP = cotangent expanded back * partial.
- ``bilinear``: linear in each input separately (matmul): JVP = f(ta, b) + f(a, tb);
  the VJP is the two declared transposes.
- ``nondiff``: the output carries no derivative (comparisons, sign, floor); said explicitly.

Rules use ordinary numpy calls on whatever values they receive. When those values are
themselves traced by an outer transformation, the rule is differentiated too: that is what
makes grad-of-grad and forward-over-reverse work without any extra code.

Tangents and cotangents may carry leading *batch* axes (vector mode: k directions in one
sweep). Every rule below therefore acts on trailing axes: negative axis numbers, shapes
taken from the end, and a batch count ``nb`` found as "the value's ndim minus the primal's".
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import Tracer, bind, concrete, result_dtype

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

    def __call__(self, *args, **params):
        return bind(self, *args, **params)


OPS: dict[str, Op] = {}


def _register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    OPS[op.name] = op
    return op


# -- shape helpers used by the rules (no calculus here) --------------------------------


def _ndim(v: Any) -> int:
    if type(v) is float:
        return 0
    ndim = getattr(v, "ndim", None)
    return np.ndim(v) if ndim is None else ndim


def _shape(v: Any) -> tuple[int, ...]:
    # Python floats first: getattr's failed lookup would cost more than the op itself
    if type(v) is float:
        return ()
    shape = getattr(v, "shape", None)
    return np.shape(v) if shape is None else shape  # lists, ints


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def batch_ndim(value: Any, core_ndim: int) -> int:
    """How many leading batch axes ``value`` carries on top of a ``core_ndim`` array."""
    return _ndim(value) - core_ndim


def unbroadcast(g: Any, shape: tuple[int, ...], out_ndim: int) -> Any:
    """Sum ``g`` (batch axes + an ``out_ndim`` core) back to batch axes + ``shape``.

    The single place where broadcasting is undone for every VJP.
    """
    gshape = _shape(g)
    nb = len(gshape) - out_ndim
    if gshape[nb:] == shape:
        return g
    extra = out_ndim - len(shape)
    lead = tuple(range(nb, nb + extra))
    ones = tuple(
        nb + extra + i
        for i, n in enumerate(shape)
        if n == 1 and gshape[nb + extra + i] != 1
    )
    if not ones:  # only leading axes to sum: no size-1 axes to keep
        if type(g) is np.ndarray:  # np.add.reduce skips np.sum's Python wrapper
            return np.add.reduce(g, axis=lead)
        return np.sum(g, axis=lead)
    g = np.sum(g, axis=lead + ones, keepdims=True)
    return np.reshape(g, gshape[:nb] + shape)


def _align(t: Any, in_ndim: int, out_ndim: int) -> Any:
    """Insert axes after the batch axes so a tangent broadcasts against the output."""
    if in_ndim == out_ndim:
        return t
    tshape = _shape(t)
    nb = len(tshape) - in_ndim
    return np.reshape(t, tshape[:nb] + (1,) * (out_ndim - in_ndim) + tshape[nb:])


def _broadcast_core(t: Any, out_shape: tuple[int, ...]) -> Any:
    tshape = _shape(t)
    nb = len(tshape) - len(out_shape)
    if nb >= 0 and tshape[nb:] == out_shape:
        return t
    nb = max(nb, 0)
    return np.broadcast_to(_align(t, len(tshape) - nb, len(out_shape)), tshape[:nb] + out_shape)


def _step(z: Any) -> Any:
    """1 where z > 0, 0.5 where z == 0, 0 where z < 0: how ties split a derivative."""
    return 0.5 * (1 + np.sign(z))


def _elementwise_flops(per_element: int) -> Callable[[Shapes, dict], int]:
    return lambda shapes, params: per_element * _size(np.broadcast_shapes(*shapes))


# -- the elementwise form -------------------------------------------------------------



def _guarded_product(d: Any, t: Any) -> Any:
    """d * t, except 0 where t is exactly 0 and d is not finite: sqrt'(0) = inf, but a
    direction that does not move an element must not turn inf * 0 into nan.

    Only those elements are replaced, and only in d, through a constant mask: the product
    keeps its derivatives (for outer levels) everywhere else, including where t is an
    exact zero whose own derivative is not (1 / (1 + x * x) at x = 0)."""
    dc = concrete(d)
    if type(dc) is float:
        if math.isfinite(dc):
            return d * t
        finite = np.False_
    else:
        finite = np.isfinite(dc)
        if finite.all():
            return d * t
    bad = ~finite & (concrete(t) == 0)
    if not bad.any():
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
                impl: Callable | None = None, singular: bool = False) -> Op:
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
        out_shape = _shape(out)
        total = None
        partial_shape = False
        for x, t, apply in zip(primals, tangents, appliers):
            if t is None or apply is None:
                continue
            x_shape = _shape(x)
            if x_shape != out_shape:
                partial_shape = True  # this term may not cover every output element
                if len(x_shape) != len(out_shape):
                    t = _align(t, len(x_shape), len(out_shape))
            t = apply(primals, out, t)
            total = t if total is None else total + t
        if partial_shape:
            return _broadcast_core(total, out_shape)
        return total

    def vjp(ct, primals, out, params, wanted):
        out_shape = _shape(out)
        grads = []
        for x, w, apply in zip(primals, wanted, appliers):
            if not w or apply is None:
                grads.append(None)
                continue
            g = apply(primals, out, ct)
            if _shape(x) != out_shape:
                g = unbroadcast(g, _shape(x), len(out_shape))
            grads.append(g)
        return grads

    if len(partials) == 2:
        # binary ops, the most common: the same rules without the loops
        apply_x, apply_y = appliers
        general_jvp = jvp

        dx, dy = partials
        # x * x and the like: one operand twice, so one product with the summed partials
        same_operand = callable(dx) and callable(dy) and not singular

        def jvp(primals, tangents, out, params):  # noqa: F811
            tx, ty = tangents
            if tx is ty and same_operand and _shape(primals[0]) == _shape(out):
                return (dx(*primals, out) + dy(*primals, out)) * tx
            if ty is None and apply_x is not None and _shape(primals[0]) == _shape(out):
                return apply_x(primals, out, tx)
            if tx is None and apply_y is not None and _shape(primals[1]) == _shape(out):
                return apply_y(primals, out, ty)
            return general_jvp(primals, tangents, out, params)

        def vjp(ct, primals, out, params, wanted):  # noqa: F811
            out_shape = _shape(out)
            if wanted is SAME_PARENT and same_operand and _shape(primals[0]) == out_shape:
                # the sweep accumulates both cotangents into the same entry anyway
                return (ct * (dx(*primals, out) + dy(*primals, out)), None)
            gx = gy = None
            if wanted[0] and apply_x is not None:
                gx = apply_x(primals, out, ct)
                x_shape = _shape(primals[0])
                if x_shape != out_shape:
                    gx = unbroadcast(gx, x_shape, len(out_shape))
            if wanted[1] and apply_y is not None:
                gy = apply_y(primals, out, ct)
                y_shape = _shape(primals[1])
                if y_shape != out_shape:
                    gy = unbroadcast(gy, y_shape, len(out_shape))
            return (gx, gy)

    if len(partials) == 1 and callable(partials[0]) and not singular:
        # unary ops: output shape = input shape, so no broadcasting to undo
        (d,) = partials

        def jvp(primals, tangents, out, params):  # noqa: F811
            return d(primals[0], out) * tangents[0]

        def vjp(ct, primals, out, params, wanted):  # noqa: F811
            return (ct * d(primals[0], out),)

    return _register(
        Op(name, impl or ufunc, "elementwise", _elementwise_flops(flops),
           cost=f"{flops} * out.size", jvp=jvp, vjp=vjp, ufunc=ufunc)
    )


def _safe_log(x):
    return np.log(np.where(x == 0, 1, x))


def _power_dbase(x, y, out):
    # y * x**(y - 1), but 0 ** (y - 1) for y == 0 would be a spurious inf * 0
    if isinstance(y, (int, float)):
        return y * np.power(x, y - 1) if y != 0 else 0 * x
    return np.where(y == 0, 0 * x, y * np.power(x, y - 1))


def _power_dexp(x, y, out):
    # out * log(x), with the limit 0 at x == 0 instead of 0 * -inf = nan
    if isinstance(x, (int, float)):  # keep a Python base weakly typed (float32 stays)
        return out * (math.log(x) if x > 0 else 0.0 if x == 0 else math.nan)
    return np.where(x == 0, 0 * out, out * _safe_log(x))


# Arithmetic runs through Python's operators: on arrays they are numpy's ufuncs, and on
# Python floats they stay Python floats, several times faster than a numpy scalar.
elementwise("add", np.add, [1.0, 1.0], impl=operator.add)
elementwise("subtract", np.subtract, [1.0, -1.0], impl=operator.sub)
elementwise("multiply", np.multiply, [lambda x, y, out: y, lambda x, y, out: x],
            impl=operator.mul)
elementwise("true_divide", np.divide, [lambda x, y, out: _divide(1.0, y),
             lambda x, y, out: _divide(-out, y)],
            impl=_divide, singular=True)
elementwise("negative", np.negative, [-1.0], impl=operator.neg)
elementwise("positive", np.positive, [1.0], flops=0)
elementwise("power", np.power, [_power_dbase, _power_dexp], flops=10, singular=True)
elementwise("square", np.square, [lambda x, out: 2 * x], impl=lambda x: x * x)
elementwise("sqrt", np.sqrt, [lambda x, out: _divide(0.5, out)], flops=4, singular=True)
elementwise("exp", np.exp, [lambda x, out: out], flops=10)
elementwise("log", np.log, [lambda x, out: _divide(1.0, x)], flops=10, singular=True)
elementwise("log1p", np.log1p, [lambda x, out: _divide(1.0, 1 + x)], flops=10, singular=True)
elementwise("expm1", np.expm1, [lambda x, out: out + 1], flops=10)
elementwise("sin", np.sin, [lambda x, out: np.cos(x)], flops=10)
elementwise("cos", np.cos, [lambda x, out: -np.sin(x)], flops=10)
elementwise("tan", np.tan, [lambda x, out: 1 + out * out], flops=10)
elementwise("tanh", np.tanh, [lambda x, out: 1 - out * out], flops=10)
elementwise("sinh", np.sinh, [lambda x, out: np.cosh(x)], flops=10)
elementwise("cosh", np.cosh, [lambda x, out: np.sinh(x)], flops=10)
elementwise("arctan", np.arctan, [lambda x, out: 1 / (1 + x * x)], flops=10)
elementwise("arcsin", np.arcsin, [lambda x, out: 1 / np.sqrt(1 - x * x)], flops=10, singular=True)
elementwise("arccos", np.arccos, [lambda x, out: -1 / np.sqrt(1 - x * x)], flops=10, singular=True)
elementwise("abs", np.absolute, [lambda x, out: np.sign(x)])
elementwise("maximum", np.maximum,
            [lambda x, y, out: _step(x - y), lambda x, y, out: _step(y - x)])
elementwise("minimum", np.minimum,
            [lambda x, y, out: _step(y - x), lambda x, y, out: _step(x - y)])
elementwise("logaddexp", np.logaddexp,
            [lambda x, y, out: np.exp(x - out), lambda x, y, out: np.exp(y - out)], flops=20)
elementwise("where", np.where,
            [None, Select(lambda c, x, y, out: _truth(c)),
             Select(lambda c, x, y, out: ~_truth(c))])


def _truth(cond):
    return np.asarray(concrete(cond)) != 0


def _clip_dx(x, lo, hi, out):
    return _step(hi - np.maximum(x, lo)) * _step(x - lo)


elementwise("clip", np.clip, [
    _clip_dx,
    lambda x, lo, hi, out: _step(hi - np.maximum(x, lo)) * _step(lo - x),
    lambda x, lo, hi, out: _step(np.maximum(x, lo) - hi),
])


# -- non-differentiable ops -----------------------------------------------------------


def nondiff(name: str, impl: Any) -> Op:
    return _register(Op(name, impl, "nondiff", lambda shapes, params: 0,
                        cost="0", nondiff=True, ufunc=impl))


for _u in (np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
           np.sign, np.floor, np.ceil, np.rint, np.trunc, np.isfinite, np.isnan, np.isinf,
           np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.signbit):
    nondiff(_u.__name__, _u)
nondiff("argmax", lambda x, axis=None: np.argmax(x, axis=axis))
nondiff("argmin", lambda x, axis=None: np.argmin(x, axis=axis))


# -- the linear form ------------------------------------------------------------------


def linear(name: str, impl: Callable, transpose: Callable, flops=None, cost: str = "0") -> Op:
    """Declare an op that is linear in all its inputs.

    ``impl(*xs, **params)`` must accept leading batch axes on its inputs (so the same
    function maps tangents); ``transpose(ct, *primals, **params)`` returns the cotangent of
    each input: a tuple, one per input (a lone value for a one-input op). The JVP is the op
    itself applied to the tangents, through ``bind`` when they are traced by an outer
    level, so it is differentiated like any other op (third derivatives of indexing).
    """

    def apply(*ts, **params):
        for t in ts:
            if isinstance(t, Tracer):
                return bind(op, *ts, **params)
        return impl(*ts, **params)

    def jvp(primals, tangents, out, params):
        if len(primals) == 1:
            return apply(tangents[0], **params)
        nb_shape = next(_shape(t)[: _ndim(t) - _ndim(x)]
                        for x, t in zip(primals, tangents) if t is not None)
        ts = [t if t is not None else np.zeros(nb_shape + _shape(x), result_dtype(out))
              for x, t in zip(primals, tangents)]
        return apply(*ts, **params)

    def vjp(ct, primals, out, params, wanted):
        gs = transpose(ct, *primals, **params)
        if not isinstance(gs, tuple):  # a cotangent is never a tuple
            gs = (gs,)
        return [g if w else None for g, w in zip(gs, wanted)]

    op = _register(Op(name, impl, "linear", flops or (lambda shapes, params: 0),
                      cost=cost, jvp=jvp, vjp=vjp))
    return op


def _sum_flops(shapes, params):
    return _size(shapes[0])


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[int, ...]:
    nd = len(shape)
    red = {a % nd for a in axis}
    return tuple(1 if i in red else n for i, n in enumerate(shape))


def _expand(ct: Any, shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> Any:
    """Undo a reduction's squeeze: give ``ct`` size-1 axes where ``axis`` was reduced."""
    if keepdims:
        return ct
    cshape = _shape(ct)
    kept = _kept_shape(shape, axis)
    nb = len(cshape) - (len(shape) - len(axis))
    return np.reshape(ct, cshape[:nb] + kept)


def _sum_transpose(ct, x, axis, keepdims):
    shape = _shape(x)
    g = _expand(ct, shape, axis, keepdims)
    return np.broadcast_to(g, _shape(g)[: _ndim(g) - len(shape)] + shape)


def _sum_impl(x, axis, keepdims):
    if type(x) is np.ndarray:  # np.add.reduce skips np.sum's Python wrapper
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


def _mean_impl(x, axis, keepdims):
    if type(x) is np.ndarray:
        count = _size(tuple(x.shape[a] for a in axis))
        return np.add.reduce(x, axis=axis, keepdims=keepdims) / count if count else np.mean(
            x, axis=axis, keepdims=keepdims)
    return np.mean(x, axis=axis, keepdims=keepdims)


def _mean_transpose(ct, x, axis, keepdims):
    shape = _shape(x)
    count = _size(tuple(shape[a] for a in axis))
    return _sum_transpose(ct, x, axis, keepdims) / max(count, 1)


linear("sum", _sum_impl, _sum_transpose, _sum_flops, "in.size")
linear("mean", _mean_impl, _mean_transpose, _sum_flops, "in.size")


def _reshape_impl(x, shape, in_shape):
    xshape = _shape(x)
    new = xshape[: len(xshape) - len(in_shape)] + shape
    # the method skips np.reshape's Python wrapper; Python floats have none
    return np.reshape(x, new) if type(x) is float else x.reshape(new)


linear("reshape", _reshape_impl,
       lambda ct, x, shape, in_shape: _reshape_impl(ct, in_shape, shape))


def _inverse_permutation(axes) -> tuple[int, ...]:
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


def _transpose_impl(x, axes):
    nb = _ndim(x) - len(axes)
    if nb == 0:
        return np.transpose(x, axes)
    return np.transpose(x, tuple(range(nb)) + tuple(nb + a for a in axes))


linear("transpose", _transpose_impl,
       lambda ct, x, axes: _transpose_impl(ct, _inverse_permutation(axes)))


def _broadcast_impl(x, shape, in_shape):
    x = _align(x, len(in_shape), len(shape))
    xshape = _shape(x)
    return np.broadcast_to(x, xshape[: len(xshape) - len(shape)] + shape)


linear("broadcast_to", _broadcast_impl,
       lambda ct, x, shape, in_shape: unbroadcast(ct, in_shape, len(shape)))


linear("astype", lambda x, dtype, in_dtype: x.astype(dtype),
       lambda ct, x, dtype, in_dtype: ct.astype(in_dtype))


def _concat_impl(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concat_transpose(ct, *xs, axis):
    bounds = list(itertools.accumulate([0] + [_shape(x)[axis] for x in xs]))
    nd = _ndim(xs[0])
    nb = _ndim(ct) - nd
    pos = nb + axis % nd
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        key = (slice(None),) * pos + (slice(int(lo), int(hi)),)
        out.append(getitem(ct, key))
    return tuple(out)


linear("concatenate", _concat_impl, _concat_transpose)


# Indexing. An index is normalised once (see numpy_api.normalize_index) to a tuple of
# ints, slices, None, Ellipsis and integer arrays; boolean masks become integer arrays.
# With a batch axis in front, numpy moves non-adjacent advanced indices' axes before the
# batch axes; ``adv`` = (ndim of the advanced result, whether they are non-adjacent)
# lets us move them back.


def _core_shape(x: Any, core_ndim: int) -> tuple[int, ...]:
    """The shape of ``x`` without the batch axes it may carry in front."""
    shape = _shape(x)
    return shape[len(shape) - core_ndim:]


def _batched_key(idx: tuple, nb: int) -> tuple:
    return (slice(None),) * nb + idx if nb else idx


def _getitem_impl(x, idx, in_ndim, adv):
    if type(x) is float:  # a Python float tangent of a 0-d value: index it as numpy would
        x = np.float64(x)
    nb = _ndim(x) - in_ndim
    if nb == 0:
        return x[idx]
    r = x[_batched_key(idx, nb)]
    adv_ndim, split = adv
    if split:
        perm = tuple(range(adv_ndim, adv_ndim + nb)) + tuple(range(adv_ndim)) + tuple(
            range(adv_ndim + nb, _ndim(r)))
        r = np.transpose(r, perm)
    return r


def _scatter(ct, idx, in_shape, out_ndim, adv, basic):
    """Transpose of indexing: zeros of ``in_shape`` with ``ct`` added at ``idx``."""
    cshape = _shape(ct)
    nb = len(cshape) - out_ndim
    adv_ndim, split = adv
    if nb and split:
        perm = tuple(range(nb, nb + adv_ndim)) + tuple(range(nb)) + tuple(
            range(nb + adv_ndim, len(cshape)))
        ct = np.transpose(ct, perm)
    z = np.zeros(cshape[:nb] + in_shape, dtype=np.result_type(ct))
    key = _batched_key(idx, nb)
    if basic:
        z[key] = ct
    else:
        np.add.at(z, key, ct)  # repeated indices accumulate
    return z


linear("getitem",
       lambda x, idx, in_ndim, adv, out_ndim, basic: _getitem_impl(x, idx, in_ndim, adv),
       lambda ct, x, idx, in_ndim, adv, out_ndim, basic: OPS["scatter_add"](
           ct, idx=idx, in_shape=_core_shape(x, in_ndim), out_ndim=out_ndim, adv=adv,
           basic=basic))
linear("scatter_add",
       lambda ct, idx, in_shape, out_ndim, adv, basic: _scatter(
           ct, idx, in_shape, out_ndim, adv, basic),
       lambda g, ct, idx, in_shape, out_ndim, adv, basic: OPS["getitem"](
           g, idx=idx, in_ndim=len(in_shape), adv=adv, out_ndim=out_ndim, basic=basic))


def getitem(x, key):
    """Index ``x`` (traced or not) with a plain numpy index."""
    from .numpy_api import index_params

    return OPS["getitem"](x, **index_params(_shape(x), key))


# -- the reduction form ---------------------------------------------------------------


def reduction(name: str, impl: Callable, partial: Callable, flops: int = 1) -> Op:
    """Declare a reduction ``impl(x, axis, keepdims)`` by the elementwise partial of the
    output with respect to each input element, ``partial(x, out_keepdims, axis)``."""

    def jvp(primals, tangents, out, params):
        (x,), (t,) = primals, tangents
        axis, keepdims = params["axis"], params["keepdims"]
        d = partial(x, _expand(out, _shape(x), axis, keepdims), axis)
        return np.sum(d * t, axis=axis, keepdims=keepdims)

    def vjp(ct, primals, out, params, wanted):
        (x,) = primals
        axis, keepdims = params["axis"], params["keepdims"]
        d = partial(x, _expand(out, _shape(x), axis, keepdims), axis)
        return [_expand(ct, _shape(x), axis, keepdims) * d]

    return _register(Op(name, impl, "reduction", lambda shapes, params: flops * _size(
        shapes[0]), cost=f"{flops} * in.size", jvp=jvp, vjp=vjp))


def _extremum_partial(x, out, axis):
    # ties share the derivative evenly
    hit = x == out
    share = hit / np.sum(hit, axis=axis, keepdims=True)
    return share.astype(result_dtype(x))


def _prod_partial(x, out, axis):
    # the product of the other elements; out / x only where that divides by no zero
    if not np.any(concrete(x) == 0):
        return out / x
    return _prod_of_others(x, axis)


def _prod_of_others(x, axis):
    """For each element, the product of the other elements of its reduced slice, built
    from differentiable ops only (so second derivatives at zeros are right): lay each
    slice out K times with a 1 on the diagonal, and multiply along it."""
    shape = _shape(x)
    nd = len(shape)
    red = [a % nd for a in axis]
    keep = [i for i in range(nd) if i not in red]
    k = _size(tuple(shape[i] for i in red))
    kept_shape = tuple(shape[i] for i in keep)
    xm = np.reshape(np.transpose(x, keep + red), kept_shape + (1, k))
    tiled = np.broadcast_to(xm, kept_shape + (k, k))
    others = np.prod(np.where(np.eye(k, dtype=bool), 1, tiled), axis=-1)
    back = np.reshape(others, kept_shape + tuple(shape[i] for i in red))
    return np.transpose(back, _inverse_permutation(keep + red))


reduction("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
          _extremum_partial)
reduction("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
          _extremum_partial)
reduction("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
          _prod_partial)


# -- the bilinear form (matmul) -------------------------------------------------------
# A 1-D operand is promoted to a matrix (a row on the left, a column on the right) so all
# cases share one formula; batch axes get size-1 axes after them so they never collide
# with matmul's own stacking axes.


def _promote(x: Any, core_ndim: int, side: str, target_ndim: int) -> Any:
    xshape = _shape(x)
    nb = len(xshape) - core_ndim
    core = xshape[nb:]
    if core_ndim == 1:
        core = (1,) + core if side == "left" else core + (1,)
    pad = (1,) * (target_ndim - len(core)) if nb else ()
    new = xshape[:nb] + pad + core
    return x if new == xshape else np.reshape(x, new)


def _matmul_out_core(a_ndim: int, b_ndim: int, out_shape: tuple[int, ...]) -> int:
    return len(out_shape) + (a_ndim == 1) + (b_ndim == 1)


def _matmul_batched(a, b, a_ndim, b_ndim, out_shape):
    """a @ b where either operand may carry leading batch axes."""
    if _ndim(a) == a_ndim and _ndim(b) == b_ndim:
        return np.matmul(a, b)
    core = _matmul_out_core(a_ndim, b_ndim, out_shape)
    r = np.matmul(_promote(a, a_ndim, "left", core), _promote(b, b_ndim, "right", core))
    rshape = _shape(r)
    nb = len(rshape) - core
    return np.reshape(r, rshape[:nb] + out_shape)


def _matmul_jvp(primals, tangents, out, params):
    a, b = primals
    ta, tb = tangents
    a_nd, b_nd, oshape = _ndim(a), _ndim(b), _shape(out)
    total = None
    if ta is not None:
        total = _matmul_batched(ta, b, a_nd, b_nd, oshape)
    if tb is not None:
        term = _matmul_batched(a, tb, a_nd, b_nd, oshape)
        total = term if total is None else total + term
    return total


def _swap_last(x):
    nd = _ndim(x)
    return np.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matmul_vjp(ct, primals, out, params, wanted):
    a, b = primals
    a_nd, b_nd = _ndim(a), _ndim(b)
    if a_nd == 2 and b_nd == 2 and _ndim(ct) == 2:  # the common case, without promotions
        return [np.matmul(ct, np.transpose(b)) if wanted[0] else None,
                np.matmul(np.transpose(a), ct) if wanted[1] else None]
    core = _matmul_out_core(a_nd, b_nd, _shape(out))
    cshape = _shape(ct)
    nb = len(cshape) - _ndim(out)
    ct2 = _promote_ct(ct, nb, _shape(out), a_nd, b_nd)
    a2 = _promote(a, a_nd, "left", core)
    b2 = _promote(b, b_nd, "right", core)
    ga = gb = None
    if wanted[0]:
        g = np.matmul(ct2, _swap_last(b2))
        ga = unbroadcast(g, _shape(a2), core)
        ga = np.reshape(ga, _shape(ga)[:nb] + _shape(a))
    if wanted[1]:
        g = np.matmul(_swap_last(a2), ct2)
        gb = unbroadcast(g, _shape(b2), core)
        gb = np.reshape(gb, _shape(gb)[:nb] + _shape(b))
    return [ga, gb]


def _promote_ct(ct, nb, out_shape, a_nd, b_nd):
    """Give the cotangent back the axes a 1-D operand's promotion would have produced."""
    core = out_shape
    if a_nd == 1:
        core = core[:-1] + (1,) + core[-1:] if b_nd > 1 else core + (1,)
    if b_nd == 1:
        core = core + (1,)
    return np.reshape(ct, _shape(ct)[:nb] + core)


def _matmul_flops(shapes, params):
    a, b = shapes
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    stack = np.broadcast_shapes(a2[:-2], b2[:-2])
    return 2 * _size(stack) * a2[-2] * a2[-1] * b2[-1]


_register(Op("matmul", np.matmul, "bilinear", _matmul_flops, cost="2 * n * k * m",
             jvp=_matmul_jvp, vjp=_matmul_vjp, ufunc=np.matmul))


def ops_table():
    """The registered ops as rows: name, derivative form, cost formula."""
    return [{"op": op.name, "form": op.form, "cost (flops)": op.cost} for op in OPS.values()]
