"""Each engine used on its own: forward.dual / level / primal / tangent, and the notebook's
way of working in reverse mode (Variable, backward, .grad, draw), plus reverse.record."""

from __future__ import annotations

import numpy as np
import pytest

import admodes
from admodes import forward, reverse, viz


def test_import_admodes_reaches_every_part():
    import importlib

    fresh = importlib.import_module("admodes")
    for name in ("forward", "reverse", "viz", "nn"):
        assert getattr(fresh, name).__name__ == f"admodes.{name}"


# -- forward ----------------------------------------------------------------------------


def test_dual_numbers_by_hand():
    with forward.level():
        x = forward.dual(0.5, 1.0)
        y = np.sin(x) * x + x ** 2
        assert forward.primal(y) == pytest.approx(np.sin(0.5) * 0.5 + 0.25)
        assert forward.tangent(y) == pytest.approx(np.cos(0.5) * 0.5 + np.sin(0.5) + 1.0)
        c = np.cos(0.3)  # a constant: tangent zero
        assert forward.tangent(c) == 0.0 and forward.primal(c) == c


def test_dual_arrays_and_a_batch_of_tangents():
    a = np.array([[1.0, 2.0], [3.0, -1.0]])
    x0 = np.array([0.2, -0.4])
    with forward.level():
        x = forward.dual(x0, np.eye(2))  # both directions in one sweep
        y = np.tanh(a @ x)
        jac = forward.tangent(y)  # one row per direction
    np.testing.assert_allclose(jac.T, admodes.jacfwd(lambda x: np.tanh(a @ x))(x0))
    with forward.level():
        x = forward.dual(x0, np.array([1.0, 0.0]))
        np.testing.assert_allclose(forward.tangent(np.tanh(a @ x)), jac[0])


def test_nested_levels_give_higher_derivatives():
    with forward.level() as outer:
        x = forward.dual(2.0, 1.0)
        with forward.level() as inner:
            y = forward.dual(x, 1.0)
            z = y ** 3
            dz = forward.tangent(z, inner)  # 3 x^2, still carrying outer's tangent
        assert forward.primal(dz, outer) == pytest.approx(12.0)
        assert forward.tangent(dz, outer) == pytest.approx(12.0)  # 6 x
    # three levels: the third derivative of exp(2x) = 8 exp(2x)
    with forward.level() as l1:
        x1 = forward.dual(0.1, 1.0, l1)
        with forward.level() as l2:
            x2 = forward.dual(x1, 1.0, l2)
            with forward.level() as l3:
                x3 = forward.dual(x2, 1.0, l3)
                d1 = forward.tangent(np.exp(2 * x3), l3)
            d2 = forward.tangent(d1, l2)
        d3 = forward.tangent(d2, l1)
    assert d3 == pytest.approx(8 * np.exp(0.2))


def test_forward_library_errors():
    with pytest.raises(TypeError, match="needs an open level"):
        forward.dual(1.0, 1.0)
    with forward.level():
        with pytest.raises(ValueError, match="does not fit a primal"):
            forward.dual(np.ones(3), np.ones(2))
        with pytest.raises(TypeError, match="integer"):
            forward.dual(3, 1.0)
        x = forward.dual(1.0, 1.0)
    with pytest.raises(TypeError, match="escaped"):
        np.sin(x)  # its level has closed: refused, never a wrong derivative
    with pytest.raises(TypeError, match="needs an open level"):
        forward.tangent(x)


def test_duals_work_inside_transformations():
    # a dual of an enclosing level is an ordinary value to grad inside it
    with forward.level():
        a = forward.dual(2.0, 1.0)
        g = admodes.grad(lambda x: x * x * a)(3.0)  # 2 x a = 12, d/da = 2 x = 6
        assert forward.primal(g) == pytest.approx(12.0)
        assert forward.tangent(g) == pytest.approx(6.0)


# -- reverse: the notebook's walkthrough ------------------------------------------------


