"""The harness: an experiment declares what to measure; this module runs it.

An ``Experiment`` declares its grid (``cells``), how to measure one cell (``measure``,
through a ``Meter``), what to derive from the rows (``estimate``, returning quantities with
intervals), its figures and its findings (Jinja2 templates over the estimates). ``run``
does the rest: presets and seeds, replicates of the whole grid in a shuffled order, round-
robin timing with wall and CPU time, counting, rows checkpointed as they are measured,
Ctrl-C, the bootstrap, the files (``results.csv``, ``estimates.csv``, ``summary.md``,
figures, and ``manifest.json`` last), and a progress bar with an ETA.
"""

from __future__ import annotations

import datetime
import math
import random
import time
import traceback
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import store, text
from .figures import FigureSpec, png
from .stats import Q
from .timing import CONTENDED, MIN_SAMPLE_S, time_round_robin

# what every preset may set, and its default
HARNESS_DEFAULTS: dict[str, Any] = {
    "replicates": 2,      # passes over the whole grid, each in its own shuffled order
    "samples": 5,         # timed samples per variant per cell and replicate
    "warmup": 1,          # untimed calls of each variant before its samples
    "min_sample_s": MIN_SAMPLE_S,  # a sample batches calls until it lasts this long
    "draws": 1000,        # bootstrap draws behind every interval
    "seed": 0,
}
ID_COLUMNS = ["experiment", "replicate", "order", "cell"]
SAMPLE_COLUMNS = ["variant", "sample", "calls", "wall_s", "cpu_s", "contended"]


@dataclass(frozen=True)
class Experiment:
    """What an experiment is; see the module docstring and README ("Adding an experiment")."""

    name: str
    title: str
    summary: str
    presets: Mapping[str, Mapping[str, Any]]
    cells: Callable[[dict[str, Any]], list[dict[str, Any]]]
    measure: Callable[[dict[str, Any], dict[str, Any], Meter], None]
    estimate: Callable[[Results], Estimates]
    findings: str = ""
    details: str = ""
    headline: str = ""  # Jinja2: the finding(s) the report's summary puts first, "- " each
    figures: Sequence[FigureSpec] = ()
    prepare: Callable[[dict[str, Any]], Any] | None = None
    namespace: Mapping[str, Any] = field(default_factory=dict)  # more names for templates

    def template_vars(self, context: Context) -> dict[str, Any]:
        return {**self.namespace, **vars(context)}

    def config(self, preset: str, seed: int | None = None,
               overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The preset's configuration over the harness defaults; unknown keys refused."""
        if preset not in self.presets:
            raise ValueError(f"unknown preset {preset!r} for {self.name}; known: "
                             f"{', '.join(self.presets)}")
        cfg = {**HARNESS_DEFAULTS, **self.presets[preset]}
        unknown = set(overrides or {}) - set(cfg)
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)} for {self.name}; "
                             f"known: {sorted(cfg)}")
        cfg.update(overrides or {})
        if seed is not None:
            cfg["seed"] = seed
        for key in ("replicates", "samples", "draws"):
            if not isinstance(cfg[key], int) or cfg[key] < 1:
                raise ValueError(f"{self.name}: {key} must be a positive int, got {cfg[key]!r}")
        return cfg


def cell_id(cell: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in cell.items())


