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
    written.append(write_atomic(target / "meta.json",
                                json.dumps(meta, indent=2, default=str) + "\n"))
    if df.attrs.get("interrupted"):  # its rows so far are written; stop the whole run
        raise KeyboardInterrupt
    return written


def load_results(name: str, out_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The results table and meta data an earlier run wrote for ``name``."""
    target = out_dir / name
    csv, meta_path = target / "results.csv", target / "meta.json"
    if not csv.exists():
        raise FileNotFoundError(f"{csv} does not exist: run `admodes run {name}` first")
    df = pd.read_csv(csv)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    df.attrs["config"] = meta.get("config", {})
    df.attrs["environment"] = meta.get("environment", {})
    return df, meta
