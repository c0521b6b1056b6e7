"""numpy.linalg on traced values (admodes.linalg): what is not a derivative.

numpy's values, dtypes, shapes and result types; the keywords honoured or refused; the
errors where numpy raises; zero-size inputs; and the documented conventions where no
derivative exists (repeated eigenvalues, zero singular values, singular matrices). The
derivatives themselves are checked per op by tests/test_ops.py (specs_linalg.py).
"""

import numpy as np
import pytest
from numpy.linalg import LinAlgError
from numpy.testing import assert_allclose, assert_array_equal

import admodes as ad

RNG = np.random.default_rng(20261202)
A3 = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
STACK = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
SPD = A3 @ A3.T + np.eye(3)
SPREAD = 0.25 * RNG.standard_normal((3, 3)) + np.diag([1.0, 4.0, 7.0])
TALL = RNG.standard_normal((4, 3)) + np.eye(4, 3)


def both_modes(fun, *args):
    """fun's result traced forward and traced in reverse (primal outputs)."""
    tangents = tuple(np.ones_like(a) for a in args)
    return [ad.jvp(fun, args, tangents)[0], ad.vjp(fun, *args)[0]]


def assert_same_as_numpy(fun, *args):
    want = fun(*args)
    for got in both_modes(fun, *args):
        for g, w in zip(ad.tree_flatten(got)[0], ad.tree_flatten(want)[0]):
            assert np.shape(g) == np.shape(w)
            assert np.result_type(g) == np.result_type(w)
            assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def raises_in_both_modes(fun, args, error, match):
    tangents = tuple(np.ones_like(a) for a in args)
    with pytest.raises(error, match=match):
        ad.jvp(fun, args, tangents)
    with pytest.raises(error, match=match):
        ad.vjp(fun, *args)[1](np.ones_like(fun(*args)))


# -- numpy's values, dtypes and result types -------------------------------------------

