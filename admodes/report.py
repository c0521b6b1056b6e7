"""The combined report: the answer first, then one section per experiment, as Markdown
(``REPORT.md``) and as one self-contained HTML page (``report.html``: figures embedded,
styles inline, so it can be sent to anyone), built from the result folders on disk.

Only runs whose manifest says complete are quoted; every number comes from their
``estimates.csv`` through the experiments' templates, and the others are listed with the
reason. The HTML is rendered from the same Markdown by a Markdown library (markdown-it-py:
raw HTML in it is escaped, and links are kept only where they are safe).
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from . import runner

HOW_TO_READ = """\
For f: R^n -> R^m, forward mode pushes one tangent direction through the computation per
sweep, so a full Jacobian takes n sweeps; reverse mode pulls one cotangent back per sweep,
so it takes m sweeps, each a small constant times the cost of f. Use forward mode when
inputs are few (n << m) and reverse mode when outputs are few (m << n): a gradient (m = 1)
costs one reverse sweep whatever n is. Reverse mode pays in memory: its tape holds the
intermediate values of the whole computation, while forward mode keeps only what is live.
Vector mode (`vectorized=True`) pushes all directions through ONE sweep of wider arrays:
fewer Python-level operations, the same floating-point work. Intervals in brackets are 95%
bootstrap intervals over replicates and samples; "not distinguishable from" a threshold
means the interval contains it."""


@dataclass
class Figure:
    number: int
    file: str  # relative to the report's folder
    caption: str  # Markdown


@dataclass
class Section:
    """What the report says about one experiment."""

    name: str
    title: str
    complete: bool
    note: str = ""  # why it is not included
    summary: str = ""
    headline: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    details: str = ""
    trust: str = ""
    provenance: list[str] = field(default_factory=list)
    E: Any = None  # its estimates, as read back (for the headline figure)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        return slug(self.title)


def slug(title: str) -> str:
    """The id GitHub gives a heading, and the page uses for its table of contents."""
    return re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")


# -- reading the runs ---------------------------------------------------------------------


def _trust(E, manifest: dict[str, Any]) -> str:
    """How far to trust the timings of a run: replicates, contended samples, spread."""
    from .harness.text import num

    cfg = manifest.get("config") or {}
    parts = [f"{num(cfg.get('replicates'))} replicates of {num(manifest.get('cells'))} cells"]
    if E.has("samples_contended"):
        parts.append(f"{num(100 * E('samples_contended').value, 2)}% of the timed samples "
                     "contended (wall time > 1.1 x CPU time)")
    if E.has("replicate_spread"):
        spread, p90 = E("replicate_spread").value, E("replicate_spread_p90").value
        parts.append(f"run-to-run spread of a cell's median {num(100 * spread, 2)}% (90th "
                     f"percentile {num(100 * p90, 2)}%)")
    return "How much to trust this: " + "; ".join(parts) + "."


def read_section(name: str, out: Path, first_figure: int) -> Section:
    """The section of experiment ``name`` from its folder under ``out``."""
    import jinja2

    from .harness import Context
    from .harness import text as htext
    from .harness.experiment import provenance

    experiment = runner.load(name)
    manifest, results, estimates = runner.read_run(name, out)
    section = Section(name, experiment.title, False, summary=experiment.summary)
    if manifest is None:
        section.note = (f"not included: {name} has no finished run in {out / name} (its "
                        f"manifest.json is missing; run `admodes run {name}`)")
        return section
    if not manifest.get("complete"):
        why = htext.md(manifest.get("reason") or manifest.get("status") or "unknown")
        section.note = (f"not included: the last run of {name} is "
                        f"{htext.md(manifest.get('status', 'incomplete'))}: {why}; the rows "
                        f"it measured are in {name}/results.csv")
        return section
    E = htext.EstimateTable(estimates)
    names = experiment.template_vars(Context(E, results, manifest.get("config", {}), manifest))
    try:
        section.headline = htext.findings(experiment.headline, **names)
        section.findings = htext.findings(experiment.findings, **names)
        section.details = htext.render(experiment.details, **names).strip()
    except (jinja2.UndefinedError, KeyError, ValueError, TypeError, IndexError,
            AttributeError, ArithmeticError) as exc:
        # the templates read estimates by name: a file of another form is bad data on disk
        raise runner.ResultsError(name, out / name / "estimates.csv",
                                  f"its estimates do not fit the {name} experiment: "
                                  f"{type(exc).__name__}: {exc}") from exc
    number = first_figure
    for fig in manifest.get("figures", []):
        file = fig.get("file") if isinstance(fig, dict) else None
        if not isinstance(file, str) or "/" in file or "\\" in file \
                or not (out / name / file).is_file():
            continue
        section.figures.append(Figure(number, f"{name}/{file}",
                                      htext.md(fig.get("caption", ""))))
        number += 1
    section.complete = True
    section.E, section.manifest = E, manifest
    section.trust = _trust(E, manifest)
    section.provenance = provenance(manifest, manifest.get("config", {}))
    return section


def _headline_figure(out: Path, sections: list[Section]) -> Figure | None:
    """Figure 1: the core result at a glance, from the scaling experiment's estimates."""
    scaling = next((s for s in sections if s.name == "scaling" and s.complete), None)
    if scaling is None:
        return None
    fig = draw_headline(scaling.E)
    if fig is None:
        return None
    from .harness.figures import png

    runner.write_bytes(out / "headline.png", png(fig, dpi=120))
    manifest = scaling.manifest
    cfg = manifest.get("config", {})
    return Figure(1, "headline.png", (
        f"The cost of a gradient (f: R^n → R, left) and of a fan-out (f: R → R^m, right) of "
        f"a dense tanh net, in multiples of one evaluation of f: CPU time (top, median with "
        f"its shaded 95% bootstrap interval) and the arithmetic executed "
        f"(bottom, `count_ops`), for both modes, looped (one sweep per direction) and "
        f"vectorized (one sweep). Dotted: the theory, slope 1 for the mode that needs a "
        f"sweep per direction and 0 for the other. Preset {manifest.get('preset')}, "
        f"{cfg.get('replicates')} replicates of {cfg.get('samples')} samples."))


