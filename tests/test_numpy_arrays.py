"""Behaviour of the issue-11 array functions that is not a derivative: numpy's values,
dtypes and shapes, keywords, refusals, errors; and np.array of traced scalars in depth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import admodes as ad

X23 = np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]])
X33 = np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4], [1.1, -0.6, 0.9]])


def on_both(fun, *xs):
    """fun's value on dual numbers and on a tape (every input traced)."""
    return [ad.jvp(fun, xs, tuple(np.ones_like(x) for x in xs))[0], ad.vjp(fun, *xs)[0]]


def assert_same_as_numpy(fun, *xs):
    want = fun(*xs)
    for got in on_both(fun, *xs):
        assert np.shape(got) == np.shape(want)
        assert np.result_type(got) == np.result_type(want)
        np.testing.assert_array_equal(got, want)


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# -- numpy's values, shapes and dtypes ------------------------------------------------

VALUE_CASES = [
    ("einsum ij,jk", lambda x: np.einsum("ij,jk->ik", x, x.T)),
    ("einsum implicit", lambda x: np.einsum("ij,kj", x, x)),
    ("einsum ii", lambda x: np.einsum("ii", x[:, :2])),
    ("einsum optimize", lambda x: np.einsum("ij,jk,kl", x, x.T, x, optimize="greedy")),
    ("var", lambda x: np.var(x, axis=1, ddof=1)),
    ("std", lambda x: x.std(keepdims=True)),
    ("std correction", lambda x: np.std(x, axis=0, correction=1)),
    ("cumsum", lambda x: np.cumsum(x)),
    ("cumprod", lambda x: x.cumprod(axis=1)),
    ("hstack", lambda x: np.hstack([x, x[:, :1]])),
    ("vstack", lambda x: np.vstack([x, x[0]])),
    ("dstack", lambda x: np.dstack([x, x])),
    ("column_stack", lambda x: np.column_stack([x[0], x[1]])),
    ("block", lambda x: np.block([[x, x], [x, x]])),
    ("tile", lambda x: np.tile(x, (2, 1, 3))),
    ("repeat", lambda x: np.repeat(x, [2, 1, 0], axis=1)),
    ("diag", lambda x: np.diag(x[0], k=-2)),
    ("diagonal", lambda x: x.diagonal(1)),
    ("trace", lambda x: x.trace(-1)),
    ("tril", lambda x: np.tril(x, 1)),
    ("triu", lambda x: np.triu(x[0])),
    ("average", lambda x: np.average(x, axis=1, weights=[1.0, 2.0, 3.0])),
    ("average keepdims", lambda x: np.average(x, axis=0, keepdims=True)),
    ("dot", lambda x: np.dot(x, np.ones((2, 3, 2)))),
    ("tensordot", lambda x: np.tensordot(x, x, axes=([1], [1]))),
    ("inner", lambda x: np.inner(x, x)),
    ("vdot", lambda x: np.vdot(x, x)),
    ("kron", lambda x: np.kron(x, x)),
    ("outer", lambda x: np.outer(x, x)),
    ("cross", lambda x: np.cross(x, x[::-1])),
    ("atleast_3d", lambda x: np.atleast_3d(x)),
    ("split", lambda x: np.stack(np.array_split(x, 2, axis=1)[1:])),
]


