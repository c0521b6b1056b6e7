"""admodes.jacobian picks the mode and strategy from the sizes; the Jacobian is the same."""

from __future__ import annotations

import numpy as np
import pytest

import admodes
from admodes.auto import choose

RNG = np.random.default_rng(7)


def _net(n: int, m: int):
    w = RNG.standard_normal((m, n)) / np.sqrt(n)
    return lambda x: np.tanh(w @ x)


@pytest.mark.parametrize("n, m, mode", [(200, 3, "reverse"), (3, 200, "forward"),
                                        (1, 1, "reverse"), (50, 50, "reverse"),
                                        (50, 51, "forward"), (100, 1, "reverse")])
def test_the_mode_follows_the_sizes(n, m, mode):
    f = _net(n, m)
    x = RNG.standard_normal(n)
    jac, choice = admodes.jacobian(f, explain=True)(x)
    assert choice.mode == mode and choice.strategy == "vectorized"
    assert (choice.inputs, choice.outputs) == (n, m)
    np.testing.assert_allclose(jac, admodes.jacfwd(f)(x), atol=1e-13)
    assert jac.shape == (m, n)


def test_the_explanation_says_why():
    f = _net(200, 3)
    _, choice = admodes.jacobian(f, explain=True)(np.ones(200))
    text = str(choice)
    assert text.startswith("reverse: m = 3 outputs <= n = 200 inputs; one vectorized sweep "
                           "of 3 cotangents, about ")
    _, choice = admodes.jacobian(_net(2, 30), explain=True)(np.ones(2))
    assert str(choice).startswith("forward: n = 2 inputs < m = 30 outputs; one vectorized "
                                  "sweep of 2 tangents")


def test_a_memory_limit_chunks_the_directions():
    f = _net(40, 3000)  # forward mode, 40 directions, each ~3 x 24 kB of live tangents
    x = RNG.standard_normal(40)
    want = admodes.jacfwd(f)(x)
    jac, choice = admodes.jacobian(f, explain=True, memory_limit=10 * 3 * 24000)(x)
    assert choice.mode == "forward" and choice.strategy == "chunked"
    assert choice.chunk_size == 10 and choice.sweeps == 4
    assert "4 sweeps of 10 tangents each (chunked)" in str(choice)
    np.testing.assert_allclose(jac, want, atol=1e-13)
    with admodes.count_ops() as c:
        admodes.jacobian(f, memory_limit=10 * 3 * 24000)(x)
    assert c.forward_sweeps == 4 and c.recordings == 1  # one recording to learn the sizes
    jac, choice = admodes.jacobian(f, explain=True, memory_limit=1)(x)
    assert choice.strategy == "looped" and choice.sweeps == 40
    np.testing.assert_allclose(jac, want, atol=1e-13)


def test_the_choice_is_kept_per_input_signature():
    f = _net(30, 2)
    jac_fun = admodes.jacobian(f)
    with admodes.count_ops() as first:
        jac_fun(np.ones(30))
    with admodes.count_ops() as again:
        jac_fun(np.zeros(30))
    assert first.recordings == 2 and again.recordings == 1  # sizes learnt once
    assert len(jac_fun.choices) == 1
    jac_fun(np.ones(30, np.float32))
    assert len(jac_fun.choices) == 2


def test_pytrees_argnums_and_dtypes_are_jacfwd_and_jacrev_s():
    def f(a, b):
        return {"s": np.sum(a * b), "v": a * 2.0}

    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    got = admodes.jacobian(f, argnums=(0, 1))(a, b)
    want = admodes.jacrev(f, argnums=(0, 1))(a, b)
    for key in ("s", "v"):
        for g, w in zip(got[key], want[key]):
            np.testing.assert_allclose(g, w)
    g32 = admodes.jacobian(lambda x: x * x)(np.ones(3, np.float32))
    assert g32.dtype == np.float32


def test_the_rule_at_its_extremes():
    assert choose(10, 10, 100).mode == "reverse"  # a tie goes to reverse
    assert choose(10, 11, 100).mode == "forward"
    assert choose(0, 5, 100).mode == "forward"
    assert choose(5, 0, 100).mode == "reverse"
    assert choose(1000, 1, 10**9).strategy == "vectorized"
    c = choose(1000, 2000, 1000, memory_limit=10**5)
    assert (c.mode, c.strategy, c.chunk_size, c.sweeps) == ("forward", "chunked", 100, 10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="memory_limit"):
        admodes.jacobian(np.sin, memory_limit=0)
    with pytest.raises(TypeError, match="explain"):
        admodes.jacobian(np.sin, explain="yes")
