"""Pictures of a computation: the Wengert list of a real recorded tape, as a table and as a
graphviz drawing annotated with each value's primal, forward tangent and reverse adjoint.

Example:
    >>> import admodes.viz as viz
    >>> table = viz.wengert_table(lambda a, b: (a + b) * (a * b), 3.0, 4.0)
    >>> table[["name", "op", "primal", "adjoint"]].values.tolist()[-1]
    ['out', '*', 84.0, 1.0]
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .api import _check_input, record

SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "true_divide": "/",
           "negative": "neg", "matmul": "@", "power": "**", "square": "^2"}


def _arg_names(fun: Callable, n: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return params[:n] + [f"x{i}" for i in range(len(params), n)]


def _plain(v: Any) -> Any:
    if v is None:
        return 0.0
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v


def wengert_table(fun: Callable, *args: Any, tangents: Sequence[Any] | None = None,
                  output_name: str = "out") -> pd.DataFrame:
    """Record ``fun(*args)`` and return its Wengert list, one row per tape entry.

    Columns: ``step`` (the forward sweep's order; the reverse sweep walks it backwards),
    ``name``, ``op``, ``inputs``, ``primal``, ``tangent`` (forward mode, seeded with
    ``tangents``, by default 1 for the first argument and 0 for the others) and
    ``adjoint`` (reverse mode, seeded with 1 at the output, which must be a scalar).
    """
    for k, a in enumerate(args):
        _check_input(a, f"argument {k}")
    out_tree, outs, _, tape = record(lambda leaves: fun(*leaves), list(args))
    if len(outs) != 1 or np.shape(outs[0]) != ():
        raise TypeError("wengert_table draws functions with one scalar output, got "
                        f"{len(outs)} output(s) of shape(s) {[np.shape(o) for o in outs]}")
    nodes = tape.nodes
    out_index = len(nodes) - 1
    while out_index >= 0 and nodes[out_index][3] is not outs[0]:
        out_index -= 1
    if tangents is None:
        tangents = [(np.ones_like(a) if i == 0 else np.zeros_like(a))
                    if isinstance(a, np.ndarray) else float(i == 0)
                    for i, a in enumerate(args)]
    if len(tangents) != len(args):
        raise ValueError(f"got {len(tangents)} tangents for {len(args)} arguments")
    adjoints = tape.backward([(out_index, 1.0)], keep_all=True) if out_index >= 0 else []
    # forward mode over the same Wengert list: each entry's JVP rule, in recording order
    tans: list[Any] = list(tangents) + [None] * (len(nodes) - len(args))
    names = _arg_names(fun, len(args))
    rows = []
    for i, (op, parents, primals, out, params, _) in enumerate(nodes):
        if op is None:
            name, label, inputs = names[i], "input", ""
        else:
            parent_tans = tuple(tans[p] if p >= 0 else None for p in parents)
            if any(t is not None for t in parent_tans):
                tans[i] = op.jvp(primals, parent_tans, out, params)
            name = output_name if i == out_index else f"v{i - len(args) + 1}"
            label = SYMBOLS.get(op.name, op.name)
            inputs = ", ".join(rows[p]["name"] if p >= 0 else repr(_plain(c))
                               for p, c in zip(parents, primals))
        rows.append({"step": i, "name": name, "op": label, "inputs": inputs,
                     "primal": _plain(out), "tangent": _plain(tans[i]),
                     "adjoint": _plain(adjoints[i] if i < len(adjoints) else None)})
    return pd.DataFrame(rows)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return np.array2string(np.asarray(v), precision=3, threshold=6)


def draw(fun: Callable, *args: Any, mode: str = "both", tangents: Sequence[Any] | None = None,
         output_name: str = "out"):
    """The computation graph of ``fun(*args)`` as a ``graphviz.Digraph``, one record-shaped
    node per value (op | name = primal | tangent | adjoint), in the order of the sweep.

    ``mode`` is "forward" (tangents), "reverse" (adjoints) or "both". In a notebook the
    returned object displays itself; ``render_graph`` writes it to a file.
    """
    import graphviz

    if mode not in ("forward", "reverse", "both"):
        raise ValueError(f"mode must be 'forward', 'reverse' or 'both', got {mode!r}")
    table = wengert_table(fun, *args, tangents=tangents, output_name=output_name)
    n = len(table)
    g = graphviz.Digraph(node_attr={"shape": "record", "height": ".1",
                                    "fontname": "Helvetica"})
    g.attr(rankdir="LR")
    label_of = {}
    for row in table.itertuples():
        fields = []
        if row.op != "input":
            fields.append(row.op)
        fields.append(f"{row.name} = {_fmt(row.primal)}")
        if mode in ("forward", "both"):
            fields.append(f"tangent {_fmt(row.tangent)} (fwd {row.step + 1})")
        if mode in ("reverse", "both"):
            fields.append(f"adjoint {_fmt(row.adjoint)} (rev {n - row.step})")
        node = f"node{row.step}"
        label_of[row.name] = node
        g.node(node, "|".join(f.replace("|", "/").replace("<", "&lt;").replace(">", "&gt;")
                              for f in fields))
    for row in table.itertuples():
        for src in (s.strip() for s in row.inputs.split(",") if s.strip()):
            if src in label_of:
                g.edge(label_of[src], f"node{row.step}")
    return g


def render_graph(graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` (.svg, .png, .pdf or .dot). Without Graphviz's ``dot``
    program, writes the .dot source next to it and raises RuntimeError saying how to
    install it."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "svg"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(graph.source)
        return path
    if shutil.which("dot") is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(graph.source)
        raise RuntimeError(
            f"Graphviz's `dot` program is not installed, so {path} was not drawn; its "
            f"source is in {dot_path}. Install the system package (Debian/Ubuntu: "
            f"`sudo apt-get install graphviz`; macOS: `brew install graphviz`), or run "
            f"`bash setup.sh`.")
    data = graph.pipe(format=fmt)
    path.write_bytes(data)
    return path


NOTEBOOK_EXAMPLE = "(a + b) * (a * b)"

# names an expression may use besides its variables
EXPRESSION_NAMESPACE = {"np": np, "pi": np.pi, "e": np.e, **{
    name: getattr(np, name) for name in (
        "sin", "cos", "tan", "tanh", "sinh", "cosh", "exp", "log", "log1p", "expm1",
        "sqrt", "abs", "maximum", "minimum", "arctan", "arcsin", "arccos", "square", "sum",
        "where", "clip")}}


def notebook_example(a: float, b: float):
    """The notebook's f(a, b) = (a + b) * (a * b)."""
    return (a + b) * (a * b)


def function_from_expression(expression: str) -> tuple[Callable, list[str]]:
    """``"(a + b) * (a * b)"`` -> (a function of a and b, ["a", "b"]): the variables are
    the names the expression uses that are not numpy functions, in order of appearance."""
    import ast

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse expression {expression!r}: {exc.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in EXPRESSION_NAMESPACE \
                and node.id not in names:
            names.append(node.id)
    names.sort(key=lambda n: expression.index(n))
    code = compile(tree, "<expression>", "eval")

    def fun(*values):
        return eval(code, {"__builtins__": {}}, {**EXPRESSION_NAMESPACE,
                                                  **dict(zip(names, values))})

    fun.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    return fun, names
