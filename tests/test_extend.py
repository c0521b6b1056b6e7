"""User-declared primitives (admodes.defop) and custom derivatives (admodes.custom_jvp).

A user's op is declared in the same forms as the built-in ones and must pass the same
per-op suite (finite differences, the adjoint identity, every Jacobian strategy, orders 2
and 3 in all nestings, float32, exact zeros), reached from plain numpy at once.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import (
    DIFF_CHECKS,
    POSITIVE,
    UNARY,
    assert_no_failures,
    each,
    run_check,
    spec,
)

import admodes
from admodes import OPS


@pytest.fixture
def declared():
    """Ops declared by a test, removed again afterwards (the registry is global)."""
    names: list[str] = []

    def declare(name, impl, **form):
        op = admodes.defop(name, impl, **form)
        names.append(name)
        return op

    yield declare
    for name in names:
        if name in OPS:
            admodes.undefop(name)


def _suite(op_name, case):
    failures: list[str] = []
    for check in DIFF_CHECKS.values():
        for shapes in case.shapes[:3]:
            run_check(check, op_name, case, shapes, failures)
    assert_no_failures(op_name, failures)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_elementwise_user_op_passes_the_per_op_suite(declared):
    softplus = declared("softplus", lambda x: np.logaddexp(0.0, x),
                        partials=[lambda x, out: _sigmoid(x)], flops=20)
    _suite("softplus", spec("softplus(x)", lambda x: softplus(x), UNARY))
    assert OPS["softplus"].form == "elementwise" and OPS["softplus"].cost == "20 * out.size"


def test_binary_elementwise_user_op_with_broadcasting(declared):
    op = declared("scaled_diff", lambda x, y: 2 * x - y * y,
                  partials=[2.0, lambda x, y, out: -2 * y])
    _suite("scaled_diff", spec("scaled_diff(x, y)", lambda x, y: op(x, y),
                               [((2, 3), (3,)), ((), (2, 2)), ((3, 1), (1, 4))]))


def _rev_cumsum(ct):
    return np.flip(np.cumsum(np.flip(ct, -1), axis=-1), -1)


def test_linear_user_op_passes_the_per_op_suite(declared):
    running = declared("running_total", lambda x: np.cumsum(x, axis=-1),
                       transpose=lambda ct, x: _rev_cumsum(ct))
    assert OPS["running_total"].form == "linear"
    _suite("running_total", spec("running_total(x)", lambda x: running(x),
                                 each((4,), (2, 3), (1,))))


def test_explicit_user_op_passes_the_per_op_suite(declared):
    # x -> x / |x|_2 for a vector, declared by its JVP and VJP (one direction each)
    def normalize(x):
        return x / np.sqrt(np.sum(x * x))

    def jvp(primals, tangents, out):
        (x,), (t,) = primals, tangents
        r = np.sqrt(np.sum(x * x))
        return (t - out * np.sum(out * t)) / r

    def vjp(ct, primals, out):
        (x,) = primals
        r = np.sqrt(np.sum(x * x))
        return (ct - out * np.sum(out * ct)) / r

    unit = declared("unit_vector", normalize, jvp=jvp, vjp=vjp)
    assert OPS["unit_vector"].form == "explicit"
    _suite("unit_vector", spec("unit_vector(x)", lambda x: unit(x), each((3,), (5,)),
                               POSITIVE))


def test_a_user_op_is_reached_from_numpy_at_once(declared):
    x = np.array([0.5, 1.0, 2.0])
    with pytest.raises(TypeError, match="np.i0 has no registered derivative"):
        admodes.grad(lambda x: np.sum(np.i0(x)))(x)
    declared("bessel_i0", np.i0, partials=[lambda x, out: _bessel_i1(x)], numpy=np.i0)
    got = admodes.grad(lambda x: np.sum(np.i0(x)))(x)
    h = 1e-6
    fd = (np.i0(x + h) - np.i0(x - h)) / (2 * h)
    np.testing.assert_allclose(got, fd, rtol=1e-6)
    admodes.undefop("bessel_i0")
    with pytest.raises(TypeError, match="np.i0 has no registered derivative"):
        admodes.grad(lambda x: np.sum(np.i0(x)))(x)


def _bessel_i1(x):
    # I1 from its series (enough terms for |x| <= 3), written with numpy calls
    term, total = x / 2, x / 2
    for k in range(1, 25):
        term = term * (x / 2) ** 2 / (k * (k + 1))
        total = total + term
    return total


def test_a_user_ufunc_route_reaches_the_op(declared):
    # np.spacing has no derivative in admodes; declare it nondiff through its ufunc
    declared("spacing", np.spacing, nondiff=True, numpy=np.spacing)
    x = np.array([1.0, 2.0])
    g = admodes.grad(lambda x: np.sum(x * np.spacing(x) * 1e15))(x)
    np.testing.assert_allclose(g, np.spacing(x) * 1e15)


def test_counting_sees_user_ops(declared):
    softplus = declared("softplus", lambda x: np.logaddexp(0.0, x),
                        partials=[lambda x, out: _sigmoid(x)], flops=20)
    with admodes.count_ops() as c:
        admodes.grad(lambda x: np.sum(softplus(x)))(np.ones(4))
    assert c.ops["softplus"] == 1 and c.rule_ops["softplus"] == 1
    assert c.primal_flops == 20 * 4 + 4  # softplus, then the sum
    assert any(row["op"] == "softplus" for row in admodes.ops_table())


def test_check_grads_catches_a_wrong_declaration(declared):
    wrong = declared("wrong_sin", np.sin, partials=[lambda x, out: np.sin(x)])
    with pytest.raises(AssertionError, match="finite differences"):
        admodes.check_grads(lambda x: wrong(x), (np.array([0.3, 1.2]),), order=1)
    right = declared("right_sin", np.sin, partials=[lambda x, out: np.cos(x)])
    admodes.check_grads(lambda x: right(x), (np.array([0.3, 1.2]),), order=2)


def test_declaration_errors(declared):
    with pytest.raises(ValueError, match="built-in op"):
        admodes.defop("sin", np.sin, partials=[np.cos])
    with pytest.raises(TypeError, match="exactly one derivative form"):
        admodes.defop("two_forms", np.sin, partials=[np.cos], nondiff=True)
    with pytest.raises(TypeError, match="exactly one derivative form"):
        admodes.defop("no_form", np.sin)
    with pytest.raises(TypeError, match="give both rules"):
        admodes.defop("half", np.sin, jvp=lambda p, t, out: t[0])
    with pytest.raises(ValueError, match="identifier"):
        admodes.defop("not a name", np.sin, nondiff=True)
    declared("mine", np.sin, partials=[lambda x, out: np.cos(x)])
    with pytest.raises(ValueError, match="replace=True"):
        admodes.defop("mine", np.sin, partials=[lambda x, out: np.cos(x)])
    admodes.defop("mine", np.cos, partials=[lambda x, out: -np.sin(x)], replace=True)
    assert float(admodes.grad(lambda x: OPS["mine"](x))(0.5)) == pytest.approx(-np.sin(0.5))
    with pytest.raises(ValueError, match="not a user-declared op"):
        admodes.undefop("sin")


# -- custom_jvp -----------------------------------------------------------------------


def _stable_logsumexp():
    @admodes.custom_jvp
    def logsumexp(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    @logsumexp.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        out = logsumexp(x)
        return out, np.sum(np.exp(x - out) * t)

    return logsumexp


def test_custom_jvp_is_used_by_both_modes_and_is_right():
    lse = _stable_logsumexp()
    x = np.array([0.3, -1.2, 2.0, 0.0])
    softmax = np.exp(x - np.log(np.sum(np.exp(x))))
    np.testing.assert_allclose(admodes.grad(lse)(x), softmax, rtol=1e-13)
    np.testing.assert_allclose(admodes.jacfwd(lse)(x), softmax, rtol=1e-13)
    np.testing.assert_allclose(admodes.jacfwd(lse, vectorized=False)(x), softmax, rtol=1e-13)
    hess = np.diag(softmax) - np.outer(softmax, softmax)
    np.testing.assert_allclose(admodes.hessian(lse)(x), hess, atol=1e-13)
    np.testing.assert_allclose(admodes.jacrev(admodes.jacrev(lse))(x), hess, atol=1e-13)
    admodes.check_grads(lse, (x,), order=2)
    with admodes.count_ops() as c:
        admodes.grad(lse)(x)
    assert c.rule_ops["custom_jvp(logsumexp)"] == 1  # the rule, not the max it hides
    assert c.rule_ops["max"] == 0
    assert "custom_jvp(logsumexp)" not in OPS


def test_custom_jvp_third_order_in_every_nesting():
    lse = _stable_logsumexp()
    x = np.array([0.3, -1.2, 2.0])

    def plain(x):
        return np.log(np.sum(np.exp(x)))

    want = admodes.jacfwd(admodes.jacfwd(admodes.jacfwd(plain)))(x)
    for outer in (admodes.jacfwd, admodes.jacrev):
        for middle in (admodes.jacfwd, admodes.jacrev):
            for inner in (admodes.jacfwd, admodes.jacrev):
                got = outer(middle(inner(lse)))(x)
                np.testing.assert_allclose(got, want, atol=1e-12)


def test_custom_jvp_fixes_a_derivative_plain_numpy_gets_wrong():
    @admodes.custom_jvp
    def safe_norm(x):
        return np.sqrt(np.sum(x * x))

    @safe_norm.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        out = safe_norm(x)
        scale = np.where(out > 0, 1 / np.where(out > 0, out, 1.0), 0.0)
        return out, np.sum(x * t) * scale

    zero = np.zeros(3)
    with np.errstate(all="ignore"):
        plain = admodes.grad(lambda x: np.sqrt(np.sum(x * x)))(zero)
    assert np.all(np.isnan(plain))  # 0 / 0: what the chain rule through sqrt gives
    np.testing.assert_array_equal(admodes.grad(safe_norm)(zero), np.zeros(3))
    np.testing.assert_array_equal(admodes.jacfwd(safe_norm)(zero), np.zeros(3))
    x = np.array([3.0, 4.0, 0.0])
    np.testing.assert_allclose(admodes.grad(safe_norm)(x), x / 5)


def test_custom_jvp_with_several_inputs_and_static_keywords():
    @admodes.custom_jvp
    def weighted(x, w, power=2):
        return np.sum(w * x ** power)

    @weighted.defjvp
    def _(primals, tangents, power=2):
        (x, w), (tx, tw) = primals, tangents
        return weighted(x, w, power=power), np.sum(
            w * power * x ** (power - 1) * tx + x ** power * tw)

    x, w = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    gx, gw = admodes.grad(weighted, argnums=(0, 1))(x, w, power=3)
    np.testing.assert_allclose(gx, w * 3 * x ** 2)
    np.testing.assert_allclose(gw, x ** 3)
    jx, jw = admodes.jacfwd(weighted, argnums=(0, 1))(x, w, power=3)
    np.testing.assert_allclose(jx, gx)
    np.testing.assert_allclose(jw, gw)
    assert weighted(x, w) == pytest.approx(np.sum(w * x ** 2))  # untraced: the function


def test_custom_jvp_without_a_rule_is_an_error():
    @admodes.custom_jvp
    def f(x):
        return np.sin(x)

    assert f(0.5) == np.sin(0.5)
    with pytest.raises(TypeError, match="no derivative rule yet"):
        admodes.grad(f)(0.5)


def test_custom_jvp_float32_stays_float32():
    lse = _stable_logsumexp()
    x = np.array([0.3, -1.2, 2.0], np.float32)
    g = admodes.grad(lse)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, admodes.grad(lse)(x.astype(np.float64)), rtol=1e-5)