class Meter:
    """What ``measure`` uses to measure one cell in one replicate."""

    def __init__(self, cell: dict[str, Any], replicate: int, cfg: dict[str, Any],
                 prepared: Any = None) -> None:
        self.cell = cell
        self.replicate = replicate
        self.first = replicate == 0  # measure deterministic things (counts) only once
        self.cfg = cfg
        self.prepared = prepared
        self._samples: list = []
        self._notes: dict[str, dict[str, Any]] = {}
        self._records: list[dict[str, Any]] = []

    def time(self, variants: Mapping[str, Callable[[], Any]],
             samples: int | None = None) -> dict[str, float]:
        """Time the variants against each other, round-robin (see ``timing``); returns each
        variant's median CPU seconds per call in this cell (for a budget that depends on
        them, like a training run of equal time)."""
        taken = time_round_robin(variants, samples or self.cfg["samples"],
                                 warmup=self.cfg["warmup"],
                                 min_sample_s=self.cfg["min_sample_s"])
        self._samples += taken
        return {name: float(np.median([s.cpu_s for s in taken if s.variant == name]))
                for name in variants}

    def note(self, variant: str, **metrics: Any) -> None:
        """Attach measured values (counts, bytes, errors) to a variant of this cell."""
        self._notes.setdefault(variant, {}).update(metrics)

    def record(self, variant: str, **values: Any) -> None:
        """Add a row of its own to this cell (one point of a series, like the loss after
        each training step): ``variant`` plus ``values`` as columns."""
        self._records.append({"variant": variant, **values})

    @staticmethod
    def count(fn: Callable[..., Any], *args: Any):
        """Run ``fn(*args)`` under ``admodes.count_ops``; its result and the counts."""
        from ..core import count_ops

        with count_ops() as counted:
            result = fn(*args)
        return result, counted

    @staticmethod
    def peak(fn: Callable[..., Any], *args: Any) -> tuple[Any, int]:
        """Run ``fn(*args)``; its result and the peak bytes allocated meanwhile."""
        from ..measure import peak_memory

        return peak_memory(fn, *args)

    def rows(self, experiment: str, order: int) -> list[dict[str, Any]]:
        base = {"experiment": experiment, "replicate": self.replicate, "order": order,
                "cell": cell_id(self.cell), **self.cell}
        out, timed = [], set()
        for s in self._samples:
            timed.add(s.variant)
            out.append({**base, "variant": s.variant, "sample": s.index, "calls": s.calls,
                        "wall_s": s.wall_s, "cpu_s": s.cpu_s,
                        "contended": bool(s.cpu_s > 0 and s.wall_s / s.cpu_s > CONTENDED),
                        **self._notes.get(s.variant, {})})
        for variant, notes in self._notes.items():
            if variant not in timed:
                out.append({**base, "variant": variant, **notes})
        out += [{**base, **record} for record in self._records]
        return out


class Results:
    """The rows of a run, for ``estimate``: timings become ``Q``'s with bootstrap draws."""

    def __init__(self, frame, cfg: dict[str, Any]) -> None:
        self.frame = frame
        self.cfg = cfg
        self.draws = cfg["draws"]
        self._cache: dict[tuple, Q] = {}
        self._index: dict[str, dict] = {}
        self._cells = None
        self._cell_cache: dict[tuple, list[str]] = {}

    def select(self, variant: str | None = None, **where: Any):
        rows = self.frame
        if variant is not None:
            rows = rows[rows["variant"] == variant]
        for key, value in where.items():
            rows = rows[rows[key] == value]
        return rows

    def time(self, variant: str, *, clock: str = "cpu_s", stat: str = "median",
             **where: Any) -> Q:
        """Seconds per call of ``variant`` in the one cell ``where`` names: the median (or
        "min") over its samples, with draws resampling replicates, then samples."""
        key = (variant, clock, stat, tuple(sorted(where.items())))
        if key not in self._cache:
            cells = self._cells_matching(where)
            if len(cells) > 1:
                raise ValueError(f"time({variant!r}, {where}) matches {len(cells)} cells")
            groups = self._samples(clock).get((cells[0], variant), {}) if cells else {}
            seed = zlib.crc32(repr(key).encode())
            self._cache[key] = Q.of_samples(groups, draws=self.draws, seed=seed, stat=stat)
        return self._cache[key]

    def _samples(self, clock: str) -> dict[tuple[str, str], dict[int, Any]]:
        """{(cell, variant): {replicate: samples}} for one clock, grouped once."""
        if clock not in self._index:
            timed = self.frame.dropna(subset=[clock])
            self._index[clock] = {
                key: {r: g.to_numpy() for r, g in rows.groupby("replicate")[clock]}
                for key, rows in timed.groupby(["cell", "variant"], sort=False)}
        return self._index[clock]

    def _cells_matching(self, where: Mapping[str, Any]) -> list[str]:
        key = tuple(sorted(where.items()))
        if key not in self._cell_cache:
            if self._cells is None:
                self._cells = self.frame.drop_duplicates("cell")
            rows = self._cells
            for name, value in where.items():
                rows = rows[rows[name] == value]
            self._cell_cache[key] = list(rows["cell"])
        return self._cell_cache[key]

    def ratio(self, variant: str, baseline: str, **where: Any) -> Q:
        """T(variant) / T(baseline) in the cell ``where`` names (CPU time, medians)."""
        return self.time(variant, **where) / self.time(baseline, **where)

    def metric(self, name: str, variant: str, **where: Any) -> float:
        """A value ``note``d for ``variant`` in the cell ``where`` names."""
        rows = self.select(variant, **where)
        values = rows[name].dropna() if name in rows else []
        if len(values) == 0:
            return math.nan
        return float(values.iloc[0])

    def per_replicate(self, column: str, variant: str, **where: Any) -> Q:
        """A value measured once per replicate (a peak memory) in the one cell ``where``
        names: the median over replicates, with draws resampling them."""
        rows = self.select(variant, **where).dropna(subset=[column])
        groups = {r: g[column].to_numpy()[:1] for r, g in rows.groupby("replicate")}
        seed = zlib.crc32(repr(("per_replicate", column, variant, sorted(where.items())))
                          .encode())
        return Q.of_samples(groups, draws=self.draws, seed=seed)

    def exact(self, value: float, n: int = 1) -> Q:
        """A quantity without sampling error, with as many draws as the timings."""
        return Q.exact(value, self.draws, n)

    def cells(self, **where: Any):
        """The distinct cells (their parameter columns) matching ``where``."""
        rows = self.select(**where)
        params = [c for c in rows.columns if c not in ID_COLUMNS + SAMPLE_COLUMNS
                  and c in self.cell_params]
        return rows.drop_duplicates("cell")[params].reset_index(drop=True)

    @property
    def cell_params(self) -> list[str]:
        return self.frame.attrs.get("cell_params", [])