CALLS = {
    "inv": (np.linalg.inv, STACK),
    "det": (np.linalg.det, STACK),
    "solve 1-D b, stacked a": (lambda a: np.linalg.solve(a, np.arange(3.0)), STACK),
    "solve 2-D b": (lambda a: np.linalg.solve(a, np.ones((3, 2))), A3),
    "cholesky": (np.linalg.cholesky, SPD),
    "cholesky upper": (lambda a: np.linalg.cholesky(a, upper=True), SPD),
    "eigvalsh U": (lambda a: np.linalg.eigvalsh(a, UPLO="U"), SPREAD),
    "svdvals": (lambda a: np.linalg.svd(a, compute_uv=False), TALL),
    "pinv": (np.linalg.pinv, TALL),
    "pinv rtol=None": (lambda a: np.linalg.pinv(a, rtol=None), TALL),
    "matrix_power 7": (lambda a: np.linalg.matrix_power(a, 7), 0.3 * A3),
    "matrix_power -3": (lambda a: np.linalg.matrix_power(a, -3), STACK),
    "norm 2": (lambda a: np.linalg.norm(a, 2), TALL),
    "norm nuc keepdims": (lambda a: np.linalg.norm(a, "nuc", (0, 1), True), TALL),
    "cond": (np.linalg.cond, A3),
    "cond inf": (lambda a: np.linalg.cond(a, np.inf), STACK),
    "matrix_norm": (lambda a: np.linalg.matrix_norm(a, ord=2), STACK),
    "svdvals function": (lambda a: np.linalg.svdvals(a), TALL),
    "vector_norm": (lambda a: np.linalg.vector_norm(a), STACK),
    "vector_norm axis tuple": (lambda a: np.linalg.vector_norm(a, axis=(2, 0), ord=3), STACK),
    "vector_norm keepdims": (lambda a: np.linalg.vector_norm(a, axis=(-1,), keepdims=True,
                                                             ord=np.inf), STACK),
    "vector_norm axis int": (lambda a: np.linalg.vector_norm(a, axis=1, ord=1), STACK),
    "vector_norm all keepdims": (lambda a: np.linalg.vector_norm(a, keepdims=True), STACK),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_values_shapes_and_dtypes_are_numpys(name):
    fun, x = CALLS[name]
    assert_same_as_numpy(fun, x)
    assert_same_as_numpy(fun, x.astype(np.float32))


def test_decompositions_return_numpys_named_results():
    fwd, rev = both_modes(lambda a: np.linalg.eigh(a), SPREAD)
    want = np.linalg.eigh(SPREAD)
    for got in (fwd, rev):
        assert type(got) is type(want)
        assert_allclose(got.eigenvalues, want.eigenvalues, rtol=1e-12)
        assert_allclose(np.abs(got.eigenvectors), np.abs(want.eigenvectors), rtol=1e-12)
    for fun, x in [(np.linalg.svd, A3), (np.linalg.qr, TALL), (np.linalg.slogdet, STACK)]:
        got = ad.jvp(fun, (x,), (np.ones_like(x),))[0]
        assert type(got) is type(fun(x))
        assert got._fields == fun(x)._fields


def test_slogdet_sign_is_a_constant_and_logabsdet_is_numpys():
    a = A3[::-1]  # rows swapped: a negative determinant
    (sign, logabs), (tsign, tlog) = ad.jvp(np.linalg.slogdet, (a,), (np.ones_like(a),))
    want = np.linalg.slogdet(a)
    assert sign == want.sign == -1.0 and not isinstance(sign, ad.core.Tracer)
    assert_allclose(logabs, want.logabsdet, rtol=1e-14)
    assert_array_equal(tsign, 0.0)
    assert_allclose(ad.grad(lambda a: np.linalg.slogdet(a).logabsdet)(a),
                    np.linalg.inv(a).T, rtol=1e-12)


def test_lstsq_returns_numpys_four_results():
    b = RNG.standard_normal(4)
    for fun in (lambda a, b: np.linalg.lstsq(a, b), lambda a, b: np.linalg.lstsq(a, b, None)):
        x, resid, rank, s = ad.jvp(fun, (TALL, b), (np.ones_like(TALL), np.ones_like(b)))[0]
        wx, wresid, wrank, ws = np.linalg.lstsq(TALL, b)
        assert rank == wrank == 3 and type(rank) is type(wrank)
        assert_array_equal(resid, wresid)  # numpy's own numbers, with a derivative
        assert_array_equal(s, ws)
        assert_allclose(x, wx, rtol=1e-12)
    wide = ad.vjp(lambda a: np.linalg.lstsq(a, np.ones(3))[1], TALL.T)[0]
    assert wide.shape == (0,)  # numpy gives no residuals for a wide matrix


def test_matrix_power_zero_is_the_identity_with_zero_derivative():
    x = STACK.astype(np.float32)
    out, tangent = ad.jvp(lambda a: np.linalg.matrix_power(a, 0), (x,), (np.ones_like(x),))
    want = np.linalg.matrix_power(x, 0)
    assert out.dtype == want.dtype == np.float32 and out.shape == want.shape
    assert_array_equal(out, want)
    assert_array_equal(tangent, np.zeros_like(x))
    with pytest.raises(TypeError, match="exponent must be an integer"):
        ad.jvp(lambda a: np.linalg.matrix_power(a, 1.5), (A3,), (A3,))


def test_matrix_rank_is_numpys_integer():
    rank = ad.jvp(lambda a: np.linalg.matrix_rank(a) + 0 * np.sum(a), (A3,), (A3,))[0]
    assert rank == 3
    out = ad.jvp(lambda a: np.linalg.matrix_rank(a), (np.ones((3, 3)),), (A3,))[0]
    assert out == 1 and not isinstance(out, ad.core.Tracer)


# -- zero-size inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("fun, shape", [
    (np.linalg.inv, (0, 0)), (np.linalg.det, (0, 0)), (np.linalg.det, (2, 0, 0)),
    (np.linalg.cholesky, (0, 0)), (np.linalg.eigvalsh, (0, 0)),
    (lambda a: np.linalg.eigh(a).eigenvectors, (0, 0)),
    (lambda a: np.linalg.svd(a, compute_uv=False), (0, 3)),
    (lambda a: np.linalg.svd(a, full_matrices=False).Vh, (0, 3)),
    (np.linalg.pinv, (0, 3)), (lambda a: np.linalg.slogdet(a).logabsdet, (0, 0)),
    (lambda a: np.linalg.solve(a, np.zeros(0)), (0, 0)),
])
def test_zero_size_inputs_give_numpys_values_and_empty_derivatives(fun, shape):
    x = np.zeros(shape)
    want = fun(x)
    out, tangent = ad.jvp(fun, (x,), (x,))
    assert_array_equal(out, want)
    assert np.shape(out) == np.shape(want) and np.shape(tangent) == np.shape(want)
    assert_array_equal(tangent, np.zeros_like(want))
    assert ad.vjp(fun, x)[1](np.ones_like(want))[0].shape == shape