@pytest.mark.parametrize("fun", [c[1] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_dtypes_and_shapes_are_numpys(fun, dtype):
    assert_same_as_numpy(fun, X23.astype(dtype))


def test_round_is_numpys_value_with_zero_derivative():
    x = np.array([0.26, -1.35, 2.5])
    for f in (lambda x: np.round(x, 1), lambda x: np.around(x), lambda x: x.round(1)):
        np.testing.assert_array_equal(on_both(f, x)[0], f(x))
        np.testing.assert_array_equal(ad.jacfwd(f)(x), np.zeros((3, 3)))
        np.testing.assert_array_equal(ad.jacrev(f)(x), np.zeros((3, 3)))
    assert ad.grad(lambda x: np.sum(np.round(x) * x))(x).tolist() == np.round(x).tolist()


def test_split_returns_numpys_pieces():
    x = np.arange(10.0)
    for f in (lambda x: np.split(x, [2, 7]), lambda x: np.array_split(x, 3),
              lambda x: np.split(x, 5), lambda x: np.split(x, [-3, 20])):
        want = f(x)
        got = on_both(f, x)[1]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


# -- derivatives numpy-code users rely on -------------------------------------------------


def test_std_at_zero_variance_has_zero_derivative_never_nan():
    x = np.full(4, 0.5)
    for g in (ad.grad(np.std)(x), ad.jacfwd(np.std)(x), ad.grad(lambda x: np.std(x, ddof=1))(x)):
        np.testing.assert_array_equal(g, np.zeros(4))
    h = ad.hessian(lambda x: np.std(x) + np.sum(x * x))(x)
    assert np.all(np.isfinite(h))


def test_cumprod_with_zeros_matches_finite_differences_and_second_order():
    x = np.array([1.3, 0.0, -0.7, 0.0, 2.0])

    def f(x):
        return np.sum(np.cumprod(x) * np.arange(1.0, 6.0))

    np.testing.assert_allclose(ad.grad(f)(x), fd_grad(f, x), atol=1e-8)
    np.testing.assert_allclose(ad.jacfwd(f)(x), fd_grad(f, x), atol=1e-8)
    h_rev, h_fwd = ad.hessian(f)(x), ad.jacfwd(ad.grad(f))(x)
    np.testing.assert_allclose(h_rev, h_fwd, atol=1e-12)
    np.testing.assert_allclose(h_rev, np.array([fd_grad(lambda y, i=i: ad.grad(f)(y)[i], x)
                                                for i in range(5)]), atol=1e-6)


def test_einsum_traced_and_constant_operands_and_third_order():
    w = np.linspace(-1, 1, 6).reshape(2, 3)

    def f(x):
        return np.einsum("ij,j,ij->", w, x, np.outer(np.ones(2), x) ** 2)

    x = np.array([0.3, -0.5, 1.2])
    np.testing.assert_allclose(ad.grad(f)(x), fd_grad(f, x), rtol=1e-7, atol=1e-8)
    third = ad.jacfwd(ad.hessian(f))(x)
    np.testing.assert_allclose(third, ad.jacrev(ad.jacfwd(ad.grad(f)))(x), atol=1e-12)


def test_average_with_traced_weights():
    a = np.array([1.0, 2.0, 4.0])

    def f(w):
        return np.average(a, weights=w)

    w = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(ad.grad(f)(w), fd_grad(f, w), rtol=1e-7)
    avg, scl = on_both(lambda w: np.average(a, weights=w, returned=True), w)[0]
    assert avg == np.average(a, weights=w) and scl == np.sum(w)


# -- refusals and numpy's errors ---------------------------------------------------------

ERRORS = [
    (lambda x: np.einsum("ij->i", x, out=np.zeros(2)), TypeError, "out="),
    (lambda x: np.var(x, out=np.zeros(())), TypeError, "out="),
    (lambda x: np.std(x, where=x > 0), TypeError, "where="),
    (lambda x: np.var(x, mean=np.mean(x)), TypeError, "mean="),
    (lambda x: np.var(x, ddof=1, correction=1), ValueError, "simultaneously"),
    (lambda x: np.cumsum(x, out=np.zeros(6)), TypeError, "out="),
    (lambda x: np.cumsum(x, dtype=int), TypeError, "int"),
    (lambda x: np.split(x, 4, axis=1), ValueError, "equal division"),
    (lambda x: np.array_split(x, 0), ValueError, "larger than 0"),
    (lambda x: np.vsplit(x[0], 2), ValueError, "2 or more"),
    (lambda x: np.dsplit(x, 2), ValueError, "3 or more"),
    (lambda x: np.tile(x, -1), ValueError, "negative"),
    (lambda x: np.repeat(x, [1, 2], axis=1), ValueError, "could not be broadcast"),
    (lambda x: np.repeat(x, x[0, 0]), TypeError, "repeats"),
    (lambda x: np.diag(x[None]), ValueError, "1- or 2-d"),
    (lambda x: np.diagonal(x, 0, 1, 1), ValueError, "cannot be the same"),
    (lambda x: np.diagonal(x[0]), ValueError, "two dimensions"),
    (lambda x: np.average(x, weights=np.ones(3)), TypeError, "Axis must be specified"),
    (lambda x: np.average(x, axis=0, weights=np.ones(3)), ValueError, "consistent"),
    (lambda x: np.average(x, axis=1, weights=np.zeros(3)), ZeroDivisionError, "sum to zero"),
    (lambda x: np.dot(x, x), ValueError, "not aligned"),
    (lambda x: np.tensordot(x, x, axes=([0], [1])), ValueError, "shape-mismatch"),
    (lambda x: np.inner(x, x.T), ValueError, "not aligned"),
    (lambda x: np.vdot(x, x[0]), ValueError, "lengths"),
    (lambda x: np.cross(x, x[:, :1]), ValueError, "incompatible dimensions"),
    (lambda x: np.einsum("ij,ij", x, x.T), ValueError, "could not be broadcast"),
    (lambda x: np.block((x, x)), TypeError, "tuple"),
    (lambda x: np.block([[x], x]), ValueError, "depths are mismatched"),
    (lambda x: np.round(x, out=np.zeros((2, 3))), TypeError, "out="),
]


@pytest.mark.parametrize("fun, error, match", ERRORS)
def test_refusals_and_numpy_errors(fun, error, match):
    for run in (lambda: ad.jacfwd(fun)(X23), lambda: ad.jacrev(fun)(X23)):
        with pytest.raises(error, match=match):
            run()


def test_cross_of_2_vectors_warns_as_numpy_does():
    x = np.array([0.5, 2.0])
    with pytest.warns(DeprecationWarning):
        g = ad.grad(lambda x: np.cross(x, np.array([1.0, 3.0])))(x)
    np.testing.assert_array_equal(g, [3.0, -1.0])


def test_zero_size_inputs():
    e = np.zeros((0, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in (lambda x: np.cumsum(x, axis=0), lambda x: np.tile(x, 2),
                  lambda x: np.var(x, axis=0), lambda x: np.einsum("ij->j", x),
                  lambda x: np.vstack([x, x]), lambda x: np.diagonal(x)):
            want = f(e)
            got = on_both(f, e)[1]
            np.testing.assert_array_equal(got, want)
            assert np.shape(got) == np.shape(want)


# -- np.array of traced scalars ----------------------------------------------------------


def build(x):
    return np.array([[x[0] ** 2, x[1] * x[0]], [np.sin(x[2]), 1.5]])


def test_np_array_of_traced_scalars_jacobians_both_modes():
    x = np.array([0.3, -1.2, 0.8])
    want = np.zeros((2, 2, 3))
    want[0, 0, 0] = 2 * x[0]
    want[0, 1] = [x[1], x[0], 0.0]
    want[1, 0, 2] = np.cos(x[2])
    np.testing.assert_allclose(ad.jacfwd(build)(x), want)
    np.testing.assert_allclose(ad.jacrev(build)(x), want)
    np.testing.assert_array_equal(on_both(build, x)[0], build(x))


def test_np_array_of_traced_scalars_hessian_nesting_and_float32():
    def f(x):
        a = build(x)
        return np.sum(a @ a) + np.asarray([x[0], x[1]]) @ x[:2]

    x = np.array([0.3, -1.2, 0.8])
    h = ad.hessian(f)(x)
    np.testing.assert_allclose(h, ad.jacfwd(ad.grad(f))(x), atol=1e-12)
    np.testing.assert_allclose(h, np.array([fd_grad(lambda y, i=i: ad.grad(f)(y)[i], x)
                                            for i in range(3)]), atol=1e-6)
    x32 = x.astype(np.float32)
    g = ad.grad(lambda x: np.sum(np.array([x[0] * x[1], x[2]]) * x[:2]))(x32)
    assert g.dtype == np.float32
    assert ad.jacrev(lambda x: np.array([x[0], x[1]]))(x32).dtype == np.float32
    # a Python float promotes, as in numpy
    assert on_both(lambda x: np.array([x[0], 1.5]), x32)[0].dtype == np.float64


def test_object_array_meets_traced_values_in_every_position():
    x = np.array([0.3, -1.2])

    def f(x):
        a = np.array([x[0], x[1] ** 2])
        return [a * x, x * a, a @ x, x @ a, np.concatenate([a, x]), np.where(x > 0, a, x),
                x + [x[1], 1.0], np.stack([a, x]), a ** 2 - x, np.sum(a), a.sum()]

    for j in (ad.jacfwd(f)(x), ad.jacrev(f)(x)):
        assert len(j) == 11
    np.testing.assert_allclose(ad.jacfwd(f)(x)[0], np.diag([2 * x[0], 3 * x[1] ** 2]))
    np.testing.assert_allclose(ad.jacrev(f)(x)[1], np.diag([2 * x[0], 3 * x[1] ** 2]))


REFUSED_CONVERSIONS = [
    lambda x: np.array([x[0], x[1]], dtype=float),
    lambda x: np.asarray(x[0], dtype=np.float32),
    lambda x: np.array([x[0], x[1]]).astype(float),
    lambda x: np.array([x, x]),
    lambda x: np.asarray(x),
    lambda x: np.exp(np.array([x[0], x[1]])),
    lambda x: np.linalg.inv(np.array([[x[0], 1.0], [0.0, x[1]]])),
    lambda x: np.mean(np.array([x[0], x[1]])),
    lambda x: x.dot(np.array([x[0], x[1]])),
]


@pytest.mark.parametrize("fun", REFUSED_CONVERSIONS)
def test_conversions_that_would_drop_a_derivative_raise(fun):
    # .astype(float) of the object array: float() refuses, and numpy reports that as a
    # ValueError ("setting an array element with a sequence")
    x = np.array([0.3, -1.2])
    for run in (lambda: ad.jacfwd(fun)(x), lambda: ad.jacrev(fun)(x)):
        with pytest.raises((TypeError, ValueError)):
            run()