@dataclass
class Estimates:
    """The derived numbers of a run: one row per quantity and group, with its interval."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, quantity: str, q: Q | float, **groups: Any) -> None:
        clash = set(groups) & {"quantity", "value", "ci_low", "ci_high", "n"}
        if clash:
            raise ValueError(f"estimate {quantity!r}: {sorted(clash)} cannot name a group "
                             f"(estimates.csv has columns of those names)")
        if not isinstance(q, Q):
            q = Q.exact(float(q))
        self.rows.append({"quantity": quantity, **groups, "value": q.value,
                          "ci_low": q.low, "ci_high": q.high, "n": q.n})

    def frame(self):
        import pandas as pd

        columns = ["quantity"]
        for row in self.rows:
            columns += [k for k in row if k not in columns and k not in
                        ("value", "ci_low", "ci_high", "n")]
        return pd.DataFrame(self.rows, columns=columns + ["value", "ci_low", "ci_high", "n"])


@dataclass
class Context:
    """What templates and figures see: the estimates as read back from disk (``E``), the
    rows, the configuration and the manifest."""

    E: text.EstimateTable
    results: Any
    cfg: dict[str, Any]
    manifest: dict[str, Any]


@dataclass
class Outcome:
    """How a run ended: ``status`` "complete", "interrupted" or "failed"."""

    folder: Path
    status: str
    reason: str | None
    manifest: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.status == "complete"


def schedule(cells: list[dict[str, Any]], cfg: dict[str, Any]) -> list[tuple[int, dict]]:
    """(replicate, cell) in measuring order: each replicate is the whole grid, shuffled by
    its own seed, so drift over the run does not line up with the grid."""
    order = []
    for replicate in range(cfg["replicates"]):
        shuffled = list(cells)
        random.Random(zlib.crc32(repr((cfg["seed"], replicate)).encode())).shuffle(shuffled)
        order += [(replicate, cell) for cell in shuffled]
    return order


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(
        timespec="seconds")


def _frame(rows: list[dict[str, Any]], cell_params: list[str]):
    import pandas as pd

    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in ID_COLUMNS + cell_params + SAMPLE_COLUMNS]
    columns = [c for c in ID_COLUMNS + cell_params + SAMPLE_COLUMNS + extra
               if c in frame.columns]
    frame = frame[columns] if len(frame) else pd.DataFrame(columns=ID_COLUMNS + cell_params
                                                            + SAMPLE_COLUMNS)
    frame.attrs["cell_params"] = cell_params
    return frame


def run(experiment: Experiment, preset: str = "quick", out_dir: str | Path = "reports", *,
        seed: int | None = None, overrides: Mapping[str, Any] | None = None,
        show_progress: bool = True) -> Outcome:
    """Run ``experiment`` and write its folder ``out_dir / experiment.name``.

    Ctrl-C and an error in a cell stop the run; its rows so far are kept and the manifest
    says ``complete: false`` with the reason (Ctrl-C is re-raised after that).
    """
    import pandas as pd

    from ..measure import environment, frozen_heap, pinned_blas, steady_malloc

    cfg = experiment.config(preset, seed, overrides)
    folder = Path(out_dir) / experiment.name
    folder.mkdir(parents=True, exist_ok=True)
    store.clean_leftovers(folder)
    partial = store.PartialRows(folder)
    started, clock = _now(), time.perf_counter()
    cells = experiment.cells(cfg)
    cell_params = list(dict.fromkeys(k for c in cells for k in c))
    order = schedule(cells, cfg)
    status, reason, interrupted = "complete", None, False
    malloc_steady = steady_malloc()
    with pinned_blas(1), frozen_heap():
        env = environment()
        try:
            prepared = experiment.prepare(cfg) if experiment.prepare else None
            for position, (replicate, cell) in enumerate(
                    _progress(order, experiment.name, show_progress)):
                meter = Meter(cell, replicate, cfg, prepared)
                try:
                    experiment.measure(cell, cfg, meter)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    frame = traceback.extract_tb(exc.__traceback__)[-1]
                    raise _CellFailed(f"{type(exc).__name__}: {exc} (in cell "
                                      f"{cell_id(cell)}, replicate {replicate}; raised at "
                                      f"{frame.filename}:{frame.lineno})") from exc
                partial.add(meter.rows(experiment.name, position))
        except KeyboardInterrupt:
            status, reason, interrupted = "interrupted", "interrupted by Ctrl-C", True
        except _CellFailed as exc:
            status, reason = "failed", str(exc)
    results = _frame(partial.read(), cell_params)
    manifest = {
        "experiment": experiment.name, "title": experiment.title, "preset": preset,
        "complete": status == "complete", "status": status, "reason": reason,
        "config": cfg, "seed": cfg["seed"], "replicates": cfg["replicates"],
        "cells": len(cells), "cells_measured": int(results["cell"].nunique()) if len(results)
        else 0, "rows": len(results), "environment": {**env, "malloc_steady": malloc_steady},
        "started": started, "finished": _now(),
        "seconds": round(time.perf_counter() - clock, 2)}
    files: dict[str, str | bytes] = {store.RESULTS: results.to_csv(index=False)}
    if status == "complete":
        files.update(_derived(experiment, results, cfg, manifest, pd))
    store.replace_run(folder, files, manifest)
    partial.discard()
    outcome = Outcome(folder, status, reason, store.read_manifest(folder) or manifest)
    if interrupted:
        raise Interrupted(outcome)
    return outcome


class _CellFailed(Exception):
    pass


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, after its folder was finalized as incomplete."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _derived(experiment: Experiment, results, cfg: dict[str, Any], manifest: dict[str, Any],
             pd) -> dict[str, str | bytes]:
    """estimates.csv, the figures and summary.md of a complete run. Templates and figures
    see the estimates as they will be read back from disk."""
    import io

    found = experiment.estimate(Results(results, cfg))
    _trust(found, results)
    estimates = found.frame()
    csv_text = estimates.to_csv(index=False)
    table = text.EstimateTable(pd.read_csv(io.StringIO(csv_text)))
    context = Context(table, results, cfg, manifest)
    files: dict[str, str | bytes] = {store.ESTIMATES: csv_text}
    shown = []
    for spec in experiment.figures:
        fig = spec.draw(context)
        if fig is None:
            continue
        files[f"{spec.name}.png"] = png(fig)
        shown.append({"file": f"{spec.name}.png",
                      "caption": text.render(spec.template,
                                             **experiment.template_vars(context)).strip()})
    manifest["figures"] = shown
    files[store.SUMMARY] = summary_page(experiment, context, shown)
    return files


def _trust(found: Estimates, results) -> None:
    """What says how far to trust the timings: the share of contended samples (wall time
    over CPU time above ``CONTENDED``), the median wall / CPU ratio, and the run-to-run
    spread: per timed cell and variant, (max - min) / median of its replicates' medians."""
    timed = results.dropna(subset=["cpu_s"]) if "cpu_s" in results else results.iloc[:0]
    if not len(timed):
        return
    found.add("samples_contended", float(timed["contended"].astype(bool).mean()))
    ratio = (timed["wall_s"] / timed["cpu_s"]).replace([math.inf], math.nan).dropna()
    if len(ratio):
        found.add("wall_over_cpu", float(ratio.median()))
    per_replicate = timed.groupby(["cell", "variant", "replicate"])["cpu_s"].median()
    spread = per_replicate.groupby(["cell", "variant"]).agg(
        lambda v: (v.max() - v.min()) / v.median() if len(v) > 1 and v.median() > 0
        else math.nan).dropna()
    if len(spread):
        found.add("replicate_spread", float(spread.median()))
        found.add("replicate_spread_p90", float(spread.quantile(0.9)))