HEADLINE_SERIES = ["forward looped", "forward vectorized", "reverse looped",
                   "reverse vectorized"]


def draw_headline(E):
    """2 x 2 panels: time and arithmetic over f, against n (gradient) and m (fan-out)."""
    from .harness.figures import band, log2_axis, new_figure, reference_line

    family = "dense_net"
    if not E.has("over_f", family=family, extreme="gradient", variant="forward looped",
                 inputs=1, outputs=1):
        return None
    fig, axes = new_figure(2, 2, width=6.2, height=4.0)
    for col, (extreme, axis, size_key) in enumerate((("gradient", "n (inputs)", "inputs"),
                                                     ("fan_out", "m (outputs)", "outputs"))):
        for row, quantity in enumerate(("over_f", "flops_over_f")):
            ax = axes[row][col]
            sizes = []
            for k, variant in enumerate(HEADLINE_SERIES):
                ests = sorted(E.all(quantity, family=family, extreme=extreme, variant=variant),
                              key=lambda e: float(e.groups[size_key]))
                if not ests:
                    continue
                sizes = [float(e.groups[size_key]) for e in ests]
                band(ax, sizes, ests, k, variant)
            if sizes:
                many = "forward looped" if extreme == "gradient" else "reverse looped"
                top = E.all(quantity, family=family, extreme=extreme, variant=many)
                start = min(top, key=lambda e: float(e.groups[size_key])).value
                reference_line(ax, sizes, start, 1.0, "theory: slope 1 (a sweep per direction)")
                reference_line(ax, sizes, start, 0.0, "theory: slope 0 (one sweep)", k=5)
                log2_axis(ax, "x", sizes, axis)
            ax.set_yscale("log")
            ax.set_ylabel("CPU time / T(f)" if row == 0 else "flops / flops(f)")
            what = "gradient, m = 1" if extreme == "gradient" else "fan-out, n = 1"
            ax.set_title(f"{what}: {'time' if row == 0 else 'counted arithmetic'}", fontsize=11)
            ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    return fig


# -- writing it ---------------------------------------------------------------------------


def _graph_section(out: Path) -> list[str]:
    """The notebook's f(a, b) = (a + b) * (a * b) at (3, 4), drawn both ways."""
    from . import viz

    table = viz.wengert_table(viz.notebook_example, 3.0, 4.0, output_name="f")
    lines = ["## One computation, both ways", "",
             f"The notebook's f(a, b) = {viz.NOTEBOOK_EXAMPLE} at a = 3, b = 4, recorded on a "
             "tape. Forward mode (seeded with da = 1) carries a tangent along each value in "
             "recording order; reverse mode pulls adjoints back in the opposite order, and "
             "one sweep gives both partial derivatives.", "",
             "*Table: the Wengert list. step: the order of the forward sweep (the reverse "
             "sweep walks it backwards); primal: the value; tangent: its derivative with "
             "respect to a; adjoint: the derivative of f with respect to it.*", "",
             "| step | value | op | inputs | primal | tangent (d/da) | adjoint (df/d value) |",
             "|---:|---|---|---|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.step} | {r.name} | {r.op} | {r.inputs} | {r.primal:g} "
                     f"| {r.tangent:g} | {r.adjoint:g} |")
    graph = viz.draw(viz.notebook_example, 3.0, 4.0, output_name="f")
    try:
        for suffix in ("svg", "png"):
            viz.render_graph(graph, out / "graphs" / f"notebook_example.{suffix}")
        lines += ["", "![the computation graph](graphs/notebook_example.png)", "",
                  "*The computation graph of f, each value with its primal, its tangent in "
                  "forward order and its adjoint in reverse order.*", ""]
    except RuntimeError as exc:
        lines += ["", f"(Graph not drawn: {exc})", ""]
    return lines


