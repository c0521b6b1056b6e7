"""``jacobian``: the Jacobian by whichever mode and strategy should be cheapest.

The rule, from the costs admodes's own scaling experiment measures (reference run,
``reports/reference/scaling/estimates.csv``): one vectorized sweep costs about c * T(f)
per direction, with c the same in both modes within the intervals (dense net: forward
0.63 [0.59, 0.77], reverse 0.59 [0.54, 0.71]; elementwise mix 0.46 against 0.45; deep chain
0.147 against 0.148). So a Jacobian's cost follows the number of directions: n input
elements in forward mode, m output elements in reverse mode, plus one recording for
reverse. Reverse mode is chosen when m <= n (the looped sweeps' measured crossover m*/n
is 1.22 [1.08, 1.46] on the dense net and 1.50 and 1.64 on the other two families, so
ties go to reverse); forward mode otherwise. ADOL-C's driver switches at m > n / 2 instead.

Memory decides the strategy: a vectorized sweep of k directions holds k tangents (or
cotangents) of the intermediates alive at once; the sizes come from one recording of f
at the first call for each input signature (shapes and dtypes), which is kept. When all
k directions would exceed ``memory_limit``, the directions go in chunks that fit
(a chunk of one is the textbook loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .api import _argnums, _check_chunk_size, _partial_args, jacfwd, jacrev, record
from .core import peek

DEFAULT_MEMORY_LIMIT = 256 * 2**20  # bytes of tangents or cotangents in one sweep
# Live intermediates of one direction, as a multiple of the largest one the tape records:
# the value being computed, its rule's temporary and the operands still needed.
LIVE_FACTOR = 3


@dataclass(frozen=True)
class Choice:
    """What ``jacobian`` decided, and why (``str(choice)`` says it in one sentence)."""

    mode: str  # "forward" or "reverse"
    strategy: str  # "vectorized", "chunked" or "looped"
    chunk_size: int | None
    inputs: int  # n, elements of the differentiated inputs
    outputs: int  # m, elements of the outputs
    bytes_per_direction: int  # estimated, from the recording
    memory_limit: int

    @property
    def directions(self) -> int:
        return self.outputs if self.mode == "reverse" else self.inputs

    @property
    def sweeps(self) -> int:
        k = self.directions
        return 1 if self.strategy == "vectorized" else math.ceil(k / (self.chunk_size or 1))

    def __str__(self) -> str:
        n, m, k = self.inputs, self.outputs, self.directions
        if self.mode == "reverse":
            why = f"m = {m} output{'s' * (m != 1)} <= n = {n} input{'s' * (n != 1)}"
            what = "cotangent"
        else:
            why = f"n = {n} input{'s' * (n != 1)} < m = {m} output{'s' * (m != 1)}"
            what = "tangent"
        batch = _kilobytes(k * self.bytes_per_direction)
        if self.strategy == "vectorized":
            how = f"one vectorized sweep of {k} {what}{'s' * (k != 1)}, about {batch}"
        else:
            size = self.chunk_size or 1
            how = (f"{self.sweeps} sweeps of {size} {what}{'s' * (size != 1)} each "
                   f"({self.strategy}): all {k} at once would take about {batch}, over the "
                   f"{_kilobytes(self.memory_limit)} limit")
        return f"{self.mode}: {why}; {how}"


def _kilobytes(b: float) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{int(b)} B"


def choose(n: int, m: int, bytes_per_direction: int,
           memory_limit: int = DEFAULT_MEMORY_LIMIT) -> Choice:
    """The mode and strategy for an m x n Jacobian (see the module's docstring)."""
    mode = "reverse" if m <= n else "forward"
    k = m if mode == "reverse" else n
    fits = max(1, memory_limit // max(bytes_per_direction, 1))
    if k <= fits:
        return Choice(mode, "vectorized", None, n, m, bytes_per_direction, memory_limit)
    strategy = "looped" if fits == 1 else "chunked"
    return Choice(mode, strategy, int(fits), n, m, bytes_per_direction, memory_limit)


def _nbytes(v: Any) -> int:
    v = peek(v)
    return v.nbytes if isinstance(v, (np.ndarray, np.generic)) else 8


def _signature(leaves: list[Any], args: tuple, nums: tuple[int, ...]) -> tuple:
    rest = tuple(type(a).__name__ if i not in nums else "" for i, a in enumerate(args))
    return tuple((np.shape(x), np.result_type(peek(x)).str) for x in leaves) + rest


def jacobian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
             explain: bool = False, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> Callable:
    """The Jacobian of ``fun``, shaped as ``jacfwd``'s and ``jacrev``'s, by the mode and
    strategy that should be cheapest for its sizes: reverse mode when the outputs have no
    more elements than the differentiated inputs (m <= n), else forward mode; all
    directions in one vectorized sweep unless that would hold more than ``memory_limit``
    bytes of tangents, then in chunks that fit. With ``explain=True`` it returns
    ``(jacobian, choice)``, where ``str(choice)`` says what was chosen and why. The first
    call for each input signature records ``fun`` once to learn the sizes.

    Example:
        >>> import numpy as np, admodes
        >>> jac, why = admodes.jacobian(lambda x: np.sum(x ** 2), explain=True)(np.ones(3))
        >>> jac
        array([2., 2., 2.])
        >>> print(why)
        reverse: m = 1 output <= n = 3 inputs; one vectorized sweep of 1 cotangent, about 72 B
    """
    if not isinstance(memory_limit, int) or isinstance(memory_limit, bool) or memory_limit < 1:
        raise ValueError(f"memory_limit must be a positive number of bytes, got "
                         f"{memory_limit!r}")
    if not isinstance(explain, bool):
        raise TypeError(f"explain must be True or False, got {explain!r}")
    choices: dict[tuple, Choice] = {}

    def jac_fun(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        flat_fun, leaves, _ = _partial_args(fun, args, nums, kwargs)
        key = _signature(leaves, args, nums)
        choice = choices.get(key)
        if choice is None:
            _, outs, _, tape = record(flat_fun, leaves, ("jacobian", fun))
            n = sum(int(np.size(x)) for x in leaves)
            m = sum(int(np.size(peek(o))) for o in outs)
            largest = max([_nbytes(node[3]) for node in tape.nodes] + [8])
            choice = choose(n, m, LIVE_FACTOR * largest, memory_limit)
            choices[key] = choice
        make = jacrev if choice.mode == "reverse" else jacfwd
        _check_chunk_size(choice.chunk_size)
        jac = make(fun, argnums, vectorized=True, chunk_size=choice.chunk_size)(*args, **kwargs)
        return (jac, choice) if explain else jac

    jac_fun.choices = choices  # type: ignore[attr-defined]
    return jac_fun
