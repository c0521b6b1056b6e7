"""What admodes differentiates, generated from the live tables (the README's lists).

``ops_markdown()`` is the op table by derivative form; ``numpy_markdown()`` lists the numpy
(and scipy.special) names that work on traced values, each reaching a registered op or a
composite of them. ``admodes ops --markdown`` prints both; a test keeps the README equal
to them.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .numpy_api import COMPOSITE_UFUNCS, HANDLERS, NumpyMethods
from .registry import OPS, UFUNCS

FORMS = ("elementwise", "linear", "bilinear", "reduction", "explicit", "nondiff")


def ops_markdown() -> str:
    """The registered ops grouped by the form their derivative is declared in."""
    rows = ["| form | ops |", "|---|---|"]
    for form in FORMS + tuple(sorted({op.form for op in OPS.values()} - set(FORMS))):
        names = [f"`{op.name}`" for op in OPS.values() if op.form == form]
        if names:
            rows.append(f"| {form} | {', '.join(names)} |")
    return "\n".join(rows)


def _qualified(f: Any) -> str:
    """``np.sum``, ``np.linalg.inv`` or ``scipy.special.expit`` for a numpy-facing object."""
    name = getattr(f, "__name__", repr(f))
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, name, None) is f and not hasattr(np, name):
        return f"scipy.special.{name}"
    linalg = np.linalg
    if getattr(linalg, name, None) is f and getattr(np, name, None) is not f:
        return f"np.linalg.{name}"
    if isinstance(f, np.ufunc) or getattr(np, name, None) is f:
        return f"np.{name}"
    module = getattr(f, "__module__", "") or ""
    return f"{module.replace('numpy', 'np', 1)}.{name}" if module else name


def numpy_names() -> dict[str, list[str]]:
    """The names reached on traced values, by kind, each list sorted."""
    differentiable = set()
    no_derivative = set()
    for ufunc, op in UFUNCS.items():
        if isinstance(ufunc, np.ufunc):  # np.where and np.clip are functions, listed below
            (no_derivative if op.nondiff else differentiable).add(_qualified(ufunc))
    differentiable.update(_qualified(u) for u in COMPOSITE_UFUNCS)
    functions = {_qualified(f) for f in HANDLERS}
    functions.update(_qualified(f) for f in UFUNCS if not isinstance(f, np.ufunc))
    methods = sorted(name for name in dir(NumpyMethods)
                     if not name.startswith("_") and name not in ("T",)) + ["T"]
    groups = {
        "ufuncs": sorted(n for n in differentiable if not n.startswith("scipy.")),
        "ufuncs without a derivative": sorted(no_derivative),
        "functions": sorted(n for n in functions
                            if not n.startswith(("np.linalg.", "scipy."))),
        "np.linalg": sorted(n for n in functions | differentiable
                            if n.startswith("np.linalg.")),
        "scipy.special": sorted(n for n in functions | differentiable
                                if n.startswith("scipy.special.")),
        "methods and attributes": [f"x.{m}" for m in methods],
    }
    return {kind: names for kind, names in groups.items() if names}


def numpy_markdown() -> str:
    rows = ["| kind | names |", "|---|---|"]
    for kind, names in numpy_names().items():
        rows.append(f"| {kind} | {', '.join(f'`{n}`' for n in names)} |")
    return "\n".join(rows)
