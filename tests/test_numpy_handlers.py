"""The numpy handlers (admodes.numpy_api) against numpy itself.

The rule: on traced values a numpy function computes what numpy computes, or raises an
error naming the argument it does not support. It never drops an argument silently. So
each supported call is checked against plain numpy (value, shape, dtype) and its
derivative in both modes; each refused one for the error's type and the name it gives.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import admodes as ad

RNG = np.random.default_rng(20240611)


def away_from_kinks(*shape):
    """Distinct absolute values in [0.5, 2), random signs, no zeros: clear of the kinks
    of abs, max and min (and of ties between row or column sums)."""
    return RNG.uniform(0.5, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)


def traced_runs(fun, *args):
    """``fun`` applied to ``args`` traced by each engine: forward, then reverse."""
    tangents = tuple(np.ones_like(a) for a in args)
    yield lambda: ad.jvp(fun, args, tangents)
    yield lambda: ad.vjp(fun, *args)


def assert_raises_in_both_modes(fun, args, error, match):
    for run in traced_runs(fun, *args):
        with pytest.raises(error, match=match):
            run()


def assert_like_numpy(fun, *args, order=1):
    """Traced ``fun`` gives numpy's value (shape and dtype too) in both modes, and its
    derivatives pass check_grads: forward mode against central differences, reverse
    mode against forward mode."""
    want = fun(*args)
    tangents = tuple(np.ones_like(a) for a in args)
    for out in (ad.jvp(fun, args, tangents)[0], ad.vjp(fun, *args)[0]):
        assert np.shape(out) == np.shape(want)
        assert np.result_type(out) == np.result_type(want)
        assert_allclose(out, want, rtol=1e-12, atol=1e-14)
    ad.check_grads(fun, args, order=order, modes=("fwd", "rev"))


# -- out= and the keywords a handler does not implement -------------------------------

X3 = np.array([0.3, -1.2, 2.0])

OUT_CALLS = [
    pytest.param(lambda x, buf: np.clip(x, 0.0, 1.0, out=buf), (3,), id="np.clip"),
    pytest.param(lambda x, buf: np.dot(x, x, out=buf), (), id="np.dot"),
    pytest.param(lambda x, buf: np.concatenate([x, x], out=buf), (6,), id="np.concatenate"),
    pytest.param(lambda x, buf: np.outer(x, x, out=buf), (3, 3), id="np.outer"),
    pytest.param(lambda x, buf: np.stack([x, x], out=buf), (2, 3), id="np.stack"),
    pytest.param(lambda x, buf: np.sum(x, out=buf), (), id="np.sum"),
    pytest.param(lambda x, buf: np.mean(x, out=buf), (), id="np.mean"),
    pytest.param(lambda x, buf: np.max(x, 0, buf), (), id="np.max positional out"),
    pytest.param(lambda x, buf: x.clip(0.0, 1.0, buf), (3,), id="x.clip positional out"),
    pytest.param(lambda x, buf: x.sum(out=buf), (), id="x.sum"),
    pytest.param(lambda x, buf: x.dot(x, buf), (), id="x.dot"),
]


@pytest.mark.parametrize("call, buf_shape", OUT_CALLS)
def test_out_is_refused_by_name_and_never_written(call, buf_shape):
    buf = np.zeros(buf_shape)
    call(X3, np.zeros(buf_shape))  # numpy itself accepts the call
    assert_raises_in_both_modes(lambda x: call(x, buf), (X3,), TypeError,
                                r"\(\.\.\., out=\.\.\.\).*never written in place")
    assert_array_equal(buf, np.zeros(buf_shape))


def test_a_traced_out_of_a_function_without_derivative_is_refused():
    # np.any would write into the traced value's own array
    x = np.array(0.0)
    assert_raises_in_both_modes(lambda x: np.any(np.ones(3), out=x), (x,), TypeError,
                                r"np\.any\(\.\.\., out=\.\.\.\)")
    assert x == 0.0


MASK = np.array([True, False, True])

UNIMPLEMENTED_KEYWORDS = [
    # initial= and where= on the reductions are implemented (tests/test_numpy_selection.py)
    pytest.param(lambda x: np.clip(x, 0.0, 1.0, where=MASK), "where", id="np.clip where"),
    pytest.param(lambda x: np.clip(x, 0.0, 1.0, casting="unsafe"), "casting",
                 id="np.clip casting"),
    pytest.param(lambda x: np.clip(x, 0.0, 1.0, dtype=np.float32), "dtype",
                 id="np.clip dtype"),
    pytest.param(lambda x: np.clip(x, 0.0, 1.0, order="F"), "order", id="np.clip order"),
    pytest.param(lambda x: x.clip(0.0, 1.0, subok=False), "subok", id="x.clip subok"),
]


@pytest.mark.parametrize("call, names", UNIMPLEMENTED_KEYWORDS)
def test_an_unimplemented_keyword_is_refused_by_name(call, names):
    call(X3)  # numpy itself accepts the call
    assert_raises_in_both_modes(call, (X3,), TypeError,
                                rf"\(\.\.\., {names}=\.\.\.\) is not supported")


def test_keywords_at_their_default_values_are_accepted():
    assert_like_numpy(lambda x: np.sum(x, where=True) + np.max(x, keepdims=False), X3)
    assert_like_numpy(lambda x: np.mean(x, where=np.True_) * x.prod(where=True), X3)
    assert_like_numpy(lambda x: np.clip(x, -1.0, 1.0, where=True, casting="same_kind",
                                        order="K", dtype=None, subok=True), X3)


# -- reductions: numpy's signatures, dtype ---------------------------------------------


def test_reductions_take_numpy_positional_arguments():
    x = away_from_kinks(2, 3)
    assert_like_numpy(lambda x: np.max(x, 0, None, True), x)  # np.max has no dtype
    assert_like_numpy(lambda x: np.min(x, 1, None, True), x)
    assert_like_numpy(lambda x: x.max(0, None, keepdims=True), x)
    assert_like_numpy(lambda x: np.sum(x, 1, None, None, True), x)
    assert_like_numpy(lambda x: x.mean(1, None, None, keepdims=True), x)


def test_reduction_dtype_is_implemented_for_floats():
    x64 = np.array([0.1, 0.2, 0.3], dtype=np.float64)
    x32 = x64.astype(np.float32)
    for fun, x in [(lambda x: np.sum(x, dtype=np.float32), x64),
                   (lambda x: x.sum(dtype=np.float32), x64),
                   (lambda x: np.mean(x, dtype=np.float64), x32),
                   (lambda x: np.prod(x, dtype=np.float64), x32)]:
        want = fun(x)
        out, tangent = ad.jvp(fun, (x,), (np.ones_like(x),))
        assert out.dtype == want.dtype and tangent.dtype == want.dtype
        assert_allclose(out, want, rtol=1e-6)
        value, g = ad.value_and_grad(lambda x, fun=fun: fun(x) * 1.0)(x)
        assert g.dtype == x.dtype
    assert_allclose(ad.grad(lambda x: np.mean(x, dtype=np.float64))(x32), np.full(3, 1 / 3),
                    rtol=1e-6)
    assert_like_numpy(lambda x: np.sum(x, axis=0, dtype=np.float64), away_from_kinks(2, 3))
    assert_raises_in_both_modes(lambda x: np.sum(x, dtype=np.int64), (x64,), TypeError,
                                "only float dtypes")


# -- np.concatenate and np.stack: dtype and casting -----------------------------------

A32 = np.array([0.1, 0.7], dtype=np.float32)
B64 = np.array([0.3, -1.1, 2.5])


@pytest.mark.parametrize("dtype, casting", [
    (np.float32, "same_kind"), (np.float64, "same_kind"), (None, "same_kind"),
    (np.float32, "unsafe"), (np.float64, "safe"), (None, "safe"), ("float32", "same_kind"),
])
def test_concatenate_dtype_is_numpys(dtype, casting):
    def fun(a, b):
        return np.concatenate([a, b], dtype=dtype, casting=casting)

    want = fun(A32, B64)
    ta, tb = np.array([1.0, -2.0], np.float32), np.array([0.5, 3.0, -1.0])
    out, tangent = ad.jvp(fun, (A32, B64), (ta, tb))
    assert out.dtype == want.dtype and tangent.dtype == want.dtype
    assert_array_equal(out, want)
    assert_array_equal(tangent, fun(ta, tb))  # the op is linear: its JVP is itself
    out, vjp_fn = ad.vjp(fun, A32, B64)
    assert out.dtype == want.dtype
    u = np.arange(1.0, 6.0).astype(want.dtype)
    ga, gb = vjp_fn(u)
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    assert_allclose(ga, u[:2]), assert_allclose(gb, u[2:])


def test_stack_dtype_is_numpys():
    def fun(a, b):
        return np.stack([a, b], axis=1, dtype=np.float32)

    a, b = np.array([0.25, -1.5], np.float32), np.array([2.0, 0.125])
    want = fun(a, b)
    out, tangent = ad.jvp(fun, (a, b), (a, b))
    assert out.dtype == want.dtype == tangent.dtype == np.float32
    assert_array_equal(out, want), assert_array_equal(tangent, want)
    g = ad.grad(lambda a, b: np.sum(fun(a, b) * np.float32(2.0)), argnums=(0, 1))(a, b)
    assert_array_equal(g[0], [2.0, 2.0]), assert_array_equal(g[1], [2.0, 2.0])
    assert_like_numpy(lambda x, y: np.stack([x, y], -1, dtype=np.float64, casting="safe"),
                      away_from_kinks(2, 3), away_from_kinks(2, 3))


@pytest.mark.parametrize("join", [np.concatenate, np.stack], ids=["concatenate", "stack"])
@pytest.mark.parametrize("dtype, casting", [
    (np.float32, "safe"), (None, "no"), (None, "equiv"), (np.float64, "no"),
])
def test_a_cast_numpy_refuses_is_refused_naming_casting(join, dtype, casting):
    a, b = np.array([0.1, 0.7], np.float32), np.array([0.3, -1.1])
    with pytest.raises(TypeError):
        join([a, b], dtype=dtype, casting=casting)
    assert_raises_in_both_modes(lambda a, b: join([a, b], dtype=dtype, casting=casting),
                                (a, b), TypeError, f"casting='{casting}'")


def test_a_non_float_dtype_is_refused_like_astype():
    # numpy would compute integers here, which carry no derivative
    assert_raises_in_both_modes(
        lambda b: np.concatenate([b, b], dtype=np.int64, casting="unsafe"), (B64,),
        TypeError, "cannot cast a traced value to int64: only float dtypes")
    assert_raises_in_both_modes(lambda b: np.stack([b, b], dtype=np.int64), (B64,),
                                TypeError, "int64")


# -- np.fmax and np.fmin ignore NaNs --------------------------------------------------

# index 0: y is NaN; 1: x is NaN; 2: x wins; 3: a tie; 4: y wins
FX = np.array([1.0, np.nan, 3.0, 2.0, -1.0])
FY = np.array([np.nan, 2.0, 1.0, 2.0, 4.0])
FMAX_D = ([1.0, 0.0, 1.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.5, 1.0])  # d/dx, d/dy
FMIN_D = ([1.0, 0.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 0.5, 0.0])


@pytest.mark.parametrize("fn, partials", [(np.fmax, FMAX_D), (np.fmin, FMIN_D)],
                         ids=["fmax", "fmin"])
def test_fmax_fmin_values_and_derivatives_follow_the_selected_argument(fn, partials):
    dx, dy = np.array(partials[0]), np.array(partials[1])
    want = fn(FX, FY)
    tx, ty = RNG.standard_normal(5), RNG.standard_normal(5)
    out, tangent = ad.jvp(fn, (FX, FY), (tx, ty))
    assert_array_equal(out, want)
    assert_allclose(tangent, dx * tx + dy * ty, rtol=1e-15)
    out, vjp_fn = ad.vjp(fn, FX, FY)
    assert_array_equal(out, want)
    u = RNG.standard_normal(5)
    gx, gy = vjp_fn(u)
    assert_allclose(gx, u * dx, rtol=1e-15), assert_allclose(gy, u * dy, rtol=1e-15)
    for jacobian in (ad.jacfwd, ad.jacrev):
        jx, jy = jacobian(fn, argnums=(0, 1))(FX, FY)
        assert_array_equal(jx, np.diag(dx)), assert_array_equal(jy, np.diag(dy))


@pytest.mark.parametrize("fn", [np.fmax, np.fmin], ids=["fmax", "fmin"])
def test_fmax_fmin_with_a_nan_constant_is_the_other_argument(fn):
    x = away_from_kinks(4)
    v = RNG.standard_normal(4)
    for f in (lambda x: fn(x, np.nan), lambda x: fn(np.nan, x)):
        out, tangent = ad.jvp(f, (x,), (v,))
        assert_array_equal(out, x), assert_array_equal(tangent, v)
        assert_array_equal(ad.grad(lambda x, f=f: np.sum(f(x)))(x), np.ones(4))
    x32 = x.astype(np.float32)
    assert ad.jvp(lambda x: fn(x, np.nan), (x32,), (x32,))[0].dtype == np.float32


@pytest.mark.parametrize("fn", [np.fmax, np.fmin], ids=["fmax", "fmin"])
def test_fmax_fmin_without_nans_are_maximum_minimum(fn):
    x = np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]])  # at least 0.2 from every tie
    y = np.array([0.9, -0.1, 1.4])
    assert_like_numpy(fn, x, y, order=2)


def test_fmax_broadcasts_nans_like_numpy():
    x = np.array([[np.nan, 1.0, 2.0], [0.5, np.nan, -3.0]])
    y = np.array([0.25, np.nan, 1.5])
    want = np.fmax(x, y)
    out = ad.jvp(np.fmax, (x, y), (np.ones_like(x), np.ones_like(y)))[0]
    assert_array_equal(out, want)
    jx_f, jy_f = ad.jacfwd(np.fmax, argnums=(0, 1))(x, y)
    jx_r, jy_r = ad.jacrev(np.fmax, argnums=(0, 1))(x, y)
    assert_array_equal(jx_f, jx_r), assert_array_equal(jy_f, jy_r)
    # no NaN leaks into a derivative, not even from the element where both are NaN
    assert np.all(np.isfinite(jx_f)) and np.all(np.isfinite(jy_f))
    # each output element follows exactly one argument element here (no ties)
    assert_array_equal(jx_f.sum(axis=(2, 3)) + jy_f.sum(axis=2), np.ones((2, 3)))
    assert_array_equal(jx_f[1, 1], np.eye(6)[4].reshape(2, 3))  # both NaN: x's NaN


# -- np.linalg.norm -------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3, -1, 0.5, -2.5, 2.0]
MATRIX_ORDS = [None, "fro", "f", 1, -1, np.inf, -np.inf]

NORM_CASES = (
    [((5,), o, None, k) for o in VECTOR_ORDS for k in (False, True)]
    + [((3, 4), o, 1, False) for o in VECTOR_ORDS]
    + [((3, 4), o, -2, True) for o in VECTOR_ORDS]
    + [((2, 3, 4), o, 2, k) for o in (None, 1, np.inf, 3) for k in (False, True)]
    + [((3, 4), o, None, k) for o in MATRIX_ORDS for k in (False, True)]
    + [((3, 4), o, (-1, 0), False) for o in MATRIX_ORDS]
    + [((2, 3, 4), o, (1, 2), False) for o in MATRIX_ORDS]
    + [((2, 3, 4), o, (2, 0), True) for o in MATRIX_ORDS]
    + [((2, 3, 4), None, None, k) for k in (False, True)]  # ord None: all the elements
    + [((), None, None, False)]
)


def norm_id(case):
    shape, ord, axis, keepdims = case
    return f"{shape}-ord={ord}-axis={axis}" + ("-keepdims" if keepdims else "")


@pytest.mark.parametrize("shape, ord, axis, keepdims", NORM_CASES,
                         ids=[norm_id(c) for c in NORM_CASES])
def test_norm_matches_numpy(shape, ord, axis, keepdims):
    x = away_from_kinks(*shape)
    assert_like_numpy(lambda x: np.linalg.norm(x, ord, axis, keepdims), x, order=2)


@pytest.mark.parametrize("ord, axis", [(None, None), (1, None), (np.inf, (0, 1)),
                                       (3, 1), ("fro", None)])
def test_norm_keeps_float32(ord, axis):
    x = away_from_kinks(3, 4).astype(np.float32)
    want = np.linalg.norm(x, ord, axis)
    out, tangent = ad.jvp(lambda x: np.linalg.norm(x, ord, axis), (x,), (x,))
    assert out.dtype == want.dtype == tangent.dtype == np.float32
    assert_allclose(out, want, rtol=1e-6)


@pytest.mark.parametrize("shape, axis, keepdims", [((5,), None, False), ((3, 4), 1, True)])
def test_norm_ord_0_counts_nonzeros_with_zero_derivative(shape, axis, keepdims):
    x = away_from_kinks(*shape)
    x.flat[1] = 0.0
    want = np.linalg.norm(x, 0, axis, keepdims)
    out, tangent = ad.jvp(lambda x: np.linalg.norm(x, 0, axis, keepdims), (x,), (x,))
    assert out.dtype == want.dtype and np.shape(out) == np.shape(want)
    assert_array_equal(out, want), assert_array_equal(tangent, np.zeros_like(want))
    assert_array_equal(ad.grad(lambda x: np.sum(np.linalg.norm(x, 0, axis)) + 0.0)(x),
                       np.zeros_like(x))


def test_norm_of_an_empty_array_is_numpys():
    x = np.zeros((3, 0))
    for ord, axis in [(None, None), (2, 1), (np.inf, 1), (1, (0, 1))]:
        out, tangent = ad.jvp(lambda x, o=ord, a=axis: np.linalg.norm(x, o, a), (x,), (x,))
        assert_array_equal(out, np.linalg.norm(x, ord, axis))
        assert_array_equal(tangent, np.zeros_like(out))


NORM_ERRORS_LIKE_NUMPY = [
    ((5,), "fro", None, ValueError, "Invalid norm order 'fro' for vectors"),
    ((5,), "nuc", None, ValueError, "Invalid norm order 'nuc' for vectors"),
    ((3, 4), "fro", 1, ValueError, "Invalid norm order 'fro' for vectors"),
    ((3, 4), 3, None, ValueError, "Invalid norm order for matrices"),
    ((3, 4), "bogus", (0, 1), ValueError, "Invalid norm order for matrices"),
    ((2, 3, 4), 1, None, ValueError, "Improper number of dimensions"),
    ((2, 3, 4), "fro", None, ValueError, "Improper number of dimensions"),
    ((2, 3, 4), None, (0, 1, 2), ValueError, "Improper number of dimensions"),
    ((3, 4), None, (), ValueError, "Improper number of dimensions"),
    ((3, 4), None, (0, -2), ValueError, "Duplicate axes"),
    ((3, 4), None, [0, 1], TypeError, "'axis' must be None, an integer or a tuple"),
    ((3, 4), None, (0, 5), np.exceptions.AxisError, "out of bounds"),
    ((3, 4), 1, 2, np.exceptions.AxisError, "out of bounds"),
]


@pytest.mark.parametrize("shape, ord, axis, error, match", NORM_ERRORS_LIKE_NUMPY)
def test_norm_raises_where_numpy_raises(shape, ord, axis, error, match):
    x = away_from_kinks(*shape)
    with pytest.raises(error, match=match):
        np.linalg.norm(x, ord, axis)
    assert_raises_in_both_modes(lambda x: np.linalg.norm(x, ord, axis), (x,), error, match)


@pytest.mark.parametrize("shape, ord, axis", [
    ((3, 4), 2, None), ((3, 4), -2, None), ((3, 4), "nuc", None), ((2, 3, 4), 2, (0, 1)),
    ((2, 3, 4), -2, (2, 1)), ((3, 4), 2.0, (0, 1)),
])
def test_norm_by_singular_values_matches_numpy(shape, ord, axis):
    # once refused; now computed from admodes.linalg's singular values (issue 11)
    x = away_from_kinks(*shape)
    assert_like_numpy(lambda x: np.linalg.norm(x, ord, axis), x, order=2)


# -- methods and shape functions ------------------------------------------------------

V4 = away_from_kinks(4)
M23 = away_from_kinks(2, 3)
T234 = away_from_kinks(2, 3, 4)


TRANSPOSES = {
    "x.transpose(0)": (lambda x: x.transpose(0), V4),
    "np.transpose(x, 0)": (lambda x: np.transpose(x, 0), V4),
    "x.transpose() on a vector": (lambda x: x.transpose(), V4),
    "x.transpose(1, 0)": (lambda x: x.transpose(1, 0), M23),
    "x.transpose((1, 0))": (lambda x: x.transpose((1, 0)), M23),
    "x.transpose([1, 0])": (lambda x: x.transpose([1, 0]), M23),
    "x.transpose(None)": (lambda x: x.transpose(None), M23),
    "x.transpose(2, 0, -2)": (lambda x: x.transpose(2, 0, -2), T234),
    "np.transpose(x, (-1, 0, 1))": (lambda x: np.transpose(x, (-1, 0, 1)), T234),
}


@pytest.mark.parametrize("fun, x", TRANSPOSES.values(), ids=TRANSPOSES.keys())
def test_transpose_takes_numpys_axes(fun, x):
    assert_like_numpy(fun, x)


@pytest.mark.parametrize("axes, error", [((0, 5), np.exceptions.AxisError),
                                         ((0, 0), ValueError), ((0,), ValueError),
                                         ((1, 0, 2), ValueError)])
def test_transpose_rejects_what_numpy_rejects(axes, error):
    with pytest.raises(error):
        np.transpose(M23, axes)
    assert_raises_in_both_modes(lambda x: np.transpose(x, axes), (M23,), error, "axis|axes")


CLIP_X = np.array([-1.5, -0.2, 0.3, 0.8, 1.7])


@pytest.mark.parametrize("fun", [
    lambda x: x.clip(min=0.0), lambda x: x.clip(max=1.0), lambda x: x.clip(-0.5, 0.5),
    lambda x: x.clip(0.0), lambda x: x.clip(), lambda x: x.clip(max=1.0, min=-1.0),
    lambda x: np.clip(x, min=-0.5, max=0.5), lambda x: np.clip(x, max=0.5),
    lambda x: np.clip(x), lambda x: np.clip(x, None, 1.0),
], ids=["x.clip(min=)", "x.clip(max=)", "x.clip(lo, hi)", "x.clip(lo)", "x.clip()",
        "x.clip(max=, min=)", "np.clip(min=, max=)", "np.clip(max=)", "np.clip(x)",
        "np.clip(x, None, hi)"])
def test_clip_takes_numpys_signatures(fun):
    assert_like_numpy(fun, CLIP_X, order=2)


def test_clip_rejects_what_numpy_rejects():
    for call, error, match in [(lambda x: np.clip(x, 0.0), TypeError, "a_max"),
                               (lambda x: np.clip(x, a_max=1.0), TypeError, "a_min"),
                               (lambda x: np.clip(x, 0.0, 1.0, min=0.0), ValueError, "min")]:
        with pytest.raises(error, match=match):
            call(CLIP_X)
        assert_raises_in_both_modes(call, (CLIP_X,), error, match)


RESHAPES = {
    "x.reshape(3, 2, order='F')": (lambda x: x.reshape(3, 2, order="F"), M23),
    "np.reshape(x, (4, 6), order='F')": (lambda x: np.reshape(x, (4, 6), order="F"), T234),
    "x.reshape((3, 2), copy=True)": (lambda x: x.reshape((3, 2), copy=True), M23),
    "np.reshape(x, (-1, 2), order='F', copy=None)":
        (lambda x: np.reshape(x, (-1, 2), order="F", copy=None), M23),
    "np.ravel(x, order='F')": (lambda x: np.ravel(x, order="F"), T234),
    "x.ravel('F')": (lambda x: x.ravel("F"), M23),
    "x.flatten(order='F')": (lambda x: x.flatten(order="F"), M23),
    "np.ravel(vector, order='K')": (lambda x: np.ravel(x, order="K"), V4),
    "np.ravel(vector, order='A')": (lambda x: np.ravel(x, order="A"), V4),
    "np.ravel(x, 'C')": (lambda x: np.ravel(x, "C"), M23),
}


@pytest.mark.parametrize("fun, x", RESHAPES.values(), ids=RESHAPES.keys())
def test_reshape_orders_are_numpys(fun, x):
    assert_like_numpy(fun, x)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: np.reshape(x, 6, order="A"), TypeError, "order='A'"),
    (lambda x: np.ravel(x, order="K"), TypeError, "order='K'"),
    (lambda x: x.ravel("A"), TypeError, "order='A'"),
    (lambda x: np.ravel(x, order="Z"), ValueError, "order must be one of"),
    (lambda x: np.copy(x, order="Z"), ValueError, "order must be one of"),
    (lambda x: x.reshape(), TypeError, "reshape"),
])
def test_reshape_orders_that_follow_memory_layout_are_refused(call, error, match):
    assert_raises_in_both_modes(call, (M23,), error, match)


def test_astype_honours_casting():
    assert_like_numpy(lambda x: x.astype(np.float64, casting="safe", order="C"), M23)
    out = ad.jvp(lambda x: x.astype(np.float32, casting="same_kind"), (M23,), (M23,))[0]
    assert out.dtype == np.float32
    with pytest.raises(TypeError):
        M23.astype(np.float32, casting="safe")
    assert_raises_in_both_modes(lambda x: x.astype(np.float32, casting="safe"), (M23,),
                                TypeError, "casting='safe'")
    assert_raises_in_both_modes(lambda x: x.astype(np.int64), (M23,), TypeError,
                                "only float dtypes")


def test_copy_and_argmax_methods_take_numpys_arguments():
    assert_like_numpy(lambda x: x.copy(order="F") + np.copy(x, order="F", subok=True), M23)
    for f in (lambda x: x.argmax(axis=1, keepdims=True), lambda x: x.argmin(0, None)):
        out = ad.jvp(lambda x, f=f: (f(x), x * 1.0), (M23,), (M23,))[0][0]
        assert_array_equal(out, f(M23))


def test_moveaxis_rejects_mismatched_lengths_like_numpy():
    def call(x):
        return np.moveaxis(x, (0, 1), (2,))

    with pytest.raises(ValueError, match="same number of elements"):
        call(T234)
    assert_raises_in_both_modes(call, (T234,), ValueError, "same number of elements")
    assert_like_numpy(lambda x: np.moveaxis(x, (0, 1), (2, 0)), T234)


def test_broadcast_to_takes_numpys_keyword_names():
    assert_like_numpy(lambda x: np.broadcast_to(array=x, shape=(2, 4), subok=True), V4)


def test_dot_stack_squeeze_raise_where_numpy_raises():
    assert_raises_in_both_modes(lambda x: np.dot(x, x), (T234,), ValueError, "not aligned")
    assert_raises_in_both_modes(lambda x: np.stack([x, x[:1]]), (V4,), ValueError,
                                "same shape")
    assert_raises_in_both_modes(lambda x: np.squeeze(x, axis=0), (M23,), ValueError,
                                "size not equal to one")


def test_pow_with_a_modulus_is_refused():
    assert_raises_in_both_modes(lambda x: pow(x, 2, 3), (V4,), TypeError,
                                "pow\\(\\) with a modulus is not differentiable")
    assert_like_numpy(lambda x: pow(x, 2) + pow(x, 3), V4)


# -- zeros_like, ones_like, empty_like, full_like -------------------------------------


def test_full_like_keeps_the_derivative_of_a_traced_fill_value():
    w = away_from_kinks(2, 3)

    def f(x, c):
        return np.sum(np.full_like(x, c) * w)

    x = away_from_kinks(2, 3)
    for c in (1.5, np.array(1.5), away_from_kinks(3)):
        gx, gc = ad.grad(f, argnums=(0, 1))(x, c)
        assert_array_equal(gx, np.zeros_like(x))
        assert_allclose(gc, np.sum(w) if np.ndim(c) == 0 else np.sum(w, axis=0), rtol=1e-14)
        assert_like_numpy(lambda x, c: np.full_like(x, c), x, c)


def test_full_like_with_a_traced_fill_casts_as_numpy_does():
    x32 = np.ones((2, 2), np.float32)
    c = 0.1  # float64: numpy casts it to the prototype's dtype
    want = np.full_like(x32, c)
    out, tangent = ad.jvp(lambda x, c: np.full_like(x, c), (x32, c), (x32, 1.0))
    assert out.dtype == want.dtype == tangent.dtype == np.float32
    assert_array_equal(out, want), assert_array_equal(tangent, np.ones((2, 2)))
    out = ad.jvp(lambda x, c: np.full_like(x, c, dtype=np.float64, shape=(3,)), (x32, c),
                 (x32, 1.0))[0]
    assert out.dtype == np.float64 and out.shape == (3,)
    assert_raises_in_both_modes(lambda x: np.full_like(x, x[0], dtype=np.int64), (V4,),
                                TypeError, "only float dtypes")


@pytest.mark.parametrize("make", [np.zeros_like, np.ones_like, np.empty_like,
                                  lambda x, **kw: np.full_like(x, 2.5, **kw)],
                         ids=["zeros_like", "ones_like", "empty_like", "full_like"])
@pytest.mark.parametrize("kwargs", [{}, {"order": "F"}, {"dtype": np.float32},
                                    {"shape": (3, 1)}, {"device": "cpu"},
                                    {"subok": False, "order": "C"}])
def test_constant_like_honours_every_argument(make, kwargs):
    x = away_from_kinks(2, 3)
    want = make(x, **kwargs)
    out, tangent = ad.jvp(lambda x: make(x, **kwargs), (x,), (x,))
    assert out.dtype == want.dtype and out.shape == want.shape
    assert out.flags.f_contiguous == want.flags.f_contiguous
    if make is not np.empty_like:
        assert_array_equal(out, want)
    assert_array_equal(tangent, np.zeros(want.shape))
