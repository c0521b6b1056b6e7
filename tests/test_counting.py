"""count_ops: what the engines did. Vector mode runs one sweep where the textbook loop runs
one per input (forward) or per output (reverse), and the counts are deterministic."""

from collections import Counter

import numpy as np
import pytest

import admodes as ad

N_IN, N_OUT = 5, 3
W = np.linspace(-1.0, 1.0, N_OUT * N_IN).reshape(N_OUT, N_IN)
X = np.linspace(0.2, 1.0, N_IN)


def r5_to_r3(x):
    return np.tanh(W @ x) * np.sum(x * x)


def test_count_ops_reports_every_field():
    with ad.count_ops() as c:
        ad.grad(lambda x: np.sum(np.sin(x) * x))(X)
    assert isinstance(c.ops, Counter)
    assert c.ops == Counter({"sin": 1, "multiply": 1, "sum": 1})
    assert c.flops > 0
    assert (c.forward_sweeps, c.recordings, c.reverse_sweeps) == (0, 1, 1)
    assert c.tape_length == 4  # the input, sin, multiply, sum
    # the input, sin(x) and sin(x) * x are arrays of N_IN float64; the sum is one more
    assert c.tape_bytes == 3 * X.nbytes + 8


def test_nothing_is_counted_outside_the_block():
    ad.grad(lambda x: np.sum(np.sin(x)))(X)
    with ad.count_ops() as c:
        pass
    assert c.ops == Counter() and c.flops == 0
    assert c.forward_sweeps == c.recordings == c.reverse_sweeps == 0
    assert c.tape_length == c.tape_bytes == 0


def test_flops_of_a_recorded_matmul_follow_its_cost_formula():
    a, b = np.ones((4, 6)), np.ones((6, 7))
    with ad.count_ops() as c:
        ad.vjp(lambda a: a @ b, a)
    assert c.ops == Counter({"matmul": 1})
    assert c.flops == 2 * 4 * 6 * 7


def test_vector_mode_jacfwd_runs_one_forward_sweep():
    with ad.count_ops() as c:
        jac = ad.jacfwd(r5_to_r3)(X)
    assert jac.shape == (N_OUT, N_IN)
    assert c.forward_sweeps == 1
    assert c.recordings == c.reverse_sweeps == 0


def test_looped_jacfwd_runs_one_forward_sweep_per_input():
    with ad.count_ops() as c:
        ad.jacfwd(r5_to_r3, vectorized=False)(X)
    assert c.forward_sweeps == N_IN
    assert c.recordings == c.reverse_sweeps == 0


def test_vector_mode_jacrev_runs_one_backward_sweep():
    with ad.count_ops() as c:
        jac = ad.jacrev(r5_to_r3)(X)
    assert jac.shape == (N_OUT, N_IN)
    assert c.recordings == 1
    assert c.reverse_sweeps == 1
    assert c.forward_sweeps == 0


def test_looped_jacrev_runs_one_backward_sweep_per_output():
    with ad.count_ops() as c:
        ad.jacrev(r5_to_r3, vectorized=False)(X)
    assert c.recordings == 1
    assert c.reverse_sweeps == N_OUT
    assert c.forward_sweeps == 0


def test_hessian_runs_forward_over_reverse():
    with ad.count_ops() as c:
        ad.hessian(lambda x: np.sum(r5_to_r3(x)))(X)
    assert (c.forward_sweeps, c.recordings, c.reverse_sweeps) == (1, 1, 1)


def test_a_pullback_called_again_runs_another_sweep_but_no_new_recording():
    _, vjp_fn = ad.vjp(r5_to_r3, X)
    with ad.count_ops() as c:
        vjp_fn(np.ones(N_OUT))
        vjp_fn(np.ones(N_OUT))
    assert c.recordings == 0 and c.reverse_sweeps == 2
    assert c.ops == Counter()  # pulling back evaluates no primal op


@pytest.mark.parametrize("transform", [
    pytest.param(lambda f: ad.grad(lambda x: np.sum(f(x))), id="grad"),
    pytest.param(ad.jacfwd, id="jacfwd"),
    pytest.param(ad.jacrev, id="jacrev"),
    pytest.param(lambda f: ad.jacfwd(f, vectorized=False), id="looped jacfwd"),
])
def test_the_counts_of_one_evaluation_are_deterministic(transform):
    counts = []
    for _ in range(2):
        with ad.count_ops() as c:
            transform(r5_to_r3)(X)
        counts.append(c)
    first, second = counts
    assert first.total_ops > 0
    assert first.ops == second.ops
    assert first.rule_ops == second.rule_ops
    assert first.flops == second.flops
    assert first.tape_length == second.tape_length
    assert first.tape_bytes == second.tape_bytes


def test_looped_jacfwd_evaluates_the_primal_once_per_sweep():
    with ad.count_ops() as vector:
        ad.jacfwd(r5_to_r3)(X)
    with ad.count_ops() as looped:
        ad.jacfwd(r5_to_r3, vectorized=False)(X)
    assert looped.ops == Counter({name: N_IN * n for name, n in vector.ops.items()})
