"""Regressions found reviewing issue 11's numpy coverage: each test failed before its fix."""

from __future__ import annotations

import warnings

import numpy as np

import admodes
from admodes import grad, jacfwd, jacrev, jvp, vjp


def test_nanstd_of_a_one_value_slice_has_derivative_zero_in_both_modes():
    # column 1 keeps one value: its nanstd is 0, derivative 0 (as np.std), never nan
    x = np.array([[0.3, np.nan, 1.0], [-0.2, 0.7, 2.5]])

    def f(a):
        return np.nanstd(a, axis=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        J = jacrev(f)(x)
        np.testing.assert_allclose(J, jacfwd(f)(x))
        assert np.all(np.isfinite(J))
        np.testing.assert_array_equal(J[1], 0.0)
        _, pullback = vjp(f, x)
        (ct,) = pullback(np.ones(3))
        assert np.all(np.isfinite(ct)) and ct[1, 1] == 0.0
        assert grad(lambda a: np.sum(np.nanstd(a, axis=0, keepdims=True)))(x)[1, 1] == 0.0


def test_norms_at_exactly_zero_have_derivative_zero_in_both_modes():
    # forward mode gave 0 (an exactly-zero tangent) but reverse mode inf * 0 = nan
    x = np.array([1.0, -2.0, 3.0])
    norms = [
        lambda a: np.linalg.norm(a * 0),
        lambda a: np.linalg.norm(a * 0, 3),
        lambda a: np.linalg.norm(np.outer(a, a) * 0, "fro", axis=(0, 1)),
        lambda a: np.sum(np.linalg.norm(np.outer(a, a) * 0, axis=0)),
        lambda a: np.linalg.vector_norm(np.outer(a, a) * 0),
    ]
    for f in norms:
        np.testing.assert_array_equal(grad(f)(x), 0.0)
        np.testing.assert_array_equal(jacfwd(f)(x), 0.0)
        np.testing.assert_array_equal(admodes.hessian(f)(x), 0.0)
    np.testing.assert_array_equal(grad(np.linalg.norm)(np.zeros(3)), 0.0)
    np.testing.assert_array_equal(jacrev(np.linalg.norm)(np.zeros((2, 2))), 0.0)
    # away from zero, and in float32, nothing changes
    np.testing.assert_allclose(grad(np.linalg.norm)(x), x / np.sqrt(14))
    out, _ = jvp(np.linalg.norm, (x.astype(np.float32),), (x.astype(np.float32),))
    assert out.dtype == np.float32


def test_plain_numbers_left_in_an_object_array_do_not_make_an_object_result():
    # np.sign of np.array([traced scalars]) holds plain floats; numpy (untraced) has a
    # float64 array there, so the product is float64, not a traced object array
    x = np.array([0.5, -2.0])

    def f(a):
        return np.sign(np.array([a[0], a[1]])) * a

    out, t = jvp(f, (x,), (np.ones(2),))
    assert out.dtype == t.dtype == np.float64 == f(x).dtype
    np.testing.assert_array_equal(out, [0.5, 2.0])
    np.testing.assert_array_equal(t, [1.0, -1.0])
    np.testing.assert_array_equal(jacrev(f)(x), np.diag([1.0, -1.0]))
    out, t = jvp(lambda a: np.array([a[0], a[1]]) // 0.3 + a, (x,), (np.ones(2),))
    assert out.dtype == t.dtype == np.float64
    np.testing.assert_array_equal(t, [1.0, 1.0])


def test_scipy_special_on_a_0d_input_takes_scipys_shapes_and_axes():
    # scipy treats a 0-d input as shape (1,): keepdims gives (1,), axis=0 is valid
    import scipy.special as sc

    x = np.array(0.3)
    cases = [
        lambda a: sc.logsumexp(a, keepdims=True),
        lambda a: sc.logsumexp(a, axis=0),
        lambda a: sc.logsumexp(a, axis=-1, keepdims=True, return_sign=True)[0],
        lambda a: sc.softmax(a, axis=0),
        lambda a: sc.log_softmax(a, axis=-1),
    ]
    for f in cases:
        want = f(x)
        out, t = jvp(f, (x,), (np.array(1.0),))
        assert np.shape(out) == np.shape(want) == np.shape(t)
        np.testing.assert_allclose(out, want)
    np.testing.assert_allclose(grad(lambda a: sc.logsumexp(a, axis=0))(x), 1.0)
    np.testing.assert_allclose(grad(lambda a: sc.log_softmax(a, axis=0))(x), 0.0)


def test_maximum_and_minimum_reduce_take_numpys_dtype_keyword():
    # np.maximum.reduce(a, dtype=...) is valid numpy; it raised an internal TypeError
    a = np.array([[1.0, 3.0], [2.0, 0.0]], dtype=np.float32)
    for f in (lambda a: np.maximum.reduce(a, axis=1, dtype=np.float64),
              lambda a: np.minimum.reduce(a, dtype=np.float32)):
        want = f(a)
        out, t = jvp(f, (a,), (np.ones_like(a),))
        assert out.dtype == t.dtype == want.dtype
        np.testing.assert_array_equal(out, want)
    J = jacrev(lambda a: np.maximum.reduce(a, axis=1, dtype=np.float64))(a)
    np.testing.assert_array_equal(J, [[[0, 1], [0, 0]], [[0, 0], [1, 0]]])


def test_maximum_accumulate_splits_a_tie_evenly_as_np_max():
    # the pairwise rounds split a tie 1/2, 1/4, 1/4; np.max splits it evenly
    x = np.array([1.0, 0.0, 1.0, 1.0, 3.0, 3.0])
    for f in (lambda a: np.maximum.accumulate(a), lambda a: -np.minimum.accumulate(-a)):
        J = jacrev(f)(x)
        np.testing.assert_allclose(jacfwd(f)(x), J)
        np.testing.assert_array_equal(f(x), np.maximum.accumulate(x))
        np.testing.assert_allclose(J[3], [1 / 3, 0, 1 / 3, 1 / 3, 0, 0])
        np.testing.assert_allclose(J[5], [0, 0, 0, 0, 0.5, 0.5])
        np.testing.assert_allclose(J[3], grad(lambda a: np.max(a[:4]))(x))
    y = np.array([[2.0, 1.0], [2.0, 1.0]], dtype=np.float32)
    out, t = jvp(lambda a: np.maximum.accumulate(a, axis=0), (y,), (np.ones_like(y),))
    assert out.dtype == t.dtype == np.float32
    np.testing.assert_array_equal(out, y)


def test_add_and_multiply_accumulate_give_numpys_exact_float32_values():
    # the pairwise rounds added in another order: float32 values off by many ulps
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    for f in (lambda a: np.add.accumulate(a), lambda a: np.multiply.accumulate(1 + a * 1e-3),
              lambda a: np.add.accumulate(a.reshape(10, 100), axis=-1)):
        out, t = jvp(f, (x,), (x,))
        assert out.dtype == t.dtype == np.float32
        np.testing.assert_array_equal(out, f(x))
    z = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    np.testing.assert_allclose(jacrev(lambda a: np.multiply.accumulate(a))(z),
                               jacfwd(lambda a: np.cumprod(a))(z))


def test_logsumexp_of_a_slice_summing_to_zero_has_derivative_zero_in_both_modes():
    # a fully masked row (-inf only) or b = 0 there: -inf for every nearby input; forward
    # mode gave 0, reverse mode inf * 0 = nan
    import scipy.special as sc

    x = np.array([[0.3, 1.0], [0.2, -1.0]])
    cases = [
        lambda a: sc.logsumexp(a - np.array([[np.inf], [0.0]]), axis=1),
        lambda a: sc.logsumexp(a, b=np.array([[0.0, 0.0], [1.0, 2.0]]), axis=1),
        lambda a: sc.logsumexp(a, b=np.array([[0.0, 0.0], [1.0, -2.0]]), axis=1,
                               return_sign=True)[0],
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in cases:
            np.testing.assert_allclose(jvp(f, (x,), (np.ones_like(x),))[0], f(x))
            J = jacrev(f)(x)
            np.testing.assert_allclose(J, jacfwd(f)(x))
            np.testing.assert_array_equal(J[0], 0.0)
            assert np.all(np.isfinite(J))
