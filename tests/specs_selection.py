"""How user code reaches issue 11's elementwise extras, reordering and selection,
reductions' keywords and scipy.special; see ``opspec.py``.

Composites are filed under an op they apply: the reorderings (sort, take, flip, pad, ...)
and the order statistics under ``getitem``, the reductions' keywords under their
reduction, logsumexp and the softmaxes under ``exp``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sc
from opspec import (
    BINARY,
    NONZERO,
    POSITIVE,
    STD,
    UNARY,
    UNIT,
    AwayFromZero,
    Case,
    Distinct,
    Domain,
    Uniform,
    each,
    spec,
)


def _quotient_apart(x: Any, y: Any) -> bool:
    """x / y clear of the integers, where remainder and fmod jump."""
    q = np.asarray(x / y)
    return bool(np.all(np.abs(q - np.round(q)) > 0.03))


KNOTS = np.array([0.0, 0.5, 1.2, 2.0])
FP = np.array([1.0, -0.5, 0.25, 2.0])


def _knots_apart(x: Any, *rest: Any) -> bool:
    return bool(np.all(np.abs(np.asarray(x)[..., None] - KNOTS) > 0.05))


DOMAINS: dict[str, tuple[Domain, ...]] = {
    "arctan2": (NONZERO, STD),  # the branch cut: y = 0, x < 0
    "arccosh": (Uniform(1.2, 3.0),),
    "arctanh": (UNIT,),
    "cbrt": (NONZERO,),
    "fabs": (AwayFromZero(0.2, 1.5),),
    "copysign": (AwayFromZero(0.2, 1.5), NONZERO),
    "remainder": (STD, NONZERO),
    "fmod": (STD, NONZERO),
    "floor_divide": (STD, NONZERO),
    "logit": (Uniform(0.1, 0.9),),
    "gammaln": (POSITIVE,),
    "digamma": (POSITIVE,),
    "xlogy": (STD, POSITIVE),
    "xlog1py": (STD, Uniform(-0.5, 2.0)),
    "entr": (POSITIVE,),
}
APART: dict[str, Callable[..., bool]] = {"remainder": _quotient_apart, "fmod": _quotient_apart}

ROW_MASK = np.array([True, False, False, True])
FIRST = np.array([True, False, False, False])
MASK_3x4 = np.arange(12).reshape(3, 4) % 3 != 1
B_POS = np.array([0.5, 2.0, 1.0, 0.25])
B_SIGNED = np.array([2.0, -0.1, 1.5, -0.2])


def _with_nans(x: Any) -> Any:
    return np.where(ROW_MASK, np.nan, x)


def _select(x: Any) -> Any:
    first = np.indices(np.shape(x)).sum(axis=0) % 3 == 0
    second = np.indices(np.shape(x)).sum(axis=0) % 3 == 1
    return np.select([first, second], [x, 2.0 * x], 0.5)


def _gathers() -> list[Case]:
    distinct = Distinct()
    return [
        spec("np.sort(x)", lambda x: np.sort(x), each((5,), (2, 3)), distinct),
        spec("np.sort(x, axis=0, kind='stable')", lambda x: np.sort(x, axis=0, kind="stable"),
             each((3, 2), (3,)), distinct),
        spec("np.sort(x, axis=None)", lambda x: np.sort(x, axis=None), each((2, 3)), distinct),
        spec("np.median(x)", lambda x: np.median(x), each((5,), (4,), (2, 3)), distinct),
        spec("np.median(x, axis=-1, keepdims=True)",
             lambda x: np.median(x, axis=-1, keepdims=True), each((2, 4), (3, 3)), distinct),
        spec("np.median(x, axis=(0, 2))", lambda x: np.median(x, axis=(0, 2)),
             each((2, 3, 2)), distinct),
        spec("np.quantile(x, 0.3)", lambda x: np.quantile(x, 0.3), each((5,), (2, 3)),
             distinct),
        spec("np.quantile(x, [0.0, 0.25, 0.9, 1.0], axis=0)",
             lambda x: np.quantile(x, [0.0, 0.25, 0.9, 1.0], axis=0), each((4, 2), (3,)),
             distinct),
        spec("np.percentile(x, 70, axis=1, keepdims=True)",
             lambda x: np.percentile(x, 70, axis=1, keepdims=True), each((2, 3)), distinct),
        spec("np.take(x, [0, 2, 2, -1])", lambda x: np.take(x, [0, 2, 2, -1]),
             each((4,), (2, 3))),
        spec("np.take(x, [[0, 5], [-7, 1]], axis=1, mode='wrap')",
             lambda x: np.take(x, [[0, 5], [-7, 1]], axis=1, mode="wrap"), each((2, 3))),
        spec("np.take(x, [-1, 1, 9], mode='clip')", lambda x: np.take(x, [-1, 1, 9], mode="clip"),
             each((4,))),
        spec("np.take_along_axis(x, idx, axis=1)",
             lambda x: np.take_along_axis(x, np.array([[2, 0], [1, 1]]), axis=1), each((2, 3))),
        spec("np.flip(x)", lambda x: np.flip(x), each((3,), (2, 3))),
        spec("np.flip(x, axis=(0, -1))", lambda x: np.flip(x, axis=(0, -1)), each((2, 2, 3))),
        spec("np.fliplr(x)", lambda x: np.fliplr(x), each((2, 3))),
        spec("np.flipud(x)", lambda x: np.flipud(x), each((3,), (3, 2))),
        spec("np.rot90(x)", lambda x: np.rot90(x), each((2, 3))),
        spec("np.rot90(x, -3, axes=(1, 2))", lambda x: np.rot90(x, -3, axes=(1, 2)),
             each((2, 2, 3))),
        spec("np.roll(x, 2)", lambda x: np.roll(x, 2), each((5,), (2, 3))),
        spec("np.roll(x, (1, -1), axis=(0, 1))", lambda x: np.roll(x, (1, -1), axis=(0, 1)),
             each((2, 3))),
        spec("np.pad(x, ((1, 0), (2, 1)))", lambda x: np.pad(x, ((1, 0), (2, 1))),
             each((2, 3))),
        spec("np.pad(x, 2, constant_values=0.5)",
             lambda x: np.pad(x, 2, constant_values=0.5), each((3,), (2, 1))),
        spec("np.pad(x, (1, 2), mode='edge')", lambda x: np.pad(x, (1, 2), mode="edge"),
             each((3,), (2, 2))),
        spec("np.pad(x, 2, mode='reflect')", lambda x: np.pad(x, 2, mode="reflect"),
             each((3,), (3, 4))),
        spec("np.pad(x, (3, 1), mode='symmetric')",
             lambda x: np.pad(x, (3, 1), mode="symmetric"), each((2,), (2, 3))),
        spec("np.pad(x, ((0, 1), (2, 2)), mode='wrap')",
             lambda x: np.pad(x, ((0, 1), (2, 2)), mode="wrap"), each((2, 3))),
        spec("np.delete(x, [0, 2])", lambda x: np.delete(x, [0, 2]), each((4,), (3, 2))),
        spec("np.delete(x, 1, axis=1)", lambda x: np.delete(x, 1, axis=1), each((2, 3))),
        spec("np.insert(x, 1, y)", lambda x, y: np.insert(x, 1, y), [((3,), ()), ((3,), (2,))]),
        spec("np.insert(x, [0, 2], 0.5, axis=1)", lambda x: np.insert(x, [0, 2], 0.5, axis=1),
             each((2, 3))),
        spec("np.diff(x)", lambda x: np.diff(x), each((4,), (2, 3))),
        spec("np.diff(x, n=2, axis=0)", lambda x: np.diff(x, n=2, axis=0), each((4, 2))),
        spec("np.diff(x, prepend=0.5, append=y)",
             lambda x, y: np.diff(x, prepend=0.5, append=y), [((3,), (1,)), ((2, 3), (2, 2))]),
        spec("np.interp(x, xp, fp)", lambda x: np.interp(x, KNOTS, FP),
             each((), (5,), (2, 3)), Uniform(-0.5, 2.5), apart=_knots_apart),
        spec("np.interp(0.8, xp, fp)", lambda fp: np.interp([0.8, 0.5, 2.0, -1.0], KNOTS, fp),
             each((4,))),
        spec("np.interp(x, xp, fp, left=0.0, right=y)",
             lambda x, fp: np.interp(x, KNOTS, fp, left=0.0), [((5,), (4,)), ((), (4,))],
             Uniform(-0.5, 2.5), STD, apart=_knots_apart),
    ]


SPECS: dict[str, list[Case]] = {
    "sinc": [
        spec("np.sinc(x)", lambda x: np.sinc(x), UNARY, elementwise=True),
        spec("np.sinc(x) near 0", lambda x: np.sinc(x), each((), (3,)), Uniform(-0.05, 0.05)),
    ],
    "remainder": [
        spec("x % 1.5", lambda x: x % 1.5, UNARY, apart=lambda x: _quotient_apart(x, 1.5)),
        spec("2.5 % x", lambda x: 2.5 % x, UNARY, NONZERO,
             apart=lambda x: _quotient_apart(2.5, x)),
        spec("np.mod(x, y)", lambda x, y: np.mod(x, y), BINARY, STD, NONZERO,
             apart=_quotient_apart),
        spec("divmod(x, y)[1]", lambda x, y: divmod(x, y)[1], BINARY[:4], STD, NONZERO,
             apart=_quotient_apart),
        spec("np.divmod(x, y)[1]", lambda x, y: np.divmod(x, y)[1], BINARY[:3], STD, NONZERO,
             apart=_quotient_apart),
    ],
    "floor_divide": [spec("x // y", lambda x, y: x // y, BINARY[:3], STD, NONZERO)],
    "multiply": [
        spec("np.deg2rad(x)", lambda x: np.deg2rad(x), UNARY),
        spec("np.radians(x)", lambda x: np.radians(x), UNARY),
        spec("np.rad2deg(x)", lambda x: np.rad2deg(x), UNARY),
        spec("np.degrees(x)", lambda x: np.degrees(x), UNARY),
    ],
    # np.add and np.multiply .accumulate are np.cumsum and np.cumprod
    "cumprod": [
        spec("np.multiply.accumulate(x)", lambda x: np.multiply.accumulate(x),
             each((5,), (3, 2))),
    ],
    "power": [
        spec("np.float_power(x, y)", lambda x, y: np.float_power(x, y), BINARY, POSITIVE,
             Uniform(-2.0, 2.0), elementwise=True),
        spec("np.float_power(x, 3)", lambda x: np.float_power(x, 3), UNARY),
    ],
    "where": [
        spec("np.nan_to_num(x with NaNs, nan=0.25)",
             lambda x: np.nan_to_num(_with_nans(x), nan=0.25), each((4,), (3, 4))),
        spec("np.nan_to_num(x with infs, posinf=2.0)",
             lambda x: np.nan_to_num(np.where(ROW_MASK, np.inf, x), posinf=2.0),
             each((4,), (2, 4))),
        spec("np.select([c1, c2], [x, 2 x], 0.5)", _select, each((4,), (2, 3))),
        spec("np.pad(x, 1) (constant)", lambda x: np.pad(x, 1), each((2,), (2, 2))),
    ],
    "getitem": _gathers(),
    "cumsum": [
        spec("np.add.accumulate(x)", lambda x: np.add.accumulate(x), each((5,), (3, 2))),
        spec("np.add.accumulate(x, axis=1)", lambda x: np.add.accumulate(x, axis=1),
             each((2, 4))),
    ],
    "maximum": [spec("np.maximum.accumulate(x)", lambda x: np.maximum.accumulate(x),
                     each((5,), (3, 2)), Distinct())],
    "sum": [
        spec("np.sum(x, where=row_mask)", lambda x: np.sum(x, where=ROW_MASK),
             each((4,), (3, 4))),
        spec("np.sum(x, axis=0, where=mask, initial=1.5)",
             lambda x: np.sum(x, axis=0, where=MASK_3x4, initial=1.5), each((3, 4))),
        spec("x.sum(where=row_mask, keepdims=True)",
             lambda x: x.sum(where=ROW_MASK, keepdims=True), each((2, 4))),
        spec("np.sum(x, dtype=np.float32)", lambda x: np.sum(x, dtype=np.float32),
             each((3,)), single=True),
        spec("np.add.reduce(x)", lambda x: np.add.reduce(x), each((3,), (2, 3))),
        spec("np.add.reduce(x, axis=None, keepdims=True)",
             lambda x: np.add.reduce(x, axis=None, keepdims=True), each((2, 3))),
        spec("np.nansum(x with NaNs, axis=-1)", lambda x: np.nansum(_with_nans(x), axis=-1),
             each((4,), (3, 4))),
        spec("np.nanmean(x with NaNs, axis=-1)", lambda x: np.nanmean(_with_nans(x), axis=-1),
             each((4,), (3, 4))),
        spec("np.nanvar(x with NaNs, axis=-1)", lambda x: np.nanvar(_with_nans(x), axis=-1),
             each((4,), (3, 4))),
        # one NaN in four: the std of two numbers would be linear, its Hessian rounding
        spec("np.nanstd(x with a NaN, ddof=1)",
             lambda x: np.nanstd(np.where(FIRST, np.nan, x), ddof=1), each((4,), (2, 4))),
        spec("np.mean(x, where=row_mask)", lambda x: np.mean(x, where=ROW_MASK),
             each((4,), (3, 4))),
    ],
    "mean": [
        spec("np.mean(x, axis=0, dtype=np.float32)",
             lambda x: np.mean(x, axis=0, dtype=np.float32), each((3, 2)), single=True),
    ],
    "prod": [
        spec("np.prod(x, where=row_mask, initial=2.0)",
             lambda x: np.prod(x, where=ROW_MASK, initial=2.0), each((4,), (3, 4))),
        spec("np.multiply.reduce(x, axis=-1)", lambda x: np.multiply.reduce(x, axis=-1),
             each((3,), (2, 3))),
        spec("np.nanprod(x with NaNs)", lambda x: np.nanprod(_with_nans(x)),
             each((4,), (2, 4))),
    ],
    "max": [
        spec("np.max(x, where=row_mask, initial=0.11)",
             lambda x: np.max(x, where=ROW_MASK, initial=0.11), each((4,), (3, 4)), Distinct()),
        spec("np.max(x, axis=1, initial=0.11)", lambda x: np.max(x, axis=1, initial=0.11),
             each((2, 3)), Distinct()),
        spec("np.maximum.reduce(x)", lambda x: np.maximum.reduce(x), each((3,), (3, 2)),
             Distinct()),
        spec("np.nanmax(x with NaNs, axis=-1)", lambda x: np.nanmax(_with_nans(x), axis=-1),
             each((4,), (3, 4)), Distinct()),
        spec("np.ptp(x, axis=0)", lambda x: np.ptp(x, axis=0), each((3,), (3, 2)), Distinct()),
    ],
    "min": [
        spec("np.min(x, where=mask, initial=0.11, axis=0)",
             lambda x: np.min(x, where=MASK_3x4, initial=0.11, axis=0), each((3, 4)),
             Distinct()),
        spec("np.minimum.reduce(x, axis=-1)", lambda x: np.minimum.reduce(x, axis=-1),
             each((3,), (3, 2)), Distinct()),
        spec("np.nanmin(x with NaNs)", lambda x: np.nanmin(_with_nans(x)), each((4,), (2, 4)),
             Distinct()),
    ],
    "exp": [
        spec("scipy.special.logsumexp(x)", lambda x: sc.logsumexp(x), each((), (4,), (2, 3))),
        spec("scipy.special.logsumexp(x, axis=-1, keepdims=True)",
             lambda x: sc.logsumexp(x, axis=-1, keepdims=True), each((2, 3))),
        spec("scipy.special.logsumexp(x, b=b)", lambda x: sc.logsumexp(x, b=B_POS),
             each((4,), (2, 4))),
        spec("scipy.special.logsumexp(x, b=signed, return_sign=True)[0]",
             lambda x: sc.logsumexp(x, b=B_SIGNED, return_sign=True)[0], each((4,))),
        spec("scipy.special.softmax(x, axis=-1)", lambda x: sc.softmax(x, axis=-1),
             each((4,), (2, 3))),
        spec("scipy.special.softmax(x)", lambda x: sc.softmax(x), each((2, 2))),
        spec("scipy.special.log_softmax(x, axis=0)", lambda x: sc.log_softmax(x, axis=0),
             each((3,), (3, 2))),
    ],
    "polygamma": [
        spec("scipy.special.polygamma(1, x)", lambda x: sc.polygamma(1, x), UNARY, POSITIVE),
        spec("scipy.special.polygamma(3, x)", lambda x: sc.polygamma(3, x), each((2,)),
             POSITIVE),
    ],
}
