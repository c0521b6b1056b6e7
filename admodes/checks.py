"""Checking derivatives numerically: finite differences and the adjoint identity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .api import jvp, vjp
from .tree import tree_flatten, tree_map


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    def draw(x):
        dt = np.result_type(x)
        if np.ndim(x) == 0 and isinstance(x, float):
            return float(rng.standard_normal())
        return rng.standard_normal(np.shape(x)).astype(dt)

    return tree_map(draw, tree)


def _vdot(a: Any, b: Any) -> float:
    la, _ = tree_flatten(a)
    lb, _ = tree_flatten(b)
    return float(sum(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))
                     for x, y in zip(la, lb)))


def _axpy(alpha: float, x: Any, y: Any) -> Any:
    return tree_map(lambda xi, yi: yi + alpha * xi, x, y)


def _close(name: str, got: Any, want: Any, rtol: float, atol: float, order: int) -> None:
    lg, _ = tree_flatten(got)
    lw, _ = tree_flatten(want)
    for k, (g, w) in enumerate(zip(lg, lw)):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=False):
            err = np.max(np.abs(g - w)) if g.size else 0.0
            raise AssertionError(
                f"check_grads (order {order}): {name} mismatch in output leaf {k}: "
                f"max abs difference {err:.3g} (rtol={rtol}, atol={atol})\n"
                f"  got:      {np.array2string(g, precision=6, threshold=20)}\n"
                f"  expected: {np.array2string(w, precision=6, threshold=20)}"
            )


def check_grads(fun: Callable, args: Sequence, order: int = 2,
                modes: Sequence[str] = ("fwd", "rev"), eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0) -> None:
    """Check ``fun``'s derivatives up to ``order`` in random directions.

    Forward mode ("fwd") is checked against central finite differences
    ``(f(x + eps v) - f(x - eps v)) / 2 eps``; reverse mode ("rev") against forward mode
    (or finite differences when "fwd" is not asked for) through the adjoint identity
    ``<u, J v> = <J^T u, v>``. Higher orders check the derivative functions themselves.
    Raises AssertionError with a readable message on a mismatch.

    Example:
        >>> import numpy as np, admodes
        >>> admodes.check_grads(lambda x: np.sum(np.tanh(x) ** 2), (np.ones(3),))
    """
    modes = tuple(modes)
    unknown = set(modes) - {"fwd", "rev"}
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of ('fwd', 'rev'), got {modes}")
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    args = tuple(args)
    rng = np.random.default_rng(seed)
    v = _random_like(args, rng)
    f_plus = fun(*_axpy(eps, v, args))
    f_minus = fun(*_axpy(-eps, v, args))
    fd = tree_map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64))
                  / (2 * eps), f_plus, f_minus)
    jv = fd
    if "fwd" in modes:
        _, jv = jvp(fun, args, v)
        _close("forward-mode JVP vs central finite differences", jv, fd, rtol, atol, order)
    if "rev" in modes:
        out, vjp_fn = vjp(fun, *args)
        u = _random_like(out, rng)
        lhs = _vdot(u, jv)
        rhs = _vdot(vjp_fn(u), v)
        _close("reverse-mode VJP: <u, J v> vs <J^T u, v>", rhs, lhs, rtol, atol, order)
    if order > 1:
        if "fwd" in modes:
            check_grads(lambda *a: jvp(fun, a, v)[1], args, order - 1, modes, eps, rtol,
                        atol, seed + 1)
        if "rev" in modes:
            u = _random_like(fun(*args), np.random.default_rng(seed + 2))
            check_grads(lambda *a: vjp(fun, *a)[1](u), args, order - 1, modes, eps, rtol,
                        atol, seed + 3)


__all__ = ["check_grads"]