def test_det_of_an_empty_matrix_is_one_with_zero_gradient():
    assert ad.jvp(np.linalg.det, (np.zeros((0, 0)),), (np.zeros((0, 0)),)) == (1.0, 0.0)


# -- errors where numpy raises, refusals by name ------------------------------------------

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("fun, x, error, match", [
    (np.linalg.inv, SINGULAR, LinAlgError, "Singular matrix"),
    (lambda a: np.linalg.solve(a, np.ones(2)), SINGULAR, LinAlgError, "Singular matrix"),
    (np.linalg.cholesky, -SPD, LinAlgError, "not positive definite"),
    (np.linalg.inv, TALL, LinAlgError, "square"),
    (np.linalg.det, np.ones(3), LinAlgError, "at least two-dimensional"),
    (np.linalg.eigh, TALL, LinAlgError, "square"),
    (lambda a: np.linalg.eigh(a, UPLO="X"), A3, ValueError, "UPLO"),
    (lambda a: np.linalg.solve(a, np.ones((2, 3))), A3, ValueError, "mismatch"),
    (lambda a: np.linalg.qr(a, mode="bogus"), TALL, ValueError, "Unrecognized mode"),
    (lambda a: np.linalg.pinv(a, 1e-3, rtol=1e-3), TALL, ValueError, "both set"),
])
def test_raises_where_numpy_raises(fun, x, error, match):
    with pytest.raises(error, match=match):
        fun(x)
    tangent = np.ones_like(x)
    with pytest.raises(error, match=match):
        ad.jvp(fun, (x,), (tangent,))
    with pytest.raises(error, match=match):
        ad.vjp(fun, x)


@pytest.mark.parametrize("fun, x, match", [
    (lambda a: np.linalg.svd(a), TALL, r"full_matrices=True\) of a non-square"),
    (lambda a: np.linalg.svd(a, hermitian=True), SPD, r"hermitian=\.\.\."),
    (lambda a: np.linalg.pinv(a, hermitian=True), SPD, r"hermitian=\.\.\."),
    (lambda a: np.linalg.qr(a, mode="raw"), TALL, r"mode='raw'"),
    (lambda a: np.linalg.qr(a, mode="complete"), TALL, r"mode='complete'"),
    (lambda a: np.linalg.qr(a), TALL.T, r"wide matrix"),
])
def test_what_is_not_implemented_is_refused_by_name(fun, x, match):
    fun(x)  # numpy computes it
    with pytest.raises(TypeError, match=match):
        ad.jvp(fun, (x,), (np.ones_like(x),))
    with pytest.raises(TypeError, match=match):
        ad.vjp(fun, x)


def test_square_full_matrices_and_complete_qr_are_the_reduced_ones():
    assert_same_as_numpy(lambda a: np.linalg.svd(a).S, A3)
    q, r = both_modes(lambda a: np.linalg.qr(a, mode="complete"), A3)[0]
    assert_allclose(q @ r, A3, rtol=1e-12)


# -- conventions where no derivative exists -------------------------------------------


def test_repeated_eigenvalues_split_their_derivative_evenly():
    a = np.diag([1.0, 1.0, 2.0])
    grad_low = ad.grad(lambda a: np.linalg.eigvalsh(a)[0])(a)
    assert_allclose(grad_low, np.diag([0.5, 0.5, 0.0]), atol=1e-15)
    jac = ad.jacfwd(np.linalg.eigvalsh)(a)
    assert_allclose(jac, ad.jacrev(np.linalg.eigvalsh)(a), atol=1e-15)
    # the cluster's sum is smooth: its derivative is exact (the trace of the projector)
    assert_allclose(np.sum(jac[:2], axis=0), np.diag([1.0, 1.0, 0.0]), atol=1e-15)
    # numerically indistinguishable eigenvalues count as repeated
    near = np.diag([1.0, 1.0 + 1e-16, 2.0])
    assert_allclose(ad.grad(lambda a: np.linalg.eigvalsh(a)[1])(near),
                    np.diag([0.5, 0.5, 0.0]), atol=1e-15)


def test_eigenvectors_at_repeated_eigenvalues_raise_unless_unused():
    a = np.eye(3)
    raises_in_both_modes(lambda a: np.linalg.eigh(a).eigenvectors, (a,), LinAlgError,
                         "undefined at repeated values")
    # reverse mode differentiates the eigenvalues alone when nothing reaches the vectors
    assert_allclose(ad.grad(lambda a: np.sum(np.linalg.eigh(a).eigenvalues))(a), np.eye(3))


