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
        raise UsageError(f"cannot write to output directory {out}: {exc.strerror or exc}")
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from . import report, runner

    known = runner.available()
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
        raise UsageError(str(exc))
    print(f"report: {pages[0]} and {pages[1]}")
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
