"""How user code reaches issue 11's elementwise extras, reordering and selection,
reductions' keywords and scipy.special;
see ``opspec.py``."""

from __future__ import annotations

SPECS: dict = {}
