"""Pictures of a computation: the Wengert list of a real recorded tape, as a table and as a
graphviz drawing annotated with each value's primal, forward tangent and reverse adjoint.

Example:
    >>> import admodes.viz as viz
    >>> table = viz.wengert_table(lambda a, b: (a + b) * (a * b), 3.0, 4.0)
    >>> table[["name", "op", "primal", "adjoint"]].values.tolist()[-1]
    ['out', '*', 84.0, 1.0]
"""

from __future__ import annotations

import ast
import inspect
import operator
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .api import record
from .core import concrete
from .harness import store
from .inputs import _check_input
from .reverse import Tape, Var

if TYPE_CHECKING:
    import pandas as pd

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


def wengert_table(fun: Callable | Var, *args: Any, tangents: Sequence[Any] | None = None,
                  output_name: str = "out") -> pd.DataFrame:
    """Record ``fun(*args)`` and return its Wengert list, one row per tape entry.

    Columns: ``step`` (the forward sweep's order; the reverse sweep walks it backwards),
    ``name``, ``op``, ``inputs``, ``primal``, ``tangent`` (forward mode, seeded with
    ``tangents``, by default 1 for the first argument and 0 for the others) and
    ``adjoint`` (reverse mode, seeded with 1 at the output, which must be a scalar).
    ``fun`` may also be a value computed from ``reverse.Variable``s: then its own tape is
    listed, the entries it depends on only.
    """
    if isinstance(fun, Var):
        if args:
            raise TypeError("wengert_table(y) of a recorded value takes no arguments")
        tape, out_index = fun.tape, fun._index
        keep = _ancestors(tape, out_index)
        inputs = [i for i in keep if tape.nodes[i][0] is None]
        names = {i: tape.names.get(i, f"x{k}") for k, i in enumerate(inputs)}
        if np.shape(concrete(fun.primal)) != ():
            raise TypeError(f"wengert_table draws one scalar output; {fun.name} has shape "
                            f"{np.shape(concrete(fun.primal))}")
        values = [tape.nodes[i][3] for i in inputs]
    else:
        for k, a in enumerate(args):
            _check_input(a, f"argument {k}")
        out_tree, outs, _, tape = record(lambda leaves: fun(*leaves), list(args))
        if len(outs) != 1 or np.shape(outs[0]) != ():
            raise TypeError("wengert_table draws functions with one scalar output, got "
                            f"{len(outs)} output(s) of shape(s) "
                            f"{[np.shape(o) for o in outs]}")
        out_index = len(tape.nodes) - 1
        while out_index >= 0 and tape.nodes[out_index][3] is not outs[0]:
            out_index -= 1
        keep = list(range(len(tape.nodes)))
        inputs = list(range(len(args)))
        names = dict(enumerate(_arg_names(fun, len(args))))
        values = list(args)
    if tangents is None:
        tangents = [(np.ones_like(a) if i == 0 else np.zeros_like(a))
                    if isinstance(a, np.ndarray) else float(i == 0)
                    for i, a in enumerate(values)]
    if len(tangents) != len(values):
        raise ValueError(f"got {len(tangents)} tangents for {len(values)} arguments")
    return _table(tape, keep, out_index, dict(zip(inputs, tangents)), names, output_name)


def _ancestors(tape: Tape, index: int) -> list[int]:
    """The entries ``index`` depends on (itself included), in tape order."""
    seen = {index}
    for i in range(index, -1, -1):
        if i in seen:
            seen.update(p for p in tape.nodes[i][1] if p >= 0)
    return sorted(seen)


