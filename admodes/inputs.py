"""Checking what users pass as differentiable inputs (shared by every public entry point)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Tracer, escaped, peek


def _check_input(x: Any, what: str) -> Any:
    """A differentiable input must be a real float scalar or array."""
    if isinstance(x, Tracer) and not x._trace.active:
        raise escaped(x)
    c = peek(x)
    _check_subclass(c, what)
    if isinstance(c, (bool, np.bool_)) or (isinstance(c, np.ndarray) and c.dtype == bool):
        raise TypeError(f"{what} is boolean ({_describe(c)}); derivatives need float "
                        f"inputs: pass floats, e.g. x.astype(float)")
    if isinstance(c, (int, np.integer)) or (
            isinstance(c, np.ndarray) and np.issubdtype(c.dtype, np.integer)):
        raise TypeError(f"{what} is an integer ({_describe(c)}); derivatives need float "
                        f"inputs: pass floats, e.g. 3.0 instead of 3 or x.astype(float)")
    if isinstance(c, float):
        return x
    if isinstance(c, (np.ndarray, np.generic)) and c.dtype.kind == "f":
        return x
    if isinstance(c, (complex, np.complexfloating)) or (
            isinstance(c, np.ndarray) and c.dtype.kind == "c"):
        raise TypeError(f"{what} is complex ({_describe(c)}); admodes differentiates real "
                        f"float inputs only")
    raise TypeError(f"{what} has type {_describe(c)}; expected a float or a float numpy "
                    f"array (or a tuple/list/dict of them)")


def _check_subclass(c: Any, what: str) -> None:
    """ndarray subclasses whose operators mean something else (np.matrix: ``*`` is the
    matrix product) would get ndarray's derivative rules: refused. Masked arrays keep
    numpy's masked arithmetic, elementwise like ndarray's, and are accepted."""
    if isinstance(c, np.ndarray) and type(c) is not np.ndarray and not isinstance(
            c, np.ma.MaskedArray):
        raise TypeError(f"{what} is a {type(c).__module__}.{type(c).__name__}, an ndarray "
                        f"subclass whose operators may differ from ndarray's (for np.matrix, "
                        f"* is the matrix product); pass np.asarray(x) and write the "
                        f"operation you mean (x @ y or x * y)")


def _describe(c: Any) -> str:
    if isinstance(c, np.ndarray):
        return f"array of dtype {c.dtype} and shape {c.shape}"
    return f"{type(c).__name__} {c!r}" if not isinstance(c, str) else f"str {c!r}"
