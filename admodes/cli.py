"""The ``admodes`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_ops(args: argparse.Namespace) -> int:
    from .registry import ops_table

    rows = ops_table()
    width = max(len(r["op"]) for r in rows)
    for r in rows:
        print(f"{r['op']:<{width}}  {r['form']:<12} {r['cost (flops)']}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .registry import ops_table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Registered ops", "", "| op | derivative form | cost (flops) |", "|---|---|---|"]
    lines += [f"| {r['op']} | {r['form']} | {r['cost (flops)']} |" for r in ops_table()]
    path = out / "ops.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="admodes", description=__doc__)
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the experiments and write the report (default)")
    run.add_argument("--out", default="reports", help="output directory (default: reports)")
    run.set_defaults(func=_cmd_run)
    ops = sub.add_parser("ops", help="list the registered ops")
    ops.set_defaults(func=_cmd_ops)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *(argv or [])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