def summary_page(experiment: Experiment, context: Context, figures: list[dict]) -> str:
    """summary.md: findings, details, figures with captions, and how it was measured."""
    m, cfg = context.manifest, context.cfg
    lines = [f"# {experiment.title}", "", experiment.summary, "", "## Findings", ""]
    names = experiment.template_vars(context)
    lines += [f"- {f}" for f in text.findings(experiment.findings, **names)]
    details = text.render(experiment.details, **names).strip()
    if details:
        lines += ["", details]
    for k, fig in enumerate(figures, 1):
        lines += ["", f"![Figure {k}]({fig['file']})", "", f"*Figure {k}.* {fig['caption']}"]
    lines += ["", "## How this was measured", "", *provenance(m, cfg), ""]
    return "\n".join(lines)


def provenance(manifest: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[str]:
    """The lines that say where numbers came from: preset, replicates, samples, machine.
    Every value is read back from a manifest on disk, so every one is escaped."""
    env = manifest.get("environment", {})
    env = env if isinstance(env, dict) else {}
    blas_list = env.get("blas") if isinstance(env.get("blas"), list) else []
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')}"
                     for b in blas_list if isinstance(b, dict)) or "unknown"
    m = text.md
    return [
        f"- preset {m(manifest.get('preset'))}: {m(cfg.get('replicates'))} replicates of "
        f"{m(manifest.get('cells'))} cells in shuffled order, {m(cfg.get('samples'))} timed "
        f"samples per variant and cell, taken round-robin; intervals are 95% bootstrap "
        f"intervals ({m(cfg.get('draws'))} draws) over replicates and samples; times are "
        f"thread CPU time per call unless marked wall.",
        f"- CPU {m(env.get('cpu_model'))} ({m(env.get('cores'))} cores), Python "
        f"{m(env.get('python_version'))}, numpy {m(env.get('numpy_version'))} (BLAS "
        f"{m(blas)}, pinned to 1 thread), admodes {m(env.get('admodes_version'))} (source "
        f"commit {m(env.get('admodes_commit') or 'unknown')}).",
        f"- started {m(manifest.get('started'))}, {m(manifest.get('seconds'))} s; seed "
        f"{m(manifest.get('seed'))}.",
    ]


def _progress(items: list, label: str, show: bool):
    if not show:
        return items
    from tqdm.auto import tqdm

    # disable=None: a bar on a terminal, none in a log or a pipe
    return tqdm(items, desc=label, unit="cell", leave=False, dynamic_ncols=True, disable=None)
