"""Finding and running the experiment scripts in the checkout's ``experiments/`` folder.

Every experiment module exposes the same small interface: ``NAME``, ``PRESETS`` (with
"quick" and "full"), ``run(config, *, show_progress)`` returning a tidy DataFrame,
``write_report(df, out_dir)`` writing its files, and ``findings(df)`` returning the
sentences the combined report quotes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from .measure import environment, write_atomic

# the order of the sections in the combined report
ORDER = ["scaling", "memory", "accuracy", "mlp_training", "overhead"]
EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"


def available() -> list[str]:
    """Names of the experiments present in the checkout, in report order."""
    return [name for name in ORDER if (EXPERIMENTS_DIR / f"{name}.py").exists()]


def load(name: str) -> ModuleType:
    """Import ``experiments/<name>.py`` by path."""
    path = EXPERIMENTS_DIR / f"{name}.py"
    if not path.exists():
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(available())}")
    module_name = f"admodes_experiment_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def config_for(module: ModuleType, preset: str, seed: int | None) -> dict[str, Any]:
    if preset not in module.PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of "
                         f"{', '.join(sorted(module.PRESETS))}")
    config = dict(module.PRESETS[preset])
    if seed is not None and "seed" in config:
        config["seed"] = seed
    return config


def write_text(path: Path, text: str) -> Path:
    """``measure.write_atomic``, but an OSError always names the file: a failed write()
    (a full disk) names none, and "No space left on device" alone does not say where."""
    try:
        return write_atomic(path, text)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def run_one(name: str, out_dir: Path, preset: str = "quick", seed: int | None = None,
            show_progress: bool = True) -> list[Path]:
    """Run one experiment and write its files into ``out_dir / name``; also writes
    ``meta.json`` (preset, config, environment, wall time) so the report can be rebuilt
    from disk later."""
    module = load(name)
    config = config_for(module, preset, seed)
    start = time.perf_counter()
    df = module.run(config, show_progress=show_progress)
    seconds = time.perf_counter() - start
    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    written = [Path(p) for p in module.write_report(df, target)]
    meta = {"experiment": name, "preset": preset, "seconds": round(seconds, 2),
            "interrupted": bool(df.attrs.get("interrupted")),
            "config": config, "environment": df.attrs.get("environment") or environment()}
    written.append(write_text(target / "meta.json",
                              json.dumps(meta, indent=2, default=str) + "\n"))
    if df.attrs.get("interrupted"):  # its rows so far are written; stop the whole run
        raise KeyboardInterrupt
    return written


class ResultsError(ValueError):
    """A result file on disk that cannot be read back: empty, corrupt or of the wrong form."""

    def __init__(self, name: str, path: Path, reason: str) -> None:
        reason = " ".join(reason.split())  # pandas and json messages may span lines
        if len(reason) > 200:
            reason = reason[:200] + "..."
        super().__init__(f"{path} is not a valid results file ({reason}); rerun "
                         f"`admodes run {name}`")
        self.name, self.path = name, path


# the keys of meta.json the report reads, with the JSON type each must have
_META_TYPES: dict[str, tuple[type, ...]] = {
    "environment": (dict,), "config": (dict,), "preset": (str,), "seconds": (int, float)}
_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number",
               float: "a number", bool: "a boolean", type(None): "null"}


def _read_meta(name: str, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise ResultsError(name, path, f"not JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ResultsError(name, path, f"{_JSON_NAMES.get(type(meta), 'a value')} where a "
                           "JSON object is expected")
    for key, types in _META_TYPES.items():
        if key in meta and (not isinstance(meta[key], types) or isinstance(meta[key], bool)):
            raise ResultsError(name, path, f"{key!r} is {_JSON_NAMES.get(type(meta[key]))}, "
                               f"expected {_JSON_NAMES[types[0]]}")
    return meta


def load_results(name: str, out_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The results table and meta data an earlier run wrote for ``name``. A missing
    results.csv raises FileNotFoundError; an empty or corrupt one, or a meta.json that is
    not a JSON object of the expected form, raises ResultsError (a ValueError)."""
    target = out_dir / name
    csv, meta_path = target / "results.csv", target / "meta.json"
    if not csv.exists():
        raise FileNotFoundError(f"{csv} does not exist: run `admodes run {name}` first")
    try:
        df = pd.read_csv(csv)
    except ValueError as exc:  # pandas' EmptyDataError and ParserError, UnicodeDecodeError
        raise ResultsError(name, csv, str(exc) or type(exc).__name__) from None
    if df.empty:
        raise ResultsError(name, csv, "it has no rows")
    meta = _read_meta(name, meta_path) if meta_path.exists() else {}
    df.attrs["config"] = meta.get("config", {})
    df.attrs["environment"] = meta.get("environment", {})
    return df, meta
