"""Numbers into words: the formatting every report shares, and templated findings.

Findings and summary pages are Jinja2 templates rendered from an experiment's
``estimates.csv`` as read back from disk (``EstimateTable``), so every number a sentence
quotes is one of its estimates, with its interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .stats import compare

if TYPE_CHECKING:
    import pandas as pd


# -- numbers -------------------------------------------------------------------------------


def num(value: Any, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, without trailing noise.

    Example:
        >>> num(3.14159), num(0.000123456), num(2.0), num(1234567.0), num(float("inf"))
        ('3.14', '0.000123', '2', '1.23e+06', 'inf')
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 6 or magnitude < -4:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_unit(value: Any, digits: int, units: tuple[tuple[str, float], ...],
               smallest: tuple[str, float]) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(value):
        return num(value)
    unit, scale = next(((u, k) for u, k in units if abs(value) >= k), smallest)
    return f"{num(value / scale, digits)} {unit}"


def seconds(value: Any, digits: int = 3) -> str:
    """A duration with its unit: s, ms, µs or ns.

    Example:
        >>> seconds(0.0123), seconds(4.5e-7), seconds(12.0)
        ('12.3 ms', '450 ns', '12 s')
    """
    return _with_unit(value, digits, (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)), ("ns", 1e-9))


def nbytes(value: Any, digits: int = 3) -> str:
    """A size in B, kB, MB or GB (powers of 1000).

    Example:
        >>> nbytes(512), nbytes(822_000_000), nbytes(1536)
        ('512 B', '822 MB', '1.54 kB')
    """
    return _with_unit(value, digits, (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)), ("B", 1.0))


# -- estimates as read back ----------------------------------------------------------------


@dataclass(frozen=True)
class Est:
    """One row of an estimates.csv: a value and its 95% interval."""

    value: float
    low: float
    high: float
    n: int
    groups: Mapping[str, Any]

    def compare(self, threshold: float) -> str:
        """"above", "below", or "not distinguishable from" ``threshold``."""
        return compare(self.low, self.high, threshold)

    @property
    def exact(self) -> bool:
        return self.low == self.high


def ci(est: Est, digits: int = 3, fmt: Callable[..., str] = num) -> str:
    """``value [low, high]``; just the value when the interval has no width.

    Example:
        >>> ci(Est(2.3146, 2.25, 2.401, 10, {}))
        '2.31 [2.25, 2.4]'
    """
    if est.exact or not (math.isfinite(est.low) and math.isfinite(est.high)):
        return fmt(est.value, digits)
    return f"{fmt(est.value, digits)} [{fmt(est.low, digits)}, {fmt(est.high, digits)}]"


def versus(est: Est, threshold: float, digits: int = 3) -> str:
    """``est`` against a threshold in words: "2.31 [2.25, 2.4], below 6"."""
    return f"{ci(est, digits)}, {est.compare(threshold)} {num(threshold, digits)}"


class EstimateTable:
    """Look-ups into an estimates table: ``E("slope", family="dense_net", axis="n")``.

    Group values are compared as text, since a CSV read back gives numbers or strings.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.groups = [c for c in frame.columns
                       if c not in ("quantity", "value", "ci_low", "ci_high", "n")]
        # every row once, as (its groups as text, its Est), by quantity: look-ups are the
        # inner loop of every template
        self._rows: dict[str, list[tuple[dict[str, str], Est]]] = {}
        for record in frame.to_dict("records"):
            text_groups = {g: _as_text(record[g]) for g in self.groups}
            groups = {g: record[g] for g in self.groups if text_groups[g] != ""}
            n = _as_text(record["n"])
            est = Est(float(record["value"]), float(record["ci_low"]),
                      float(record["ci_high"]), int(float(n)) if n else 0, groups)
            self._rows.setdefault(str(record["quantity"]), []).append((text_groups, est))

    def _match(self, quantity: str, where: Mapping[str, Any]) -> list[Est]:
        for key in where:
            if key not in self.groups:
                raise KeyError(f"estimates have no column {key!r}")
        wanted = {k: _as_text(v) for k, v in where.items()}
        return [est for groups, est in self._rows.get(quantity, ())
                if all(groups[k] == v for k, v in wanted.items())]

    def __call__(self, quantity: str, **where: Any) -> Est:
        rows = self._match(quantity, where)
        if len(rows) != 1:
            known = len(self._rows.get(quantity, ()))
            raise KeyError(f"{len(rows)} estimates of {quantity!r} for {where}; "
                           f"{known} of that quantity exist")
        return rows[0]

    def has(self, quantity: str, **where: Any) -> bool:
        return len(self._match(quantity, where)) == 1

    def all(self, quantity: str, **where: Any) -> list[Est]:
        """Every estimate of ``quantity`` matching ``where``, in file order."""
        return self._match(quantity, where)

    def values(self, column: str, quantity: str | None = None, **where: Any) -> list[Any]:
        """The distinct values of a group column (for one quantity), in file order."""
        if quantity is None:
            ests = [est for rows in self._rows.values() for _, est in rows]
        else:
            ests = self._match(quantity, where)
        seen: list[Any] = []
        for est in ests:
            v = est.groups.get(column)
            if v is not None and v not in seen:
                seen.append(v)
        return seen


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- Markdown --------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md(value: Any) -> str:
    """A value read from a file as literal Markdown text on one line.

    Example:
        >>> md("![x](y) <b>")
        '!\\\\[x\\\\](y) \\\\<b\\\\>'
    """
    text = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", str(value)).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_table(rows: Iterable[Sequence[Any]], header: Sequence[str],
                   align: str | None = None) -> list[str]:
    """The lines of a Markdown table; ``align`` has one letter per column, "l" or "r"
    (default: right for columns whose first cell looks like a number).

    Example:
        >>> markdown_table([["sin", "1.0"]], ["op", "slope"])
        ['| op | slope |', '|---|---:|', '| sin | 1.0 |']
    """
    rows = [[str(c) for c in row] for row in rows]
    if align is None:
        first = rows[0] if rows else [""] * len(header)
        align = "".join("r" if re.match(r"^[-+]?[\d.]", c) else "l" for c in first)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return (["| " + " | ".join(header) + " |", rule]
            + ["| " + " | ".join(row) + " |" for row in rows])


# -- templates ---------------------------------------------------------------------------------


def environment():
    """The Jinja2 environment of every template: Markdown out, nothing HTML-escaped (the
    HTML page escapes when it renders), undefined names an error, the filters above."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False)
    env.filters.update(num=num, ci=ci, seconds=seconds, nbytes=nbytes, md=md,
                       versus=versus)
    env.globals.update(table=markdown_table, inf=math.inf)
    return env


def render(template: str, **context: Any) -> str:
    return environment().from_string(template).render(**context)


def findings(template: str, **context: Any) -> list[str]:
    """The findings a template renders: each line that starts with "- ", joined with the
    lines that continue it (indented), one sentence or a few per finding."""
    out: list[str] = []
    for line in render(template, **context).splitlines():
        if line.startswith("- "):
            out.append(line[2:].strip())
        elif line.startswith("  ") and out and line.strip():
            out[-1] += " " + line.strip()
    return out
