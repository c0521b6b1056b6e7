"""admodes.jit: staged programs give the eager results to the last bit, re-stage when a
guard or a shape says so, drop dead code, and read as code."""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import OPS, case_rng, ops_cases, sample_inputs

import admodes
from admodes import jit

# -- every registered op, in every transformation ------------------------------------


def _same_bits(a, b, what):
    la, lb = admodes.tree_flatten(a)[0], admodes.tree_flatten(b)[0]
    assert len(la) == len(lb), what
    for x, y in zip(la, lb):
        assert type(x) is type(y) or (np.ndim(x) == np.ndim(y) == 0), (what, type(x), type(y))
        assert np.shape(x) == np.shape(y) and np.result_type(x) == np.result_type(y), what
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=what)


def _transformations(fn, n):
    nums = tuple(range(n))

    def vjp_of(*xs):
        out, pullback = admodes.vjp(fn, *xs)
        return out, pullback(admodes.tree_map(lambda o: np.ones_like(o) * 0.5, out))

    def jvp_of(*xs):
        return admodes.jvp(fn, xs, tuple(np.ones_like(x) * 0.25 for x in xs))

    return {"f": fn, "vjp": vjp_of, "jvp": jvp_of,
            "jacfwd": admodes.jacfwd(fn, nums), "jacrev": admodes.jacrev(fn, nums),
            "jacrev of jacfwd": admodes.jacrev(admodes.jacfwd(fn, 0), 0)}


DIFFERENTIABLE = [name for name, op in OPS.items() if op.form != "nondiff"]


@pytest.mark.parametrize("op_name", list(OPS))
def test_jit_gives_the_eager_bits_for_every_op(op_name):
    failures = []
    for case in ops_cases(op_name)[:2]:
        shapes = case.shapes[0]
        rng = case_rng("jit", op_name, case.label)
        first, second = sample_inputs(case, shapes, rng), sample_inputs(case, shapes, rng)
        kinds = _transformations(case.fn, len(first))
        if OPS[op_name].nondiff:
            kinds = {"f": kinds["f"], "vjp": kinds["vjp"]}
        for kind, fn in kinds.items():
            jitted = jit(fn)
            try:
                for xs in (first, second, first):  # stage, replay (or re-stage), replay
                    _same_bits(jitted(*xs), fn(*xs), f"{case.label}: jit({kind})")
            except AssertionError as e:
                failures.append(str(e)[:400])
            except Exception as e:  # noqa: BLE001  (report each case)
                failures.append(f"{case.label}: jit({kind}) raised {type(e).__name__}: {e}"[:400])
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("op_name", DIFFERENTIABLE)
def test_transformations_of_a_jitted_function_are_the_eager_ones(op_name):
    case = ops_cases(op_name)[0]
    xs = sample_inputs(case, case.shapes[0], case_rng("jit-outer", op_name))
    jitted = jit(case.fn)
    jitted(*xs)  # staged on plain values first, then replayed under each transformation
    nums = tuple(range(len(xs)))
    for outer in (admodes.jacfwd, admodes.jacrev):
        _same_bits(outer(jitted, nums)(*xs), outer(case.fn, nums)(*xs),
                   f"{outer.__name__}(jit({case.label}))")
    second = admodes.jacfwd(admodes.jacrev(jitted, 0), 0)(*xs)
    _same_bits(second, admodes.jacfwd(admodes.jacrev(case.fn, 0), 0)(*xs),
               f"jacfwd(jacrev(jit({case.label})))")


# -- the notebook's example, as code ----------------------------------------------------


def notebook(a, b):
    return (a + b) * (a * b)


def test_the_notebook_example_reads_as_a_forward_and_a_reverse_sweep():
    vg = jit(admodes.value_and_grad(notebook, argnums=(0, 1)))
    assert vg(3.0, 4.0) == (84.0, (40.0, 33.0))
    assert vg.source(3.0, 4.0) == (
        "def value_and_grad_fun(v0, v1):\n"
        "    v2 = v0 + v1\n"
        "    v3 = v0 * v1\n"
        "    v4 = v2 * v3\n"
        "    v7 = v1 * v2\n"
        "    del v1\n"
        "    v8 = v0 * v2\n"
        "    del v0, v2\n"
        "    v9 = v7 + v3\n"
        "    del v7\n"
        "    v10 = v8 + v3\n"
        "    del v3, v8\n"
        "    return (v4, v9, v10)\n")
    assert vg(1.0, 2.0) == (6.0, (8.0, 5.0)) and vg.stagings == 1 and vg.replays == 1


# -- guards, shapes, dead code, composition ---------------------------------------------


def test_a_branch_on_a_value_is_guarded_and_restaged():
    calls = []

    def f(x):
        calls.append(1)  # a side effect: at staging only
        if x > 0:
            return np.sin(x) * 2.0
        return np.cos(x)

    g = jit(admodes.grad(f))
    assert g(0.5) == admodes.grad(f)(0.5)
    assert g(0.7) == admodes.grad(f)(0.7) and g.stagings == 1  # same branch: replayed
    assert g(-0.5) == admodes.grad(f)(-0.5)  # the guard fails: staged again
    assert g.stagings == 2 and g.guard_failures == 1
    assert g(0.9) == admodes.grad(f)(0.9) and g(-2.0) == admodes.grad(f)(-2.0)
    assert g.stagings == 2 and len(g.programs(0.9)) == 2  # both variants kept
    with admodes.count_ops() as c:
        g(-1.0)
    assert (c.replays, c.stagings, c.guard_failures) == (1, 0, 1)


