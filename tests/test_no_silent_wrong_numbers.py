"""Regression tests: each corner where admodes once returned a wrong number without a word,
crashed on valid code, or accepted an argument it should have refused. Every test here
failed before its fix; the per-op suite (tests/test_ops.py) generalises the derivative ones
to every registered op."""

import copy
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import admodes as ad

# -- second derivatives where an inner tangent or cotangent is exactly zero ------------


@pytest.mark.parametrize("fun, at, want", [
    pytest.param(lambda x: 1 / (1 + x * x), 0.0, -2.0, id="1/(1+x^2) at 0"),
    pytest.param(lambda x: np.sqrt(1 + x * x), 0.0, 1.0, id="sqrt(1+x^2) at 0"),
    pytest.param(lambda x: np.sqrt(x) * (x - 1), 1.0, 1.0, id="sqrt(x)(x-1) at 1"),
    pytest.param(lambda x: (x - 1) * (1 / (x + 1)), 1.0, -0.5, id="(x-1)/(x+1) at 1"),
    pytest.param(lambda x: (x + 2) ** 1.5 * (x - 1), 1.0, 1.5 * 3 ** 0.5 * 2, id="power"),
    pytest.param(lambda x: np.log(x) * (x - 1), 1.0, 2.0, id="log(x)(x-1) at 1"),
    pytest.param(lambda x: np.log1p(x) * x, 0.0, 2.0, id="log1p(x) x at 0"),
    pytest.param(lambda x: np.arcsin(x * x), 0.0, 2.0, id="arcsin(x^2) at 0"),
    pytest.param(lambda x: np.arccos(x) * x, 0.0, -2.0, id="arccos(x) x at 0"),
])
def test_second_derivative_with_an_exactly_zero_inner_derivative(fun, at, want):
    for second in (ad.hessian(fun), ad.grad(ad.grad(fun)), ad.jacfwd(ad.jacfwd(fun)),
                   ad.jacrev(ad.jacfwd(fun)), ad.jacrev(ad.jacrev(fun))):
        assert_allclose(second(at), want, rtol=1e-12)
    assert_allclose(ad.hvp(fun, (at,), (1.0,)), want, rtol=1e-12)


def test_hessian_of_a_sum_with_a_vanishing_factor():
    h = ad.hessian(lambda x: np.sum(np.log(x) * (x - 1)))(np.array([1.0, 2.0]))
    assert_allclose(h, [[2.0, 0.0], [0.0, 0.75]], rtol=1e-12)


def test_an_infinite_partial_times_an_exact_zero_is_zero_and_stays_quiet():
    # sqrt'(0) = inf is the documented convention, but a direction that does not move
    # the element contributes 0 (not nan), and no RuntimeWarning leaks from the rule
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, t = ad.jvp(lambda x, y: np.sqrt(x) + y, (np.zeros(2), np.ones(2)),
                      (np.zeros(2), np.ones(2)))
        assert_array_equal(t, [1.0, 1.0])
        assert ad.grad(np.sqrt)(0.0) == np.inf
        assert ad.grad(lambda x: np.sum(np.sqrt(x)))(np.array([0.0, 4.0]))[0] == np.inf


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
@pytest.mark.parametrize("vectorized", [True, False])
def test_an_infinite_partial_in_a_jacobian_is_inf_on_the_diagonal_and_0_off_it(jac,
                                                                               vectorized):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J = jac(np.sqrt, vectorized=vectorized)(np.array([0.0, 4.0]))
        assert_array_equal(J, [[np.inf, 0.0], [0.0, 0.25]])
        J = jac(lambda x: np.sqrt(x[0]) + x, vectorized=vectorized)(np.array([0.0, 1.0]))
        assert_array_equal(J, [[np.inf, 0.0], [np.inf, 1.0]])


def test_where_never_turns_the_untaken_branch_into_nan():
    # the branch not taken has an infinite derivative at 0: selection, not 0 * inf
    f = lambda x: np.where(x > 0, np.sqrt(np.abs(x)), x)  # noqa: E731
    x = np.array([0.0, 4.0])
    assert_array_equal(ad.grad(lambda x: np.sum(f(x)))(x), [1.0, 0.25])
    assert_array_equal(ad.jacfwd(f)(x), [[1.0, 0.0], [0.0, 0.25]])


# -- third and higher derivatives through indexing and stacking -----------------------


