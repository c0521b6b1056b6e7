"""Regressions found reviewing issue 11's numpy coverage: each test failed before its fix."""

from __future__ import annotations

import warnings

import numpy as np

from admodes import grad, jacfwd, jacrev, vjp


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
