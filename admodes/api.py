"""The public transformations, with JAX's names and return orders.

``jvp`` and ``jacfwd`` run the forward engine; ``vjp``, ``grad``, ``value_and_grad`` and
``jacrev`` the reverse engine; ``hessian`` and ``hvp`` run forward over reverse. Arguments
and results may be pytrees (nested tuples, lists and dicts of floats and arrays).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import (
    Tracer,
    counting,
    describe_origin,
    escaped,
    note,
    note_tape,
    peek,
    result_dtype,
)
from .forward import Dual, ForwardTrace
from .inputs import _check_input, _check_subclass, _describe
from .numpy_api import lift_outputs
from .reverse import Tape, Var
from .tree import TreeDef, tree_flatten, tree_unflatten

# -- checking what users pass ---------------------------------------------------------


def _check_like(t: Any, p: Any, what: str, batch: tuple[int, ...] = ()) -> Any:
    """A tangent or cotangent must match its primal's shape and dtype exactly."""
    if isinstance(t, (str, bytes)) or t is None:
        raise TypeError(f"{what} has type {type(t).__name__}; expected an array of shape "
                        f"{batch + np.shape(p)} and dtype {result_dtype(p)}")
    _check_subclass(peek(t), what)
    expected = batch + np.shape(p)
    if np.shape(t) != expected:
        raise ValueError(f"{what} has shape {np.shape(t)}, expected {expected} (the shape "
                         f"of its primal); tangents and cotangents are never broadcast")
    pdt = result_dtype(p)
    c = peek(t)
    if isinstance(c, (float, int)) and not isinstance(c, bool):
        return t if isinstance(peek(p), float) else np.asarray(t, dtype=pdt)
    tdt = result_dtype(t)
    if tdt != pdt:
        raise TypeError(f"{what} has dtype {tdt}, expected {pdt} (the dtype of its primal)")
    return t


def _check_structure(given: TreeDef, expected: TreeDef, what: str) -> None:
    if given != expected:
        raise TypeError(f"{what} has structure {given!r}, expected {expected!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _single_argnum(argnums: Any) -> bool:
    """Check the type of ``argnums`` when a transformation is made: True for one int
    (numpy integers too), False for a tuple or list of them; anything else is refused."""
    if _is_int(argnums):
        return True
    if isinstance(argnums, (tuple, list)) and all(_is_int(i) for i in argnums):
        return False
    raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r} "
                    f"({type(argnums).__name__})")


def _argnums(argnums: Any, nargs: int) -> tuple[int, ...]:
    """The argument positions to differentiate, resolved for a call with ``nargs``."""
    nums = (argnums,) if _is_int(argnums) else tuple(argnums)
    if not nums:
        raise ValueError("argnums is empty: name at least one argument to differentiate")
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"argnums={argnums!r} is out of range for a function called "
                             f"with {nargs} positional argument(s)")
    resolved = tuple(int(i) % nargs for i in nums)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"argnums={argnums!r} names the same argument more than once "
                         f"(positions {resolved}); name each argument once")
    return resolved


