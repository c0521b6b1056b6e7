"""Declaring new primitives, and custom derivatives for composite functions.

``defop`` declares a primitive exactly as the built-in ones in ``ops.py`` are declared, in
one of the registry's forms; ``custom_jvp`` gives a function written with numpy (already
differentiable) a derivative of your choosing, used by both modes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .api import vjp as _vjp
from .core import Tracer, bind, peek, zeros_of
from .registry import FUNCTIONS, OPS, UFUNCS, Op, apply_op, elementwise, explicit
from .registry import nondiff as _nondiff_form
from .shapes import ndim_of, shape_of

_FORMS = ("partials", "transpose", "jvp", "nondiff")


def defop(name: str, impl: Callable[..., Any], *, partials: Sequence[Any] | None = None,
          transpose: Callable[..., Any] | None = None, jvp: Callable[..., Any] | None = None,
          vjp: Callable[..., Any] | None = None, nondiff: bool = False,
          numpy: Any = None, singular: bool = False, flops: int | None = None,
          doc: str = "", replace: bool = False) -> Op:
    """Declare a new primitive ``name`` computed by ``impl``; returns the op, which you call
    like a function (``op(x, y, **params)``, traced or not). Give its derivative in ONE form:

    - ``partials=[d0, d1, ...]``: an elementwise op; ``d_i(*primals, out)`` is the partial
      derivative of the output with respect to input i (a constant such as 1.0, or None
      for an input without one); ``singular=True`` if a partial can be infinite where the
      op is finite (then an exactly-zero tangent still gives 0, not nan).
    - ``transpose=t``: a linear op; ``t(ct, *primals, **params)`` returns each input's
      cotangent (a tuple for several inputs); the JVP is ``impl`` on the tangents.
    - ``jvp=j, vjp=v``: an explicit pair: ``j(primals, tangents, out, **params)`` returns
      the output tangent and ``v(ct, primals, out, **params)`` each input's cotangent.

    Linear and explicit rules see one direction at a time (a tangent of the primal's
    shape; vector mode applies them per direction), so they need no batch axes.
    - ``nondiff=True``: the output carries no derivative.

    Rules are written with numpy calls, so both modes, vector mode, nesting to any order
    and ``count_ops`` follow from the one declaration. ``numpy=f`` routes a numpy ufunc or
    function (``np.f(x)`` on traced values) to the op at once; ``flops`` is its cost per
    output element, for counting. ``check_grads`` verifies the declaration.

    Example:
        >>> import numpy as np, admodes
        >>> softplus = admodes.defop("softplus", lambda x: np.logaddexp(0.0, x),
        ...                          partials=[lambda x, out: 1 / (1 + np.exp(-x))])
        >>> float(admodes.grad(softplus)(0.0))
        0.5
    """
    given = [form for form, value in zip(_FORMS, (partials, transpose, jvp, nondiff))
             if value is not None and value is not False]
    if len(given) != 1:
        raise TypeError(f"defop({name!r}) needs exactly one derivative form out of "
                        f"partials=, transpose=, jvp= (with vjp=) and nondiff=True; got "
                        f"{given or 'none'}")
    if (jvp is None) != (vjp is None):
        raise TypeError(f"defop({name!r}, jvp=..., vjp=...): give both rules, so both "
                        f"modes are defined")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an op name must be an identifier, got {name!r}")
    if name in OPS and not OPS[name].user:
        raise ValueError(f"op {name!r} is a built-in op and cannot be replaced")
    if name in OPS and not replace:
        raise ValueError(f"op {name!r} is already declared; pass replace=True to "
                         f"re-declare it")
    ufunc = numpy if isinstance(numpy, np.ufunc) else None
    if partials is not None:
        op = elementwise(name, ufunc, list(partials), flops=1 if flops is None else flops,
                         impl=impl, singular=singular, doc=doc, replace=replace)
    elif transpose is not None:
        op = _user_linear(name, impl, transpose, doc, replace)
    elif jvp is not None:
        op = explicit(name, impl, per_direction_jvp(jvp), per_direction_vjp(vjp), ufunc=ufunc,
                      doc=doc, replace=replace)
    else:
        op = _nondiff_form(name, impl, ufunc=ufunc, doc=doc, replace=replace)
    op.user = True
    op.cost = op.cost if flops is None else f"{flops} * out.size"
    if numpy is not None and ufunc is None:
        if not callable(numpy):
            raise TypeError(f"numpy= must be a numpy ufunc or function, got {numpy!r}")
        FUNCTIONS[numpy] = functools.partial(_call_op, op)
    return op


def _user_linear(name: str, impl: Callable, transpose: Callable, doc: str,
                 replace: bool) -> Op:
    """A linear op and, for each input, a companion op applying its transpose (whose own
    transpose is the op again): so cotangents traced by an outer level, as in a Hessian,
    are differentiated through the declared rules, never through ``impl``'s internals."""

    def transpose_impl(ct, *, like, i, params):
        gs = transpose(ct, *like, **params)
        return (gs if isinstance(gs, tuple) else (gs,))[i]

    def transpose_jvp(primals, tangents, out, *, like, i, params):
        return apply_op(transposed, tangents[0], like=like, i=i, params=params)

    def transpose_vjp(g, primals, out, *, like, i, params):
        ts = [np.zeros(np.shape(x), np.result_type(x)) for x in like]
        ts[i] = g
        return apply_op(op, *ts, **params)

    transposed = explicit(f"{name}.T", transpose_impl, per_direction_jvp(transpose_jvp),
                          per_direction_vjp(transpose_vjp))
    del OPS[transposed.name]  # reached through the op only

    def jvp(primals, tangents, out, **params):
        return apply_op(op, *[zeros_of(p) if t is None else t
                            for p, t in zip(primals, tangents)], **params)

    def vjp(ct, primals, out, **params):
        like = tuple(peek(p) for p in primals)  # a transpose reads shapes only
        return tuple(apply_op(transposed, ct, like=like, i=i, params=params)
                     for i in range(len(primals)))

    op = explicit(name, impl, per_direction_jvp(jvp), per_direction_vjp(vjp), doc=doc,
                  replace=replace)
    op.form = "linear"
    return op


