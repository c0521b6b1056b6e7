import numpy as np

import admodes as ad


def test_notebook_example_both_modes():
    def f(a, b):
        return (a + b) * (a * b)

    assert ad.grad(f, argnums=(0, 1))(3.0, 4.0) == (40.0, 33.0)
    assert ad.jvp(f, (3.0, 4.0), (1.0, 0.0)) == (84.0, 40.0)


def test_jacobians_agree_on_a_small_network():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)

    def g(x):
        return np.tanh(W @ x)

    expected = (1 - np.tanh(W @ x) ** 2)[:, None] * W
    for jac in (ad.jacfwd(g), ad.jacrev(g), ad.jacfwd(g, vectorized=False),
                ad.jacrev(g, vectorized=False)):
        np.testing.assert_allclose(jac(x), expected, rtol=1e-12)