def test_eigh_reads_one_triangle():
    lower = ad.grad(lambda a: np.linalg.eigvalsh(a)[-1])(SPREAD)
    upper = ad.grad(lambda a: np.linalg.eigvalsh(a, UPLO="U")[-1])(SPREAD)
    assert_array_equal(np.triu(lower, 1), 0.0)
    assert_array_equal(np.tril(upper, -1), 0.0)
    assert_array_equal(np.triu(ad.grad(lambda a: np.sum(np.linalg.cholesky(a)))(SPD), 1), 0.0)


def test_zero_singular_values_have_zero_derivative():
    a = np.diag([2.0, 0.0])
    assert_allclose(ad.grad(lambda a: np.linalg.norm(a, "nuc"))(a), np.diag([1.0, 0.0]))
    jac = ad.jacrev(lambda a: np.linalg.svd(a, compute_uv=False))(a)
    assert_array_equal(jac[1], 0.0)
    raises_in_both_modes(lambda a: np.linalg.svd(a).U, (a,), LinAlgError,
                         "zero singular value")
    raises_in_both_modes(lambda a: np.linalg.svd(a).U, (np.eye(2),), LinAlgError,
                         "repeated values")


def test_det_of_a_singular_matrix_has_the_adjugate_as_gradient():
    assert_allclose(ad.grad(np.linalg.det)(SINGULAR), [[4.0, -2.0], [-2.0, 1.0]])
    rank1 = np.outer(np.arange(1.0, 6.0), np.ones(5))  # 5 x 5, rank 1: adjugate 0
    assert_allclose(ad.grad(np.linalg.det)(rank1), np.zeros((5, 5)), atol=1e-12)
    # 4 x 4 of rank 3: the cofactors from minors (an inverse would not exist)
    m = RNG.standard_normal((4, 4))
    m[:, -1] = m[:, 0] - m[:, 1]
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1))
                     for j in range(4)] for i in range(4)])
    assert_allclose(ad.grad(np.linalg.det)(m), cof, rtol=1e-10, atol=1e-12)
    assert_allclose(ad.hessian(np.linalg.det)(SINGULAR).reshape(4, 4),
                    [[0, 0, 0, 1], [0, 0, -1, 0], [0, -1, 0, 0], [1, 0, 0, 0]], atol=1e-14)


@pytest.mark.parametrize("fun, x, match", [
    (lambda a: np.linalg.slogdet(a).logabsdet, SINGULAR * 0, "singular"),
    (np.linalg.pinv, SINGULAR, "rank deficient"),
    (lambda a: np.linalg.lstsq(a, np.ones(2))[0], SINGULAR, "rank deficient"),
    (lambda a: np.linalg.qr(a).R, np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]),
     "full column rank"),
    (np.linalg.cond, SINGULAR, "singular matrix is inf"),
])
def test_no_derivative_at_a_singular_point_raises(fun, x, match):
    fun(x)  # numpy computes a value
    raises_in_both_modes(fun, (x,), LinAlgError, match)


def test_exact_zero_tangents_give_zeros_not_nan():
    cases = [(np.linalg.inv, A3), (np.linalg.det, SINGULAR),
             (lambda a: np.linalg.eigh(a).eigenvectors, SPREAD),
             (lambda a: np.linalg.svd(a, full_matrices=False).U, TALL),
             (np.linalg.pinv, TALL), (np.linalg.cholesky, SPD),
             (lambda a: np.linalg.qr(a).Q, TALL)]
    for fun, x in cases:
        _, tangent = ad.jvp(fun, (x,), (np.zeros_like(x),))
        assert_array_equal(tangent, np.zeros_like(fun(x)))
        ct = ad.vjp(fun, x)[1](np.zeros_like(fun(x)))[0]
        assert_array_equal(ct, np.zeros_like(x))


def test_third_order_through_nested_decompositions():
    # d^3/ds^3 of log det(A + s I) at s = 0 is 2 trace(A^-3)
    f = ad.jacfwd(ad.jacrev(ad.jacfwd(lambda s: np.linalg.slogdet(A3 + s * np.eye(3))[1])))
    assert_allclose(f(0.0), 2 * np.trace(np.linalg.matrix_power(A3, -3)), rtol=1e-10)


def test_counting_the_rules_does_not_change_the_conventions():
    # while counting, rules see wrapped values: a zero cotangent must still count as zero
    with ad.count_ops() as count:
        g = ad.grad(lambda a: np.sum(np.linalg.eigh(a).eigenvalues))(np.eye(3))
    assert_allclose(g, np.eye(3))
    assert count.rule_ops["eigh"] == 1