@pytest.mark.parametrize("fun, want", [
    pytest.param(lambda x: x[0] ** 3, 6.0, id="x[0]**3"),
    pytest.param(lambda x: np.sum(x[[0, 0, 1]] ** 3), 12.0, id="x[[0,0,1]]"),
    pytest.param(lambda x: np.stack([x, x])[1, 0] ** 3, 6.0, id="stack"),
    pytest.param(lambda x: np.sum(np.concatenate([x, x])[:1] ** 3), 6.0, id="concatenate"),
])
def test_third_derivatives_through_indexing_in_every_nesting(fun, want):
    x = np.ones(2)
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0] = want
    if want == 12.0:
        expected[1, 1, 1] = 6.0
    for third in (ad.jacfwd(ad.hessian(fun)), ad.jacrev(ad.hessian(fun)),
                  ad.jacfwd(ad.jacfwd(ad.jacrev(fun))), ad.jacrev(ad.jacfwd(ad.jacrev(fun))),
                  ad.jacrev(ad.jacrev(ad.jacrev(fun))), ad.jacfwd(ad.jacfwd(ad.jacfwd(fun)))):
        assert_allclose(third(x), expected, rtol=1e-12)
    v = np.array([1.0, 0.0])
    _, t = ad.jvp(lambda y: ad.hvp(fun, (y,), (v,)), (x,), (v,))
    assert_allclose(t, expected[:, 0, 0], rtol=1e-12)


# -- concatenate and stack of one array ------------------------------------------------


def test_concatenate_and_stack_of_one_array_in_reverse_mode():
    x = np.ones(2)
    g = ad.grad(lambda a: np.sum(np.concatenate([a])))(x)
    assert isinstance(g, np.ndarray) and g.shape == (2,)
    assert_array_equal(ad.grad(lambda a: np.sum(np.concatenate([a])) + np.sum(a ** 2))(x),
                       [3.0, 3.0])
    assert_array_equal(ad.grad(lambda a: np.sum(np.stack([a])))(x), [1.0, 1.0])
    f = lambda a: np.sum(a ** 3)  # noqa: E731
    assert_allclose(ad.jacrev(ad.jacrev(f, vectorized=False))(x), 6 * np.eye(2))


# -- complex intermediates -------------------------------------------------------------


@pytest.mark.parametrize("fun", [
    pytest.param(lambda x: np.abs(x * (1 + 2j)), id="times a complex constant"),
    pytest.param(lambda x: np.abs(np.exp(1j * x)), id="exp(1j x)"),
    pytest.param(lambda x: np.real(x + 0j), id="plus 0j"),
])
@pytest.mark.parametrize("transform", ["grad", "jacfwd", "jacrev"])
def test_a_complex_intermediate_is_refused_in_both_modes(fun, transform):
    with pytest.raises(TypeError, match="complex"):
        getattr(ad, transform)(fun)(0.5)
    with pytest.raises(TypeError, match="complex"):
        getattr(ad, transform)(fun)(np.array([0.5]))


# -- rules never raise where their primal did not -------------------------------------


@pytest.mark.parametrize("fun, at, want", [
    pytest.param(lambda a: a / 0.0, 1.0, np.inf, id="a / 0.0"),
    pytest.param(np.log, 0.0, np.inf, id="log at 0"),
    pytest.param(np.log1p, -1.0, np.inf, id="log1p at -1"),
    pytest.param(lambda a: 1.0 / a, 0.0, -np.inf, id="1 / a at 0"),
])
def test_rules_give_numpy_infinities_for_python_floats_and_numpy_scalars(fun, at, want):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the primal's own warning
        for x in (at, np.float64(at), np.array(at)):
            assert ad.grad(fun)(x) == want
            assert ad.jvp(fun, (x,), (1.0 if type(x) is float else np.ones_like(x),))[1] \
                == want


# -- valid code that crashed ------------------------------------------------------------


def test_indexing_a_zero_d_value_whose_tangent_is_a_python_float():
    out, t = ad.jvp(lambda x: (2.0 * x)[...], (0.5,), (1.0,))
    assert out == 1.0 and t == 2.0
    assert ad.grad(lambda x: (2.0 * x)[()])(0.5) == 2.0


def test_dicts_compare_by_keys_not_by_insertion_order():
    f = lambda d: d["a"] * d["b"]  # noqa: E731
    out, t = ad.jvp(f, ({"a": 1.0, "b": 2.0},), ({"b": 1.0, "a": 0.0},))
    assert (out, t) == (2.0, 1.0)
    _, pullback = ad.vjp(lambda d: {"y": d["a"], "x": d["b"]}, {"b": 2.0, "a": 1.0})
    assert pullback({"x": 1.0, "y": 10.0}) == ({"a": 10.0, "b": 1.0},)
    leaves, tree = ad.tree_flatten({"b": 2, "a": 1})
    assert leaves == [1, 2] and ad.tree_flatten({"a": 0, "b": 0})[1] == tree


