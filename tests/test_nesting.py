"""Transformations inside transformations: no perturbation confusion, higher derivatives,
and Jacobians of Jacobians in every order of the two modes."""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

import admodes as ad


def forward_derivative(f):
    """d/dx f by one forward sweep."""
    return lambda x: ad.jvp(f, (x,), (1.0,))[1]


def reverse_derivative(f):
    """d/dx f by one reverse sweep."""
    return ad.grad(f)


DERIVATIVES = {"jvp": forward_derivative, "grad": reverse_derivative}


# -- perturbation confusion -----------------------------------------------------------


@pytest.mark.parametrize("outer, inner", list(itertools.product(DERIVATIVES, DERIVATIVES)))
def test_no_perturbation_confusion(outer, inner):
    # d/dx [x * d/dy (x + y) at y=1] at x=1 is 1; confusing the two perturbations gives 2
    def f(x):
        inner_derivative = DERIVATIVES[inner](lambda y: x + y)(1.0)
        return x * inner_derivative

    assert DERIVATIVES[outer](f)(1.0) == 1.0


@pytest.mark.parametrize("outer, inner", list(itertools.product(DERIVATIVES, DERIVATIVES)))
def test_inner_derivative_that_depends_on_the_outer_variable(outer, inner):
    # d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x
    def f(x):
        return x * DERIVATIVES[inner](lambda y: x * y)(1.0)

    assert DERIVATIVES[outer](f)(1.5) == 3.0


@pytest.mark.parametrize("outer, inner", list(itertools.product(["jacfwd", "jacrev"], repeat=2)))
def test_no_perturbation_confusion_between_array_jacobians(outer, inner):
    # x * d/dy sum(x * y) = x * x, whose Jacobian is diag(2x)
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        return x * getattr(ad, inner)(lambda y: np.sum(x * y))(np.ones(3))

    assert_allclose(getattr(ad, outer)(f)(x), np.diag(2 * x))


# -- higher derivatives ---------------------------------------------------------------


def test_grad_of_grad():
    second = ad.grad(ad.grad(lambda x: x ** 3 * np.sin(x)))
    x = 0.8
    expected = 6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x)
    assert_allclose(second(x), expected, rtol=1e-14)


def test_grad_of_grad_of_an_array_function():
    x = np.array([0.5, -1.0, 2.0])

    def sum_of_gradient(x):
        return np.sum(ad.grad(lambda y: np.sum(y ** 3))(x))

    assert_allclose(ad.grad(sum_of_gradient)(x), 6 * x)


def tanh_fourth_derivative(x):
    t = np.tanh(x)
    return 8 * t * (1 - t ** 2) * (2 - 3 * t ** 2)


@pytest.mark.parametrize("modes", list(itertools.product(DERIVATIVES, repeat=4)),
                         ids=lambda modes: "-".join(modes))
def test_fourth_derivative_of_tanh_by_four_nested_levels(modes):
    f = np.tanh
    for mode in modes:
        f = DERIVATIVES[mode](f)
    for x in (-1.3, 0.0, 0.4, 2.1):
        assert_allclose(f(x), tanh_fourth_derivative(x), rtol=1e-12, atol=1e-14)


# -- Jacobians of Jacobians -----------------------------------------------------------

W = np.array([[0.5, -1.0, 0.25], [1.5, 0.3, -0.7]])


def vector_field(x):
    # R^3 -> R^2 with a matmul, broadcasting, a reduction and indexing
    return np.tanh(W @ x) * np.sum(x ** 2) + x[:2] * x[1:] + np.exp(-x[0])


def vector_field_second_derivative(x):
    """d2 f_i / dx_j dx_k by hand."""
    z = W @ x
    t = np.tanh(z)
    dt = 1 - t ** 2
    ddt = -2 * t * dt
    s = np.sum(x ** 2)
    h = np.zeros((2, 3, 3))
    for i in range(2):
        h[i] += ddt[i] * np.outer(W[i], W[i]) * s
        h[i] += dt[i] * (np.outer(W[i], 2 * x) + np.outer(2 * x, W[i]))
        h[i] += t[i] * 2 * np.eye(3)
        h[i, i, i + 1] += 1
        h[i, i + 1, i] += 1
        h[i, 0, 0] += np.exp(-x[0])
    return h


SECOND_ORDER = {
    "jacfwd(jacrev)": lambda f: ad.jacfwd(ad.jacrev(f)),
    "jacrev(jacfwd)": lambda f: ad.jacrev(ad.jacfwd(f)),
    "jacfwd(jacfwd)": lambda f: ad.jacfwd(ad.jacfwd(f)),
    "jacrev(jacrev)": lambda f: ad.jacrev(ad.jacrev(f)),
    "looped jacfwd(jacrev)": lambda f: ad.jacfwd(ad.jacrev(f, vectorized=False),
                                                 vectorized=False),
    "looped jacrev(jacfwd)": lambda f: ad.jacrev(ad.jacfwd(f, vectorized=False),
                                                 vectorized=False),
}


@pytest.mark.parametrize("second_order", SECOND_ORDER.values(), ids=SECOND_ORDER.keys())
def test_jacobian_of_jacobian_matches_the_closed_form(second_order):
    x = np.array([0.3, -0.8, 1.1])
    h = second_order(vector_field)(x)
    assert h.shape == (2, 3, 3)
    assert_allclose(h, vector_field_second_derivative(x), rtol=1e-12, atol=1e-14)


def test_jacobians_of_jacobians_agree_in_every_order():
    x = np.array([0.3, -0.8, 1.1])
    results = [second_order(vector_field)(x) for second_order in SECOND_ORDER.values()]
    for other in results[1:]:
        assert_allclose(other, results[0], rtol=1e-13, atol=1e-15)


def test_hessian_equals_jacfwd_of_grad_and_jacrev_of_grad():
    def f(x):
        return np.sum(vector_field(x) ** 2)

    x = np.array([0.3, -0.8, 1.1])
    h = ad.hessian(f)(x)
    assert_allclose(h, h.T, rtol=1e-13)
    assert_allclose(h, ad.jacfwd(ad.grad(f))(x), rtol=1e-13)
    assert_allclose(h, ad.jacrev(ad.grad(f))(x), rtol=1e-13)


def test_second_derivatives_through_kinks_away_from_the_kink():
    # maximum(x, 0)^2 has second derivative 2 where x > 0 and 0 where x < 0;
    # |x| * x has second derivative 2 sign(x)
    def f(x):
        return np.sum(np.maximum(x, 0.0) ** 2 + np.abs(x) * x)

    x = np.array([0.5, -1.0, 2.0])
    expected = np.diag([4.0, -2.0, 4.0])
    assert_allclose(ad.hessian(f)(x), expected)
    assert_allclose(ad.jacfwd(ad.jacfwd(f))(x), expected)
    assert_allclose(ad.jacrev(ad.grad(f))(x), expected)
    assert ad.grad(ad.grad(lambda x: abs(x) * x))(-0.5) == -2.0
