"""The experiment harness: an experiment file declares its grid, what to measure in one cell,
what to derive, its figures and its findings; the harness does the rest (timing,
replication, counting, checkpointing, intervals, files). See ``experiment``.
"""

from .experiment import (
    HARNESS_DEFAULTS,
    Context,
    Estimates,
    Experiment,
    Interrupted,
    Meter,
    Outcome,
    Results,
    run,
)
from .figures import FigureSpec
from .stats import Q, crossing, linear_fit, log_slope, median_of

__all__ = [
    "Experiment", "Meter", "Results", "Estimates", "Context", "Outcome", "Interrupted",
    "FigureSpec", "Q", "run", "main", "linear_fit", "log_slope", "crossing", "median_of",
    "HARNESS_DEFAULTS",
]


def main(experiment: Experiment, argv: list[str] | None = None) -> int:
    """``python experiments/NAME.py [--preset P | --quick] [--out DIR] [--seed N]``."""
    from .cli import main as _main

    return _main(experiment, argv)