def _table(tape: Tape, keep: list[int], out_index: int, seeds: dict[int, Any],
           names: dict[int, str], output_name: str) -> pd.DataFrame:
    import pandas as pd  # here, not at the top: the command line imports this module early

    nodes = tape.nodes
    adjoints = tape.sweep([(out_index, 1.0)], keep_all=True) if out_index >= 0 else []
    # forward mode over the same Wengert list: each entry's JVP rule, in recording order
    tans: dict[int, Any] = dict(seeds)
    label: dict[int, str] = {}
    rows = []
    intermediate = 0
    for step, i in enumerate(keep):
        op, parents, primals, out, params, _ = nodes[i]
        if op is None:
            name, symbol, inputs = names.get(i, tape.name(i)), "input", ""
        else:
            parent_tans = tuple(tans.get(p) if p >= 0 else None for p in parents)
            if any(t is not None for t in parent_tans):
                tans[i] = op.jvp(primals, parent_tans, out, params)
            intermediate += 1
            name = (output_name if i == out_index and i not in tape.names
                    else tape.names.get(i, f"v{intermediate}"))
            symbol = SYMBOLS.get(op.name, op.name)
            inputs = ", ".join(label[p] if p >= 0 else repr(_plain(c))
                               for p, c in zip(parents, primals))
        label[i] = name
        rows.append({"step": step, "name": name, "op": symbol, "inputs": inputs,
                     "primal": _plain(out), "tangent": _plain(tans.get(i)),
                     "adjoint": _plain(adjoints[i] if i < len(adjoints) else None)})
    return pd.DataFrame(rows)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return np.array2string(np.asarray(v), precision=3, threshold=6)


def draw(fun: Callable | Var, *args: Any, mode: str = "both",
         tangents: Sequence[Any] | None = None, output_name: str = "out"):
    """The computation graph of ``fun(*args)`` as a ``graphviz.Digraph``, one record-shaped
    node per value (op | name = primal | tangent | adjoint), in the order of the sweep.
    ``fun`` may also be a value built from ``reverse.Variable``s (``draw(f)``): its
    recorded graph is drawn, with the adjoints of a backward sweep from it.

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


GRAPH_FORMATS = ("svg", "png", "pdf", "dot")


def render_graph(graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` (.svg, .png, .pdf or .dot; no suffix means SVG). Without
    Graphviz's ``dot`` program, writes the .dot source next to it and raises RuntimeError
    saying how to install it."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "svg"
    if fmt not in GRAPH_FORMATS:
        raise ValueError(f"cannot draw a graph as {path.suffix}: use one of "
                         f"{', '.join('.' + f for f in GRAPH_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        store.write(path, graph.source)
        return path
    if shutil.which("dot") is None:
        dot_path = path.with_suffix(".dot")
        store.write(dot_path, graph.source)
        raise RuntimeError(
            f"Graphviz's `dot` program is not installed, so {path} was not drawn; its "
            f"source is in {dot_path}. Install the system package (Debian/Ubuntu: "
            f"`sudo apt-get install graphviz`; macOS: `brew install graphviz`), or run "
            f"`bash setup.sh`.")
    store.write(path, graph.pipe(format=fmt))
    return path


NOTEBOOK_EXAMPLE = "(a + b) * (a * b)"


def notebook_example(a: float, b: float):
    """The notebook's f(a, b) = (a + b) * (a * b)."""
    return (a + b) * (a * b)


# The expression language of `admodes graph`: numbers, variables, + - * / **, unary minus and
# plus, parentheses, and calls to these numpy functions, each with its positional parameters.
EXPRESSION_FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    **{name: (getattr(np, name), ("x",)) for name in (
        "sin", "cos", "tan", "tanh", "sinh", "cosh", "exp", "log", "log1p", "expm1", "sqrt",
        "abs", "arctan", "arcsin", "arccos", "square", "sum")},
    "maximum": (np.maximum, ("x", "y")),
    "minimum": (np.minimum, ("x", "y")),
    "where": (np.where, ("condition", "x", "y")),
    "clip": (np.clip, ("x", "lo", "hi")),
}
EXPRESSION_CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e)}
# every name an expression may use besides its variables
EXPRESSION_NAMESPACE: dict[str, Any] = {
    **{name: fn for name, (fn, _) in EXPRESSION_FUNCTIONS.items()}, **EXPRESSION_CONSTANTS}

