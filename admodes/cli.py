"""admodes: forward- vs reverse-mode automatic differentiation, measured.

With no command, runs every experiment on the quick preset and writes the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

PRESETS = ("quick", "full")
# numpy's and scikit-learn's generators both take seeds in this range
MAX_SEED = 2**32 - 1
# the shell's status for a process ended by SIGPIPE: 128 + 13
BROKEN_PIPE_STATUS = 141


class UsageError(Exception):
    """A bad argument: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and reaches ``main`` as a
    UsageError, so it exits 2 like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must lie in 0..{MAX_SEED}, got {seed}")
    return seed


def _file_in_the_way(paths: Iterable[Path]) -> Path | None:
    """The nearest of ``paths`` (a path and its parents, nearest first) that exists, if it
    is not a directory: then nothing can be created below it."""
    for path in paths:
        if path.exists():
            return None if path.is_dir() else path
    return None


def _writable_dir(path: str) -> Path:
    out = Path(path)
    blocker = _file_in_the_way([out, *out.parents])
    if blocker is not None:
        raise UsageError(f"cannot write to output directory {out}: {blocker} is a file, "
                         "not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".admodes-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to output directory {out}: {exc.strerror or exc}") from None
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from . import runner
    from .harness import Interrupted

    known = runner.available()
    names = args.experiments or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown experiment(s) {', '.join(unknown)}; available: "
                         f"{', '.join(known)}")
    out = _writable_dir(args.out)
    failed = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ({args.preset})", file=sys.stderr, flush=True)
        try:
            outcome = runner.run_one(name, out, args.preset, args.seed,
                                     show_progress=not args.no_progress)
        except Interrupted as stop:
            print(f"admodes: {name} interrupted; its rows so far are in "
                  f"{stop.outcome.folder / 'results.csv'}; the report says which experiments "
                  "are incomplete", file=sys.stderr)
            _build_report(out)
            return 130
        except OSError as exc:
            if exc.filename is None:  # a failed write() names no file: say where it was
                exc.filename = str(out / name)
            raise
        if outcome.complete:
            print(f"  {name}: complete in {outcome.manifest.get('seconds')} s, files in "
                  f"{outcome.folder}")
        else:
            failed.append(name)
            print(f"admodes: error: {name} {outcome.status}: {outcome.reason}",
                  file=sys.stderr)
    _build_report(out)
    return 1 if failed else 0


def _build_report(out: Path) -> None:
    from . import report, runner

    try:
        pages = report.build(out)
    except (FileNotFoundError, runner.ResultsError) as exc:
        raise UsageError(str(exc)) from None
    print(f"report: {pages[0]} and {pages[1]}")


