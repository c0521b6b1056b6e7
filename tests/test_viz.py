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
