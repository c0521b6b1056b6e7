"""The command line of one experiment file: ``python experiments/NAME.py``."""

from __future__ import annotations

import argparse
import sys

from . import store, text
from .experiment import Experiment, Interrupted, run


def findings_of(experiment: Experiment, folder) -> list[str]:
    """The findings of a complete run, rendered from its estimates.csv on disk."""
    import pandas as pd

    from .experiment import Context

    manifest = store.read_manifest(folder) or {}
    table = text.EstimateTable(pd.read_csv(folder / store.ESTIMATES))
    context = Context(table, None, manifest.get("config", {}), manifest)
    return text.findings(experiment.findings, **experiment.template_vars(context))


def main(experiment: Experiment, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python experiments/{experiment.name}.py",
        description=f"{experiment.title}. {experiment.summary}")
    parser.add_argument("--preset", choices=list(experiment.presets), default="full",
                        help="how much to measure (default: full)")
    parser.add_argument("--quick", action="store_true", help="same as --preset quick")
    parser.add_argument("--out", default="reports",
                        help=f"results go to OUT/{experiment.name} (default: reports)")
    parser.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    preset = "quick" if args.quick else args.preset
    try:
        outcome = run(experiment, preset, args.out, seed=args.seed,
                      show_progress=not args.no_progress)
    except Interrupted as stop:
        print(f"{experiment.name}: {stop.outcome.reason}; the rows measured so far are in "
              f"{stop.outcome.folder / store.RESULTS}", file=sys.stderr)
        return 130
    if not outcome.complete:
        print(f"{experiment.name}: {outcome.status}: {outcome.reason}", file=sys.stderr)
        return 1
    for name in outcome.manifest.get("files", []):
        print(f"wrote {outcome.folder / name}")
    for sentence in findings_of(experiment, outcome.folder):
        print(f"- {sentence}")
    return 0
