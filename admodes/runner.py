"""The experiments that ship with admodes (``admodes.experiments``), found and run by name.

Each experiment module declares an ``EXPERIMENT`` for the harness (``admodes.harness``);
``admodes run`` runs them in ``ORDER`` and the report reads their folders back, trusting
only folders whose ``manifest.json`` says the run completed.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from .harness import Experiment, Outcome, store
from .harness import run as run_experiment

# the order of the sections in the combined report
ORDER = ["scaling", "memory", "accuracy", "mlp_training", "overhead", "nn_speed"]
PACKAGE = "admodes.experiments"


class ResultsError(ValueError):
    """A result folder on disk that cannot be read back: empty, corrupt or of the wrong
    form."""

    def __init__(self, name: str, path: Path, reason: str) -> None:
        reason = " ".join(reason.split())  # pandas and json messages may span lines
        if len(reason) > 200:
            reason = reason[:200] + "..."
        super().__init__(f"{path} is not a valid results file ({reason}); rerun "
                         f"`admodes run {name}`")
        self.name, self.path = name, path


def write_text(path: Path, text: str) -> Path:
    """``measure.write_atomic``; an OSError names the file (``store.naming``)."""
    from .measure import write_atomic

    with store.naming(path):
        return write_atomic(path, text)


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (a figure)."""
    from .measure import written_atomically

    with store.naming(path), written_atomically(path) as (tmp,):
        tmp.write_bytes(data)
    return path


def available() -> list[str]:
    """Names of the experiments installed with admodes, in report order."""
    return [name for name in ORDER if importlib.util.find_spec(f"{PACKAGE}.{name}")]


def load(name: str) -> Experiment:
    """The ``EXPERIMENT`` of ``admodes.experiments.<name>``."""
    if name not in ORDER:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(available())}")
    return importlib.import_module(f"{PACKAGE}.{name}").EXPERIMENT


def run_one(name: str, out_dir: str | Path, preset: str = "quick", seed: int | None = None,
            show_progress: bool = True, overrides: dict[str, Any] | None = None) -> Outcome:
    """Run one experiment into ``out_dir / name`` (see ``admodes.harness.run``)."""
    return run_experiment(load(name), preset, out_dir, seed=seed, overrides=overrides,
                          show_progress=show_progress)


def read_run(name: str, out_dir: str | Path) -> tuple[dict[str, Any] | None, Any, Any]:
    """(manifest, results, estimates) of the run in ``out_dir / name``: the manifest is
    None when the folder has none; results and estimates are DataFrames for a complete
    run, None otherwise. A manifest or file that cannot be read raises ResultsError."""
    import pandas as pd

    folder = Path(out_dir) / name
    try:
        manifest = store.read_manifest(folder)
    except store.RunFolderError as exc:
        raise ResultsError(name, folder / store.MANIFEST, str(exc)) from None
    if manifest is None or manifest.get("complete") is not True:
        return manifest, None, None
    frames = []
    for file in (store.RESULTS, store.ESTIMATES):
        path = folder / file
        try:
            frame = pd.read_csv(path)
        except FileNotFoundError:
            raise ResultsError(name, path, "missing, though the manifest lists it") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResultsError(name, path, str(exc) or type(exc).__name__) from None
        if frame.empty:
            raise ResultsError(name, path, "it has no rows")
        frames.append(frame)
    estimates = frames[1]
    missing = {"quantity", "value", "ci_low", "ci_high", "n"} - set(estimates.columns)
    if missing:
        raise ResultsError(name, folder / store.ESTIMATES, f"no column(s) {sorted(missing)}")
    # names and groups are identifiers and numbers: anything else did not come from a run,
    # and would otherwise be written into the report as it is
    for column in estimates.columns:
        if not pd.api.types.is_numeric_dtype(estimates[column]):
            bad = estimates[column].dropna().astype(str)
            bad = bad[~bad.str.fullmatch(_PLAIN)]
            if len(bad):
                raise ResultsError(name, folder / store.ESTIMATES,
                                   f"column {column!r} holds {bad.iloc[0][:40]!r}, not a name")
    for column in ("value", "ci_low", "ci_high"):
        if not pd.api.types.is_numeric_dtype(estimates[column]):
            raise ResultsError(name, folder / store.ESTIMATES, f"column {column!r} is not numeric")
    return manifest, frames[0], estimates


_PLAIN = r"[\w.+\-=/ ]*"