def _cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.is_dir():
        raise UsageError(f"{out} is not a directory with results: run `admodes run` first")
    _build_report(_writable_dir(args.out))
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
        if not path.is_file():
            raise UsageError(f"script {path} does not exist")
        # a script is Python code the user chose to run, as `python script.py` would
        spec = importlib.util.spec_from_file_location("admodes_graph_script", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise UsageError(f"cannot import {path}: {exc.msg} (line {exc.lineno})") from None
        except ImportError as exc:
            raise UsageError(f"cannot import {path}: {exc}") from None
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
    out = _graph_file(args.out)
    try:
        graph = viz.draw(fun, *values, mode=args.mode)
        table = viz.wengert_table(fun, *values)
    except (TypeError, ValueError, NameError, ArithmeticError) as exc:
        raise UsageError(f"cannot trace {source!r} at {args.at}: {exc}") from None
    print(table.to_string(index=False))
    try:
        written = viz.render_graph(graph, out)
    except RuntimeError as exc:
        print(f"admodes: {exc}", file=sys.stderr)
        return 1
    print(f"graph: {written}")
    return 0


def _graph_file(text: str) -> Path:
    """``--out`` of ``graph``, checked before anything is traced or printed."""
    from .viz import GRAPH_FORMATS

    out = Path(text)
    if out.suffix.lstrip(".").lower() not in GRAPH_FORMATS:
        raise UsageError(f"--out {text}: unknown output format {out.suffix or '(no suffix)'}; "
                         f"known: {', '.join(GRAPH_FORMATS)}")
    if out.is_dir():
        raise UsageError(f"--out {text}: is a directory; give a file name such as "
                         f"{out / 'graph.svg'}")
    blocker = _file_in_the_way(out.parents)
    if blocker is not None:
        raise UsageError(f"cannot write {out}: {blocker} is a file, not a directory")
    return out


def _cmd_ops(args: argparse.Namespace) -> int:
    import pandas as pd

    from .registry import ops_table

    if args.markdown:
        from .coverage import numpy_markdown, ops_markdown

        print(ops_markdown() + "\n\n" + numpy_markdown())
        return 0

    with pd.option_context("display.max_rows", None, "display.width", 120):
        print(pd.DataFrame(ops_table()).to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="admodes", description=__doc__.strip().splitlines()[0],
        epilog="Run `admodes COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run experiments and write the combined report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the named experiments (default: all) and write their results and "
        "the combined report REPORT.md / report.html.\n\nexperiments:\n"
        + "\n".join(f"  {name:<14}{title}" for name, title in _experiment_titles()))
    run.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                     help="experiments to run (default: all available)")
    run.add_argument("--preset", choices=PRESETS, default="quick",
                     help="quick (default, a couple of minutes) or full (the reference run)")
    run.add_argument("--out", default="reports", help="output directory (default: reports)")
    run.add_argument("--seed", type=_seed, default=None,
                     help=f"random seed for the experiments, 0..{MAX_SEED}")
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
        "Wengert list as a table. Example: admodes graph '(a + b) * (a * b)' --at a=3,b=4. "
        "An EXPRESSION is parsed, never run: it may use numbers, its variables, "
        "+ - * / **, unary minus, parentheses, the constants pi and e, and calls to "
        f"{', '.join(_expression_functions())}. A SCRIPT (a file ending in .py) is "
        "different: it is imported and run as Python code, with your permissions, so give "
        "only scripts you trust.")
    graph.add_argument("function", metavar="EXPRESSION-OR-SCRIPT",
                       help="an expression in its variables (parsed, never run), or a .py "
                       "file defining the function (imported and run as Python code; see "
                       "--name)")
    graph.add_argument("--at", required=True, metavar="VALUES",
                       help="the point: a=3,b=4 (or 3,4 in order of first appearance)")
    graph.add_argument("--mode", choices=("forward", "reverse", "both"), default="both",
                       help="annotate tangents, adjoints or both (default)")
    graph.add_argument("--out", default="graph.svg",
                       help="output file: graph.svg (default), or a .png, .pdf or .dot file")
    graph.add_argument("--name", default="f", help="the function's name in a script "
                       "(default: f)")
    graph.set_defaults(func=_cmd_graph)

    ops = sub.add_parser("ops", help="list the registered ops",
                         description="List every registered op with its derivative form "
                         "and cost formula.")
    ops.add_argument("--markdown", action="store_true",
                     help="print the README's tables instead: the ops by form, and the numpy "
                     "names that work on traced values")
    ops.set_defaults(func=_cmd_ops)
    return parser


def _experiment_titles() -> list[tuple[str, str]]:
    from . import runner

    titles = []
    for name in runner.available():
        try:
            titles.append((name, runner.load(name).title))
        except (ImportError, AttributeError) as exc:  # help must not fail on one module
            titles.append((name, f"(cannot be loaded: {exc})"))
    return titles


def _expression_functions() -> list[str]:
    from .viz import EXPRESSION_FUNCTIONS

    return [f"{name}({', '.join(params)})" for name, (_, params) in EXPRESSION_FUNCTIONS.items()]


def _error(message: str) -> int:
    # one line, whatever the message holds (a path or an OS message with a newline)
    print("admodes: error: " + " ".join(message.split()), file=sys.stderr)
    return 2


def _os_error(exc: OSError) -> str:
    files = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{files}: {reason}" if files else reason


def _discard_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush of what is left in
    its buffer does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stdout with no file descriptor
        pass


def _dispatch(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    # Only bad input and the outside world are turned into one line here: UsageError, an
    # OSError (a full disk, a read-only folder), ^C and a closed pipe. Anything else is a
    # bug and keeps its traceback.
    try:
        try:
            return _dispatch(argv)
        finally:
            # flush here, even after --help's SystemExit, so a reader that closed the pipe
            # shows as BrokenPipeError below, not as a message at interpreter exit
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:
        # the reader (`| head`) stopped on purpose: no message, the shell's SIGPIPE status
        _discard_stdout()
        return BROKEN_PIPE_STATUS
    except UsageError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(_os_error(exc))
    except KeyboardInterrupt:
        print("admodes: interrupted; finished experiments keep their files", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
