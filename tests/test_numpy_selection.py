"""Issue 11's handlers beyond their derivatives (those are checked per op in test_ops.py):
numpy's values, dtypes and shapes, keywords, refusals, errors, kinks and ties, empty
inputs, and scipy.special through its normal names."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special as sc

import admodes
from admodes import grad, jacfwd, jacrev, jvp


def primal(f, *xs):
    """f's value under tracing (forward mode), for comparison with numpy's."""
    out, _ = jvp(f, tuple(xs), tuple(np.ones_like(x) for x in xs))
    return out


def same(got, want):
    """Equal values (NaN equal to NaN), shape and dtype. float32 sums and products may
    round differently from numpy's own loops (another order of the same terms)."""
    assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
    assert np.result_type(got) == np.result_type(want), (np.result_type(got),
                                                        np.result_type(want))
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=2e-6 if np.result_type(want) == np.float32 else 1e-12,
                               atol=1e-7 if np.result_type(want) == np.float32 else 1e-15,
                               equal_nan=True)


def jac(f, x):
    j1, j2 = jacfwd(f)(x), jacrev(f)(x)
    np.testing.assert_allclose(j1, j2, rtol=1e-12, atol=1e-15)
    return j1


X = np.array([0.3, -1.2, 2.5, 0.7, -0.4])
M = np.arange(12.0).reshape(3, 4) * 0.37 - 1.9


# -- elementwise extras -----------------------------------------------------------------


@pytest.mark.parametrize("f", [
    np.arctan2, np.hypot, np.copysign, np.logaddexp2, np.fmax, np.fmin, np.remainder,
    np.fmod, np.float_power, np.heaviside, np.floor_divide,
])
def test_binary_values_and_dtypes(f):
    x = np.array([0.5, -1.5, 2.0, 3.0], np.float32)
    y = np.array([1.25, 0.75, -2.5, 0.5], np.float32)
    with np.errstate(all="ignore"):
        same(primal(lambda a, b: f(a, b), x, y), f(x, y))
        same(primal(lambda a: f(a, 0.75), x), f(x, 0.75))


@pytest.mark.parametrize("f", [
    np.arcsinh, np.cbrt, np.fabs, np.sinc, np.deg2rad, np.rad2deg, np.radians, np.degrees,
    np.conj, np.conjugate, np.real, np.imag, lambda x: np.arccosh(1 + np.abs(x)),
    lambda x: np.arctanh(0.3 * x), sc.expit, sc.erf, sc.erfc, lambda x: sc.gammaln(1 + x * x),
    lambda x: sc.digamma(1 + x * x), lambda x: sc.logit(sc.expit(x)), sc.entr,
])
def test_unary_values_and_dtypes(f):
    for x in (X, X.astype(np.float32)):
        with np.errstate(all="ignore"):
            same(primal(f, x), f(x))


def test_fmax_fmin_ignore_nans():
    x = np.array([np.nan, 1.0, np.nan, 2.0])
    y = np.array([3.0, np.nan, np.nan, 1.0])
    for f in (np.fmax, np.fmin):
        same(primal(f, x, y), f(x, y))
        gx, gy = grad(lambda a, b, f=f: np.sum(np.where(np.isnan(f(a, b)), 0.0, f(a, b))),
                     argnums=(0, 1))(x, y)
        # the derivative follows the number chosen, never the NaN
        np.testing.assert_array_equal(gx, [0, 1, 0, 1 if f is np.fmax else 0])
        np.testing.assert_array_equal(gy, [1, 0, 0, 0 if f is np.fmax else 1])


def test_singular_points_give_zero_for_a_zero_tangent():
    for f, at in ((np.cbrt, 0.0), (np.arccosh, 1.0), (np.arctanh, 1.0), (np.arctanh, -1.0),
                  (sc.logit, 0.0), (sc.entr, 0.0)):
        x = np.array([at, at])
        with np.errstate(all="ignore"):
            _, t = jvp(f, (x,), (np.array([0.0, 1.0]),))
        assert t[0] == 0.0 and np.isinf(t[1]), (f, t)


