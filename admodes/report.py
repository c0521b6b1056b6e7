"""The combined report: one Markdown file (and an HTML twin) built from result files."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from . import runner
from .measure import write_atomic

TITLES = {
    "scaling": "Jacobian cost as inputs and outputs grow",
    "memory": "Memory: the tape grows with the computation",
    "accuracy": "Accuracy: AD against finite differences",
    "mlp_training": "Training an MLP on two moons with both modes",
    "overhead": "Engine overhead per op",
}

HOW_TO_READ = """\
For f: R^n -> R^m, forward mode pushes one tangent direction through the computation per
sweep, so a full Jacobian takes n sweeps; reverse mode pulls one cotangent back per sweep,
so it takes m sweeps, each a small constant times the cost of f. Use forward mode when
inputs are few (n << m) and reverse mode when outputs are few (m << n): a gradient (m = 1)
costs one reverse sweep whatever n is. Reverse mode pays in memory: its tape holds the
intermediate values of the whole computation, while forward mode keeps only what is live.
Vector mode (`vectorized=True`) pushes all directions through ONE sweep of wider arrays:
fewer Python-level operations, the same floating-point work."""


def _environment_lines(env: dict[str, Any], preset: str | None) -> list[str]:
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')}"
                     for b in env.get("blas") or []) or "unknown"
    return [
        f"- CPU: {env.get('cpu_model')} ({env.get('cores')} cores)",
        f"- Python {env.get('python_version')}, numpy {env.get('numpy_version')} "
        f"(BLAS: {blas}), admodes {env.get('admodes_version')}",
        f"- git commit: {env.get('git_commit')}; date: {env.get('date')}; "
        f"preset: {preset}",
    ]


def key_table(summary: Path) -> list[str]:
    """The first Markdown table of an experiment's summary.md: its key table."""
    if not summary.exists():
        return []
    table: list[str] = []
    for line in summary.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return table


def _graph_section(out: Path) -> list[str]:
    """The notebook's f(a, b) = (a + b) * (a * b) at (3, 4), drawn both ways."""
    from . import viz

    table = viz.wengert_table(viz.notebook_example, 3.0, 4.0, output_name="f")
    lines = ["## One computation, both ways", "",
             f"The notebook's f(a, b) = {viz.NOTEBOOK_EXAMPLE} at a = 3, b = 4, recorded on a "
             "tape. Forward mode (seeded with da = 1) carries a tangent along each value in "
             "recording order; reverse mode pulls adjoints back in the opposite order, and "
             "one sweep gives both partial derivatives.", "",
             "| step | value | op | inputs | primal | tangent (d/da) | adjoint (df/d value) |",
             "|---:|---|---|---|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.step} | {r.name} | {r.op} | {r.inputs} | {r.primal:g} "
                     f"| {r.tangent:g} | {r.adjoint:g} |")
    graph = viz.draw(viz.notebook_example, 3.0, 4.0, output_name="f")
    folder = out / "graphs"
    try:
        for suffix in ("svg", "png"):
            viz.render_graph(graph, folder / f"notebook_example.{suffix}")
        lines += ["", "![computation graph](graphs/notebook_example.png)", ""]
    except RuntimeError as exc:
        lines += ["", f"(Graph not drawn: {exc})", ""]
    return lines


def build(out_dir: str | Path, names: list[str] | None = None) -> list[Path]:
    """Write ``REPORT.md`` and ``report.html`` in ``out_dir`` from the result files of the
    experiments found there (or of ``names``). Every number comes from those files."""
    out = Path(out_dir)
    names = names or [n for n in runner.ORDER if (out / n / "results.csv").exists()]
    if not names:
        raise FileNotFoundError(f"no experiment results under {out}: run `admodes run` first")
    sections, env, presets = [], {}, set()
    for name in names:
        module = runner.load(name)
        df, meta = runner.load_results(name, out)
        env = env or meta.get("environment", {})
        presets.add(meta.get("preset"))
        folder = out / name
        lines = [f"## {TITLES.get(name, name)}", ""]
        lines += [f"- {s}" for s in module.findings(df)]
        table = key_table(folder / "summary.md")
        if table:
            lines += ["", f"Key table (from [{name}/summary.md]({name}/summary.md)):", "",
                      *table]
        lines += ["", f"Details: [{name}/summary.md]({name}/summary.md); data: "
                  f"[{name}/results.csv]({name}/results.csv)"
                  + (f"; measured in {meta['seconds']:.0f} s." if "seconds" in meta else "."),
                  ""]
        for png in sorted(folder.glob("*.png")):
            lines += [f"![{png.stem}]({name}/{png.name})", ""]
        sections.append("\n".join(lines))
    preset = ", ".join(sorted(p for p in presets if p)) or None
    text = "\n".join([
        "# admodes: forward mode vs reverse mode, measured",
        "",
        "## Environment",
        "",
        *_environment_lines(env, preset),
        "",
        "Every number below comes from the result files listed in each section.",
        "",
        *_graph_section(out),
        *sections,
        "## How to read this",
        "",
        HOW_TO_READ,
        "",
    ])
    md = write_atomic(out / "REPORT.md", text)
    page = write_atomic(out / "report.html", to_html(text, "admodes report"))
    return [md, page]


def to_html(markdown: str, title: str) -> str:
    """A small, dependency-free Markdown-to-HTML rendering for the report's subset:
    headings, bullet lists, images, links, tables, code spans and paragraphs."""
    body: list[str] = []
    in_list = in_table = False
    for line in markdown.splitlines():
        if in_list and not line.startswith("- "):
            body.append("</ul>")
            in_list = False
        if in_table and not line.startswith("|"):
            body.append("</table>")
            in_table = False
        if not line.strip():
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
        else:
            body.append(f"<p>{_inline(line)}</p>")
    if in_list:
        body.append("</ul>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
             "img{max-width:100%}table{border-collapse:collapse}"
             "td{border:1px solid #ccc;padding:2px 6px}")
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r"<img alt='\1' src='\2'>", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"<a href='\2'>\1</a>", text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