def test_notebook_walkthrough_variable_backward_grad_draw():
    reverse.new_tape()
    a = reverse.Variable(3.0, name="a")
    b = reverse.Variable(4.0, name="b")
    f = (a + b) * (a * b)
    f.backward()
    assert a.grad == 2 * 3 * 4 + 4 ** 2  # d/da (a^2 b + a b^2) = 2ab + b^2 = 40
    assert b.grad == 3 ** 2 + 2 * 3 * 4  # 33
    assert f.grad == 1.0
    table = viz.wengert_table(f)
    assert table["name"].tolist() == ["a", "b", "v1", "v2", "out"]
    assert table["adjoint"].tolist() == [40.0, 33.0, 12.0, 7.0, 1.0]
    assert table["primal"].tolist() == [3.0, 4.0, 7.0, 12.0, 84.0]
    graph = viz.draw(f)
    assert "a = 3|" in graph.source and "adjoint 40" in graph.source
    assert graph.source.count("->") == 6  # a, b into + and *; both into the output


def test_backward_replaces_gradients_never_accumulates():
    reverse.new_tape()
    x = reverse.Variable(2.0, name="x")
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 4.0  # not 8: each backward starts afresh
    z = 3.0 * x
    z.backward()
    assert x.grad == 3.0 and y.grad == 0.0  # y does not influence z


def test_variables_on_arrays():
    reverse.new_tape()
    w = reverse.Variable(np.array([[1.0, -2.0], [0.5, 3.0]]), name="W")
    x = reverse.Variable(np.array([0.3, 0.7]), name="x")
    loss = np.sum(np.tanh(w @ x) ** 2)
    gw, gx = reverse.gradient(loss, w, x)
    want_w, want_x = admodes.grad(lambda w, x: np.sum(np.tanh(w @ x) ** 2), argnums=(0, 1))(
        w.primal, x.primal)
    np.testing.assert_allclose(gw, want_w)
    np.testing.assert_allclose(gx, want_x)
    h = np.tanh(w @ x)
    with pytest.raises(TypeError, match="needs a scalar"):
        h.backward()
    h.backward(seed=np.array([1.0, 0.0]))
    np.testing.assert_allclose(x.grad, admodes.jacrev(lambda x: np.tanh(w.primal @ x))(
        x.primal)[0])


def test_reverse_library_errors():
    reverse.new_tape()
    with pytest.raises(ValueError, match="no gradient yet"):
        _ = reverse.Variable(1.0, name="lonely").grad
    with pytest.raises(TypeError, match="integer"):
        reverse.Variable(3)
    with pytest.raises(ValueError, match="seed has shape"):
        reverse.Variable(np.ones(2)).backward(seed=np.ones(3))


def test_record_gives_a_readable_reusable_tape():
    tape = reverse.record(lambda a, b: (a + b) * (a * b), 3.0, 4.0)
    assert str(tape).splitlines() == [
        "a = input 3", "b = input 4", "v2 = add(a, b)  -> 7", "v3 = multiply(a, b)  -> 12",
        "v4 = multiply(v2, v3)  -> 84"]
    assert [e.op.name if e.op else "input" for e in tape.entries()] == tape.ops
    assert tape.backward() == (40.0, 33.0)
    assert tape.backward(2.0) == (80.0, 66.0)  # again, another seed: the tape is unchanged
    adjoints = tape.backward(1.0, adjoints=True)
    assert adjoints == [40.0, 33.0, 12.0, 7.0, 1.0]  # the intermediates' too


def test_record_on_arrays_and_errors():
    x0 = np.array([0.5, -1.0, 2.0])
    tape = reverse.record(lambda x: np.sin(x) * x, x0)
    u = np.array([1.0, 2.0, -1.0])
    (g,) = tape.backward(u)
    np.testing.assert_allclose(g, u * (np.cos(x0) * x0 + np.sin(x0)))
    with pytest.raises(TypeError, match="needs a scalar"):
        tape.backward()
    with pytest.raises(TypeError, match="computed from its arguments"):
        reverse.record(lambda x: 1.0, 2.0)
    with pytest.raises(TypeError, match="escaped"):
        kept = []
        reverse.record(lambda x: kept.append(x * 2) or x * 3, 1.0)
        np.sin(kept[0])
