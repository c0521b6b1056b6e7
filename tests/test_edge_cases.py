"""Regression tests: graph shapes, very long chains, indexing, matmul ranks, empty arrays,
the conventions at kinks (identical in both modes), and the tape."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import admodes as ad
from admodes.api import record
from admodes.reverse import Tape


def forward_grad(f, x):
    """The gradient of a scalar function by forward mode (one jvp per input element)."""
    return ad.jacfwd(f, vectorized=False)(x)


def derivative_in_every_mode(f, x):
    """d/dx f of a scalar function of a scalar, by each engine and API entry point."""
    return {
        "grad": ad.grad(f)(x),
        "vjp": ad.vjp(f, x)[1](1.0)[0],
        "jacrev": ad.jacrev(f)(x),
        "jvp": ad.jvp(f, (x,), (1.0,))[1],
        "jacfwd": ad.jacfwd(f)(x),
    }


def gradient_in_every_mode(f, x):
    """The gradient of a scalar function of an array, by each engine."""
    return {
        "grad": ad.grad(f)(x),
        "jacrev": ad.jacrev(f)(x),
        "jacrev looped": ad.jacrev(f, vectorized=False)(x),
        "jacfwd": ad.jacfwd(f)(x),
        "jacfwd looped": forward_grad(f, x),
    }


def assert_all_equal(results, expected):
    for mode, value in results.items():
        assert_array_equal(value, expected, err_msg=f"in mode {mode}")


# -- graph shapes ---------------------------------------------------------------------


def test_diamond_graph():
    def f(a):
        b = np.sin(a)
        left, right = b * a, b + a
        return left * right

    a = 0.7
    b, db = np.sin(a), np.cos(a)
    expected = (db * a + b) * (b + a) + (b * a) * (db + 1)
    for mode, value in derivative_in_every_mode(f, a).items():
        assert_allclose(value, expected, rtol=1e-14, err_msg=mode)


def test_reused_nodes_accumulate():
    def f(a):
        b = a + a
        return b + b

    assert_all_equal(derivative_in_every_mode(f, 1.5), 4.0)
    assert_all_equal(gradient_in_every_mode(lambda a: np.sum(f(a)), np.ones(2)), [4.0, 4.0])


def test_a_value_used_by_many_later_ops():
    def f(x):
        total = x
        for _ in range(50):
            total = total + x * x
        return total

    assert_all_equal(derivative_in_every_mode(f, 3.0), 1 + 50 * 6.0)


# -- a million-op chain ---------------------------------------------------------------

CHAIN_LENGTH = 1_000_000
FACTOR = 1.0000001


def long_chain(x):
    for _ in range(CHAIN_LENGTH):
        x = x * FACTOR
    return x


def expected_chain_derivative():
    d = 1.0
    for _ in range(CHAIN_LENGTH):
        d *= FACTOR
    return d


def test_a_million_op_chain_through_grad():
    assert_allclose(ad.grad(long_chain)(1.0), expected_chain_derivative(), rtol=1e-12)


def test_a_million_op_chain_through_jvp():
    out, tangent = ad.jvp(long_chain, (np.ones(1),), (np.full(1, 2.0),))
    assert_allclose(out, [expected_chain_derivative()], rtol=1e-12)
    assert_allclose(tangent, [2 * expected_chain_derivative()], rtol=1e-12)


# -- indexing -------------------------------------------------------------------------


def test_repeated_integer_indices_accumulate():
    def f(x):
        return np.sum(x[[0, 0, 1]])

    assert_all_equal(gradient_in_every_mode(f, np.array([5.0, 6.0, 7.0])), [2.0, 1.0, 0.0])


def test_repeated_indices_in_a_2d_array_and_a_weighted_sum():
    x = np.arange(6.0).reshape(2, 3)

    def f(x):
        return np.sum(x[[1, 1, 0], [2, 2, 2]] * np.array([1.0, 10.0, 100.0]))

    expected = np.zeros((2, 3))
    expected[1, 2], expected[0, 2] = 11.0, 100.0
    assert_all_equal(gradient_in_every_mode(f, x), expected)


# -- matmul with 1-D operands ---------------------------------------------------------

MATMUL_SHAPES = [
    pytest.param((3,), (3,), id="vector@vector"),
    pytest.param((3,), (3, 2), id="vector@matrix"),
    pytest.param((2, 3), (3,), id="matrix@vector"),
    pytest.param((2, 3), (3, 4), id="matrix@matrix"),
    pytest.param((3,), (2, 3, 4), id="vector@stack"),
    pytest.param((2, 4, 3), (3,), id="stack@vector"),
]


@pytest.mark.parametrize("a_shape, b_shape", MATMUL_SHAPES)
@pytest.mark.parametrize("jacobian, vectorized", [(ad.jacfwd, True), (ad.jacfwd, False),
                                                  (ad.jacrev, True), (ad.jacrev, False)])
def test_matmul_jacobians_for_every_operand_rank(a_shape, b_shape, jacobian, vectorized):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    jac_a, jac_b = jacobian(np.matmul, argnums=(0, 1), vectorized=vectorized)(a, b)
    out_shape = np.shape(a @ b)
    assert jac_a.shape == out_shape + a_shape and jac_b.shape == out_shape + b_shape
    # a @ b is linear in each operand: the Jacobian applied to the operand gives a @ b back
    assert_allclose(np.tensordot(jac_a, a, axes=a.ndim), a @ b, rtol=1e-13, atol=1e-14)
    assert_allclose(np.tensordot(jac_b, b, axes=b.ndim), a @ b, rtol=1e-13, atol=1e-14)
    # and each entry is the matching entry of the other operand
    for a_index in np.ndindex(a_shape):
        unit = np.zeros(a_shape)
        unit[a_index] = 1.0
        assert_allclose(jac_a[(...,) + a_index], unit @ b, err_msg=str(a_index))
    for b_index in np.ndindex(b_shape):
        unit = np.zeros(b_shape)
        unit[b_index] = 1.0
        assert_allclose(jac_b[(...,) + b_index], a @ unit, err_msg=str(b_index))


@pytest.mark.parametrize("a_shape, b_shape", MATMUL_SHAPES)
def test_matmul_with_operator_syntax_through_grad(a_shape, b_shape):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    u = rng.standard_normal(np.shape(a @ b))
    g_a, g_b = ad.grad(lambda a, b: np.sum((a @ b) * u), argnums=(0, 1))(a, b)
    jac_a, jac_b = ad.jacfwd(lambda a, b: a @ b, argnums=(0, 1))(a, b)
    assert_allclose(g_a, np.tensordot(u, jac_a, axes=np.ndim(u)), rtol=1e-13, atol=1e-14)
    assert_allclose(g_b, np.tensordot(u, jac_b, axes=np.ndim(u)), rtol=1e-13, atol=1e-14)


# -- empty arrays ---------------------------------------------------------------------


def test_gradient_of_a_sum_over_an_empty_array():
    for mode, value in gradient_in_every_mode(lambda x: np.sum(x * 2.0), np.zeros(0)).items():
        assert np.shape(value) == (0,), mode


def test_jacobians_with_empty_inputs_and_outputs():
    empty = np.zeros((2, 0))
    for jacobian in (ad.jacfwd, ad.jacrev):
        for vectorized in (True, False):
            jac = jacobian(lambda x: np.sin(x), vectorized=vectorized)(empty)
            assert jac.shape == (2, 0, 2, 0)
            jac = jacobian(lambda x: np.sum(x, axis=1) + 1.0, vectorized=vectorized)(empty)
            assert_array_equal(jac, np.zeros((2, 2, 0)))
            jac = jacobian(lambda x: x[:0] * 2.0, vectorized=vectorized)(np.ones(3))
            assert jac.shape == (0, 3)


def test_jvp_and_vjp_of_empty_arrays():
    out, tangent = ad.jvp(np.exp, (np.zeros(0),), (np.zeros(0),))
    assert out.shape == (0,) and tangent.shape == (0,)
    out, vjp_fn = ad.vjp(np.exp, np.zeros(0))
    (ct,) = vjp_fn(np.zeros(0))
    assert out.shape == (0,) and ct.shape == (0,)


# -- kinks: one convention, the same in both modes ------------------------------------


def test_abs_has_derivative_zero_at_zero():
    assert_all_equal(derivative_in_every_mode(np.abs, 0.0), 0.0)
    assert_all_equal(derivative_in_every_mode(lambda x: abs(x), 0.0), 0.0)
    assert_all_equal(gradient_in_every_mode(lambda x: np.sum(np.abs(x)),
                                            np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("binary", [np.maximum, np.minimum])
def test_maximum_and_minimum_split_ties_evenly(binary):
    def both(xy):
        return binary(xy[0], xy[1])

    assert_all_equal(gradient_in_every_mode(both, np.array([2.0, 2.0])), [0.5, 0.5])
    assert_all_equal(derivative_in_every_mode(lambda x: binary(x, 0.0), 0.0), 0.5)
    assert_all_equal(derivative_in_every_mode(lambda x: binary(0.0, x), 0.0), 0.5)


def test_relu_via_maximum_away_from_the_tie():
    assert_all_equal(gradient_in_every_mode(lambda x: np.sum(np.maximum(x, 0.0)),
                                            np.array([-1.0, 0.0, 2.0])), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("reduce", [np.max, np.min])
def test_max_and_min_reductions_split_ties_among_the_tied_elements(reduce):
    sign = 1.0 if reduce is np.max else -1.0
    x = sign * np.array([1.0, 3.0, 3.0, 2.0])
    assert_all_equal(gradient_in_every_mode(reduce, x), [0.0, 0.5, 0.5, 0.0])
    x = sign * np.array([3.0, 3.0, 3.0])
    assert_all_equal(gradient_in_every_mode(reduce, x), np.full(3, 1 / 3))
    x = sign * np.array([[1.0, 4.0, 4.0], [2.0, 2.0, 0.0]])
    expected = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])
    assert_all_equal(gradient_in_every_mode(lambda x: np.sum(reduce(x, axis=1)), x), expected)


def test_sqrt_has_an_infinite_derivative_at_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_all_equal(derivative_in_every_mode(np.sqrt, 0.0), np.inf)
        assert_all_equal(gradient_in_every_mode(lambda x: np.sum(np.sqrt(x)),
                                                np.array([0.0, 4.0])), [np.inf, 0.25])


POWERS_AT_ZERO = [
    pytest.param(lambda x: x ** 2, 0.0, 0.0, id="x**2 at x=0"),
    pytest.param(lambda x: x ** 2.0, 0.0, 0.0, id="x**2.0 at x=0"),
    pytest.param(lambda x: np.power(x, 3.0), 0.0, 0.0, id="np.power(x, 3.0) at x=0"),
    pytest.param(lambda x: x ** 1.0, 0.0, 1.0, id="x**1.0 at x=0"),
    pytest.param(lambda x: x ** 0.0, 0.0, 0.0, id="x**0.0 at x=0"),
    pytest.param(lambda x: x ** 0.5, 0.0, np.inf, id="x**0.5 at x=0"),
    pytest.param(lambda y: 0.0 ** y, 2.0, 0.0, id="0.0**y at y=2"),
    pytest.param(lambda y: np.power(np.zeros(()), y), 2.0, 0.0, id="np.power(0, y) at y=2"),
]


@pytest.mark.parametrize("f, at, expected", POWERS_AT_ZERO)
def test_power_at_base_zero(f, at, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_all_equal(derivative_in_every_mode(f, at), expected)


def test_power_with_both_arguments_traced_at_base_zero():
    grads = ad.grad(lambda x, y: x ** y, argnums=(0, 1))(0.0, 2.0)
    assert grads == (0.0, 0.0)
    _, tangent = ad.jvp(lambda x, y: x ** y, (0.0, 2.0), (1.0, 1.0))
    assert tangent == 0.0


PRODUCTS = [
    pytest.param([2.0, 3.0, 4.0], [12.0, 8.0, 6.0], id="no zero"),
    pytest.param([2.0, 0.0, 3.0], [0.0, 6.0, 0.0], id="one zero"),
    pytest.param([2.0, 0.0, 0.0], [0.0, 0.0, 0.0], id="two zeros"),
    pytest.param([0.0], [1.0], id="a single zero"),
]


@pytest.mark.parametrize("x, expected", PRODUCTS)
def test_prod_with_zeros_divides_by_nothing(x, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a division by zero would warn
        assert_all_equal(gradient_in_every_mode(np.prod, np.array(x)), expected)


def test_prod_along_an_axis_with_zeros():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]])
    expected = np.array([[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_all_equal(gradient_in_every_mode(lambda x: np.sum(np.prod(x, axis=1)), x),
                         expected)


# -- the tape -------------------------------------------------------------------------


def test_a_recording_lists_its_ops_and_residual_bytes():
    x = np.array([1.0, 2.0, 3.0])
    _, primals, _, tape = record(lambda leaves: np.sin(leaves[0]) * leaves[0], [x])
    assert isinstance(tape, Tape)
    assert len(tape) == 3
    assert tape.ops == ["input", "sin", "multiply"]
    # the input, sin(x) and the product: three arrays of three float64
    assert tape.residual_bytes() == 3 * x.nbytes
    assert_allclose(primals[0], np.sin(x) * x)


def test_residual_bytes_grow_with_the_arrays_kept():
    def f(leaves):
        return np.sum(np.exp(leaves[0]))

    small = record(f, [np.ones(10)])[3]
    large = record(f, [np.ones(1000)])[3]
    assert small.ops == large.ops == ["input", "exp", "sum"]
    assert large.residual_bytes() - small.residual_bytes() == 2 * 990 * 8


def test_a_pullback_called_many_times_gives_the_same_result():
    x = np.array([0.5, -1.0, 2.0])
    _, vjp_fn = ad.vjp(lambda x: np.tanh(x) * np.sum(x * x), x)
    ct = np.array([1.0, 2.0, -1.0])
    first = vjp_fn(ct)[0]
    for _ in range(5):
        other = vjp_fn(np.array([3.0, 0.0, 1.0]))[0]
        assert_array_equal(vjp_fn(ct)[0], first)
    assert not np.array_equal(other, first)


def test_mutating_the_input_after_vjp_does_not_change_the_pullback():
    x = np.array([0.5, -1.0, 2.0])
    expected = ad.vjp(lambda x: x * np.sin(x), x.copy())[1](np.ones(3))[0]
    out, vjp_fn = ad.vjp(lambda x: x * np.sin(x), x)
    x[:] = [10.0, 20.0, 30.0]
    assert_array_equal(vjp_fn(np.ones(3))[0], expected)
    assert_array_equal(out, np.array([0.5, -1.0, 2.0]) * np.sin([0.5, -1.0, 2.0]))


def test_mutating_an_input_inside_a_pytree_after_vjp():
    params = [np.array([1.0, 2.0]), {"b": np.array([0.5])}]
    _, vjp_fn = ad.vjp(lambda p: np.sum(p[0] ** 3) * p[1]["b"], params)
    before = vjp_fn(np.ones(1))[0]
    params[0][:] = 0.0
    params[1]["b"][:] = 0.0
    after = vjp_fn(np.ones(1))[0]
    assert_array_equal(after[0], before[0])
    assert_array_equal(after[1]["b"], before[1]["b"])
    assert_allclose(before[0], 3 * np.array([1.0, 2.0]) ** 2 * 0.5)


def test_one_operand_twice_and_one_tangent_object_for_two_operands():
    x, y = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    t = np.array([1.0, 2.0, 3.0])
    # x * x: the engines sum the two partials of the one operand
    assert_allclose(ad.grad(lambda x: np.sum(x * x))(x), 2 * x)
    assert_allclose(ad.jvp(lambda x: x * x, (x,), (t,))[1], 2 * x * t)
    assert_allclose(ad.hessian(lambda x: np.sum(x * x * x))(x), np.diag(6 * x))
    # the same tangent array for two different operands is not the same operand
    assert_allclose(ad.jvp(lambda x, y: x * y, (x, y), (t, t))[1], (x + y) * t)
    assert_allclose(ad.jvp(lambda x, y: x / y, (x, y), (t, t))[1], t / y - x * t / y**2)
    assert ad.grad(lambda a: a * a)(3.0) == 6.0


def test_cycle_collector_is_paused_during_sweeps_and_restored_after():
    import gc

    seen = []

    def f(x):
        seen.append(gc.isenabled())
        return np.sum(x * x)

    assert gc.isenabled()
    ad.grad(f)(np.ones(2))
    ad.jvp(f, (np.ones(2),), (np.ones(2),))
    assert seen == [False, False] and gc.isenabled()

    def broken(x):
        raise RuntimeError("inside the sweep")

    with pytest.raises(RuntimeError, match="inside the sweep"):
        ad.grad(broken)(np.ones(2))
    assert gc.isenabled()
    gc.disable()  # a caller's own choice is kept
    try:
        ad.grad(f)(np.ones(2))
        assert not gc.isenabled()
    finally:
        gc.enable()
