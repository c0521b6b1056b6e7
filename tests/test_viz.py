"""Pictures of a computation: the Wengert list and the graph drawing."""

import shutil

import numpy as np
import pytest

from admodes import viz


def test_wengert_list_of_the_notebook_example_has_the_exact_values():
    table = viz.wengert_table(viz.notebook_example, 3.0, 4.0, output_name="f")
    assert list(table.name) == ["a", "b", "v1", "v2", "f"]
    assert list(table.op) == ["input", "input", "+", "*", "*"]
    assert list(table.inputs) == ["", "", "a, b", "a, b", "v1, v2"]
    assert list(table.primal) == [3.0, 4.0, 7.0, 12.0, 84.0]
    # reverse mode: one sweep gives every adjoint; df/da = 40, df/db = 33
    assert list(table.adjoint) == [40.0, 33.0, 12.0, 7.0, 1.0]
    # forward mode seeded on a: the output's tangent is df/da
    assert list(table.tangent) == [1.0, 0.0, 1.0, 4.0, 40.0]
    seeded_on_b = viz.wengert_table(viz.notebook_example, 3.0, 4.0, tangents=(0.0, 1.0))
    assert seeded_on_b.tangent.iloc[-1] == 33.0


def test_wengert_list_of_an_array_function_matches_the_gradient():
    x = np.array([1.0, 2.0])
    table = viz.wengert_table(lambda x: np.sum(np.sin(x) * x), x)
    np.testing.assert_allclose(table.adjoint.iloc[0], np.cos(x) * x + np.sin(x))
    assert table.tangent.iloc[-1] == pytest.approx(np.sum(np.cos(x) * x + np.sin(x)))


def test_wengert_list_rejects_a_non_scalar_output():
    with pytest.raises(TypeError, match="one scalar output"):
        viz.wengert_table(lambda x: x * 2, np.ones(2))


def test_expression_becomes_a_function_of_its_variables_in_order():
    fun, names = viz.function_from_expression("sin(b) * a + b")
    assert names == ["b", "a"]
    assert fun(2.0, 3.0) == pytest.approx(np.sin(2.0) * 3.0 + 2.0)
    with pytest.raises(ValueError, match="cannot parse"):
        viz.function_from_expression("(a +")


@pytest.mark.parametrize("expression, at, value, gradient", [
    ("(a + b) * (a * b)", (3.0, 4.0), 84.0, (40.0, 33.0)),
    ("-a ** 2", (3.0,), -9.0, (-6.0,)),  # -(a ** 2), as in Python
    ("sqrt(a) / (1 + b)", (4.0, 1.0), 1.0, (0.125, -0.5)),
    ("maximum(a, 0.5)", (2.0,), 2.0, (1.0,)),
    ("maximum(a, 0.5)", (0.25,), 0.5, (0.0,)),
    ("pi * a", (2.0,), 2 * np.pi, (np.pi,)),
    ("2e-3 * a", (3.0,), 0.006, (0.002,)),
    ("+a - -b", (1.0, 2.0), 3.0, (1.0, 1.0)),
    ("clip(a, 0, 1) + where(b, a, 0) + sum(a) + e", (0.5, 1.0), 1.5 + np.e, (3.0, 0.0)),
    ("a ** 2 ** 3", (2.0,), 256.0, (1024.0,)),  # ints become floats; 2 ** 3 is folded
    ("2 ** a", (3.0,), 8.0, (8.0 * np.log(2.0),)),
])
def test_an_expression_traces_to_the_right_value_and_gradient(expression, at, value,
                                                              gradient):
    fun, names = viz.function_from_expression(expression)
    table = viz.wengert_table(fun, *at)
    assert table.primal.iloc[-1] == pytest.approx(value)
    assert list(table.adjoint.iloc[:len(names)]) == pytest.approx(list(gradient))


def test_variables_follow_their_first_appearance_and_make_the_signature():
    import inspect

    for expression, names in [("exp(b) + x", ["b", "x"]), ("x + exp(b)", ["x", "b"]),
                              ("e * b + a * b", ["b", "a"]), ("(b +\n a)", ["b", "a"]),
                              ("sin(sinx) + x", ["sinx", "x"])]:
        fun, found = viz.function_from_expression(expression)
        assert found == names, expression
        assert list(inspect.signature(fun).parameters) == names
    fun, _ = viz.function_from_expression("exp(b) + x")
    assert fun(1.0, 2.0) == pytest.approx(np.e + 2.0)
    with pytest.raises(TypeError, match="takes 2 value"):
        fun(1.0)


def test_an_expression_is_never_evaluated_as_python(monkeypatch):
    import builtins

    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    fun, names = viz.function_from_expression("(a + b) * (a * b)")
    assert fun(3.0, 4.0) == 84.0


@pytest.mark.parametrize("expression, message", [
    ("foo(a)", "unknown function foo; known: sin, cos, tan"),
    ("a.real", "attribute access (a.b) is not allowed in an expression; allowed: numbers"),
    ("sum(a, 0)", "sum takes 1 argument(s), as in sum(x); got 2"),
    ("where(a, b)", "where takes 3 argument(s), as in where(condition, x, y); got 2"),
    ("exp + a", "exp is a function: call it, as in exp(x)"),
    ("a ** 64.5", "the exponent 64.5 is too large"),
    ("9 ** 9 ** 9", "the exponent 387420489 is too large"),
    ("3", "has no variables"),
    ("1e999 * 0 + 10 ** 400 + a", "the exponent 400 is too large"),
])
def test_a_rejected_expression_raises_value_error_saying_why(expression, message):
    with pytest.raises(ValueError) as info:
        viz.function_from_expression(expression)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_render_graph_refuses_an_unknown_format(tmp_path):
    graph = viz.draw(viz.notebook_example, 3.0, 4.0)
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        viz.render_graph(graph, tmp_path / "g.xyz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["forward", "reverse", "both"])
def test_graph_labels_follow_the_mode(mode):
    source = viz.draw(viz.notebook_example, 3.0, 4.0, mode=mode).source
    assert "a = 3" in source and "out = 84" in source
    assert ("tangent 40" in source) == (mode != "reverse")
    assert ("adjoint 33" in source) == (mode != "forward")
    assert source.count("->") == 6  # a, b -> v1, v2 -> out


def test_graph_renders_to_svg_when_dot_is_installed(tmp_path):
    if shutil.which("dot") is None:  # setup.sh installs it; CI runs setup.sh
        pytest.fail("Graphviz's dot is not installed: run `bash setup.sh`")
    path = viz.render_graph(viz.draw(viz.notebook_example, 3.0, 4.0), tmp_path / "g.svg")
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "adjoint 40" in text


def test_without_dot_the_source_is_written_and_the_error_says_how_to_install(
        tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.render_graph(viz.draw(viz.notebook_example, 3.0, 4.0), tmp_path / "g.png")
    assert "digraph" in (tmp_path / "g.dot").read_text()
