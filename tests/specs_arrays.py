"""How user code reaches the everyday array functions of issue 11 (einsum, var, stacking...);
see ``opspec.py``."""

from __future__ import annotations

SPECS: dict = {}
