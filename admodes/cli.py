"""admodes: forward- vs reverse-mode automatic differentiation, measured.

With no command, runs every experiment on the quick preset and writes the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PRESETS = ("quick", "full")


class UsageError(Exception):
    """A bad argument: reported in one line, exit status 2."""


def _writable_dir(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".admodes-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to output directory {out}: {exc.strerror or exc}") from None
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from . import report, runner

    known = runner.available()
    if not known:
        raise UsageError(f"no experiments found in {runner.EXPERIMENTS_DIR}: `admodes run` "
                         "runs the scripts of a checkout installed with `pip install -e .`")
    names = args.experiments or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown experiment(s) {', '.join(unknown)}; available: "
                         f"{', '.join(known)}")
    out = _writable_dir(args.out)
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ({args.preset})", file=sys.stderr, flush=True)
        written = runner.run_one(name, out, args.preset, args.seed,
                                 show_progress=not args.no_progress)
        print(f"  {name}: wrote {', '.join(str(p) for p in written)}")
    pages = report.build(out)
    print(f"report: {pages[0]} and {pages[1]}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from . import report

    out = Path(args.out)
    if not out.is_dir():
        raise UsageError(f"{out} is not a directory with results: run `admodes run` first")
    try:
        pages = report.build(out)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    print(f"report: {pages[0]} and {pages[1]}")
    return 0


def _parse_values(text: str, names: list[str]) -> list[float]:
    """``"a=3,b=4"`` or ``"3,4"`` -> values in the order of ``names``."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    named = dict(p.split("=", 1) for p in parts if "=" in p)
    if named and len(named) != len(parts):
        raise UsageError(f"--at {text!r}: give all values by name (a=3,b=4) or none (3,4)")
    try:
        if named:
            missing = [n for n in names if n not in named]
            extra = [n for n in named if n not in names]
            if missing or extra:
                raise UsageError(f"--at {text!r}: expected values for {', '.join(names)}")
            return [float(named[n]) for n in names]
        if len(parts) != len(names):
            raise UsageError(f"--at {text!r}: expected {len(names)} value(s), for "
                             f"{', '.join(names)}")
        return [float(p) for p in parts]
    except ValueError as exc:
        raise UsageError(f"--at {text!r}: {exc}") from None


def _cmd_graph(args: argparse.Namespace) -> int:
    import importlib.util
    import inspect

    from . import viz

    source = args.function
    if source.endswith(".py"):
        path = Path(source)
        if not path.exists():
            raise UsageError(f"script {path} does not exist")
        spec = importlib.util.spec_from_file_location("admodes_graph_script", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        fun = getattr(module, args.name, None)
        if not callable(fun):
            raise UsageError(f"{path} defines no function {args.name!r} (see --name)")
        names = viz._arg_names(fun, len(inspect.signature(fun).parameters))
    else:
        try:
            fun, names = viz.function_from_expression(source)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    values = _parse_values(args.at, names)
    try:
        graph = viz.draw(fun, *values, mode=args.mode)
        table = viz.wengert_table(fun, *values)
    except (TypeError, ValueError, NameError, ArithmeticError) as exc:
        raise UsageError(f"cannot trace {source!r} at {args.at}: {exc}") from None
    print(table.to_string(index=False))
    out = Path(args.out)
    try:
        written = viz.render_graph(graph, out)
    except RuntimeError as exc:
        print(f"admodes: {exc}", file=sys.stderr)
        return 1
    print(f"graph: {written}")
    return 0


def _cmd_ops(args: argparse.Namespace) -> int:
    import pandas as pd

    from .registry import ops_table

    with pd.option_context("display.max_rows", None, "display.width", 120):
        print(pd.DataFrame(ops_table()).to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="admodes", description=__doc__.strip().splitlines()[0],
        epilog="Run `admodes COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run experiments and write the combined report",
                         description="Run the named experiments (default: all) and write "
                         "their results and the combined report REPORT.md / report.html.")
    run.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                     help="experiments to run (default: all available)")
    run.add_argument("--preset", choices=PRESETS, default="quick",
                     help="quick (default, a couple of minutes) or full (the reference run)")
    run.add_argument("--out", default="reports", help="output directory (default: reports)")
    run.add_argument("--seed", type=int, default=None, help="random seed for the experiments")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="rebuild the report from results already on disk",
                         description="Rebuild REPORT.md and report.html from the result "
                         "files under --out, without measuring again.")
    rep.add_argument("--out", default="reports", help="results directory (default: reports)")
    rep.set_defaults(func=_cmd_report)

    graph = sub.add_parser(
        "graph", help="draw the computation graph of a small function",
        description="Record a function on a tape and draw its computation graph, each "
        "value annotated with its primal, forward tangent and reverse adjoint; prints the "
        "Wengert list as a table. Example: admodes graph '(a + b) * (a * b)' --at a=3,b=4")
    graph.add_argument("function", metavar="EXPRESSION-OR-SCRIPT",
                       help="a Python expression in its variables, or a .py file defining "
                       "the function (see --name)")
    graph.add_argument("--at", required=True, metavar="VALUES",
                       help="the point: a=3,b=4 (or 3,4 in order of appearance)")
    graph.add_argument("--mode", choices=("forward", "reverse", "both"), default="both",
                       help="annotate tangents, adjoints or both (default)")
    graph.add_argument("--out", default="graph.svg",
                       help="output file: .svg (default), .png, .pdf or .dot")
    graph.add_argument("--name", default="f", help="the function's name in a script "
                       "(default: f)")
    graph.set_defaults(func=_cmd_graph)

    ops = sub.add_parser("ops", help="list the registered ops",
                         description="List every registered op with its derivative form "
                         "and cost formula.")
    ops.set_defaults(func=_cmd_ops)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"admodes: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("admodes: interrupted; finished experiments keep their files", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
