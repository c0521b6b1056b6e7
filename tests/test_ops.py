"""Per-op derivative tests: every op in ``admodes.OPS``, reached through plain numpy code.

``SPECS`` says, for each registered op, how user code calls it and where its inputs are
sampled. Elementwise and nondiff ops get a default spec from their ufunc (``op.ufunc``), so
for them only a domain may need overriding (``DOMAINS``, ``APART``); ``SPECS`` then adds
other spellings (operators, methods, Python float constants). ``test_op`` is parametrised
over every entry of ``admodes.OPS`` and every check its form calls for, so a newly
registered op is tested, or reported as missing a spec, without new test code.

The checks of a differentiable op, on float64 inputs of several shapes:

- ``jvp_fd``: the JVP against central finite differences in a random direction (and the
  case really applies the op: a spec that misses its op fails);
- ``vjp_adjoint``: the VJP against the JVP, by ``<u, J v> == <J^T u, v>``;
- ``jacobians``: jacfwd and jacrev, vectorized and looped, agree;
- ``second_order``: the JVP of a VJP function (forward over reverse) against finite
  differences of that VJP function, and the VJP of a JVP function (reverse over forward)
  against it by the symmetry of second derivatives;
- ``float32``: float32 inputs, with Python float constants mixed in, keep numpy's float32
  results, and give float32 tangents and cotangents close to the float64 ones.

A ``nondiff`` op must hand back plain (untraced) values and contribute no derivative.
"""

from __future__ import annotations

import itertools
import traceback
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import specs_arrays
import specs_core
import specs_linalg
import specs_selection
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opspec import (  # noqa: F401  (re-exported to the other test files)
    BINARY,
    NONZERO,
    POSITIVE,
    STD,
    TERNARY,
    UNARY,
    UNIT,
    AwayFromZero,
    Case,
    Distinct,
    Domain,
    SomeZeros,
    Uniform,
    each,
    spec,
)

import admodes
from admodes import OPS
from admodes.core import Tracer

Shape = tuple[int, ...]
SHAPES_BY_ARITY = {1: UNARY, 2: BINARY, 3: TERNARY}
SPEC_TABLES = (specs_core, specs_arrays, specs_selection, specs_linalg)


def _merged(attr: str) -> dict:
    merged: dict = {}
    for table in SPEC_TABLES:
        for name, value in getattr(table, attr, {}).items():
            if isinstance(value, list):
                merged.setdefault(name, []).extend(value)
            else:
                assert name not in merged, f"{attr}[{name!r}] given twice"
                merged[name] = value
    return merged


SPECS: dict[str, list[Case]] = _merged("SPECS")
DOMAINS: dict[str, tuple[Domain, ...]] = _merged("DOMAINS")
APART: dict[str, Callable[..., bool]] = _merged("APART")

def _with_constant(pred: Callable[..., bool] | None, pos: int, value: float):
    if pred is None:
        return None
    return lambda x: pred(*((x, value) if pos == 1 else (value, x)))


def default_cases(op) -> list[Case]:
    """The case an elementwise or nondiff op gets from its ufunc, with the right arity;
    for a binary differentiable op, also each argument replaced by a Python float."""
    ufunc = op.ufunc
    if op.form not in ("elementwise", "nondiff") or not isinstance(ufunc, np.ufunc):
        return []
    n = ufunc.nin
    domains = DOMAINS.get(op.name, (STD,) * n)
    apart = APART.get(op.name)
    names = ", ".join("xyz"[:n])
    cases = [Case(f"np.{ufunc.__name__}({names})", lambda *xs: ufunc(*xs),
                  SHAPES_BY_ARITY[n], domains, apart, elementwise=True)]
    if n == 2 and not op.nondiff:
        c0, c1 = domains[0].constant, domains[1].constant
        cases += [
            Case(f"np.{ufunc.__name__}(x, {c1})", lambda x: ufunc(x, c1), UNARY,
                 domains[:1], _with_constant(apart, 1, c1)),
            Case(f"np.{ufunc.__name__}({c0}, y)", lambda y: ufunc(c0, y), UNARY,
                 domains[1:], _with_constant(apart, 0, c0)),
        ]
    return cases