def _figure_lines(fig: Figure) -> list[str]:
    return [f"![Figure {fig.number}]({quote(fig.file)})", "",
            f"*Figure {fig.number}.* {fig.caption}", ""]


def section_markdown(s: Section, level: int = 2, links: bool = True) -> list[str]:
    """A section: its first figure, a lead paragraph and its findings, how far to trust it,
    the other figures, then the details (tables) and where the numbers came from."""
    h = "#" * level
    lines = [f"{h} {s.title}", ""]
    if not s.complete:
        return lines + [f"*{s.note[0].upper()}{s.note[1:]}.*", ""]
    if s.figures:
        lines += _figure_lines(s.figures[0])
    lines += [s.summary, ""] + [f"- {f}" for f in s.findings] + ["", f"*{s.trust}*", ""]
    for fig in s.figures[1:]:
        lines += _figure_lines(fig)
    if s.details:
        lines += [f"{h}# Details", ""]
        lines += [("#" * level + line if line.startswith("#") else line)
                  for line in s.details.splitlines()] + [""]
    if links:
        lines += [f"All of it: [{s.name}/summary.html]({s.name}/summary.html); rows: "
                  f"[{s.name}/results.csv]({s.name}/results.csv); estimates: "
                  f"[{s.name}/estimates.csv]({s.name}/estimates.csv).", ""]
    lines += s.provenance + [""]
    return lines


def report_markdown(out: Path, sections: list[Section], headline: Figure | None) -> str:
    done = [s for s in sections if s.complete]
    missing = [s.name for s in sections if not s.complete]
    status = (f"All {len(sections)} experiments completed." if not missing and len(sections) > 1
              else "The experiment completed." if not missing else
              f"{len(done)} of {len(sections)} experiments completed; not included: "
              f"{', '.join(missing)} (their sections say why).")
    lines = ["# admodes: forward mode vs reverse mode, measured", "", "## Summary", ""]
    lines += [f"- {f}" for s in done for f in s.headline] or ["- (no completed experiment)"]
    lines += [""]
    if headline is not None:
        lines += _figure_lines(headline)
    first = next((s for s in done), None)
    where = " ".join(first.provenance[1:2]).lstrip("- ") if first else ""
    lines += [f"{status} {where} Every number comes from the estimates.csv of a completed "
              "run, with its 95% bootstrap interval where it came from a timing.", "",
              "## Contents", ""]
    lines += ["- [One computation, both ways](#one-computation-both-ways)"]
    lines += [f"- [{s.title}](#{s.anchor})" for s in sections]
    lines += ["- [How to read this](#how-to-read-this)", ""]
    lines += _graph_section(out)
    for s in sections:
        lines += section_markdown(s)
    lines += ["## How to read this", "", HOW_TO_READ, ""]
    return "\n".join(lines)


def build(out_dir: str | Path, names: list[str] | None = None) -> list[Path]:
    """Write ``REPORT.md`` and the self-contained ``report.html`` in ``out_dir`` from the
    experiment folders found there (or ``names``), and each complete experiment's
    ``summary.html`` beside its files."""
    out = Path(out_dir)
    names = names or [n for n in runner.available() if (out / n).is_dir()]
    if not names:
        raise FileNotFoundError(f"no experiment results under {out}: run `admodes run` first")
    sections, number = [], 2
    for name in names:
        sections.append(read_section(name, out, number))
        number += len(sections[-1].figures)
    headline = _headline_figure(out, sections)
    if headline is None:  # no Figure 1: number the others from 1
        for s in sections:
            for fig in s.figures:
                fig.number -= 1
    text = report_markdown(out, sections, headline)
    md = runner.write_text(out / "REPORT.md", text)
    page = runner.write_text(out / "report.html",
                             to_html(text, "admodes: forward mode vs reverse mode", base=out))
    for s in sections:
        if s.complete:
            detail = "\n".join(section_markdown(s, level=1, links=False)) + \
                "\n[Back to the report](report.html)\n"
            # a page of details beside the experiment's files: its figures by reference (the
            # main page is the one self-contained file, and embeds them already)
            runner.write_text(out / s.name / "summary.html",
                              to_html(detail, s.title, links_from=s.name))
    return [md, page]