# Limits that keep parsing and evaluating small: the parser and the evaluator below recurse
# once per level, and a drawing of more than a few hundred values is unreadable anyway.
MAX_EXPRESSION_LENGTH = 2000
MAX_EXPRESSION_NODES = 500
MAX_EXPRESSION_DEPTH = 64
# Values are floats, so a large exponent cannot hang, but it only ever overflows: a constant
# exponent beyond this is surely a mistake (or 9**9**9).
MAX_EXPONENT = 64

ALLOWED = ("allowed: numbers, variables, + - * / **, unary minus, parentheses, the constants "
           f"{' and '.join(EXPRESSION_CONSTANTS)} and calls to: "
           f"{', '.join(EXPRESSION_FUNCTIONS)}")

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow}
_OPERATOR_SYMBOLS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not"}
_FORBIDDEN = {
    ast.Attribute: "attribute access (a.b)", ast.Subscript: "a subscript (a[i])",
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison (a < b)", ast.BoolOp: "a boolean operator (and, or)",
    ast.IfExp: "a conditional expression (a if b else c)",
    ast.NamedExpr: "an assignment expression (:=)", ast.Starred: "a starred argument (*a)",
    ast.JoinedStr: "an f-string", ast.List: "a list", ast.Tuple: "a tuple", ast.Set: "a set",
    ast.Dict: "a dict", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield"}

# A compiled piece of an expression: a float when it is constant (folded while parsing, so
# constant exponents can be checked), otherwise a function of the variables' values.
Evaluator = Callable[[Sequence[Any]], Any]
Piece = float | Evaluator


def _not_allowed(what: str) -> ValueError:
    return ValueError(f"{what} is not allowed in an expression; {ALLOWED}")


def _describe(node: ast.AST) -> str:
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        return f"the operator {symbol}"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "np":
        return f"attribute access (np.{node.attr}; write {node.attr}(x), not np.{node.attr}(x))"
    return _FORBIDDEN.get(type(node), type(node).__name__)


def _literal(value: Any) -> float:
    # bool is an int subclass: test it first
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = {str: "a string", bytes: "a string", complex: "a complex number"}.get(
            type(value), f"the constant {value!r}")
        raise _not_allowed(kind)
    try:
        return float(value)  # never a Python int, whose ** could take forever
    except OverflowError:
        raise ValueError("an integer in the expression is too large for a float") from None


def _constant(fn: Callable[..., Any], *args: float) -> float:
    try:
        value = fn(*args)
    except ArithmeticError as exc:  # 1/0, 0**-1, 10.0**400
        raise ValueError(f"the constant part of the expression fails: {exc}") from None
    if isinstance(value, complex):  # (-8) ** (1/3)
        raise ValueError("the constant part of the expression is a complex number")
    return float(value)


def _apply(fn: Callable[..., Any], *pieces: Piece) -> Evaluator:
    parts = [p if callable(p) else (lambda _values, c=p: c) for p in pieces]
    return lambda values: fn(*[part(values) for part in parts])


def _build(node: ast.AST, variables: dict[str, int], depth: int) -> Piece:
    if depth > MAX_EXPRESSION_DEPTH:
        raise ValueError(f"the expression nests more than {MAX_EXPRESSION_DEPTH} levels deep "
                         "(each operator, call and pair of parentheses is a level)")
    if isinstance(node, ast.Constant):
        return _literal(node.value)
    if isinstance(node, ast.Name):
        if node.id in EXPRESSION_CONSTANTS:
            return EXPRESSION_CONSTANTS[node.id]
        if node.id in EXPRESSION_FUNCTIONS:
            raise ValueError(f"{node.id} is a function: call it, as in {node.id}(x)")
        index = variables[node.id]
        return lambda values: values[index]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, variables, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return operand
        return _constant(operator.neg, operand) if isinstance(operand, float) \
            else _apply(operator.neg, operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        fn = _BINARY[type(node.op)]
        left = _build(node.left, variables, depth + 1)
        right = _build(node.right, variables, depth + 1)
        if fn is operator.pow and isinstance(right, float) and abs(right) > MAX_EXPONENT:
            shown = int(right) if right.is_integer() and abs(right) < 1e18 else right
            raise ValueError(f"the exponent {shown} is too large: a constant exponent must "
                             f"lie within -{MAX_EXPONENT} to {MAX_EXPONENT}")
        if isinstance(left, float) and isinstance(right, float):
            return _constant(fn, left, right)
        return _apply(fn, left, right)
    if isinstance(node, ast.Call):
        return _build_call(node, variables, depth)
    raise _not_allowed(_describe(node))


def _build_call(node: ast.Call, variables: dict[str, int], depth: int) -> Piece:
    if not isinstance(node.func, ast.Name):
        what = _describe(node.func) if isinstance(node.func, ast.Attribute) \
            else "calling anything but a known function by its name"
        raise _not_allowed(what)
    name = node.func.id
    if name in EXPRESSION_CONSTANTS:
        raise ValueError(f"{name} is a constant, not a function")
    if name not in EXPRESSION_FUNCTIONS:
        raise ValueError(f"unknown function {name}; known: {', '.join(EXPRESSION_FUNCTIONS)}")
    fn, params = EXPRESSION_FUNCTIONS[name]
    usage = f"{name}({', '.join(params)})"
    if node.keywords:
        raise _not_allowed(f"a keyword argument (call {usage} with positional arguments)")
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise _not_allowed(_FORBIDDEN[ast.Starred])
    if len(node.args) != len(params):
        raise ValueError(f"{name} takes {len(params)} argument(s), as in {usage}; "
                         f"got {len(node.args)}")
    return _apply(fn, *[_build(a, variables, depth + 1) for a in node.args])


def _shorten(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


def function_from_expression(expression: str) -> tuple[Callable, list[str]]:
    """``"(a + b) * (a * b)"`` -> (a function of a and b, ["a", "b"]).

    The expression is parsed, never run: it may hold only numbers, variables,
    ``+ - * / **``, unary minus and plus, parentheses, the constants ``pi`` and ``e`` and
    calls to the functions of ``EXPRESSION_FUNCTIONS`` (with positional arguments); anything
    else raises ValueError saying what is allowed. Its variables are the other names, in
    order of first appearance. The function applies Python's operators and the numpy
    functions to the values it is given, so it traces like any numpy code.
    """
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"the expression has {len(expression)} characters; the limit is "
                         f"{MAX_EXPRESSION_LENGTH}")
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ValueError(f"cannot parse expression {_shorten(expression)}: {reason}") from None
    nodes = list(ast.walk(tree))  # breadth first, without recursion
    if sum(isinstance(n, ast.expr) for n in nodes) > MAX_EXPRESSION_NODES:
        raise ValueError(f"the expression has more than {MAX_EXPRESSION_NODES} terms, "
                         "operators and calls")
    names: list[str] = []
    found = sorted((n for n in nodes if isinstance(n, ast.Name)),
                   key=lambda n: (n.lineno, n.col_offset))
    for node in found:
        if node.id.startswith("_"):
            raise _not_allowed(f"the name {node.id} (a name starting with _)")
        if node.id not in EXPRESSION_NAMESPACE and node.id not in names:
            names.append(node.id)
    evaluate = _build(tree.body, {name: i for i, name in enumerate(names)}, 1)
    if not callable(evaluate):  # a variable makes every piece above it a function
        raise ValueError(f"the expression {_shorten(expression)} has no variables to "
                         "differentiate by")

    def fun(*values):
        if len(values) != len(names):
            raise TypeError(f"the expression takes {len(names)} value(s), for "
                            f"{', '.join(names)}; got {len(values)}")
        return evaluate(values)

    fun.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    return fun, names
