"""Bad input fails loudly with a message that says what was expected and what was given;
inputs a function ignores get zeros; float32 stays float32."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import admodes as ad


def square_sum(x):
    return np.sum(x * x)


def first_input_mode(fun):
    """Each transformation applied to ``fun`` at one input ``x``."""
    return {
        "grad": lambda x: ad.grad(fun)(x),
        "value_and_grad": lambda x: ad.value_and_grad(fun)(x),
        "jacfwd": lambda x: ad.jacfwd(fun)(x),
        "jacrev": lambda x: ad.jacrev(fun)(x),
        "jvp": lambda x: ad.jvp(fun, (x,), (x,)),
        "vjp": lambda x: ad.vjp(fun, x),
    }


ALL_MODES = list(first_input_mode(square_sum))

# -- inputs that are not floats -------------------------------------------------------


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("value, type_name", [
    pytest.param("abc", "str", id="string"),
    pytest.param(np.array([1.0, "a"], dtype=object), "object", id="object array"),
    pytest.param(np.array(["a", "b"]), "<U1", id="string array"),
])
def test_a_non_numeric_input_raises_naming_its_type(mode, value, type_name):
    with pytest.raises(TypeError, match=type_name):
        first_input_mode(square_sum)[mode](value)


@pytest.mark.parametrize("mode", ["grad", "jacrev", "jacfwd", "jvp"])
@pytest.mark.parametrize("value", [
    pytest.param(3, id="int"),
    pytest.param(np.int64(3), id="np.int64"),
    pytest.param(np.array([1, 2]), id="int array"),
    pytest.param(True, id="bool"),
    pytest.param(np.array([True, False]), id="bool array"),
])
def test_int_and_bool_inputs_raise_asking_for_floats(mode, value):
    with pytest.raises(TypeError, match="pass floats"):
        first_input_mode(square_sum)[mode](value)


def test_an_int_leaf_in_a_pytree_is_refused_too():
    with pytest.raises(TypeError, match="pass floats"):
        ad.grad(lambda p: p["a"] * p["b"])({"a": 2.0, "b": 3})


# -- grad of something that is not a real scalar --------------------------------------


@pytest.mark.parametrize("fun, described", [
    pytest.param(lambda x: x * 2.0, r"shape \(3,\)", id="vector"),
    pytest.param(lambda x: np.reshape(x, (1, 3)), r"shape \(1, 3\)", id="matrix"),
    pytest.param(lambda x: 3, "int", id="integer"),
    pytest.param(lambda x: (np.sum(x), np.sum(x)), "tuple", id="tuple"),
    pytest.param(lambda x: [np.sum(x)], "list", id="list"),
])
@pytest.mark.parametrize("transform", [ad.grad, ad.value_and_grad])
def test_grad_of_a_non_scalar_output_points_to_jacrev_and_vjp(fun, described, transform):
    with pytest.raises(TypeError, match=described) as info:
        transform(fun)(np.array([1.0, 2.0, 3.0]))
    assert "jacrev" in str(info.value) and "vjp" in str(info.value)


@pytest.mark.parametrize("transform", [ad.grad, ad.value_and_grad, ad.jacfwd, ad.jacrev])
def test_a_complex_output_is_refused_as_a_complex_intermediate(transform):
    with pytest.raises(TypeError, match="complex value .* inside a traced computation"):
        transform(lambda x: np.sum(x) * 1j)(np.array([1.0, 2.0, 3.0]))


# -- tangents and cotangents that do not match ----------------------------------------


def test_a_tangent_of_the_wrong_shape_is_not_broadcast():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        ad.jvp(np.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match=r"\(\).*\(3,\)"):
        ad.jvp(np.sin, (np.ones(3),), (1.0,))
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(3,\)"):
        ad.jvp(np.sin, (np.ones(3),), (np.ones((1, 3)),))


def test_a_tangent_of_the_wrong_dtype_names_both():
    with pytest.raises(TypeError, match="float32.*float64"):
        ad.jvp(np.sin, (np.ones(3),), (np.ones(3, dtype=np.float32),))
    with pytest.raises(TypeError, match="int64.*float64"):
        ad.jvp(np.sin, (np.ones(3),), (np.array([1, 2, 3]),))
    with pytest.raises(TypeError, match="complex128.*float64"):
        ad.jvp(np.sin, (np.ones(3),), (np.ones(3, dtype=complex),))


def test_tangents_of_the_wrong_structure_name_both_structures():
    def f(a, b):
        return a * b

    with pytest.raises(TypeError, match=r"tuple\(\*\).*tuple\(\*, \*\)"):
        ad.jvp(f, (1.0, 2.0), (1.0,))
    with pytest.raises(TypeError, match=r"tuple\(\*, \*, \*\).*tuple\(\*, \*\)"):
        ad.jvp(f, (1.0, 2.0), (1.0, 1.0, 1.0))
    with pytest.raises(TypeError, match="structure"):
        ad.jvp(lambda p: p["a"], ({"a": 1.0},), ({"b": 1.0},))
    with pytest.raises(TypeError, match="structure"):
        ad.jvp(lambda p: p[0], ([1.0, 2.0],), ((1.0, 2.0),))


def test_a_tangent_that_is_none_or_a_string_is_refused():
    with pytest.raises(TypeError, match="str"):
        ad.jvp(np.sin, (np.ones(3),), ("abc",))
    with pytest.raises(TypeError, match="structure"):
        ad.jvp(np.sin, (1.0,), (None,))


def test_a_cotangent_of_the_wrong_shape_dtype_or_structure():
    _, vjp_fn = ad.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"\(\).*\(3,\)"):
        vjp_fn(1.0)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        vjp_fn(np.ones(2))
    with pytest.raises(TypeError, match="float32.*float64"):
        vjp_fn(np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="structure"):
        vjp_fn((np.ones(3),))

    _, vjp_pair = ad.vjp(lambda x: (x, np.sum(x)), np.ones(3))
    with pytest.raises(TypeError, match="structure"):
        vjp_pair(np.ones(3))
    with pytest.raises(TypeError, match="structure"):
        vjp_pair([np.ones(3), 1.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(\)"):
        vjp_pair((np.ones(3), np.ones(3)))


def test_jvp_wants_tuples_of_primals_and_tangents():
    with pytest.raises(TypeError, match="tuples"):
        ad.jvp(np.sin, np.ones(3), np.ones(3))


# -- argnums --------------------------------------------------------------------------

TRANSFORMS = [ad.grad, ad.value_and_grad, ad.jacfwd, ad.jacrev]


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("argnums", [2, -3, (0, 5), 7])
def test_argnums_out_of_range(transform, argnums):
    with pytest.raises(ValueError, match="out of range"):
        transform(lambda a, b: a * b, argnums=argnums)(1.0, 2.0)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_argnums_that_are_empty_or_not_ints(transform):
    with pytest.raises(ValueError, match="argnums"):
        transform(lambda a, b: a * b, argnums=())(1.0, 2.0)
    with pytest.raises((TypeError, ValueError), match="argnums"):
        transform(lambda a, b: a * b, argnums=(0.0,))(1.0, 2.0)


def test_negative_argnums_count_from_the_end():
    assert ad.grad(lambda a, b: a * b * b, argnums=-1)(3.0, 2.0) == 12.0


# -- inputs a function does not depend on ---------------------------------------------


def ignores_b(a, b):
    return np.sum(np.sin(a))


def assert_zeros_like(value, like):
    assert value is not None
    assert np.shape(value) == np.shape(like)
    assert np.asarray(value).dtype == np.asarray(like).dtype
    assert_array_equal(value, np.zeros_like(like))


@pytest.mark.parametrize("b", [
    pytest.param(np.ones((2, 3)), id="float64 matrix"),
    pytest.param(np.ones(4, dtype=np.float32), id="float32 vector"),
    pytest.param(2.0, id="python float"),
])
def test_an_ignored_input_gets_zeros_of_its_shape_and_dtype(b):
    a = np.array([0.1, 0.2], dtype=np.asarray(b).dtype)
    _, g_b = ad.grad(ignores_b, argnums=(0, 1))(a, b)
    assert_zeros_like(g_b, b)
    assert_zeros_like(ad.grad(ignores_b, argnums=1)(a, b), b)
    _, (_, g_b) = ad.value_and_grad(ignores_b, argnums=(0, 1))(a, b)
    assert_zeros_like(g_b, b)

    _, vjp_fn = ad.vjp(ignores_b, a, b)
    assert_zeros_like(vjp_fn(1.0)[1], b)

    _, tangent_out = ad.jvp(lambda b: a * 2.0, (b,), (np.ones_like(b),))
    assert_zeros_like(tangent_out, a)

    for vectorized in (True, False):
        jac = ad.jacfwd(ignores_b, argnums=1, vectorized=vectorized)(a, b)
        assert_zeros_like(jac, b)
        jac = ad.jacrev(ignores_b, argnums=1, vectorized=vectorized)(a, b)
        assert_zeros_like(jac, b)
        jac = ad.jacrev(lambda a, b: np.sin(a), argnums=1, vectorized=vectorized)(a, b)
        assert_zeros_like(jac, np.zeros((2,) + np.shape(b), np.asarray(b).dtype))


def test_a_constant_function_gets_zeros_everywhere():
    x = np.ones(3, dtype=np.float32)
    assert_zeros_like(ad.grad(lambda x: 1.0)(x), x)
    assert_zeros_like(ad.vjp(lambda x: np.ones(2), x)[1](np.ones(2))[0], x)
    assert_zeros_like(ad.jvp(lambda x: np.ones(2), (x,), (x,))[1], np.ones(2))
    # a Jacobian block comes in its input's dtype, as grad's does
    assert_zeros_like(ad.jacfwd(lambda x: np.ones(2))(x), np.zeros((2, 3), np.float32))
    assert_zeros_like(ad.jacrev(lambda x: np.ones(2))(x), np.zeros((2, 3), np.float32))


# -- float32 ---------------------------------------------------------------------------

FLOAT32_PROGRAMS = {
    "python float constants": lambda x: x * 2.5 + 1.0 - 0.5 / x,
    "float on the left": lambda x: 3.0 - x + 2.0 ** x,
    "power": lambda x: x ** 3.0 + x ** 2 + np.sqrt(x),
    "maximum with 0.0": lambda x: np.maximum(x, 0.0) + np.minimum(1.0, x),
    "where with a constant": lambda x: np.where(x > 0.9, x, 0.0),
    "transcendental": lambda x: np.exp(x) * np.tanh(x) + np.log(x),
    "reductions": lambda x: np.max(x) * np.mean(x) + np.prod(x) + x * np.sum(x, axis=0),
    "mean of squares": lambda x: np.mean(x ** 2) * np.ones(3, dtype=np.float32),
}


@pytest.mark.parametrize("program", FLOAT32_PROGRAMS.values(), ids=FLOAT32_PROGRAMS.keys())
def test_float32_in_gives_float32_derivatives(program):
    x = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    out, tangent = ad.jvp(program, (x,), (np.ones(3, np.float32),))
    assert out.dtype == np.float32 and tangent.dtype == np.float32
    out, vjp_fn = ad.vjp(program, x)
    assert out.dtype == np.float32
    assert vjp_fn(np.ones(3, np.float32))[0].dtype == np.float32
    value, g = ad.value_and_grad(lambda x: np.sum(program(x)))(x)
    assert value.dtype == np.float32 and g.dtype == np.float32
    for jacobian in (ad.jacfwd, ad.jacrev):
        for vectorized in (True, False):
            assert jacobian(program, vectorized=vectorized)(x).dtype == np.float32
    assert ad.hessian(lambda x: np.sum(program(x)))(x).dtype == np.float32


def test_float32_derivative_values_are_right():
    x = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    g = ad.grad(lambda x: np.sum(x * 2.5 + x ** 2))(x)
    assert g.dtype == np.float32
    assert_array_equal(g, np.array([3.5, 4.5, 6.5], dtype=np.float32))