# -- HTML -----------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
color:#1b1f24;background:#fff;line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:1.5em 2em 4em}
h1{font-size:1.9em;margin:.4em 0 .6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;
margin-top:2em}
img{max-width:100%;height:auto;display:block;margin:1em auto}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:3px 8px;vertical-align:top}
th{background:#f6f8fa;text-align:left}
td{font-variant-numeric:tabular-nums}
code{background:#f6f8fa;padding:0 .2em;border-radius:3px}
details{margin:.8em 0 1.2em;padding:.4em .8em;border:1px solid #d0d7de;border-radius:6px}
summary{cursor:pointer;font-weight:600}
em{color:#444}nav ul{columns:2}
""".replace("\n", "")


def _markdown_renderer(base: Path | None, links_from: str | None):
    """markdown-it with tables; raw HTML escaped (html=False) and its link check; images
    under ``base`` embedded as data URIs, so the page needs no other file; with
    ``links_from``, links and other images rewritten relative to that subfolder."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.validateLink = _safe_url  # a link or image that fails it stays text
    default_image = md.renderer.rules["image"]

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        src = token.attrGet("src") or ""
        data = _embedded(base, src)
        if data is not None:
            token.attrSet("src", data)
        elif links_from and not re.match(r"[a-z][a-z0-9+.-]*:|/", src, re.I):
            token.attrSet("src", _relative_to(src, links_from))
        return default_image(tokens, idx, options, env)

    def link_open(self, tokens, idx, options, env):
        token = tokens[idx]
        href = token.attrGet("href") or ""
        if links_from and not re.match(r"[a-z][a-z0-9+.-]*:|#|/", href, re.I):
            token.attrSet("href", _relative_to(href, links_from))
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    return md


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:", re.I)


def _safe_url(url: str) -> bool:
    """A relative URL or an http(s) one: never javascript:, data:, file: and the like, nor
    //host, a backslash (which browsers read as /) or a control character (which they drop,
    so a scheme could hide behind it)."""
    if "\\" in url or url.startswith("//") or any(ord(c) < 0x21 or ord(c) == 0x7F
                                                   for c in url):
        return False
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group().lower() in ("http:", "https:")


def _relative_to(href: str, folder: str) -> str:
    """A link written relative to the report's folder, as seen from ``folder`` in it."""
    if href.startswith(folder + "/"):
        return href[len(folder) + 1:]
    return "../" + href


def _embedded(base: Path | None, src: str) -> str | None:
    """The data URI of a PNG or SVG image inside ``base``, None for anything else."""
    if base is None or re.match(r"[a-z][a-z0-9+.-]*:|/|\\\\", src, re.I):
        return None
    path = (base / unquote(src)).resolve()
    kinds = {".png": "image/png", ".svg": "image/svg+xml"}
    if base.resolve() not in path.parents or path.suffix not in kinds or not path.is_file():
        return None
    return f"data:{kinds[path.suffix]};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _wrap_details(body: str) -> str:
    """Put each "Details" subsection of the page, up to the next heading of its level or
    above, inside a <details> element."""
    def wrap(m: re.Match[str]) -> str:
        level = int(m.group(1))
        rest = m.group(2)
        end = re.search(rf"<h[1-{level}][ >]", rest)
        inside, after = (rest[: end.start()], rest[end.start():]) if end else (rest, "")
        return (f"<details><summary>Details: tables and definitions</summary>\n{inside}"
                f"</details>\n{wrap_all(after)}")

    def wrap_all(text: str) -> str:
        return re.sub(r"<h([2-6])>Details</h\1>\n(.*)", wrap, text, count=1, flags=re.S)

    return wrap_all(body)


def _anchors(body: str) -> str:
    """Give every h2 the id of its text, for the table of contents."""
    return re.sub(r"<h2>(.*?)</h2>",
                  lambda m: f'<h2 id="{slug(html.unescape(re.sub("<[^>]+>", "", m.group(1))))}">'
                            f"{m.group(1)}</h2>", body)


def to_html(markdown: str, title: str, base: Path | None = None,
            links_from: str | None = None) -> str:
    """A self-contained HTML page of ``markdown``: rendered by markdown-it-py (tables with
    ``<th>`` and alignment; raw HTML escaped; unsafe links left as text), images inside
    ``base`` embedded, styles inline."""
    body = _markdown_renderer(base, links_from).render(markdown)
    body = _anchors(_wrap_details(body))
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>\n{body}</main></body></html>\n")
