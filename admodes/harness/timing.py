"""Timing several callables against each other: warm-up, calibration, round-robin samples,
wall and thread CPU time for every sample.

On a shared machine the wall clock also counts time the process waited for a CPU; the
thread's CPU time does not. Both are kept for every sample; a sample whose wall time exceeds
its CPU time by more than ``CONTENDED`` was contended. Variants of one cell are timed in
turn, sample by sample, so a slow phase of the machine hits all of them alike, and their
ratios (what the experiments report) stay fair.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..measure import batch, calls_per_sample

# a sample lasts at least this long, so the clocks' resolution and reading cost (tens of
# nanoseconds) stay below 0.1% of what is measured
MIN_SAMPLE_S = 200e-6
MAX_CALLS_PER_SAMPLE = 100_000
CONTENDED = 1.1  # wall / CPU above this: the sample waited for a CPU


@dataclass(frozen=True)
class Sample:
    """One timed batch of ``calls`` back-to-back calls; times are per call."""

    variant: str
    index: int
    calls: int
    wall_s: float
    cpu_s: float


def time_round_robin(variants: Mapping[str, Callable[[], object]], samples: int, *,
                     warmup: int = 1, min_sample_s: float = MIN_SAMPLE_S) -> list[Sample]:
    """``samples`` samples of each variant, taken in turn (v1, v2, ..., v1, v2, ...).

    Each variant is called ``warmup`` times first, then calibrated (untimed) to a number of
    calls per sample. The garbage collector is off while timing (a young-generation
    collection runs between rounds, untimed) and is restored afterwards, even on an error.

    Example:
        >>> out = time_round_robin({"a": lambda: sum(range(10))}, 3, warmup=0)
        >>> [s.index for s in out], all(s.wall_s > 0 for s in out)
        ([0, 1, 2], True)
    """
    if samples < 1:
        raise ValueError(f"need at least one sample, got {samples}")
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        calls = {name: calls_per_sample(fn, min_sample_s, MAX_CALLS_PER_SAMPLE)
                 for name, fn in variants.items()}
        out = []
        for index in range(samples):
            for name, fn in variants.items():
                wall, cpu = batch(fn, calls[name])
                out.append(Sample(name, index, calls[name], wall / calls[name],
                                  cpu / calls[name]))
            gc.collect(0)
    finally:
        if was_enabled:
            gc.enable()
    return out