def test_a_deeply_nested_pytree_is_flattened_without_recursion():
    deep = 1.5
    for _ in range(5000):
        deep = [deep]
    leaves, tree = ad.tree_flatten(deep)
    assert leaves == [1.5]
    rebuilt = ad.tree_unflatten(tree, [2.5])
    for _ in range(5000):
        rebuilt = rebuilt[0]
    assert rebuilt == 2.5
    assert ad.grad(lambda t: ad.tree_flatten(t)[0][0] ** 2)(deep) is not None


# -- ndarray subclasses ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_np_matrix_is_refused_at_the_input_and_as_a_tangent():
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="matrix.*subclass"):
        ad.jvp(lambda x: x * x, (M,), (M,))
    with pytest.raises(TypeError, match="matrix.*subclass"):
        ad.grad(lambda x: np.sum(x * x))(M)
    with pytest.raises(TypeError, match="matrix.*subclass"):
        ad.jvp(lambda x: x * x, (np.asarray(M),), (M,))


def test_masked_arrays_keep_numpy_masked_arithmetic():
    m = np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False])
    out, t = ad.jvp(lambda x: x * x, (m,), (np.ones(3),))
    assert isinstance(out, np.ma.MaskedArray) and out.mask.tolist() == [False, True, False]
    assert_array_equal(np.ma.filled(t, 0.0), [2.0, 0.0, 6.0])


# -- dtypes per leaf ----------------------------------------------------------------------


def test_each_derivative_comes_back_in_its_own_leaf_dtype():
    x32, x64 = np.ones(2, np.float32), np.ones(2)
    f = lambda a, b: a * b  # noqa: E731
    for jac in (ad.jacfwd, ad.jacrev):
        for vectorized in (True, False):
            j32, j64 = jac(f, argnums=(0, 1), vectorized=vectorized)(x32, x64)
            assert (j32.dtype, j64.dtype) == (np.float32, np.float64)
    g = lambda x: x * np.float64(2)  # noqa: E731  (a float64 numpy scalar upcasts x)
    assert ad.grad(lambda x: np.sum(g(x)))(x32).dtype == np.float32
    assert ad.vjp(g, x32)[1](np.ones(2))[0].dtype == np.float32
    assert ad.jacrev(g)(x32).dtype == np.float32
    assert ad.jacfwd(g)(x32).dtype == np.float32
    assert ad.hessian(lambda x: np.sum(g(x) ** 3))(x32).dtype == np.float32


# -- values that escape their transformation ---------------------------------------------


def leak_from(transform):
    kept = []

    def keep(x):
        kept.append(x)
        return x * 2.0

    if transform == "jvp":
        ad.jvp(keep, (1.0,), (1.0,))
    else:
        getattr(ad, transform)(keep)(1.0)
    return kept[0]


@pytest.mark.parametrize("transform", ["grad", "jacrev", "jvp", "jacfwd"])
def test_an_escaped_traced_value_is_refused_with_where_it_came_from(transform):
    leaked = leak_from(transform)
    with pytest.raises(TypeError, match=f"escaped.*|{transform} of keep") as info:
        leaked * 2.0
    assert "keep" in str(info.value) and "escaped" in str(info.value)
    with pytest.raises(TypeError, match="escaped"):
        np.sin(leaked)
    with pytest.raises(TypeError, match="escaped"):
        ad.value_and_grad(lambda y: leaked * y)(2.0)
    with pytest.raises(TypeError, match="escaped"):
        ad.grad(lambda y: y)(leaked)
    with pytest.raises(TypeError, match="escaped"):
        ad.jvp(lambda y: leaked, (1.0,), (1.0,))


def test_an_escaped_value_does_not_grow_its_tape():
    leaked = leak_from("grad")
    tape = leaked._trace
    length = len(tape)
    for _ in range(3):
        with pytest.raises(TypeError, match="escaped"):
            leaked + 1.0
    assert len(tape) == length


def test_an_inner_levels_value_used_by_an_outer_level_is_refused():
    kept = []

    def outer(x):
        def inner(y):
            kept.append(y)
            return y * x
        ad.grad(inner)(x)
        return kept[0] * x

    with pytest.raises(TypeError, match="escaped"):
        ad.grad(outer)(1.0)


def test_a_pullback_may_still_be_called_after_its_function_returned():
    out, pullback = ad.vjp(lambda x: x * x, 3.0)
    assert pullback(1.0) == (6.0,) and pullback(2.0) == (12.0,)


@pytest.mark.parametrize("make_copy", [copy.copy, copy.deepcopy])
def test_a_copy_of_a_traced_value_keeps_its_derivative(make_copy):
    assert ad.grad(lambda x: make_copy(x) * x)(2.0) == 4.0
    assert ad.jvp(lambda x: make_copy(x) * x, (2.0,), (1.0,))[1] == 4.0
    assert_array_equal(ad.grad(lambda x: np.sum(make_copy([x, x])[0] * x))(np.ones(2)),
                       [2.0, 2.0])