def test_values_taken_into_python_are_guarded():
    def f(x, n):
        total = x * 0.0
        for k in range(int(n)):  # int() of a staged value: a guard on its value
            total = total + x ** k
        return total

    g = jit(f)
    x = np.array([0.5, 2.0])
    np.testing.assert_array_equal(g(x, 3.0), f(x, 3.0))
    np.testing.assert_array_equal(g(x * 2, 3.0), f(x * 2, 3.0))
    assert g.stagings == 1
    np.testing.assert_array_equal(g(x, 5.0), f(x, 5.0))
    assert g.stagings == 2


def test_new_shapes_and_dtypes_stage_again():
    f = jit(lambda x: np.sum(np.tanh(x)))
    f(np.ones(3))
    f(np.zeros(3))
    f(np.ones(4))
    f(np.ones(4, np.float32))
    f(0.5)
    assert f.stagings == 4 and f.replays == 1
    assert f(np.ones(4, np.float32)).dtype == np.float32


def test_dead_code_is_removed():
    def both(x):
        return np.sum(np.exp(x)), np.sum(np.sin(x) * np.cos(x))

    def first_only(x):
        return both(x)[0]

    x = np.ones(3)
    assert jit(both).programs(x)[0].length == 6  # exp, sum; sin, cos, multiply, sum
    assert jit(first_only).programs(x)[0].length == 2  # exp and sum
    # value_and_grad's program keeps the value and the gradient, drops nothing needed
    vg = jit(admodes.value_and_grad(lambda x: np.sum(x * x)))
    v, g = vg(np.array([1.0, 2.0]))
    assert v == 5.0 and list(g) == [2.0, 4.0]


def test_identity_ops_are_dropped():
    f = jit(lambda x: np.reshape(x * 1.0, (3,)) + 0.5)
    np.testing.assert_array_equal(f(np.ones(3)), np.ones(3) * 1.5)
    assert f.programs(np.ones(3))[0].length == 1
    assert f.source(np.ones(3)).count(" = ") == 1


def test_an_output_is_never_the_input_itself():
    x = np.array([1.0, 2.0])
    g = jit(lambda x: x * 1.0)
    for _ in range(2):  # staged, then replayed
        y = g(x)
        assert y is not x and not np.shares_memory(y, x)
        y[0] = 5.0
        assert x[0] == 1.0


def test_jit_composes_both_ways_and_nests():
    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    rng = np.random.default_rng(3)
    w, x = rng.normal(size=(3, 2)), rng.normal(size=(4, 3))
    inner = jit(loss)
    _same_bits(admodes.grad(inner)(w, x), admodes.grad(loss)(w, x), "grad(jit(f))")
    _same_bits(admodes.jacfwd(inner)(w, x), admodes.jacfwd(loss)(w, x), "jacfwd(jit(f))")
    _same_bits(admodes.hessian(inner)(w, x), admodes.hessian(loss)(w, x), "hessian(jit(f))")
    outer = jit(lambda w, x: admodes.grad(inner)(w, x) * 2.0)  # jit of grad of jit
    _same_bits(outer(w, x), admodes.grad(loss)(w, x) * 2.0, "jit(grad(jit(f)))")
    _same_bits(outer(w + 1, x), admodes.grad(loss)(w + 1, x) * 2.0, "replayed")
    assert outer.stagings == 1


def test_a_closure_over_a_traced_value_is_refused():
    def f(w):
        return jit(lambda x: x * w)(2.0)

    with pytest.raises(TypeError, match="Pass it to the jitted function as an argument"):
        admodes.grad(f)(3.0)


def test_static_arguments_and_bad_arguments():
    def power(x, n):
        return x ** n

    p = jit(power, static_argnums=1)
    assert p(2.0, 3) == 8.0 and p(2.0, 4) == 16.0 and p.stagings == 2
    with pytest.raises(TypeError, match="static_argnums"):
        jit(power)(2.0, "three")
    with pytest.raises(TypeError, match="by position"):
        jit(power)(2.0, n=3)
    with pytest.raises(TypeError, match="output 0 is str"):
        jit(lambda x: "text")(1.0)


# -- training through a jitted gradient ---------------------------------------------------


@pytest.mark.parametrize("mode, strategy", [("reverse", "vectorized"), ("forward", "looped"),
                                            ("forward", "vectorized"),
                                            ("forward-gradient", "vectorized")])
def test_fit_with_jit_gives_the_eager_parameters(mode, strategy):
    from admodes.nn import ArrayMLP, fit, moons

    X, y = moons(150, 0.2, 0)
    eager, staged = ArrayMLP((2, 6, 6, 1), seed=1), ArrayMLP((2, 6, 6, 1), seed=1)
    kw = dict(mode=mode, forward_strategy=strategy, epochs=2, batch_size=64,
              learning_rate=0.05)
    h_eager = fit(eager, X, y, **kw)
    h_jit = fit(staged, X, y, **kw, jit=True)
    _same_bits(staged.params, eager.params, f"fit(mode={mode!r}, jit=True)")
    assert h_jit.loss.tolist() == h_eager.loss.tolist() and len(h_jit) == 6


def test_fit_with_jit_on_the_scalar_mlp():
    from admodes.nn import MLP, fit, moons

    X, y = moons(24, 0.2, 0)
    eager, staged = MLP((2, 4, 1), seed=2), MLP((2, 4, 1), seed=2)
    fit(eager, X, y, epochs=2, batch_size=8, learning_rate=0.1)
    fit(staged, X, y, epochs=2, batch_size=8, learning_rate=0.1, jit=True)
    assert staged.params == eager.params  # the same Python floats