def _check_flag(value: Any, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _result(g: Any, like: Any, batch: tuple[int, ...] = ()) -> Any:
    """A derivative as handed to the user: zeros where none arrived, in its primal's dtype
    (a float64 constant in the function must not turn a float32 input's cotangent into
    float64), and never a read-only broadcast view (users update parameters in place)."""
    if g is None:
        return _zeros(like, batch)
    if isinstance(g, (np.ndarray, np.generic)):
        dt = result_dtype(like)
        if g.dtype != dt and dt.kind == "f":
            return g.astype(dt)
        if isinstance(g, np.ndarray) and not g.flags.writeable:
            return g.copy()
    return g


def _zeros(like: Any, batch: tuple[int, ...] = ()) -> np.ndarray:
    return np.zeros(batch + np.shape(like), dtype=_float_dtype(like))


def _partial_args(fun: Callable, args: tuple, nums: tuple[int, ...], kwargs: dict):
    """``fun`` as a function of the flattened leaves of the arguments in ``nums``."""
    diff = tuple(args[i] for i in nums)
    leaves, treedef = tree_flatten(diff)
    for k, leaf in enumerate(leaves):
        _check_input(leaf, f"differentiated input leaf {k}")

    def flat_fun(new_leaves: list[Any]) -> Any:
        full = list(args)
        for i, v in zip(nums, tree_unflatten(treedef, new_leaves)):
            full[i] = v
        return fun(*full, **kwargs)

    return flat_fun, leaves, treedef


def _check_outputs(out: Any, leaves: list[Any], origin: tuple[str, Any], own: Any) -> None:
    """What a differentiated function returns must be numbers: floats, numeric arrays, or
    tuples, lists and dicts of them. None (a forgotten ``return``), strings, generators
    and other objects would otherwise come back as a zero derivative."""
    if out is None:
        raise TypeError(f"{describe_origin(origin)}: the function returned None (a missing "
                        f"`return`?); it must return a float, a float array, or a tuple, "
                        f"list or dict of them")
    for k, o in enumerate(leaves):
        if isinstance(o, Tracer):
            if o._trace is not own and not o._trace.active:
                raise escaped(o)  # a value of an earlier, finished transformation
            continue
        if isinstance(o, (int, float)) or (
                isinstance(o, (np.ndarray, np.generic)) and o.dtype.kind in "biuf"):
            continue
        what = "the output" if len(leaves) == 1 else f"output leaf {k}"
        raise TypeError(f"{describe_origin(origin)}: {what} is {_describe(o)}; a "
                        f"differentiated function must return floats or numeric arrays (or "
                        f"a tuple, list or dict of them)")


# -- the two engines, on flat lists of leaves -----------------------------------------


class _collector_paused:
    """Pause Python's cycle collector while an engine runs. The engines make no reference
    cycles, so a collection during a sweep finds nothing to free; it would only walk the
    many small objects a sweep creates (one or more per op), again and again. A cycle
    that user code makes meanwhile is collected when the sweep ends."""

    __slots__ = ("was_enabled",)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()

    def __exit__(self, *exc) -> None:
        if self.was_enabled:
            gc.enable()


def forward_sweep(flat_fun: Callable, leaves: list, tangents: list,
                  origin: tuple[str, Any] = ("a forward sweep", None)):
    """Evaluate ``flat_fun(leaves)`` on dual numbers; ``tangents[i]`` None = constant.
    ``origin`` (transformation, user function) names the sweep in error messages."""
    trace = ForwardTrace(origin)
    note("forward_sweeps")
    args = [x if t is None else Dual(x, t, trace) for x, t in zip(leaves, tangents)]
    try:
        with _collector_paused():
            out = lift_outputs(flat_fun(args))
    finally:
        trace.active = False  # a dual kept beyond this point has escaped
    out_leaves, out_tree = tree_flatten(out)
    _check_outputs(out, out_leaves, origin, trace)
    primals, tangents_out = [], []
    for o in out_leaves:
        if type(o) is Dual and o._trace is trace:
            primals.append(o.primal)
            tangents_out.append(o.tangent)
        else:
            primals.append(o)
            tangents_out.append(None)
    return out_tree, primals, tangents_out


def _snapshot(x: Any) -> Any:
    # the tape keeps inputs as residuals: copy arrays so later mutation can't change them
    return x.copy() if isinstance(x, np.ndarray) else x


def record(flat_fun: Callable, leaves: list,
           origin: tuple[str, Any] = ("a reverse-mode recording", None)):
    """Evaluate ``flat_fun(leaves)`` onto a new tape. Returns the output structure, the
    output primals, a pullback (cotangent leaves -> input cotangent leaves, None where no
    cotangent arrived) and the tape. ``origin`` names the recording in error messages."""
    tape = Tape(origin)
    note("recordings")
    args = [tape.input(_snapshot(x)) for x in leaves]
    try:
        with _collector_paused():
            out = lift_outputs(flat_fun(args))
    finally:
        tape.active = False  # the tape can be swept; a Var kept beyond here has escaped
    out_leaves, out_tree = tree_flatten(out)
    _check_outputs(out, out_leaves, origin, tape)
    primals = [o.primal if type(o) is Var and o._trace is tape else o for o in out_leaves]
    if counting():
        note_tape(len(tape), tape.residual_bytes())

    def pullback(cts: list[Any]) -> list[Any]:
        seeds = [(o._index, ct) for o, ct in zip(out_leaves, cts)
                 if ct is not None and type(o) is Var and o._trace is tape]
        if not seeds:
            return [None] * len(leaves)
        with _collector_paused():
            all_cts = tape.sweep(seeds)
        return all_cts[: len(leaves)]

    return out_tree, primals, pullback, tape


# -- public API -----------------------------------------------------------------------


def jvp(fun: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """Forward mode: evaluate ``fun(*primals)`` and its directional derivative.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.jvp(np.sin, (0.0,), (2.0,))
        (np.float64(0.0), np.float64(2.0))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(fun, primals, tangents) takes primals and tangents as tuples "
                        f"of arguments, got {type(primals).__name__} and "
                        f"{type(tangents).__name__}")
    p_leaves, p_tree = tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_flatten(tuple(tangents))
    _check_structure(t_tree, p_tree, "tangents")
    for k, p in enumerate(p_leaves):
        _check_input(p, f"primal leaf {k}")
    t_leaves = [_check_like(t, p, f"tangent leaf {k}")
                for k, (t, p) in enumerate(zip(t_leaves, p_leaves))]
    out_tree, outs, touts = forward_sweep(
        lambda leaves: fun(*tree_unflatten(p_tree, leaves)), p_leaves, t_leaves, ("jvp", fun))
    touts = [_result(t, o) for o, t in zip(outs, touts)]
    return tree_unflatten(out_tree, outs), tree_unflatten(out_tree, touts)


def vjp(fun: Callable, *primals: Any) -> tuple[Any, Callable]:
    """Reverse mode: evaluate ``fun(*primals)`` and return it with its pullback.

    ``vjp_fn(cotangent)`` returns one cotangent per primal, as a tuple. It may be called
    any number of times.

    Example:
        >>> import numpy as np, admodes
        >>> out, vjp_fn = admodes.vjp(lambda x: x * x, np.array([1.0, 2.0]))
        >>> vjp_fn(np.ones(2))
        (array([2., 4.]),)
    """
    p_leaves, p_tree = tree_flatten(primals)
    for k, p in enumerate(p_leaves):
        _check_input(p, f"primal leaf {k}")
    out_tree, outs, pullback, _ = record(
        lambda leaves: fun(*tree_unflatten(p_tree, leaves)), p_leaves, ("vjp", fun))

    def vjp_fn(cotangent: Any) -> tuple:
        c_leaves, c_tree = tree_flatten(cotangent)
        _check_structure(c_tree, out_tree, "cotangent")
        c_leaves = [_check_like(c, o, f"cotangent leaf {k}")
                    for k, (c, o) in enumerate(zip(c_leaves, outs))]
        cts = pullback(c_leaves)
        cts = [_result(g, p) for p, g in zip(p_leaves, cts)]
        return tuple(tree_unflatten(p_tree, cts))

    return tree_unflatten(out_tree, outs), vjp_fn


def _check_scalar_output(out: Any, name: str) -> None:
    if isinstance(out, (tuple, list, dict)):
        raise TypeError(f"{name} needs a function with one scalar output, got a "
                        f"{type(out).__name__}; use jacrev or vjp for several outputs")
    c = peek(out)
    shape = np.shape(c)
    if shape != ():
        raise TypeError(f"{name} needs a scalar output, got an output of shape {shape}; "
                        f"use jacrev or vjp for non-scalar outputs")
    dt = result_dtype(c) if not isinstance(c, (str, bytes)) else None
    if dt is None or dt.kind != "f":
        raise TypeError(f"{name} needs a real float output, got {_describe(c)}; use "
                        f"jacrev or vjp, or make the output a float")


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """A function returning ``(fun(*args), gradient)``: one recording, one reverse sweep.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.value_and_grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
        (np.float64(5.0), array([2., 4.]))
    """

    single = _single_argnum(argnums)

    def value_and_grad_fun(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        flat_fun, leaves, treedef = _partial_args(fun, args, nums, kwargs)
        out_tree, outs, pullback, _ = record(flat_fun, leaves, ("grad", fun))
        out = tree_unflatten(out_tree, outs)
        _check_scalar_output(out, "grad")
        seed = 1.0 if isinstance(peek(out), float) else np.ones((), result_dtype(out))
        cts = pullback([seed])
        grads = tree_unflatten(treedef, [_result(g, p) for p, g in zip(leaves, cts)])
        return out, grads[0] if single else grads

    return value_and_grad_fun


def grad(fun: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient of a scalar function, by reverse mode.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.grad(lambda x: np.sum(np.sin(x)))(np.zeros(2))
        array([1., 1.])
    """
    vg = value_and_grad(fun, argnums)

    def grad_fun(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return grad_fun


def _offsets(shapes: list[tuple[int, ...]]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for s in shapes:
        n = math.prod(s)
        spans.append((start, start + n))
        start += n
    return spans


def _float_dtype(x: Any) -> np.dtype:
    dt = result_dtype(x)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def _in_dtype(b: Any, dtype: np.dtype) -> Any:
    """``b`` cast to ``dtype`` (also when ``b`` is traced by an outer transformation)."""
    if type(b) is float or result_dtype(b) == dtype:
        return b
    return b.astype(dtype)


def _assemble(out_tree, in_tree, single, blocks, leaves):
    """blocks[o][i]: the Jacobian block of output leaf o with respect to input leaf i.

    Each block comes in its input leaf's dtype, as the same derivative from ``grad``
    would; a scalar block with respect to a Python float input becomes a Python float."""
    per_out = []
    for row in blocks:
        row = [float(b) if type(x) is float and type(b) is not float and np.ndim(b) == 0
               and not isinstance(b, Tracer) else _in_dtype(b, _float_dtype(x))
               for b, x in zip(row, leaves)]
        by_input = tree_unflatten(in_tree, row)
        per_out.append(by_input[0] if single else by_input)
    return tree_unflatten(out_tree, per_out)


def _check_chunk_size(chunk_size: Any) -> None:
    if chunk_size is not None and (not _is_int(chunk_size) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")


def _chunks(total: int, chunk_size: int | None) -> list[tuple[int, int]]:
    """[start, stop) ranges covering ``total`` directions, ``chunk_size`` at a time (all at
    once for None); one empty range when there are none, so the function still runs."""
    size = chunk_size or max(total, 1)
    return [(i, min(i + size, total)) for i in range(0, total, size)] or [(0, 0)]


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, *,
           vectorized: bool = True, chunk_size: int | None = None) -> Callable:
    """The Jacobian by forward mode, shaped ``out.shape + in.shape``.

    ``vectorized=True`` pushes all n input directions through ONE sweep (a batch of
    tangents); ``False`` is the textbook loop of n sweeps, one per input element. With
    ``chunk_size=k``, the vectorized Jacobian takes ceil(n / k) sweeps of k directions
    each, which bounds the memory of the batch (k times that of one tangent).

    Example:
        >>> import numpy as np, admodes
        >>> admodes.jacfwd(lambda x: x ** 3)(np.array([1.0, 2.0]))
        array([[ 3.,  0.],
               [ 0., 12.]])
    """

    _check_chunk_size(chunk_size)
    _check_flag(vectorized, "vectorized")
    single = _single_argnum(argnums)
    origin = ("jacfwd", fun)

    def jac_fun(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        flat_fun, leaves, in_tree = _partial_args(fun, args, nums, kwargs)
        shapes = [np.shape(x) for x in leaves]
        spans = _offsets(shapes)
        n = spans[-1][1] if spans else 0
        if vectorized:
            parts = []
            for start, stop in _chunks(n, chunk_size):
                seeds = np.eye(stop - start, n, start)  # rows start..stop of I
                # each leaf's directions in its own dtype: float32 stays float32
                tangents = [seeds[:, a:b].reshape((stop - start,) + s).astype(_float_dtype(x))
                            for (a, b), s, x in zip(spans, shapes, leaves)]
                out_tree, outs, touts = forward_sweep(flat_fun, leaves, tangents, origin)
                parts.append([_zeros(o, (stop - start,)) if t is None else t
                              for o, t in zip(outs, touts)])
            columns = [parts[0][k] if len(parts) == 1 else np.concatenate([p[k] for p in parts])
                       for k in range(len(outs))]
        else:
            out_tree, outs, per_dir = None, None, []
            for j, ((a, b), s) in enumerate(zip(spans, shapes)):
                for e in range(b - a):
                    basis = np.zeros(math.prod(s), dtype=_float_dtype(leaves[j]))
                    basis[e] = 1
                    tangents = [None] * len(leaves)
                    tangents[j] = basis.reshape(s)
                    out_tree, outs, touts = forward_sweep(flat_fun, leaves, tangents, origin)
                    per_dir.append([_zeros(o) if t is None else t
                                    for o, t in zip(outs, touts)])
            if out_tree is None:  # no input elements at all: still learn the outputs
                out_tree, outs, _ = forward_sweep(flat_fun, leaves, [None] * len(leaves),
                                                  origin)
            columns = [np.stack([d[k] for d in per_dir]) if per_dir else _zeros(o, (0,))
                       for k, o in enumerate(outs)]
        blocks = []
        for o, col in zip(outs, columns):
            oshape = np.shape(o)
            flat = np.moveaxis(col, 0, -1) if np.ndim(col) > 1 else col
            blocks.append([flat[..., a:b].reshape(oshape + s)
                           for (a, b), s in zip(spans, shapes)])
        return _assemble(out_tree, in_tree, single, blocks, leaves)

    return jac_fun


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, *,
           vectorized: bool = True, chunk_size: int | None = None) -> Callable:
    """The Jacobian by reverse mode, shaped ``out.shape + in.shape``.

    ``vectorized=True`` pulls all m output seeds back through ONE backward sweep (a batch
    of cotangents); ``False`` is the textbook loop of m sweeps, one per output element.
    With ``chunk_size=k``, the vectorized Jacobian takes ceil(m / k) backward sweeps of k
    seeds each (after one recording), which bounds the memory of the batch.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.jacrev(lambda x: x ** 3)(np.array([1.0, 2.0]))
        array([[ 3.,  0.],
               [ 0., 12.]])
    """

    _check_chunk_size(chunk_size)
    _check_flag(vectorized, "vectorized")
    single = _single_argnum(argnums)

    def jac_fun(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        flat_fun, leaves, in_tree = _partial_args(fun, args, nums, kwargs)
        out_tree, outs, pullback, _ = record(flat_fun, leaves, ("jacrev", fun))
        oshapes = [np.shape(o) for o in outs]
        spans = _offsets(oshapes)
        m = spans[-1][1] if spans else 0
        if vectorized:
            parts = []
            for start, stop in _chunks(m, chunk_size):
                eye = np.eye(stop - start, m, start)  # rows start..stop of I
                # each output's seeds in its own dtype, as a cotangent must be
                seeds = [eye[:, a:b].reshape((stop - start,) + s).astype(_float_dtype(o))
                         for (a, b), s, o in zip(spans, oshapes, outs)]
                cts = pullback(seeds) if stop > start else [None] * len(leaves)
                parts.append([_zeros(x, (stop - start,)) if g is None else g
                              for x, g in zip(leaves, cts)])
            rows = [parts[0][i] if len(parts) == 1 else np.concatenate([p[i] for p in parts])
                    for i in range(len(leaves))]
        else:
            per_seed = []
            for k, ((a, b), s) in enumerate(zip(spans, oshapes)):
                for e in range(b - a):
                    basis = np.zeros(math.prod(s), dtype=_float_dtype(outs[k]))
                    basis[e] = 1
                    seeds = [None] * len(outs)
                    seeds[k] = basis.reshape(s)
                    cts = pullback(seeds)
                    per_seed.append([_zeros(x) if g is None else g
                                     for x, g in zip(leaves, cts)])
            rows = [np.stack([d[i] for d in per_seed]) if per_seed else _zeros(x, (0,))
                    for i, x in enumerate(leaves)]
        blocks = []
        for (a, b), s in zip(spans, oshapes):
            blocks.append([row[a:b].reshape(s + np.shape(x)) for x, row in zip(leaves, rows)])
        return _assemble(out_tree, in_tree, single, blocks, leaves)

    return jac_fun


def hessian(fun: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of a scalar function: forward mode over reverse mode.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.hessian(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
        array([[ 6.,  0.],
               [ 0., 12.]])
    """
    return jacfwd(jacrev(fun, argnums), argnums)


def hvp(fun: Callable, primals: Sequence, tangents: Sequence) -> Any:
    """Hessian-vector product of a scalar function, forward over reverse, without
    forming the Hessian.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.hvp(lambda x: np.sum(x ** 3), (np.array([1.0, 2.0]),),
        ...             (np.array([1.0, 0.0]),))
        array([6., 0.])
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("hvp(fun, primals, tangents) takes primals and tangents as tuples "
                        f"of arguments, got {type(primals).__name__} and "
                        f"{type(tangents).__name__}")
    nums = tuple(range(len(primals)))
    g = grad(fun, argnums=0 if len(nums) == 1 else nums)
    return jvp(g, primals, tangents)[1]