# -- outputs that are not numbers ----------------------------------------------------------

TRANSFORMS = {
    "grad": lambda f: ad.grad(f)(1.0),
    "value_and_grad": lambda f: ad.value_and_grad(f)(1.0),
    "jacfwd": lambda f: ad.jacfwd(f)(1.0),
    "jacrev": lambda f: ad.jacrev(f)(1.0),
    "jvp": lambda f: ad.jvp(f, (1.0,), (1.0,)),
    "vjp": lambda f: ad.vjp(f, 1.0),
    "hessian": lambda f: ad.hessian(f)(1.0),
}


@pytest.mark.parametrize("fun, said", [
    pytest.param(lambda x: None, "returned None", id="None"),
    pytest.param(lambda x: "a", "str", id="str"),
    pytest.param(lambda x: (x for _ in range(2)), "generator", id="generator"),
    pytest.param(lambda x: object(), "object", id="object"),
    pytest.param(lambda x: np.array(["a"]), "dtype <U1", id="string array"),
    pytest.param(lambda x: (x, "a"), "output leaf 1", id="tuple with a str"),
])
@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_a_non_numeric_output_is_a_type_error_in_every_transformation(fun, said, transform):
    with pytest.raises(TypeError, match=said):
        TRANSFORMS[transform](fun)


# -- arguments that must be refused --------------------------------------------------------


@pytest.mark.parametrize("argnums", [(0, 0), (0, -2), [1, 1]])
@pytest.mark.parametrize("transform", [ad.grad, ad.value_and_grad, ad.jacfwd, ad.jacrev])
def test_duplicate_argnums_are_refused(transform, argnums):
    with pytest.raises(ValueError, match="more than once"):
        transform(lambda x, y: x * y * y, argnums=argnums)(3.0, 2.0)


@pytest.mark.parametrize("argnums", [True, False, 1.0, None, "0", (0, True), (np.bool_(1),)])
@pytest.mark.parametrize("transform", [ad.grad, ad.value_and_grad, ad.jacfwd, ad.jacrev,
                                       ad.hessian])
def test_argnums_of_the_wrong_type_are_a_type_error(transform, argnums):
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        transform(lambda x, y: x * y, argnums=argnums)


def test_numpy_integers_are_accepted_as_argnums():
    f = lambda x, y: x * y * y  # noqa: E731
    assert ad.grad(f, argnums=np.int64(1))(3.0, 2.0) == 12.0
    assert ad.grad(f, argnums=(np.int32(0), 1))(3.0, 2.0) == (4.0, 12.0)
    assert ad.jacfwd(f, argnums=np.int64(-1))(3.0, 2.0) == 12.0


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_chunk_size_and_vectorized_are_checked(jac):
    with pytest.raises(ValueError, match="chunk_size"):
        jac(np.sin, chunk_size=True)
    for bad in ("no", 1, None, 0.0):
        with pytest.raises(TypeError, match="vectorized must be True or False"):
            jac(np.sin, vectorized=bad)
    assert_array_equal(jac(np.sin, vectorized=np.bool_(False))(np.zeros(2)), np.eye(2))


def test_count_ops_counts_only_its_own_threads_work():
    started, finish = threading.Event(), threading.Event()

    def busy():
        with ad.count_ops() as theirs:
            started.set()
            finish.wait(10)
            ad.grad(lambda x: np.sum(np.sin(x)))(np.ones(3))
        busy.count = theirs

    worker = threading.Thread(target=busy)
    worker.start()
    started.wait(10)
    with ad.count_ops() as mine:
        finish.set()
        ad.jvp(np.cos, (np.ones(2),), (np.ones(2),))
        worker.join()
    assert mine.ops["cos"] == 1 and mine.ops["sin"] == 0 and mine.recordings == 0
    assert busy.count.ops["sin"] == 1 and busy.count.ops["cos"] == 0
    assert busy.count.recordings == 1 and mine.forward_sweeps == 1


# -- messages that say what went wrong -------------------------------------------------


@pytest.mark.parametrize("use, said", [
    pytest.param(lambda x: int(x), r"int\(\)", id="int"),
    pytest.param(lambda x: float(x), r"float\(\)", id="float"),
    pytest.param(lambda x: x.item(), r"\.item\(\)", id="item"),
    pytest.param(lambda x: x.tolist(), r"\.tolist\(\)", id="tolist"),
    pytest.param(lambda x: list(range(x)), "integer", id="range"),
])
def test_conversions_of_a_traced_value_name_the_conversion(use, said):
    for transform in (ad.grad, ad.jacfwd):
        with pytest.raises(TypeError, match=said):
            transform(lambda x: use(x) * 1.0)(1.0)