def ops_cases(name: str) -> list[Case]:
    """Every case of op ``name``; fails (never skips) when the op has none."""
    op = OPS[name]
    cases = default_cases(op) + SPECS.get(name, [])
    if not cases:
        pytest.fail(f"op {name!r} (form {op.form!r}) has no spec and no default: add an "
                    f"entry to SPECS in tests/test_ops.py saying how numpy code calls it "
                    f"and where to sample its inputs")
    return cases


# -- sampling -------------------------------------------------------------------------


def case_rng(*key: Any) -> np.random.Generator:
    """A generator seeded by the case, so every run (and every check) sees one sample."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def sample_inputs(case: Case, shapes: tuple[Shape, ...],
                  rng: np.random.Generator) -> list[np.ndarray]:
    """float64 inputs of ``shapes`` from the case's domains, clear of its kinks."""
    for _ in range(200):
        xs = [np.asarray(d.draw(rng, s), np.float64) for d, s in zip(case.domains, shapes)]
        if case.apart is None or case.apart(*xs):
            return xs
    raise AssertionError(f"{case.label}: no sample on {shapes} clear of the kinks")


def random_like(rng: np.random.Generator, value: Any) -> np.ndarray:
    """A random direction or cotangent with ``value``'s shape and dtype."""
    return np.asarray(rng.standard_normal(np.shape(value)), dtype=np.result_type(value))


# -- comparing ------------------------------------------------------------------------


def leaves(tree: Any) -> list[Any]:
    return admodes.tree_flatten(tree)[0]


def as_f64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def max_abs(x: Any) -> float:
    return float(np.max(np.abs(as_f64(x)), initial=0.0))