def _call_op(op: Op, *args, **params):
    return op(*args, **params)


def undefop(name: str) -> None:
    """Remove a user-declared op (and its numpy routes) from the registry."""
    op = OPS.get(name)
    if op is None or not op.user:
        raise ValueError(f"{name!r} is not a user-declared op")
    del OPS[name]
    for table in (UFUNCS, FUNCTIONS):
        for key in [k for k, v in table.items()
                    if v is op or getattr(v, "args", (None,))[0] is op]:
            del table[key]


# -- custom derivatives of composite functions -----------------------------------------


class custom_jvp:
    """A function with a derivative rule of your choosing, used by both modes.

    Decorate a function of float arrays (positional; keyword arguments are static
    parameters), then give its rule with ``@f.defjvp``: ``rule(primals, tangents, **kw)``
    returns ``(out, tangent_out)``, and must be linear in the tangents (as every JVP is).
    Forward mode applies the rule; reverse mode pulls a cotangent back through it (its
    transpose, found by reverse-differentiating the rule in the tangents), so one rule
    serves both. The rule is written with numpy, so it is differentiated in turn: higher
    derivatives come from it too.

    Example (a square root whose derivative stays finite at 0):
        >>> import numpy as np, admodes
        >>> @admodes.custom_jvp
        ... def safe_sqrt(x):
        ...     return np.sqrt(x)
        >>> @safe_sqrt.defjvp
        ... def _(primals, tangents):
        ...     (x,), (t,) = primals, tangents
        ...     out = np.sqrt(x)
        ...     return out, t * 0.5 / np.maximum(out, 1e-12)
        >>> float(admodes.grad(safe_sqrt)(4.0)), float(admodes.grad(safe_sqrt)(0.0))
        (0.25, 500000000000.0)
    """

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.rule: Callable[..., Any] | None = None
        self.op: Op | None = None

    def defjvp(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        self.rule = rule
        name = f"custom_jvp({getattr(self.fun, '__name__', 'fun')})"
        self.op = explicit(name, self._impl, per_direction_jvp(self._jvp),
                           per_direction_vjp(self._vjp), cost="the rule's")
        del OPS[name]  # an op of this function only: not listed with the registry's
        return rule

    def __call__(self, *args, **kwargs):
        if not any(isinstance(a, Tracer) for a in args):
            return self.fun(*args, **kwargs)
        if self.op is None:
            raise TypeError(f"{self.__name__} has no derivative rule yet: give one with "
                            f"@{self.__name__}.defjvp")
        return bind(self.op, *args, **kwargs)

    def _impl(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def _jvp(self, primals, tangents, out, **kwargs):
        tangents = [zeros_of(p) if t is None else t for p, t in zip(primals, tangents)]
        return self.rule(tuple(primals), tuple(tangents), **kwargs)[1]

    def _vjp(self, ct, primals, out, **kwargs):
        # the rule is linear in the tangents: its transpose is its reverse derivative there
        def tangent_map(*ts):
            return self.rule(tuple(primals), ts, **kwargs)[1]

        return _vjp(tangent_map, *[zeros_of(p) for p in primals])[1](ct)


def per_direction_jvp(jvp: Callable[..., Any]) -> Callable[..., Any]:
    """A JVP written for one direction, applied to each direction of a batch of tangents."""

    def rule(primals, tangents, out, **params):
        batch = _batch_shape(tangents, primals)
        if not batch:
            return jvp(primals, tangents, out, **params)
        k = int(np.prod(batch))
        flat = [None if t is None else
                np.reshape(t, (k,) + shape_of(p)) if ndim_of(t) > ndim_of(p) else t
                for t, p in zip(tangents, primals)]
        columns = [jvp(primals, [t[j] if t is not None and ndim_of(t) > ndim_of(p) else t
                                 for t, p in zip(flat, primals)], out, **params)
                   for j in range(k)]
        if not k:
            return np.zeros(batch + shape_of(out), _dtype(out))
        return np.reshape(np.stack(columns), batch + shape_of(out))

    return rule


def per_direction_vjp(vjp: Callable[..., Any]) -> Callable[..., Any]:
    """A VJP written for one cotangent, applied to each cotangent of a batch."""

    def rule(ct, primals, out, **params):
        def one(c):
            gs = vjp(c, primals, out, **params)
            return tuple(gs) if isinstance(gs, (tuple, list)) else (gs,)

        batch = shape_of(ct)[: ndim_of(ct) - ndim_of(out)]
        if not batch:
            return one(ct)
        k = int(np.prod(batch))
        rows = [one(c) for c in np.reshape(ct, (k,) + shape_of(out))]
        grads = []
        for i, p in enumerate(primals):
            if not k:
                grads.append(np.zeros(batch + shape_of(p), _dtype(p)))
            elif all(r[i] is None for r in rows):
                grads.append(None)
            else:
                column = [zeros_of(p) if r[i] is None else r[i] for r in rows]
                grads.append(np.reshape(np.stack(column), batch + shape_of(p)))
        return tuple(grads)

    return rule


def _dtype(v: Any) -> np.dtype:
    return np.result_type(peek(v))


def _batch_shape(tangents, primals) -> tuple[int, ...]:
    for t, p in zip(tangents, primals):
        if ndim_of(t) > ndim_of(p):
            return shape_of(t)[: ndim_of(t) - ndim_of(p)]
    return ()
