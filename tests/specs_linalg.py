"""How user code reaches numpy.linalg (issue 11);
see ``opspec.py``."""

from __future__ import annotations

SPECS: dict = {}
