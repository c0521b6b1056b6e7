"""The combined report: one Markdown file (and an HTML twin) built from result files."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

from . import runner

HOW_TO_READ = """\
For f: R^n -> R^m, forward mode pushes one tangent direction through the computation per
sweep, so a full Jacobian takes n sweeps; reverse mode pulls one cotangent back per sweep,
so it takes m sweeps, each a small constant times the cost of f. Use forward mode when
inputs are few (n << m) and reverse mode when outputs are few (m << n): a gradient (m = 1)
costs one reverse sweep whatever n is. Reverse mode pays in memory: its tape holds the
intermediate values of the whole computation, while forward mode keeps only what is live.
Vector mode (`vectorized=True`) pushes all directions through ONE sweep of wider arrays:
fewer Python-level operations, the same floating-point work."""


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


def _section(name: str, out: Path, figure_number: int) -> tuple[list[str], int, bool]:
    """An experiment's section, built from its folder: findings and details rendered from
    its estimates.csv, figures with their captions; for a run that did not complete, a
    line that says so and why. Also the next figure number and whether it was complete."""
    from .harness import Context
    from .harness import text as harness_text

    experiment = runner.load(name)
    manifest, results, estimates = runner.read_run(name, out)
    lines = [f"## {experiment.title}", ""]
    if manifest is None:
        return lines + [f"*Not included: {name} has no finished run in {out / name} (its "
                        f"`manifest.json` is missing; run `admodes run {name}`).*", ""], \
            figure_number, False
    if not manifest.get("complete"):
        why = harness_text.md(manifest.get("reason") or manifest.get("status") or "unknown")
        return lines + [f"*Not included: the last run of {name} is "
                        f"{harness_text.md(manifest.get('status', 'incomplete'))}: {why}. "
                        f"Rows measured so far: {name}/results.csv.*", ""], figure_number, False
    context = Context(harness_text.EstimateTable(estimates), results,
                      manifest.get("config", {}), manifest)
    names = experiment.template_vars(context)
    import jinja2

    try:
        findings = harness_text.findings(experiment.findings, **names)
        details = harness_text.render(experiment.details, **names).strip()
    except (jinja2.UndefinedError, KeyError, ValueError, TypeError, IndexError,
            AttributeError, ArithmeticError) as exc:
        # the templates read estimates by name: a file of another form is bad data on disk
        raise runner.ResultsError(name, out / name / "estimates.csv",
                                  f"its estimates do not fit the {name} experiment: "
                                  f"{type(exc).__name__}: {exc}") from exc
    lines += [f"- {f}" for f in findings] + [""]
    for fig in manifest.get("figures", []):
        file = fig.get("file") if isinstance(fig, dict) else None
        if not isinstance(file, str) or "/" in file or not (out / name / file).exists():
            continue
        lines += [f"![Figure {figure_number}]({name}/{quote(file)})", "",
                  f"*Figure {figure_number}.* {harness_text.md(fig.get('caption', ''))}", ""]
        figure_number += 1
    if details:  # its headings one level down, under the section's
        lines += [("#" + line if line.startswith("#") else line)
                  for line in details.splitlines()] + [""]
    lines += [f"Details: [{name}/summary.md]({name}/summary.md); rows: "
              f"[{name}/results.csv]({name}/results.csv); estimates: "
              f"[{name}/estimates.csv]({name}/estimates.csv).", ""]
    from .harness.experiment import provenance

    lines += provenance(manifest, manifest.get("config", {})) + [""]
    return lines, figure_number, True


def build(out_dir: str | Path, names: list[str] | None = None) -> list[Path]:
    """Write ``REPORT.md`` and ``report.html`` in ``out_dir`` from the experiment folders
    found there (or ``names``). Only runs whose manifest says complete are quoted, and every
    number comes from their estimates.csv; the others are listed with the reason."""
    out = Path(out_dir)
    names = names or [n for n in runner.available() if (out / n).is_dir()]
    if not names:
        raise FileNotFoundError(f"no experiment results under {out}: run `admodes run` first")
    sections, figure_number, complete = [], 1, []
    for name in names:
        lines, figure_number, ok = _section(name, out, figure_number)
        sections += lines
        complete.append(ok)
    missing = [n for n, ok in zip(names, complete) if not ok]
    status = (f"All {len(names)} experiments completed." if len(names) > 1 and not missing
              else "The experiment completed." if not missing else
              f"{len(names) - len(missing)} of {len(names)} experiments completed; not "
              f"included: {', '.join(missing)} (see their sections).")
    text = "\n".join([
        "# admodes: forward mode vs reverse mode, measured", "", status, "",
        "Every number below comes from the estimates.csv of a completed run, with its 95% "
        "bootstrap interval where it came from a timing.", "",
        *_graph_section(out),
        *sections,
        "## How to read this", "", HOW_TO_READ, ""])
    md = runner.write_text(out / "REPORT.md", text)
    page = runner.write_text(out / "report.html", to_html(text, "admodes report"))
    return [md, page]


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