def test_sinc_derivatives_at_zero():
    assert jacfwd(np.sinc)(0.0) == 0.0
    assert jacrev(jacfwd(np.sinc))(0.0) == pytest.approx(-math.pi ** 2 / 3, rel=1e-12)
    assert jacfwd(jacrev(jacfwd(np.sinc)))(0.0) == pytest.approx(0.0, abs=1e-12)
    assert jacfwd(np.sinc)(0.05) == pytest.approx(
        (math.cos(math.pi * 0.05) - np.sinc(0.05)) / 0.05, rel=1e-12)


def test_heaviside_has_zero_derivative():
    g = grad(lambda x: np.sum(np.heaviside(x, 0.5) * 2.0 + x))(X)
    np.testing.assert_array_equal(g, np.ones_like(X))


def test_copysign_derivative():
    g = grad(lambda x: np.sum(np.copysign(x, np.array([1.0, -1.0, -0.0, 2.0, 1.0]))))(X)
    np.testing.assert_array_equal(g, np.sign(X) * [1, -1, -1, 1, 1])


def test_remainder_operators():
    x, y = np.array([2.5, -1.25, 3.5]), np.array([1.5, 0.5, -2.0])
    same(primal(lambda a, b: a % b, x, y), x % y)
    same(primal(lambda a: 7.0 % a, y), 7.0 % y)
    assert not isinstance(jvp(lambda a: (a // 1.5, a)[1], (x,), (x,))[0], float)
    gx, gy = grad(lambda a, b: np.sum(a % b), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [1, 1, 1])
    np.testing.assert_array_equal(gy, -np.floor_divide(x, y))
    gy = grad(lambda b: np.sum(np.fmod(x, b)))(y)
    np.testing.assert_array_equal(gy, -np.trunc(x / y))
    q, r = jvp(lambda a: divmod(a, 1.5), (x,), (np.ones(3),))[0]
    same(q, x // 1.5)
    same(r, x % 1.5)
    same(primal(lambda a: divmod(4.0, a)[1], y), divmod(4.0, y)[1])
    same(primal(lambda a: 4.0 // a, y), 4.0 // y)


def test_nan_to_num():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0], np.float32)
    for kw in ({}, {"nan": 0.5, "posinf": 9.0, "neginf": -9.0}):
        same(primal(lambda a, kw=kw: np.nan_to_num(a, **kw), x), np.nan_to_num(x, **kw))
    g = grad(lambda a: np.sum(np.nan_to_num(a, posinf=1.0)))(x)
    np.testing.assert_array_equal(g, [1, 0, 0, 0, 1])
    with pytest.raises(TypeError, match="copy=False"):
        grad(lambda a: np.sum(np.nan_to_num(a, copy=False)))(x)


def test_float_power_is_float64():
    x = np.array([0.5, 2.0], np.float32)
    same(primal(lambda a: np.float_power(a, 2), x), np.float_power(x, 2))
    assert grad(lambda a: np.sum(np.float_power(a, 2.0)))(x).dtype == np.float32


def test_clip_keywords():
    x = M.ravel()
    same(primal(lambda a: np.clip(a, min=-0.5), x), np.clip(x, min=-0.5))
    same(primal(lambda a: a.clip(max=0.5), x), x.clip(max=0.5))
    same(primal(lambda a: np.clip(a, -0.5, 0.5), x), np.clip(x, -0.5, 0.5))
    with pytest.raises(ValueError):
        primal(lambda a: np.clip(a, -0.5, 0.5, min=0.1), x)


def test_ufunc_call_keywords():
    x = X.astype(np.float32)
    same(primal(lambda a: np.add(a, 1.0, dtype=np.float64), x), np.add(x, 1.0, dtype=np.float64))
    with pytest.raises(TypeError, match="where="):
        primal(lambda a: np.sin(a, where=a > 0), X)


# -- sort and order statistics ------------------------------------------------------------


def test_sort_values_and_ties():
    same(primal(np.sort, M[::-1]), np.sort(M[::-1]))
    same(primal(lambda a: np.sort(a, axis=0, kind="mergesort"), M[::-1]),
         np.sort(M[::-1], axis=0))
    same(primal(lambda a: np.sort(a, axis=None), M.T), np.sort(M.T, axis=None))
    x = np.array([2.0, 1.0, 2.0, 0.5])
    # tied outputs share the tied inputs' derivatives evenly, as np.max does
    np.testing.assert_array_equal(grad(lambda a: np.sort(a)[-1])(x), [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(grad(lambda a: np.sort(a)[-1])(x),
                                  grad(lambda a: np.max(a))(x))
    np.testing.assert_array_equal(jac(np.sort, x), [[0, 0, 0, 1], [0, 1, 0, 0],
                                                    [0.5, 0, 0.5, 0], [0.5, 0, 0.5, 0]])
    y = np.array([np.nan, 1.0, np.nan, np.inf, np.inf])
    same(primal(np.sort, y), np.sort(y))
    np.testing.assert_array_equal(jac(np.sort, y)[1:3], [[0, 0, 0, 1, 0], [0, 0, 0, 0, 1]])
    # the value of a tie is exact, though the mean of three 0.1s is not 0.1
    z = np.full(3, 0.1)
    assert np.mean(z) != 0.1
    np.testing.assert_array_equal(primal(np.sort, z), z)
    np.testing.assert_array_equal(primal(np.median, np.array([0.1, 0.1, 0.1, 0.3])), 0.1)


def test_sort_refusals_and_errors():
    with pytest.raises(TypeError, match="in place"):
        grad(lambda a: a.sort())(X)
    with pytest.raises(TypeError, match="order="):
        primal(lambda a: np.sort(a, order="f"), X)
    with pytest.raises(ValueError):
        primal(lambda a: np.sort(a, kind="bogus"), X)
    with pytest.raises(np.exceptions.AxisError):
        primal(lambda a: np.sort(a, axis=2), M)
    np.testing.assert_array_equal(jvp(lambda a: (a.argsort(), a)[1], (X,), (X,))[0], X)


def test_median_even_length_and_ties():
    x = np.array([4.0, 1.0, 3.0, 2.0])
    same(primal(np.median, x), np.median(x))
    np.testing.assert_array_equal(grad(np.median)(x), [0, 0, 0.5, 0.5])
    np.testing.assert_array_equal(grad(np.median)(np.array([1.0, 2.0, 2.0, 2.0, 3.0])),
                                  [0, 1 / 3, 1 / 3, 1 / 3, 0])
    for kw in ({"axis": 0}, {"axis": (0, 1), "keepdims": True}, {"axis": -1}):
        same(primal(lambda a, kw=kw: np.median(a, **kw), M), np.median(M, **kw))
    m32 = M.astype(np.float32)
    same(primal(np.median, m32), np.median(m32))
    y = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    same(primal(lambda a: np.median(a, axis=1), y), np.median(y, axis=1))


@pytest.mark.parametrize("q", [0.0, 0.3, 0.5, 1.0, [0.1, 0.75], [[0.2], [0.9]]])
def test_quantile_and_percentile_values(q):
    for a in (M, M.astype(np.float32)):
        for kw in ({}, {"axis": 1}, {"axis": (0, 1), "keepdims": True}):
            same(primal(lambda v, kw=kw: np.quantile(v, q, **kw), a), np.quantile(a, q, **kw))
            p = np.multiply(q, 100)
            same(primal(lambda v, p=p, kw=kw: np.percentile(v, p, **kw), a),
                 np.percentile(a, p, **kw))


def test_quantile_derivative_interpolates():
    x = np.array([4.0, 1.0, 3.0, 2.0])  # sorted 1, 2, 3, 4; q = 0.4 is 0.8 of 2 and 0.2 of 3
    np.testing.assert_allclose(grad(lambda a: np.quantile(a, 0.4))(x), [0, 0, 0.2, 0.8])


def test_quantile_refusals():
    with pytest.raises(TypeError, match="method="):
        primal(lambda a: np.quantile(a, 0.5, method="nearest"), X)
    with pytest.raises(TypeError, match="q must not be traced"):
        jvp(lambda q: np.quantile(X, q), (0.5,), (1.0,))
    with pytest.raises(ValueError):
        primal(lambda a: np.quantile(a, 1.5), X)
    with pytest.raises(TypeError, match="out="):
        primal(lambda a: np.median(a, out=np.zeros(())), X)


def test_ptp():
    same(primal(np.ptp, M), np.ptp(M))
    same(primal(lambda a: np.ptp(a, axis=0, keepdims=True), M), np.ptp(M, axis=0, keepdims=True))


# -- gathers --------------------------------------------------------------------------


@pytest.mark.parametrize("f", [
    lambda a: np.take(a, [0, 5, -1]),
    lambda a: np.take(a, [[0, 5], [-7, 1]], axis=1, mode="wrap"),
    lambda a: np.take(a, [-3, 1, 9], axis=0, mode="clip"),
    lambda a: np.take(a, 2),
    lambda a: np.take_along_axis(a, np.argsort(M, axis=1), axis=1),
    lambda a: np.take_along_axis(a, np.array([3, 0]), axis=None),
    np.flip, np.fliplr, np.flipud, np.rot90,
    lambda a: np.flip(a, 1), lambda a: np.rot90(a, 3), lambda a: np.rot90(a, -2, (1, 0)),
    lambda a: np.roll(a, 5), lambda a: np.roll(a, -1, axis=1),
    lambda a: np.roll(a, (2, 1), axis=(1, 0)),
    lambda a: np.pad(a, 1), lambda a: np.pad(a, ((0, 2), (1, 0)), constant_values=(1.5, -2.0)),
    lambda a: np.pad(a, 2, mode="edge"), lambda a: np.pad(a, (1, 3), mode="reflect"),
    lambda a: np.pad(a, 5, mode="reflect"), lambda a: np.pad(a, 4, mode="symmetric"),
    lambda a: np.pad(a, ((1, 1), (0, 6)), mode="wrap"),
    lambda a: np.delete(a, [0, 2], axis=1), lambda a: np.delete(a, 1), lambda a: np.delete(
        a, np.s_[::2], axis=0),
    lambda a: np.insert(a, 1, 7.5, axis=0), lambda a: np.insert(a, [0, 4], [[1.0, 2.0]],
                                                                axis=1),
    lambda a: np.insert(a, 3, a[0, :2]), lambda a: np.append(a, a[:1], axis=0),
    lambda a: np.append(a, 2.0),
])
def test_gathers_match_numpy(f):
    for a in (M, M.astype(np.float32)):
        same(primal(f, a), f(a))
    j = jac(f, M)
    # a gather's Jacobian is a 0/1 matrix (no element counted twice in one output)
    assert set(np.unique(j)) <= {0.0, 1.0}


def test_gather_errors_are_numpys():
    with pytest.raises(IndexError):
        primal(lambda a: np.take(a, [7]), X)
    with pytest.raises(ValueError):
        primal(lambda a: np.fliplr(a), X)
    with pytest.raises(TypeError, match="out="):
        primal(lambda a: np.take(a, [1], out=np.zeros(1)), X)
    # numpy dispatches np.take on the array only: traced indices meet the tracer's refusal
    with pytest.raises(TypeError, match="traced value cannot become"):
        jvp(lambda a: np.take(X, a), (np.array([1.0]),), (np.array([1.0]),))
    with pytest.raises(TypeError, match="mode='mean'"):
        primal(lambda a: np.pad(a, 1, mode="mean"), X)
    with pytest.raises(TypeError, match="reflect_type"):
        primal(lambda a: np.pad(a, 1, mode="reflect", reflect_type="odd"), X)
    with pytest.raises(ValueError):
        primal(lambda a: np.pad(a, -1), X)


def test_insert_casts_values_to_the_array_dtype():
    a = X.astype(np.float32)
    same(primal(lambda v: np.insert(v, 1, np.float64(0.1)), a), np.insert(a, 1, np.float64(0.1)))
    g = grad(lambda v: np.sum(np.insert(a, [1, 2], v)))(np.array([0.5, 0.25]))
    np.testing.assert_array_equal(g, [1, 1])


def test_diff():
    for kw in ({}, {"n": 2}, {"axis": 0}, {"n": 0}, {"prepend": 0.5}, {"append": [[1.0], [2.0],
                                                                                   [3.0]]}):
        for a in (M, M.astype(np.float32)):
            same(primal(lambda v, kw=kw: np.diff(v, **kw), a), np.diff(a, **kw))
    with pytest.raises(ValueError, match="non-negative"):
        primal(lambda v: np.diff(v, n=-1), X)
    with pytest.raises(ValueError, match="at least one dimensional"):
        primal(lambda v: np.diff(v), 1.5)


def test_select():
    conds = [M > 1, M < -1]
    for default in (0, 0.5, np.float64(2.0)):
        for a in (M, M.astype(np.float32)):
            same(primal(lambda v, default=default: np.select(conds, [v, 2 * v], default), a),
                 np.select(conds, [a, 2 * a], default))
    g = grad(lambda v: np.sum(np.select(conds, [v, 2 * v], 0.5)))(M)
    np.testing.assert_array_equal(g, np.select(conds, [1.0, 2.0], 0.0))
    with pytest.raises(ValueError):
        primal(lambda v: np.select(conds, [v]), M)
    with pytest.raises(TypeError):
        primal(lambda v: np.select([M], [v]), M)


def test_select_broadcasts():
    x = np.array([0.5, -1.0, 2.0, 0.25])
    conds = [np.array([[True], [False]]), x > 0]
    f = lambda v: np.select(conds, [v, 3.0], default=np.ones((2, 1)))  # noqa: E731
    same(primal(f, x), f(x))
    np.testing.assert_array_equal(jac(f, x), [np.eye(4), np.zeros((4, 4))])


def test_where_with_one_argument_answers_on_the_values():
    def f(v):
        idx = np.where(v > 0)
        assert all(isinstance(i, np.ndarray) for i in idx)
        return v[idx]

    same(primal(f, M), M[np.where(M > 0)])
    # a traced condition: its nonzero elements' positions, numpy's plain index arrays
    seen = []
    jvp(lambda v: seen.append(np.where(v)) or v, (M - M[0, 0],), (M,))
    for got, want in zip(seen[0], np.where(M - M[0, 0])):
        np.testing.assert_array_equal(got, want)


def test_interp():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([1.0, 3.0, 2.0])
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    for a in (x, x.astype(np.float32)):
        same(primal(lambda v: np.interp(v, xp, fp), a), np.interp(a, xp, fp))
        same(primal(lambda v: np.interp(v, xp, fp, left=-5.0, right=5.0), a),
             np.interp(a, xp, fp, left=-5.0, right=5.0))
    # slope of the segment to the right of a knot; the last knot: the last segment; 0 outside
    np.testing.assert_array_equal(np.diag(jac(lambda v: np.interp(v, xp, fp), x)),
                                  [0, 2, 2, -0.5, -0.5, -0.5, 0])
    j = jac(lambda f: np.interp(x, xp, f), fp)
    np.testing.assert_allclose(j, [[1, 0, 0], [1, 0, 0], [0.5, 0.5, 0], [0, 1, 0],
                                   [0, 0.5, 0.5], [0, 0, 1], [0, 0, 1]])
    same(primal(lambda f: np.interp(0.5, xp, f), fp), np.interp(0.5, xp, fp))
    with pytest.raises(TypeError, match="xp must not be traced"):
        jvp(lambda k: np.interp(0.5, k, fp), (xp,), (xp,))
    with pytest.raises(TypeError, match="period="):
        primal(lambda v: np.interp(v, xp, fp, period=2.0), x)
    with pytest.raises(ValueError):
        primal(lambda v: np.interp(v, [], []), x)


# -- reductions' keywords ------------------------------------------------------------------

MASK = np.array([True, False, True, True])


@pytest.mark.parametrize("f", [
    lambda a: np.sum(a, where=MASK), lambda a: np.sum(a, axis=0, where=M > 0, initial=2),
    lambda a: np.prod(a, where=MASK, initial=np.float64(0.5)),
    lambda a: np.max(a, where=MASK, initial=-1.0), lambda a: np.min(a, axis=1, initial=0.0),
    lambda a: np.max(a, axis=0, where=M > 100, initial=-3.0),
    lambda a: np.mean(a, where=MASK), lambda a: np.mean(a, axis=1, where=M > 0),
    lambda a: np.sum(a, dtype=np.float32), lambda a: np.mean(a, dtype=np.float64),
    lambda a: a.sum(axis=1, where=MASK), lambda a: a.max(where=MASK, initial=0.0),
    lambda a: np.add.reduce(a), lambda a: np.add.reduce(a, axis=None, keepdims=True),
    lambda a: np.multiply.reduce(a, 1), lambda a: np.maximum.reduce(a, axis=1),
    lambda a: np.minimum.reduce(a, initial=-7.0), lambda a: np.add.reduce(a, where=MASK),
    lambda a: np.add.accumulate(a), lambda a: np.add.accumulate(a, axis=1),
    lambda a: np.multiply.accumulate(a, 1), lambda a: np.maximum.accumulate(a, axis=-1),
    lambda a: np.nansum(a), lambda a: np.nanprod(a, axis=0), lambda a: np.nanmax(a, axis=1),
    lambda a: np.nanmin(a, keepdims=True), lambda a: np.nanmean(a, axis=0),
    lambda a: np.nanvar(a, axis=1, ddof=1), lambda a: np.nanstd(a),
    lambda a: np.nanmax(a, initial=9.0), lambda a: np.nansum(a, where=MASK),
])
def test_reduction_keywords_match_numpy(f):
    with_nans = np.where(np.arange(12).reshape(3, 4) % 5 == 2, np.nan, M)
    for a in (M, M.astype(np.float32), with_nans):
        if a is with_nans and "nan" not in f.__code__.co_names:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy's, for an empty slice
            same(primal(f, a), f(a))
            jac(f, M)


def test_nan_reductions_ignore_nans():
    x = np.array([1.0, np.nan, 3.0, np.nan])
    np.testing.assert_array_equal(grad(np.nansum)(x), [1, 0, 1, 0])
    np.testing.assert_array_equal(grad(np.nanmean)(x), [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(grad(np.nanmax)(x), [0, 0, 1, 0])
    allnan = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with pytest.warns(RuntimeWarning):
        same(primal(lambda a: np.nanmax(a, axis=1), allnan), np.array([np.nan, 2.0]))
    with pytest.warns(RuntimeWarning):
        same(primal(lambda a: np.nanmean(a, axis=1), allnan), np.array([np.nan, 1.5]))


def test_max_with_where_ties_and_errors():
    x = np.array([1.0, 2.0, 2.0, 5.0])
    # 5.0 is left out; the two 2.0s tie and share the derivative
    np.testing.assert_array_equal(grad(lambda a: np.max(a, where=a < 5, initial=0.0))(x),
                                  [0, 0.5, 0.5, 0])
    # a tie with initial splits evenly too (np.maximum's convention)
    np.testing.assert_array_equal(grad(lambda a: np.max(a, initial=5.0))(x), [0, 0, 0, 0.5])
    with pytest.raises(ValueError, match="initial"):
        primal(lambda a: np.max(a, where=MASK), x)
    with pytest.raises(TypeError, match="initial"):
        primal(lambda a: np.mean(a, initial=1.0), x)
    with pytest.raises(ValueError):
        primal(lambda a: np.sum(a, where=np.ones((2, 4), bool)), x)
    with pytest.raises(TypeError, match="out="):
        primal(lambda a: np.sum(a, out=np.zeros(())), x)
    with pytest.raises(TypeError, match="logaddexp.reduce"):
        primal(lambda a: np.logaddexp.reduce(a), x)
    with pytest.raises(np.exceptions.AxisError):
        primal(lambda a: np.add.reduce(a), 1.5)


# -- zero-size inputs -------------------------------------------------------------------


@pytest.mark.parametrize("f", [
    np.sort, lambda a: np.take(a, np.array([], int)), np.flip, lambda a: np.roll(a, 1),
    lambda a: np.pad(a, 1), lambda a: np.diff(a), np.nansum, lambda a: np.sum(a, initial=1.0),
    lambda a: np.max(a, initial=1.0), lambda a: np.sum(a, where=np.zeros(0, bool)),
    lambda a: np.add.accumulate(a), lambda a: np.delete(a, np.array([], int)),
    lambda a: np.append(a, 1.0), lambda a: sc.logsumexp(a), np.median,
    lambda a: np.nanmax(a, initial=0.0),
])
def test_zero_size(f):
    a = np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        same(primal(f, a), f(a))
        j = jacfwd(f)(a)
        assert np.shape(j) == np.shape(f(a)) + (0,)


def test_quantile_of_nothing_fails_as_in_numpy():
    with pytest.raises(IndexError):
        np.quantile(np.zeros(0), 0.5)
    with pytest.raises(IndexError):
        primal(lambda a: np.quantile(a, 0.5), np.zeros(0))


# -- scipy.special ----------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {}, {"axis": 1}, {"axis": (0, 1), "keepdims": True}, {"axis": 0, "b": np.full(4, 0.5)},
    {"axis": -1, "b": np.array([1.0, -2.0, 0.5, 0.1]), "return_sign": True},
])
def test_logsumexp_matches_scipy(kw):
    for a in (M, M.astype(np.float32), M + 1000.0):
        out = jvp(lambda v: sc.logsumexp(v, **kw), (a,), (np.ones_like(a),))[0]
        want = sc.logsumexp(a, **kw)
        if kw.get("return_sign"):
            same(out[0], want[0])
            same(out[1], want[1])
        else:
            same(out, want)


def test_softmax_matches_scipy_and_is_stable():
    for a in (M, M.astype(np.float32), M * 400.0):
        for axis in (None, 0, -1):
            same(primal(lambda v, axis=axis: sc.softmax(v, axis=axis), a),
                 sc.softmax(a, axis=axis))
            same(primal(lambda v, axis=axis: sc.log_softmax(v, axis=axis), a),
                 sc.log_softmax(a, axis=axis))
    g = grad(lambda v: sc.logsumexp(v))(M * 400.0)
    assert np.all(np.isfinite(g)) and np.sum(g) == pytest.approx(1.0)


def test_scipy_wrappers_keep_scipy_for_plain_values():
    for name in ("logsumexp", "softmax", "log_softmax", "polygamma"):
        wrapper = getattr(sc, name)
        assert wrapper.__admodes_original__ is not wrapper
    np.testing.assert_array_equal(sc.logsumexp(M, axis=0), sc.logsumexp.__admodes_original__(
        M, axis=0))


def test_a_name_bound_before_admodes_refuses_clearly():
    # `from scipy.special import logsumexp` before `import admodes` binds scipy's own
    # function: it refuses a traced value (no silent derivative loss)
    original = sc.logsumexp.__admodes_original__
    with pytest.raises(TypeError, match="traced value .*cannot become a plain numpy array"):
        grad(lambda v: original(v))(X)
    from scipy.special import logsumexp  # bound now: admodes' wrapper
    assert grad(lambda v: logsumexp(v))(X) == pytest.approx(sc.softmax(X), rel=1e-12)


def test_polygamma_and_digamma_orders():
    x = np.array([0.7, 1.5, 3.0])
    for n in (0, 1, 2):
        for a in (x, x.astype(np.float32)):
            same(primal(lambda v, n=n: sc.polygamma(n, v), a), sc.polygamma(n, a))
    # digamma's third derivative is polygamma(3)
    d3 = jacfwd(jacrev(jacfwd(lambda v: sc.digamma(v))))(1.5)
    assert d3 == pytest.approx(float(sc.polygamma(3, 1.5)), rel=1e-12)
    d2 = jacrev(jacrev(lambda v: sc.gammaln(v)))(1.5)
    assert d2 == pytest.approx(float(sc.polygamma(1, 1.5)), rel=1e-12)
    with pytest.raises(TypeError, match="order"):
        primal(lambda v: sc.polygamma(np.array([1, 2, 1]), v), x)


def test_xlogy_at_zero():
    gx, gy = grad(lambda a, b: sc.xlogy(a, b), argnums=(0, 1))(0.0, 2.0)
    assert gx == pytest.approx(math.log(2.0)) and gy == 0.0
    # along x = 0 the function is 0 for every y, and its mixed derivative is 1 / y
    assert jacrev(lambda b: jacfwd(lambda a: sc.xlogy(a, b))(0.0))(2.0) == pytest.approx(0.5)
    same(primal(lambda a: sc.xlog1py(a, 0.5), np.array([0.0, 2.0])),
         sc.xlog1py(np.array([0.0, 2.0]), 0.5))


def test_ops_are_listed():
    for name in ("arctan2", "sinc", "remainder", "expit", "polygamma", "floor_divide"):
        assert name in admodes.OPS
