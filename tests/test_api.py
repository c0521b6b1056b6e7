"""The public transformations: what they return, pytrees, plain numpy user code, and forward
and reverse Jacobians of random programs agreeing with each other."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import admodes as ad


def numeric_jacobian(fun, x, eps=1e-6):
    """Central differences, shaped out.shape + x.shape."""
    x = np.asarray(x, dtype=float)
    out = np.asarray(fun(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        jac[(...,) + idx] = (np.asarray(fun(x + step)) - np.asarray(fun(x - step))) / (2 * eps)
    return jac


RNG = np.random.default_rng(20240601)
X23 = RNG.uniform(0.3, 1.5, size=(2, 3)) * np.array([[1, -1, 1], [-1, 1, -1]])
W34 = RNG.standard_normal((3, 4))
W42 = RNG.standard_normal((4, 2))


# -- jvp and vjp ----------------------------------------------------------------------


def test_jvp_returns_the_output_and_the_directional_derivative():
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([1.0, 0.5, -2.0])
    out, tangent_out = ad.jvp(lambda x: np.sin(x) * x, (x,), (v,))
    assert_allclose(out, np.sin(x) * x, rtol=1e-15)
    assert_allclose(tangent_out, (np.cos(x) * x + np.sin(x)) * v, rtol=1e-14)


def test_jvp_sums_the_directions_of_several_primals():
    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    va, vb = np.array([1.0, 0.0]), np.array([0.0, 3.0])
    out, tangent_out = ad.jvp(lambda a, b: a * np.exp(b), (a, b), (va, vb))
    assert_allclose(out, a * np.exp(b))
    assert_allclose(tangent_out, va * np.exp(b) + a * np.exp(b) * vb, rtol=1e-14)


def test_vjp_returns_the_output_and_a_pullback_giving_a_tuple_per_primal():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 0.25])
    out, vjp_fn = ad.vjp(lambda a, b: a * np.sin(b), a, b)
    assert_allclose(out, a * np.sin(b))
    ct = np.array([1.0, -2.0, 0.5])
    cotangents = vjp_fn(ct)
    assert isinstance(cotangents, tuple) and len(cotangents) == 2
    assert_allclose(cotangents[0], ct * np.sin(b), rtol=1e-14)
    assert_allclose(cotangents[1], ct * a * np.cos(b), rtol=1e-14)


def test_vjp_of_a_single_primal_still_returns_a_tuple():
    _, vjp_fn = ad.vjp(lambda x: 3.0 * x, np.array([1.0, 2.0]))
    cotangents = vjp_fn(np.array([1.0, 1.0]))
    assert isinstance(cotangents, tuple) and len(cotangents) == 1
    assert_allclose(cotangents[0], [3.0, 3.0])


# -- grad and value_and_grad ----------------------------------------------------------


def three_args(a, b, c):
    return np.sum(a * b) + np.sum(np.sin(c) * b)


A3, B3, C3 = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([0.3, 0.7])


def test_grad_with_an_int_argnums_returns_one_gradient():
    g = ad.grad(three_args, argnums=1)(A3, B3, C3)
    assert isinstance(g, np.ndarray)
    assert_allclose(g, A3 + np.sin(C3), rtol=1e-14)
    assert_allclose(ad.grad(three_args)(A3, B3, C3), B3)


def test_grad_with_a_tuple_argnums_returns_a_tuple_of_gradients():
    grads = ad.grad(three_args, argnums=(0, 2))(A3, B3, C3)
    assert isinstance(grads, tuple) and len(grads) == 2
    assert_allclose(grads[0], B3)
    assert_allclose(grads[1], np.cos(C3) * B3, rtol=1e-14)
    (only,) = ad.grad(three_args, argnums=(1,))(A3, B3, C3)
    assert_allclose(only, A3 + np.sin(C3), rtol=1e-14)


def test_value_and_grad_returns_the_value_and_the_gradient():
    value, g = ad.value_and_grad(three_args, argnums=2)(A3, B3, C3)
    assert_allclose(value, three_args(A3, B3, C3), rtol=1e-15)
    assert_allclose(g, np.cos(C3) * B3, rtol=1e-14)
    value, (ga, gc) = ad.value_and_grad(three_args, argnums=(0, 2))(A3, B3, C3)
    assert_allclose(value, three_args(A3, B3, C3), rtol=1e-15)
    assert_allclose(ga, B3)
    assert_allclose(gc, np.cos(C3) * B3, rtol=1e-14)


def test_grad_of_python_floats():
    assert ad.grad(lambda x, y: x * x * y, argnums=(0, 1))(3.0, 2.0) == (12.0, 9.0)


# -- jacfwd and jacrev ----------------------------------------------------------------

JACOBIANS = [
    pytest.param(ad.jacfwd, True, id="jacfwd-vectorized"),
    pytest.param(ad.jacfwd, False, id="jacfwd-looped"),
    pytest.param(ad.jacrev, True, id="jacrev-vectorized"),
    pytest.param(ad.jacrev, False, id="jacrev-looped"),
]


def matrix_to_matrix(x):
    return np.tanh(x @ W34).T * np.sum(x * x)  # (2, 3) -> (4, 2)


@pytest.mark.parametrize("jacobian, vectorized", JACOBIANS)
def test_jacobian_is_shaped_out_shape_plus_in_shape(jacobian, vectorized):
    jac = jacobian(matrix_to_matrix, vectorized=vectorized)(X23)
    assert jac.shape == (4, 2, 2, 3)
    assert_allclose(jac, numeric_jacobian(matrix_to_matrix, X23), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jacobian, vectorized", JACOBIANS)
def test_jacobian_of_scalar_input_and_of_scalar_output(jacobian, vectorized):
    jac = jacobian(lambda t: np.stack([np.sin(t), t * t, 2.0 * t]), vectorized=vectorized)(0.5)
    assert np.shape(jac) == (3,)
    assert_allclose(jac, [np.cos(0.5), 1.0, 2.0], rtol=1e-14)
    jac = jacobian(lambda x: np.sum(x ** 3), vectorized=vectorized)(X23)
    assert np.shape(jac) == (2, 3)
    assert_allclose(jac, 3 * X23 ** 2, rtol=1e-14)


@pytest.mark.parametrize("jacobian, vectorized", JACOBIANS)
def test_jacobian_with_tuple_argnums_and_dict_output(jacobian, vectorized):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.5])

    def f(a, b):
        return {"outer": np.outer(a, b), "dot": a[:2] @ b}

    jac = jacobian(f, argnums=(0, 1), vectorized=vectorized)(a, b)
    assert set(jac) == {"outer", "dot"}
    d_outer_da, d_outer_db = jac["outer"]
    assert d_outer_da.shape == (3, 2, 3) and d_outer_db.shape == (3, 2, 2)
    assert_allclose(d_outer_da, np.einsum("ik,j->ijk", np.eye(3), b))
    assert_allclose(d_outer_db, np.einsum("i,jk->ijk", a, np.eye(2)))
    d_dot_da, d_dot_db = jac["dot"]
    assert_allclose(d_dot_da, [0.5, -1.5, 0.0])
    assert_allclose(d_dot_db, [1.0, 2.0])


# -- hessian and hvp ------------------------------------------------------------------


def cubic_with_coupling(x):
    return np.sum(x ** 3) + x[0] * x[1] * x[2]


def cubic_hessian(x):
    h = np.diag(6 * x)
    h[0, 1] = h[1, 0] = x[2]
    h[0, 2] = h[2, 0] = x[1]
    h[1, 2] = h[2, 1] = x[0]
    return h


def test_hessian_matches_the_closed_form():
    x = np.array([0.5, -1.0, 2.0])
    assert_allclose(ad.hessian(cubic_with_coupling)(x), cubic_hessian(x), rtol=1e-14)


def test_hessian_of_a_matrix_input_is_shaped_in_shape_twice():
    h = ad.hessian(lambda x: np.sum(np.sin(x) * x))(X23)
    assert h.shape == (2, 3, 2, 3)
    expected = np.zeros((6, 6))
    expected[np.diag_indices(6)] = (2 * np.cos(X23) - X23 * np.sin(X23)).ravel()
    assert_allclose(h.reshape(6, 6), expected, rtol=1e-13, atol=1e-15)


def test_hvp_is_the_hessian_times_the_vector():
    x = np.array([0.5, -1.0, 2.0])
    v = np.array([1.0, 2.0, -0.5])
    assert_allclose(ad.hvp(cubic_with_coupling, (x,), (v,)), cubic_hessian(x) @ v, rtol=1e-14)


def test_hvp_of_two_primals_returns_a_tuple():
    def f(x, y):
        return np.sum(x * x * y)

    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    vx, vy = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    hx, hy = ad.hvp(f, (x, y), (vx, vy))
    # d2f/dx2 = diag(2y), d2f/dxdy = diag(2x), d2f/dy2 = 0
    assert_allclose(hx, 2 * y * vx + 2 * x * vy)
    assert_allclose(hy, 2 * x * vx)


# -- pytrees --------------------------------------------------------------------------


def init_mlp(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((m, n)) / np.sqrt(m), rng.standard_normal(n) * 0.1)
            for m, n in itertools.pairwise(sizes)]


def mlp_loss(params, inputs, targets):
    hidden = inputs
    for weights, bias in params[:-1]:
        hidden = np.tanh(hidden @ weights + bias)
    weights, bias = params[-1]
    prediction = hidden @ weights + bias
    return np.mean((prediction - targets) ** 2)


def test_grad_of_an_mlp_loss_comes_back_as_a_list_of_weight_bias_pairs():
    params = init_mlp([3, 4, 2])
    rng = np.random.default_rng(1)
    inputs, targets = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    grads = ad.grad(mlp_loss)(params, inputs, targets)
    assert isinstance(grads, list) and len(grads) == 2
    for (g_w, g_b), (w, b) in zip(grads, params):
        assert isinstance((g_w, g_b), tuple)
        assert g_w.shape == w.shape and g_b.shape == b.shape
    for layer in range(2):
        for slot in range(2):
            def loss_of_leaf(leaf, layer=layer, slot=slot):
                changed = [list(pair) for pair in params]
                changed[layer][slot] = leaf
                return mlp_loss([tuple(pair) for pair in changed], inputs, targets)

            expected = numeric_jacobian(loss_of_leaf, params[layer][slot])
            assert_allclose(grads[layer][slot], expected, rtol=1e-6, atol=1e-9)


def test_grad_of_a_dict_argument_returns_a_dict():
    params = {"scale": 2.0, "inner": {"w": np.array([1.0, -1.0]), "b": 0.5}}

    def f(p):
        return p["scale"] * np.sum(np.sin(p["inner"]["w"]) + p["inner"]["b"])

    g = ad.grad(f)(params)
    assert set(g) == {"scale", "inner"} and set(g["inner"]) == {"w", "b"}
    assert_allclose(g["scale"], np.sum(np.sin([1.0, -1.0]) + 0.5))
    assert_allclose(g["inner"]["w"], 2.0 * np.cos([1.0, -1.0]))
    assert_allclose(g["inner"]["b"], 4.0)


def test_jvp_and_vjp_with_nested_structures_in_and_out():
    def f(pair, d):
        x, y = pair
        return [x * d["z"], (np.sum(y), y * 2.0)]

    primals = ((np.array([1.0, 2.0]), np.array([3.0])), {"z": 0.5})
    tangents = ((np.array([1.0, 0.0]), np.array([2.0])), {"z": 1.0})
    out, tangent_out = ad.jvp(f, primals, tangents)
    assert_allclose(out[0], [0.5, 1.0])
    assert isinstance(tangent_out, list) and isinstance(tangent_out[1], tuple)
    assert_allclose(tangent_out[0], [1.0 * 0.5 + 1.0 * 1.0, 0.0 + 2.0 * 1.0])
    assert_allclose(tangent_out[1][0], 2.0)
    assert_allclose(tangent_out[1][1], [4.0])

    _, vjp_fn = ad.vjp(f, *primals)
    ct_pair, ct_dict = vjp_fn([np.array([1.0, 1.0]), (1.0, np.array([1.0]))])
    assert isinstance(ct_pair, tuple) and isinstance(ct_dict, dict)
    assert_allclose(ct_pair[0], [0.5, 0.5])
    assert_allclose(ct_pair[1], [3.0])
    assert_allclose(ct_dict["z"], 3.0)


# -- plain numpy user code on traced values -------------------------------------------

NUMPY_PROGRAMS = {
    "np.sin": lambda x: np.sin(x),
    "x @ W": lambda x: x @ W34,
    "W @ x": lambda x: W42.T @ np.tanh(x @ W34).T,
    "np.sum axis=0": lambda x: np.sum(x * x, axis=0),
    "np.where": lambda x: np.where(x > 0, x ** 3, np.cos(x)),
    "np.maximum(x, 0.0)": lambda x: np.maximum(x, 0.0),
    "np.minimum(0.0, x)": lambda x: np.minimum(0.0, x) * x,
    "x.T": lambda x: x.T * np.arange(1.0, 7.0).reshape(3, 2),
    "x.reshape": lambda x: x.reshape(3, 2) @ x.reshape(-1, 3),
    "indexing": lambda x: x[0, 1:] * x[1, :2] + x[:, 0].sum() + x[-1, ...][:0:-1] ** 2,
    "mask indexing": lambda x: x[x > 0] * 2.0,
    "float operators": lambda x: 2.0 - x + 3.0 * x / 2.0 - 1.0 / (1.0 + x * x) + x ** 3.0,
    "float on the left": lambda x: 2.0 ** x + 1.5 - (-x) + 0.5 ** (x * x),
    "builtin sum": lambda x: sum([x[0, 0] * x[1, 1], x[0, 2], 2.0, x[1, 0] ** 2]),
    "builtin max": lambda x: max([x[0, 0] * 3.0, x[1, 1], 0.25]),
    "methods": lambda x: x.sum(axis=1) * x.mean() + x.max(axis=0)[:2] + x.prod(axis=1),
    "np.exp, np.log, abs": lambda x: np.exp(x) * np.log(abs(x)) + np.abs(x),
    "np.concatenate, np.stack": lambda x: np.stack([np.concatenate([x[0], x[1]]), x.ravel()]),
    "np.dot, np.outer": lambda x: np.dot(x[0], x[1]) * np.outer(x[0], x[1]),
}


@pytest.mark.parametrize("program", NUMPY_PROGRAMS.values(), ids=NUMPY_PROGRAMS.keys())
@pytest.mark.parametrize("jacobian", [ad.jacfwd, ad.jacrev], ids=["forward", "reverse"])
def test_plain_numpy_code_is_differentiated_in_both_modes(program, jacobian):
    expected = numeric_jacobian(program, X23)
    assert_allclose(jacobian(program)(X23), expected, rtol=1e-6, atol=1e-8)


def test_the_branch_taken_by_builtin_max_is_differentiated():
    grads = ad.grad(lambda a, b: max([a * 3.0, b, 0.25]), argnums=(0, 1))(1.0, 2.0)
    assert grads == (3.0, 0.0)
    grads = ad.grad(lambda a, b: max([a * 3.0, b, 0.25]), argnums=(0, 1))(0.05, 0.1)
    assert grads == (0.0, 0.0)


UNSUPPORTED = [
    pytest.param(lambda x: np.convolve(x, x), "convolve", id="np.convolve"),
    pytest.param(lambda x: np.partition(x, 1), "partition", id="np.partition"),
    pytest.param(lambda x: np.logaddexp.reduce(x), r"logaddexp\.reduce",
                 id="np.logaddexp.reduce"),
    pytest.param(np.fft.fft, "fft", id="np.fft.fft"),
]


def each_mode(fun, x):
    """Apply ``fun`` to ``x`` traced by each engine in turn."""
    yield lambda: ad.jvp(fun, (x,), (np.ones_like(x),))
    yield lambda: ad.vjp(fun, x)
    yield lambda: ad.grad(lambda x: np.sum(fun(x) * 1.0))(x)
    yield lambda: ad.jacfwd(fun)(x)
    yield lambda: ad.jacrev(fun)(x)


@pytest.mark.parametrize("fun, name", UNSUPPORTED)
def test_a_numpy_function_without_a_rule_raises_naming_it(fun, name):
    x = np.array([3.0, 1.0, 2.0])
    for run in each_mode(fun, x):
        with pytest.raises(TypeError, match=name):
            run()


CONVERSIONS = [
    pytest.param(np.asarray, id="np.asarray"),
    pytest.param(np.array, id="np.array"),
    pytest.param(lambda x: float(x[0]), id="float"),
    pytest.param(lambda x: math.exp(x[0]), id="math.exp"),
]


@pytest.mark.parametrize("convert", CONVERSIONS)
def test_converting_a_traced_value_to_a_plain_one_raises(convert):
    x = np.array([0.5, 1.5])
    for run in each_mode(lambda x: convert(x) * 2.0, x):
        with pytest.raises(TypeError, match="traced value"):
            run()


# -- random programs: forward and reverse Jacobians agree -----------------------------

MIX = np.array([[0.2, -0.5, 0.3], [0.1, 0.4, -0.2], [-0.3, 0.2, 0.5]])


def as_matrix(v):
    return np.broadcast_to(v, (2, 3))


UNARY_OPS = {
    "sin": np.sin,
    "tanh": np.tanh,
    "exp of tanh": lambda v: np.exp(np.tanh(v)),
    "log of 1 + v^2": lambda v: np.log(1.0 + v * v),
    "sqrt of 1 + v^2": lambda v: np.sqrt(1.0 + v ** 2),
    "affine": lambda v: 0.5 - 1.5 * v,
    "square": lambda v: np.square(v) * 0.5,
    "sum keepdims": lambda v: np.sum(v, axis=-1, keepdims=True) if np.ndim(v) else v,
    "mean axis 0": lambda v: np.mean(v, axis=0, keepdims=True) if np.ndim(v) else v,
    "max keepdims": lambda v: np.max(v, axis=-1, keepdims=True) if np.ndim(v) else v,
    "mix columns": lambda v: as_matrix(v) @ MIX,
    "gather repeated": lambda v: as_matrix(v)[:, [2, 0, 2]],
    "transpose twice": lambda v: as_matrix(v).T.reshape(3, 2).T.reshape(2, 3),
}
BINARY_OPS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / (1.0 + b * b),
    "maximum": np.maximum,
    "minimum": np.minimum,
    "where": lambda a, b: np.where(a > b, a * b, a - b),
    "bilinear matmul": lambda a, b: np.tanh(0.3 * (as_matrix(a) @ as_matrix(b).T @ as_matrix(a))),
    "power": lambda a, b: (1.0 + a * a) ** np.tanh(b),
}
INPUT_SHAPES = [(2, 3), (3,), (2, 1), ()]

program_steps = st.lists(
    st.tuples(st.sampled_from(sorted(UNARY_OPS) + sorted(BINARY_OPS)),
              st.integers(0, 100), st.integers(0, 100)),
    min_size=1, max_size=8)


def build_program(steps):
    def program(*inputs):
        pool = list(inputs)
        for name, i, j in steps:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            pool.append(UNARY_OPS[name](a) if name in UNARY_OPS else BINARY_OPS[name](a, b))
        return pool[-1]

    return program


def relative_error(blocks, reference):
    scale = max(np.max(np.abs(r), initial=0.0) for r in reference)
    error = max(np.max(np.abs(b - r), initial=0.0) for b, r in zip(blocks, reference))
    return error / scale if scale else error


@settings(max_examples=300, deadline=None, derandomize=True)
@given(steps=program_steps, seed=st.integers(0, 2 ** 32 - 1))
def test_forward_and_reverse_jacobians_of_random_programs_agree(steps, seed):
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(shape) for shape in INPUT_SHAPES]
    program = build_program(steps)
    argnums = tuple(range(len(inputs)))
    forward = ad.jacfwd(program, argnums)(*inputs)
    reverse = ad.jacrev(program, argnums)(*inputs)
    out_shape = np.shape(program(*inputs))
    for block, x in zip(reverse, inputs):
        assert np.shape(block) == out_shape + np.shape(x)
    assert relative_error(forward, reverse) <= 1e-12
    looped = ad.jacfwd(program, argnums, vectorized=False)(*inputs)
    assert relative_error(looped, reverse) <= 1e-12

    # the adjoint identity <u, J v> == <J^T u, v>, one jvp and one vjp
    directions = [rng.standard_normal(np.shape(x)) for x in inputs]
    out, tangent_out = ad.jvp(program, inputs, directions)
    u = rng.standard_normal(np.shape(out))
    _, vjp_fn = ad.vjp(program, *inputs)
    pulled = vjp_fn(u)
    lhs = np.sum(u * tangent_out)
    rhs = sum(np.sum(p * d) for p, d in zip(pulled, directions))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, np.sum(np.abs(u * tangent_out)))


def test_scalar_jacobian_blocks_for_python_floats_are_floats_like_grad():
    def f(p):
        return p[0] * p[1]

    for jac in (ad.jacfwd(f), ad.jacrev(f), ad.jacfwd(f, vectorized=False)):
        blocks = jac([2.0, 3.0])
        assert blocks == [3.0, 2.0]
        assert all(type(b) is float for b in blocks)
    assert type(ad.jacfwd(f)([np.float64(2.0), 3.0])[0]) is not float  # arrays stay arrays


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 100])
def test_chunked_jacobians_match_and_take_ceil_sweeps(chunk_size):
    rng = np.random.default_rng(3)
    W = rng.normal(size=(7, 5))

    def f(x):
        return np.tanh(W @ x) * np.sum(x)

    x = rng.normal(size=5)
    expected = ad.jacrev(f)(x)
    with ad.count_ops() as fwd:
        got_fwd = ad.jacfwd(f, chunk_size=chunk_size)(x)
    with ad.count_ops() as rev:
        got_rev = ad.jacrev(f, chunk_size=chunk_size)(x)
    assert_allclose(got_fwd, expected, rtol=1e-12)
    assert_allclose(got_rev, expected, rtol=1e-12)
    assert fwd.forward_sweeps == math.ceil(5 / chunk_size)
    assert rev.recordings == 1 and rev.reverse_sweeps == math.ceil(7 / chunk_size)


def test_chunked_jacobians_of_pytrees_and_empty_inputs():
    def f(p):
        return {"y": p["a"] * 2.0, "z": np.sum(p["b"])}

    params = {"a": np.arange(3.0), "b": np.ones((2, 2))}
    for jac in (ad.jacfwd, ad.jacrev):
        whole, chunked = jac(f)(params), jac(f, chunk_size=2)(params)
        for out in ("y", "z"):
            for inp in ("a", "b"):
                assert_allclose(chunked[out][inp], whole[out][inp])
        assert jac(np.sin, chunk_size=2)(np.zeros(0)).shape == (0, 0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4"])
def test_chunk_size_must_be_a_positive_int(bad):
    for jac in (ad.jacfwd, ad.jacrev):
        with pytest.raises(ValueError, match="chunk_size must be a positive int"):
            jac(np.sin, chunk_size=bad)