def assert_close(actual: Any, expected: Any, rtol: float, what: str, floor: float = 1.0):
    """max|actual - expected| <= rtol * max(floor, max|expected|); NaN never passes."""
    a, e = as_f64(actual), as_f64(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    bound = rtol * max(floor, max_abs(e))
    err = max_abs(a - e)
    assert err <= bound, (
        f"{what}: max abs error {err:.3g} > {bound:.3g}\n"
        f"  got:      {np.array2string(a, precision=8, threshold=12)}\n"
        f"  expected: {np.array2string(e, precision=8, threshold=12)}")


def assert_like(value: Any, like: Any, what: str) -> None:
    """Same shape and dtype (derivatives must match their primals exactly)."""
    assert np.shape(value) == np.shape(like), (
        f"{what}: shape {np.shape(value)}, expected {np.shape(like)}")
    assert np.result_type(value) == np.result_type(like), (
        f"{what}: dtype {np.result_type(value)}, expected {np.result_type(like)}")


def is_single(case: Case, *values: Any) -> bool:
    """Whether the case computes in float32 or any value is float32: looser tolerances."""
    return case.single or any(np.result_type(v) == np.float32 for v in values)


def central_difference(fn: Callable, xs: Sequence, vs: Sequence, h: float) -> list:
    """(f(x + h v) - f(x - h v)) / 2h, leaf by leaf, in float64."""
    plus = fn(*[np.asarray(x + h * v) for x, v in zip(xs, vs)])
    minus = fn(*[np.asarray(x - h * v) for x, v in zip(xs, vs)])
    return [(as_f64(p) - as_f64(m)) / (2 * h) for p, m in zip(leaves(plus), leaves(minus))]


def vdot(a: Sequence, b: Sequence) -> tuple[float, float]:
    """sum <a_i, b_i> in float64, and the sum of |a_i * b_i| (its rounding scale)."""
    products = [as_f64(x) * as_f64(y) for x, y in zip(a, b)]
    return (float(sum(np.sum(p) for p in products)),
            float(sum(np.sum(np.abs(p)) for p in products)))


# -- the checks -----------------------------------------------------------------------


def check_jvp_fd(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Forward mode matches central finite differences; the primal matches numpy."""
    vs = [random_like(rng, x) for x in xs]
    with admodes.count_ops() as count:
        out, tangent = admodes.jvp(case.fn, tuple(xs), tuple(vs))
    assert count.ops[op_name] > 0, (
        f"this case never applies op {op_name!r} (it applied {dict(count.ops)}): fix its "
        f"spec in tests/test_ops.py")
    want = case.fn(*xs)
    assert_like(out, want, "jvp primal output")
    assert_close(out, want, 1e-12, "jvp primal output vs numpy")
    assert_like(tangent, want, "jvp tangent")
    h, rtol = (1e-3, 2e-3) if is_single(case, want) else (1e-6, 1e-6)
    (fd,) = central_difference(case.fn, xs, vs, h)
    assert_close(tangent, fd, rtol, "JVP vs central differences", floor=max(1, max_abs(want)))


def check_vjp_adjoint(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Reverse mode is forward mode's adjoint: <u, J v> == <J^T u, v>."""
    vs = [random_like(rng, x) for x in xs]
    _, tangent = admodes.jvp(case.fn, tuple(xs), tuple(vs))
    out, pullback = admodes.vjp(case.fn, *xs)
    u = random_like(rng, out)
    cts = pullback(u)
    assert isinstance(cts, tuple) and len(cts) == len(xs), f"vjp_fn returned {cts!r}"
    for i, (ct, x) in enumerate(zip(cts, xs)):
        assert_like(ct, x, f"cotangent of argument {i}")
    lhs, lhs_scale = vdot([u], [tangent])
    rhs, rhs_scale = vdot(cts, vs)
    rtol = 1e-5 if is_single(case, out, *xs) else 1e-10
    assert abs(lhs - rhs) <= rtol * (lhs_scale + rhs_scale), (
        f"<u, J v> = {lhs!r} but <J^T u, v> = {rhs!r}")


JACOBIANS = {
    "jacfwd(vectorized=True)": lambda f, n: admodes.jacfwd(f, n, vectorized=True),
    "jacfwd(vectorized=False)": lambda f, n: admodes.jacfwd(f, n, vectorized=False),
    "jacrev(vectorized=True)": lambda f, n: admodes.jacrev(f, n, vectorized=True),
    "jacrev(vectorized=False)": lambda f, n: admodes.jacrev(f, n, vectorized=False),
}


def check_jacobians(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Vector mode (one sweep, batched) and the looped sweeps give the same Jacobian."""
    argnums = tuple(range(len(xs)))
    out = case.fn(*xs)
    jacs = {name: leaves(make(case.fn, argnums)(*xs)) for name, make in JACOBIANS.items()}
    reference_name = "jacfwd(vectorized=False)"
    reference = jacs[reference_name]
    for name, blocks in jacs.items():
        assert len(blocks) == len(xs), f"{name} gave {len(blocks)} blocks for {len(xs)} inputs"
        for i, (block, ref, x) in enumerate(zip(blocks, reference, xs)):
            expected_shape = np.shape(out) + np.shape(x)
            assert np.shape(block) == expected_shape, (
                f"{name} block {i}: shape {np.shape(block)}, expected {expected_shape}")
            assert_close(block, ref, 1e-12, f"{name} vs {reference_name}, block {i}",
                         floor=1e-300)


def check_second_order(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """Forward over reverse: the JVP (direction w) of ``x -> J(x)^T u`` matches its finite
    differences. Reverse over forward: the gradient g of ``x -> <u, J(x) v>`` satisfies
    ``<g, w> == <d/dw (J^T u), v>`` (second derivatives are symmetric)."""
    out = case.fn(*xs)
    u = random_like(rng, out)
    vs = [random_like(rng, x) for x in xs]
    ws = [random_like(rng, x) for x in xs]

    def pulled_back(*ys):
        return admodes.vjp(case.fn, *ys)[1](u)

    first, second = admodes.jvp(pulled_back, tuple(xs), tuple(ws))
    second = leaves(second)
    h, rtol = (1e-3, 2e-3) if is_single(case, out) else (1e-5, 1e-6)
    fd = central_difference(pulled_back, xs, ws, h)
    floor = max([1.0] + [max_abs(g) for g in first])
    for i, (got, want) in enumerate(zip(second, fd)):
        assert_close(got, want, rtol, f"d/dw of the cotangent of argument {i}", floor=floor)

    def pushed_forward(*ys):
        return admodes.jvp(case.fn, ys, tuple(vs))[1]

    g = admodes.vjp(pushed_forward, *xs)[1](u)
    lhs, lhs_scale = vdot(g, ws)
    rhs, rhs_scale = vdot(second, vs)
    rtol = 1e-5 if is_single(case, out, *xs) else 1e-10
    assert abs(lhs - rhs) <= rtol * (lhs_scale + rhs_scale), (
        f"reverse over forward <g, w> = {lhs!r} but forward over reverse gives {rhs!r}")


def check_float32(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """float32 stays float32 (as in numpy), with Python float constants mixed in, and the
    float32 derivatives are close to the float64 ones."""

    def fn(*ys):
        return 2.5 * case.fn(*ys) - 0.5

    xs32 = [x.astype(np.float32) for x in xs]
    vs32 = [random_like(rng, x) for x in xs32]
    want = fn(*xs32)
    out, tangent = admodes.jvp(fn, tuple(xs32), tuple(vs32))
    assert_like(out, want, "float32 primal output (numpy's dtype)")
    assert_like(tangent, want, "float32 tangent")
    _, tangent64 = admodes.jvp(fn, tuple(x.astype(np.float64) for x in xs32),
                               tuple(v.astype(np.float64) for v in vs32))
    floor = max(1.0, max_abs(want))
    assert_close(tangent, tangent64, 1e-3, "float32 tangent vs float64 tangent", floor)
    _, pullback = admodes.vjp(fn, *xs32)
    cts = pullback(random_like(rng, want))
    for i, (ct, x) in enumerate(zip(cts, xs32)):
        assert_like(ct, x, f"float32 cotangent of argument {i}")


def check_nondiff(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """A nondiff op hands back numpy's plain value under tracing and adds no derivative."""
    want = case.fn(*xs)
    seen: list[Any] = []

    def probe(*ys):
        seen.append(case.fn(*ys))
        return seen[-1]

    vs = [random_like(rng, x) for x in xs]
    with admodes.count_ops() as count:
        _, tangent = admodes.jvp(probe, tuple(xs), tuple(vs))
    assert count.ops[op_name] > 0, (
        f"this case never applies op {op_name!r}: fix its spec in tests/test_ops.py")
    admodes.vjp(probe, *xs)
    assert len(seen) == 2, f"the function ran {len(seen)} times for one jvp and one vjp"
    for mode, result in zip(("forward", "reverse"), seen):
        assert not isinstance(result, Tracer), f"{mode} mode: a traced result {result!r}"
        assert_like(result, want, f"{mode} mode result")
        np.testing.assert_array_equal(result, want, err_msg=f"{mode} mode result")
    assert np.shape(tangent) == np.shape(want) and not np.any(tangent), (
        f"tangent of a nondiff output: {tangent!r}")

    def total(*ys):  # differentiable inputs plus the op's (constant) result
        return sum(np.sum(y) for y in ys) + np.sum(np.asarray(case.fn(*ys), np.float64))

    grads = admodes.grad(total, argnums=tuple(range(len(xs))))(*xs)
    for i, (g, x) in enumerate(zip(grads, xs)):
        assert_close(g, np.ones_like(x), 0.0, f"gradient through argument {i}")
    _, t = admodes.jvp(total, tuple(xs), tuple(vs))
    assert_close(t, sum(np.sum(v) for v in vs), 1e-12, "jvp through the nondiff op")


# -- orders 2 and 3, in every combination of the modes ---------------------------------
# Each case is restricted to a line through its sample, x + s v for a scalar s, and paired
# with a random cotangent u, which gives scalar functions of s whose derivatives at s = 0
# are known or can be compared across all 2**order ways of nesting jacfwd and jacrev.

NESTINGS = {
    order: [tuple(mode) for mode in itertools.product(("jacfwd", "jacrev"), repeat=order)]
    for order in (2, 3)
}


def nested_derivative(fn: Callable, nesting: tuple[str, ...], at: float = 0.0) -> float:
    """d^k fn / ds^k at ``at``, by nesting the named transformations (outermost first)."""
    for name in reversed(nesting):
        fn = getattr(admodes, name)(fn)
    return fn(at)


def along_line(case: Case, xs: list, rng: np.random.Generator, scale: Callable, path):
    """``s -> scale(s) * <u, case.fn(x + path(s) v)>``; also returns <u, J v>."""
    vs = [random_like(rng, x) for x in xs]
    out, tangent = admodes.jvp(case.fn, tuple(xs), tuple(vs))
    u = [random_like(rng, o) for o in leaves(out)]
    u_jv = vdot(u, leaves(tangent))[0]

    def g(s):
        t = path(s)
        ys = [x + t * v for x, v in zip(xs, vs)]
        return scale(s) * sum(np.sum(ui * o) for ui, o in zip(u, leaves(case.fn(*ys))))

    return g, u_jv


def assert_all_nestings(g: Callable, order: int, want: float, what: str, rtol: float):
    """Every nesting of ``order`` transformations gives ``want`` (within ``rtol``)."""
    scale = max(1.0, abs(want))
    for nesting in NESTINGS[order]:
        got = nested_derivative(g, nesting)
        assert np.ndim(got) == 0 and abs(got - want) <= rtol * scale, (
            f"{what}: {' of '.join(nesting)} gives {got!r}, expected {want!r}")


def check_exact_zero_derivatives(op_name: str, case: Case, xs: list,
                                 rng: np.random.Generator) -> None:
    """Orders 2 and 3 where an inner tangent or cotangent is exactly 0 but its own
    derivative is not, which random points never hit. Along x + s^k v the op's input
    tangent is exactly 0 at s = 0, and d^k/ds^k <u, f> = k! <u, J v>; scaling by s^(k-1)
    makes the cotangent reaching the op exactly 0, with the same k-th derivative."""
    rtol = 1e-5 if case.single else 1e-9
    for order, factorial in ((2, 2.0), (3, 6.0)):
        def power(s, k=order):
            result = s
            for _ in range(k - 1):
                result = result * s
            return result

        def lower(s, k=order):
            return power(s, k - 1) if k > 1 else 1.0

        g, u_jv = along_line(case, xs, rng, scale=lambda s: 1.0, path=power)
        assert_all_nestings(g, order, factorial * u_jv,
                            f"order {order} along x + s^{order} v (zero inner tangent)", rtol)
        h, u_jv = along_line(case, xs, rng, scale=lower, path=lambda s: s)
        assert_all_nestings(h, order, factorial * u_jv,
                            f"order {order} of s^{order - 1} <u, f(x + s v)> (zero "
                            f"cotangent)", rtol)


def check_third_order(op_name: str, case: Case, xs: list, rng: np.random.Generator) -> None:
    """The third derivative along a random line agrees in all 8 nestings of jacfwd and
    jacrev, and with central differences of the second derivative."""
    k, _ = along_line(case, xs, rng, scale=lambda s: 1.0, path=lambda s: s)
    second = admodes.jacfwd(admodes.jacrev(k))
    h = 1e-4
    want = (second(h) - second(-h)) / (2 * h)
    floor = max(1.0, abs(second(0.0)))
    assert_all_nestings(k, 3, want, "third derivative vs central differences of the second",
                        1e-5 * floor)


DIFF_CHECKS = {
    "jvp_fd": check_jvp_fd,
    "vjp_adjoint": check_vjp_adjoint,
    "jacobians": check_jacobians,
    "second_order": check_second_order,
    "float32": check_float32,
    "exact_zeros": check_exact_zero_derivatives,
    "third_order": check_third_order,
}
# the checks that nest three levels run on each case's first shapes only
SHAPE_LIMIT = {"exact_zeros": 3, "third_order": 3}
NONDIFF_CHECKS = {"nondiff": check_nondiff}
ALL_CHECKS = {**DIFF_CHECKS, **NONDIFF_CHECKS}


def checks_for(op) -> dict[str, Callable]:
    return NONDIFF_CHECKS if op.form == "nondiff" else DIFF_CHECKS


def run_check(check: Callable, op_name: str, case: Case, shapes: tuple[Shape, ...],
              failures: list[str]) -> None:
    """Run one check on one case and shape tuple, recording a failure as a line."""
    rng = case_rng(op_name, case.label, shapes)
    try:
        check(op_name, case, sample_inputs(case, shapes, rng), rng)
    except Exception as exc:  # noqa: BLE001  (report every failing case, not the first)
        text = str(exc).split("\nassert ")[0]  # drop pytest's re-evaluation of an assert
        if not isinstance(exc, AssertionError):  # say where admodes raised it
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            text += f"\n(raised at {frame.filename}:{frame.lineno}, in {frame.name})"
        message = f"{type(exc).__name__}: {text}".replace("\n", "\n      ")
        failures.append(f"  {case.label} on shapes {shapes}:\n      {message[:1200]}")


def assert_no_failures(op_name: str, failures: list[str]) -> None:
    assert not failures, (f"{len(failures)} failing case(s) of op {op_name!r}:\n"
                          + "\n".join(failures))


# -- the per-op test ------------------------------------------------------------------


@pytest.mark.parametrize("op_name, check", [
    pytest.param(name, check, id=f"{name}-{check}")
    for name, op in OPS.items() for check in checks_for(op)
])
def test_op(op_name: str, check: str) -> None:
    failures: list[str] = []
    for c in ops_cases(op_name):
        for shapes in c.shapes[: SHAPE_LIMIT.get(check)]:
            run_check(ALL_CHECKS[check], op_name, c, shapes, failures)
    assert_no_failures(op_name, failures)


def test_every_spec_names_a_registered_op() -> None:
    stale = sorted(set(SPECS) - set(OPS)) + sorted(set(DOMAINS) - set(OPS))
    assert not stale, f"specs for ops that are not registered: {stale}"


# -- drawn shapes, axes and indices ---------------------------------------------------

FEW = settings(max_examples=20, deadline=None, database=None, derandomize=True)
ELEMENTWISE = [name for name, op in OPS.items() if op.form == "elementwise"]


def broadcasting_case(op_name: str) -> Case:
    for c in ops_cases(op_name):
        if c.elementwise:
            return c
    pytest.fail(f"elementwise op {op_name!r} has no case with elementwise=True in SPECS")


@pytest.mark.parametrize("op_name", ELEMENTWISE)
@FEW
@given(data=st.data())
def test_elementwise_op_on_drawn_broadcast_shapes(op_name: str, data) -> None:
    c = broadcasting_case(op_name)
    shapes = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=len(c.domains), min_dims=0, max_dims=3, max_side=3)).input_shapes
    failures: list[str] = []
    for check in (check_jvp_fd, check_vjp_adjoint):
        run_check(check, op_name, c, shapes, failures)
    assert_no_failures(op_name, failures)


REDUCTION_DOMAINS = {"sum": STD, "mean": STD, "max": Distinct(), "min": Distinct(),
                     "prod": SomeZeros()}


@st.composite
def axis_arguments(draw, ndim: int):
    """None, an int (maybe negative) or a tuple of distinct axes (maybe negative)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none", "tuple"]))
    if kind == "none":
        return None
    size = 1 if kind == "int" else draw(st.integers(0, ndim))
    axes = draw(st.permutations(range(ndim)))[:size]
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    return axes[0] if kind == "int" else tuple(axes)


@pytest.mark.parametrize("op_name", list(REDUCTION_DOMAINS))
@FEW
@given(data=st.data())
def test_reduction_on_drawn_axes(op_name: str, data) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    axis = data.draw(axis_arguments(len(shape)))
    keepdims = data.draw(st.booleans())
    func = getattr(np, op_name)
    c = spec(f"np.{op_name}(x, axis={axis!r}, keepdims={keepdims})",
             lambda x: func(x, axis=axis, keepdims=keepdims), each(shape),
             REDUCTION_DOMAINS[op_name])
    failures: list[str] = []
    for check in (check_jvp_fd, check_vjp_adjoint, check_jacobians):
        run_check(check, op_name, c, (shape,), failures)
    assert_no_failures(op_name, failures)


@st.composite
def mixed_indices(draw, shape: Shape):
    """Per axis a slice, an int or an integer array (all arrays of one length, repeats
    allowed), with a None sometimes inserted."""
    length = draw(st.integers(1, 3))
    key = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "array"]))
        if kind == "slice":
            key.append(draw(st.slices(n)))
        elif kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        else:
            key.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=length,
                                              max_size=length)), dtype=np.intp))
    if draw(st.booleans()):
        key.insert(draw(st.integers(0, len(key))), None)
    return tuple(key)


@settings(FEW, max_examples=100)
@given(data=st.data())
def test_getitem_on_drawn_indices(data) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    key = data.draw(st.one_of(
        hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True),
        hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2,
                                                                       max_side=3)),
        mixed_indices(shape)))
    c = spec(f"x[{key!r}]", lambda x: x[key], each(shape))
    failures: list[str] = []
    for check in (check_jvp_fd, check_vjp_adjoint, check_jacobians):
        run_check(check, "getitem", c, (shape,), failures)
    assert_no_failures("getitem", failures)


# -- zero-size arrays -----------------------------------------------------------------

ZERO_SIZE_SHAPES = {
    1: each((0,), (2, 0)),
    2: [((0,), (0,)), ((2, 0), (2, 0)), ((2, 0), ()), ((0,), (2, 1))],
    3: [((0,), (0,), (0,)), ((2, 0), (), (1,))],
}
ZERO_SIZE_SPECS: dict[str, list[Case]] = {
    "sum": [
        spec("np.sum(x)", lambda x: np.sum(x), each((0,), (2, 0))),
        spec("np.sum(x, axis=1)", lambda x: np.sum(x, axis=1), each((2, 0))),
        spec("np.sum(x, axis=0, keepdims=True)", lambda x: np.sum(x, axis=0, keepdims=True),
             each((2, 0))),
    ],
    "matmul": [
        spec("x @ y", lambda x, y: x @ y,
             [((2, 0), (0, 3)), ((0,), (0,)), ((0, 2), (2,)), ((3, 0), (0,)),
              ((2, 3), (3, 0)), ((2, 0, 3), (3, 1))]),
    ],
    "concatenate": [
        spec("np.concatenate([x, y])", lambda x, y: np.concatenate([x, y]),
             [((0,), (3,)), ((0,), (0,))]),
        spec("np.concatenate([x, y], axis=1)", lambda x, y: np.concatenate([x, y], axis=1),
             [((2, 0), (2, 3))]),
    ],
    "reshape": [
        spec("x.reshape(-1)", lambda x: x.reshape(-1), each((2, 0))),
        spec("np.reshape(x, (0, 2))", lambda x: np.reshape(x, (0, 2)), each((2, 0))),
        spec("x.reshape(0, 5)", lambda x: x.reshape(0, 5), each((0,))),
    ],
}


def zero_size_cases(op_name: str) -> list[Case]:
    if op_name in ZERO_SIZE_SPECS:
        return ZERO_SIZE_SPECS[op_name]
    c = broadcasting_case(op_name)
    return [Case(c.label, c.fn, ZERO_SIZE_SHAPES[len(c.domains)], c.domains, c.apart)]


@pytest.mark.parametrize("op_name", ELEMENTWISE + list(ZERO_SIZE_SPECS))
def test_zero_size_arrays(op_name: str) -> None:
    """Empty inputs: derivatives of the right (often empty) shapes and dtypes."""
    failures: list[str] = []
    for c in zero_size_cases(op_name):
        for shapes in c.shapes:
            for check in (check_jvp_fd, check_vjp_adjoint, check_jacobians):
                run_check(check, op_name, c, shapes, failures)
    assert_no_failures(op_name, failures)
