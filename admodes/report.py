"""The combined report: one Markdown file (and an HTML twin) built from result files."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import runner

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


# what could start a link or image ([), HTML or an autolink (<), a table cell, a code span
# or emphasis; "(" and "!" need no escape once "[" has one
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def markdown_text(value: Any) -> str:
    r"""``value`` as literal Markdown text on one line: its punctuation backslash-escaped,
    so a value read from a file cannot start a link, an image, HTML or a table cell.

    Example:
        >>> print(markdown_text("![x](javascript:alert(1)) <b>"))
        !\[x\](javascript:alert(1)) \<b\>
    """
    text = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", str(value)).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _environment_lines(env: dict[str, Any], preset: str | None) -> list[str]:
    # every value comes from meta.json on disk: escape it before it becomes Markdown
    def get(key: str) -> str:
        return markdown_text(env.get(key))

    blas_list = env.get("blas")
    blas = ", ".join(markdown_text(f"{b.get('internal_api')} {b.get('version')}")
                     for b in (blas_list if isinstance(blas_list, list) else [])
                     if isinstance(b, dict)) or "unknown"
    return [
        f"- CPU: {get('cpu_model')} ({get('cores')} cores)",
        f"- Python {get('python_version')}, numpy {get('numpy_version')} "
        f"(BLAS: {blas}), admodes {get('admodes_version')}",
        f"- git commit: {get('git_commit')}; date: {get('date')}; "
        f"preset: {markdown_text(preset)}",
    ]


def key_table(summary: Path) -> list[str]:
    """The first Markdown table of an experiment's summary.md: its key table."""
    if not summary.exists():
        return []
    table: list[str] = []
    # shown, never interpreted: a damaged byte shows as U+FFFD instead of failing the report
    for line in summary.read_text(encoding="utf-8", errors="replace").splitlines():
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
        lines += [f"- {s}" for s in _findings(module, name, df, folder)]
        table = key_table(folder / "summary.md")
        if table:
            lines += ["", f"Key table (from [{name}/summary.md]({name}/summary.md)):", "",
                      *table]
        lines += ["", f"Details: [{name}/summary.md]({name}/summary.md); data: "
                  f"[{name}/results.csv]({name}/results.csv)"
                  + (f"; measured in {meta['seconds']:.0f} s." if "seconds" in meta else "."),
                  ""]
        for png in sorted(folder.glob("*.png")):
            # a file name on disk is text too; a plain one (cost_curves) reads better as is
            alt = png.stem if re.fullmatch(r"[\w.-]+", png.stem) else markdown_text(png.stem)
            lines += [f"![{alt}]({name}/{quote(png.name)})", ""]
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
    md = runner.write_text(out / "REPORT.md", text)
    page = runner.write_text(out / "report.html", to_html(text, "admodes report"))
    return [md, page]


def _findings(module: Any, name: str, df: Any, folder: Path) -> list[str]:
    # findings() reads columns and config values by name: a results.csv or meta.json of the
    # wrong form fails in it, and that is bad data on disk, not a bug
    try:
        return list(module.findings(df))
    except (KeyError, ValueError, TypeError, IndexError, AttributeError,
            ArithmeticError) as exc:
        raise runner.ResultsError(
            name, folder / "results.csv", f"the {name} experiment cannot interpret it or "
            f"its meta.json: {type(exc).__name__}: {exc}") from exc


def to_html(markdown: str, title: str) -> str:
    """A small, dependency-free Markdown-to-HTML rendering for the report's subset:
    headings, bullet lists, images, links, tables, code spans, bold, backslash escapes and
    paragraphs. Every piece of text and every attribute is HTML-escaped, and a link or image
    is live only for a relative or http(s) URL, so no file's contents become markup."""
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
            hashes = len(line) - len(line.lstrip("#"))
            level = min(hashes, 6)
            body.append(f"<h{level}>{_inline(line[hashes:].strip())}</h{level}>")
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
    return (f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


# a backslash before ASCII punctuation stands for that character
_ESCAPE = r"\\(?P<escaped>[!-/:-@\[-`{-~])"
# one inline element of the report's Markdown; a URL holds no space or parenthesis
_INLINE = re.compile(
    _ESCAPE
    + r"|!\[(?P<alt>[^\]]*)\]\((?P<src>[^()\s]+)\)"
    r"|\[(?P<text>[^\]]+)\]\((?P<href>[^()\s]+)\)"
    r"|`(?P<code>[^`]+)`"
    r"|\*\*(?P<strong>[^*]+)\*\*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _safe_url(url: str) -> bool:
    """A relative URL or an http(s) one: never javascript:, data:, file: and the like, nor
    //host, a backslash (which browsers read as /) or a control character (which they drop,
    so a scheme could hide behind it)."""
    if "\\" in url or url.startswith("//") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return False
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group().lower() in ("http:", "https:")


def _text(value: str) -> str:
    return html.escape(value, quote=False)  # text context: & < > are what matter


def _attribute(value: str) -> str:
    return '"' + html.escape(value, quote=True) + '"'  # always double-quoted


def _inline(text: str) -> str:
    pieces, pos = [], 0
    for match in _INLINE.finditer(text):
        pieces += [_text(text[pos:match.start()]), _inline_element(match)]
        pos = match.end()
    pieces.append(_text(text[pos:]))
    return "".join(pieces)


def _inline_element(match: re.Match[str]) -> str:
    if match["escaped"] is not None:
        return _text(match["escaped"])
    if match["src"] is not None and _safe_url(match["src"]):
        alt = re.sub(_ESCAPE, r"\g<escaped>", match["alt"])
        return f"<img alt={_attribute(alt)} src={_attribute(match['src'])}>"
    if match["href"] is not None and _safe_url(match["href"]):
        # the text holds no "]", so no link or image nests in it
        return f"<a href={_attribute(match['href'])}>{_inline(match['text'])}</a>"
    if match["code"] is not None:
        return f"<code>{_text(match['code'])}</code>"
    if match["strong"] is not None:
        return f"<strong>{_inline(match['strong'])}</strong>"
    return _text(match.group())  # a link or image to an unsafe URL: plain text
