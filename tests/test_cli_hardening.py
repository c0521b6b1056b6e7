"""The command line runs no code and emits no markup it was not asked to, and every bad input
exits 2 with one line on stderr, never a traceback."""

import errno
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from admodes import cli, report, runner
from admodes.harness import Estimates, Experiment

ENOSPC_MESSAGE = os.strerror(errno.ENOSPC)


def _one_line_error(capsys, progress: bool = False) -> str:
    err = capsys.readouterr().err
    if progress:  # `run` prints "[1/2] name (preset)" before each experiment
        err = "".join(line for line in err.splitlines(keepends=True)
                      if not line.startswith("["))
    assert err.startswith("admodes: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def _files(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


# -- graph EXPRESSION: parsed, never run --------------------------------------------------

HOSTILE_EXPRESSIONS = [
    "a.__class__",
    "a.__init__.__globals__",
    "a.__init__.__globals__['__builtins__']['__import__']('os').system('touch x') or a",
    "__import__('os')",
    "__builtins__",
    "_private + a",
    "().__class__.__bases__[0].__subclasses__()",
    "np.ctypeslib",
    "np.savetxt('x', a)",
    "np.sin(a)",
    "open('x')",
    "exec('1')",
    "eval('1')",
    "compile('1', 'x', 'eval')",
    "getattr(a, 'b')",
    "lambda: a",
    "(lambda x: x)(a)",
    "[a for a in b]",
    "sum(x for x in (a, b))",
    "{a: b}",
    "[a, b]",
    "(a, b)",
    "a[0]",
    "clip(a, min=0)",
    "clip(a, 0)",
    "sin(a, b)",
    "sin(*a)",
    "sin",
    "pi(a)",
    "foo(a)",
    "'a'",
    "'a' * a",
    "b'a' + a",
    "f'{a}'",
    "True * a",
    "None",
    "1j * a",
    "9**9**9",
    "2**100000",
    "a ** 65",
    "a ** -1000",
    "a ** 2 ** 10",
    "1 / 0 + a",
    "(-8) ** (1 / 3) * a",
    "1" * 400 + " * a",
    "+".join(["a"] * 2000),
    "+".join(["a"] * 900),
    "+".join(["a"] * 200),
    "-" * 1500 + "a",
    "(" * 500 + "a" + ")" * 500,
    "sin(" * 100 + "a" + ")" * 100,
    "a if b else c",
    "a < b",
    "a == b",
    "a and b",
    "not a",
    "~a",
    "a // b",
    "a % b",
    "a @ b",
    "(a := 1)",
    "a; b",
    "import os",
    "a\x00",
    "",
    "2 * 3",
]


@pytest.mark.parametrize("expression", HOSTILE_EXPRESSIONS,
                         ids=[repr(e[:40]) for e in HOSTILE_EXPRESSIONS])
def test_a_hostile_expression_exits_2_with_one_line_and_writes_nothing(
        expression, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    out = tmp_path / "g.dot"
    assert cli.main(["graph", expression, "--at", "1,2", "--out", str(out)]) == 2
    _one_line_error(capsys)
    assert _files(tmp_path) == before


def test_an_expression_that_would_run_a_shell_command_runs_nothing(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "marker"
    expression = (f"a.__init__.__globals__['__builtins__']['__import__']('os')"
                  f".system('touch {marker}') or a")
    assert cli.main(["graph", expression, "--at", "1", "--out", str(tmp_path / "g.dot")]) == 2
    assert "is not allowed in an expression" in _one_line_error(capsys)
    assert not marker.exists() and not (tmp_path / "g.dot").exists()


REJECTIONS = [
    ("foo(a)", "unknown function foo; known: sin, cos, "),
    ("a.b", "attribute access (a.b) is not allowed in an expression; allowed: numbers, "
            "variables, + - * / **, unary minus, parentheses"),
    ("np.exp(a)", "write exp(x), not np.exp(x)"),
    ("clip(a, 0)", "clip takes 3 argument(s), as in clip(x, lo, hi); got 2"),
    ("maximum(a, y=0)", "a keyword argument"),
    ("2 ** 100000 * a", "the exponent 100000 is too large"),
    ("9**9**9", "the exponent 387420489 is too large"),
    ("+".join(["a"] * 2000), "the limit is 2000"),
    ("+".join(["a"] * 900), "more than 500 terms"),
    ("+".join(["a"] * 200), "nests more than 64 levels"),
    ("(" * 500 + "a" + ")" * 500, "cannot parse expression"),
    ("__import__('os')", "the name __import__ (a name starting with _)"),
    ("'a'", "a string is not allowed"),
    ("a < b", "a comparison (a < b) is not allowed"),
]


@pytest.mark.parametrize("expression, message", REJECTIONS,
                         ids=[repr(e[:40]) for e, _ in REJECTIONS])
def test_a_rejected_expression_says_what_is_wrong_and_what_is_allowed(expression, message,
                                                                      capsys, tmp_path):
    assert cli.main(["graph", expression, "--at", "1,2", "--out", str(tmp_path / "g.dot")]) == 2
    assert message in _one_line_error(capsys)


def test_a_long_flat_sum_under_the_limits_is_fine(tmp_path, capsys):
    expression = "+".join(["a"] * 60)
    assert cli.main(["graph", expression, "--at", "1", "--out", str(tmp_path / "g.dot")]) == 0
    assert "60.0" in capsys.readouterr().out


def test_variables_are_taken_in_order_of_first_appearance(tmp_path, capsys):
    # "x" also occurs inside "exp": the order is by token, not by substring
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "exp(b) + x", "--at", "1,2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^\s*0\s+b\s+input\s+1\.0", printed, flags=re.M), printed
    assert re.search(r"^\s*1\s+x\s+input\s+2\.0", printed, flags=re.M), printed
    assert "digraph" in out.read_text()


def test_graph_help_says_a_script_is_run_and_an_expression_is_not(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["graph", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "imported and run as Python code" in text
    assert "parsed, never run" in text
    assert "clip(x, lo, hi)" in text


def test_a_script_with_a_syntax_error_exits_2_with_one_line(tmp_path, capsys):
    script = tmp_path / "f.py"
    script.write_text("def f(x):\n    return x +\n")
    assert cli.main(["graph", str(script), "--at", "1", "--out", str(tmp_path / "g.dot")]) == 2
    assert "cannot import" in _one_line_error(capsys)


# -- graph --out ----------------------------------------------------------------------------

def test_an_unknown_graph_format_is_refused_up_front(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["graph", "a*b", "--at", "1,2", "--out", "g.xyz"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before tracing or printing anything
    assert captured.err.count("\n") == 1
    for fmt in ("svg", "png", "pdf", "dot"):
        assert fmt in captured.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["file.txt/g.svg", "file.txt/sub/g.svg", "folder"])
def test_a_graph_file_that_cannot_be_written_exits_2_with_one_line(where, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("")
    (tmp_path / "folder.svg").mkdir()
    target = tmp_path / where if where != "folder" else tmp_path / "folder.svg"
    assert cli.main(["graph", "a*b", "--at", "1,2", "--out", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before tracing or printing anything
    assert captured.err.startswith("admodes: error: ") and captured.err.count("\n") == 1
    assert (tmp_path / "file.txt").read_text() == ""


def test_a_full_disk_while_drawing_exits_2_naming_the_file(tmp_path, monkeypatch, capsys):
    original = Path.write_text

    def full_disk(self, *args, **kwargs):
        if self.suffix == ".dot":
            raise OSError(errno.ENOSPC, ENOSPC_MESSAGE)  # as a failed write(): no file name
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "a*b", "--at", "1,2", "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert str(out) in err and ENOSPC_MESSAGE in err


# -- run and report -------------------------------------------------------------------------

def _fake() -> Experiment:
    """A stand-in experiment: instant, two cells, one estimate per cell."""

    def measure(cell, cfg, meter):
        meter.note("sum", total=float(cell["size"]))

    def estimate(results):
        est = Estimates()
        for size in results.cfg["sizes"]:
            est.add("total", results.metric("total", "sum", size=size), size=size)
        return est

    return Experiment(
        name="overhead", title="A stand-in", summary="Adds numbers.",
        presets={"quick": {"sizes": [1, 2], "replicates": 1, "draws": 10},
                 "full": {"sizes": [1, 2], "replicates": 1, "draws": 10}},
        cells=lambda cfg: [{"size": n} for n in cfg["sizes"]], measure=measure,
        estimate=estimate,
        findings="- The totals are {{ E('total', size=1).value }} and "
                 "{{ E('total', size=2).value }}.",
        details="| size | total |\n|---:|---:|\n{% for e in E.all('total') %}"
                "| {{ e.groups.size }} | {{ e.value }} |\n{% endfor %}")


@pytest.fixture
def fake_experiment(monkeypatch):
    fake = _fake()
    monkeypatch.setattr(runner, "load", lambda name: fake)
    monkeypatch.setattr(runner, "available", lambda: [fake.name])
    return fake.name


GOOD_ESTIMATES = b"quantity,size,value,ci_low,ci_high,n\ntotal,1,1.0,1.0,1.0,1\n" \
    b"total,2,2.0,2.0,2.0,1\n"


def _results(out: Path, name: str, csv: bytes = b"experiment,cell,variant\nx,size=1,sum\n",
             estimates: bytes = GOOD_ESTIMATES, manifest: object | None = "complete") -> Path:
    """A run folder as the harness writes it, with the files given."""
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "results.csv").write_bytes(csv)
    (folder / "estimates.csv").write_bytes(estimates)
    if manifest == "complete":
        manifest = {"experiment": name, "complete": True, "status": "complete",
                    "preset": "quick", "config": {"sizes": [1, 2], "replicates": 1},
                    "environment": {}, "files": ["estimates.csv", "results.csv"]}
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (folder / "manifest.json").write_text(text)
    return folder


@pytest.mark.parametrize("seed", ["-1", "4294967296", "many", "1.5"])
def test_a_bad_seed_exits_2_with_one_line(seed, capsys):
    assert cli.main(["run", "--seed", seed]) == 2
    assert "--seed" in _one_line_error(capsys)


@pytest.mark.parametrize("argv", [
    ["frobnicate"],
    ["run", "--preset", "slow"],
    ["run", "--bogus"],
    ["--bogus"],
    ["graph"],
    ["graph", "a", "--mode", "sideways", "--at", "1"],
    ["report", "extra"],
])
def test_argparse_errors_are_one_line_and_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert "--help" in _one_line_error(capsys)


def test_run_into_a_path_below_a_file_exits_2(tmp_path, capsys, fake_experiment):
    (tmp_path / "file.txt").write_text("")
    for out in ("file.txt", "file.txt/reports", "file.txt/a/b"):
        assert cli.main(["run", fake_experiment, "--out", str(tmp_path / out)]) == 2
        assert "is a file, not a directory" in _one_line_error(capsys)


def test_report_from_a_path_below_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("")
    assert cli.main(["report", "--out", str(tmp_path / "file.txt" / "reports")]) == 2
    _one_line_error(capsys)


def test_run_on_a_full_disk_exits_2_naming_the_file(tmp_path, monkeypatch, capsys,
                                                     fake_experiment):
    written = Path.write_text

    def full_disk(path, data, *args, **kwargs):
        if path.name.startswith(".manifest"):
            raise OSError(errno.ENOSPC, ENOSPC_MESSAGE)  # as write() raises it: no file name
        return written(path, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    out = tmp_path / "reports"
    assert cli.main(["run", fake_experiment, "--out", str(out), "--no-progress"]) == 2
    err = _one_line_error(capsys, progress=True)
    assert str(out / fake_experiment / ".manifest.json") in err and ENOSPC_MESSAGE in err
    assert not (out / fake_experiment / "manifest.json").exists()  # no complete run claimed


def test_report_on_a_full_disk_exits_2_naming_the_file(tmp_path, monkeypatch, capsys,
                                                        fake_experiment):
    from admodes import measure

    out = tmp_path / "reports"
    _results(out, fake_experiment)

    def full_disk(path, text):
        raise OSError(errno.ENOSPC, ENOSPC_MESSAGE)

    monkeypatch.setattr(measure, "write_atomic", full_disk)
    assert cli.main(["report", "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert str(out / "REPORT.md") in err and ENOSPC_MESSAGE in err


def test_run_then_report_of_the_fake_experiment_works(tmp_path, capsys, fake_experiment):
    out = tmp_path / "reports"
    assert cli.main(["run", fake_experiment, "--out", str(out), "--no-progress"]) == 0
    assert "- The totals are 1.0 and 2.0." in (out / "REPORT.md").read_text()
    assert cli.main(["report", "--out", str(out)]) == 0


def test_report_from_good_results_on_disk_works(tmp_path, capsys, fake_experiment):
    out = tmp_path / "reports"
    _results(out, fake_experiment)
    assert cli.main(["report", "--out", str(out)]) == 0
    assert "- The totals are 1.0 and 2.0." in (out / "REPORT.md").read_text()


@pytest.mark.parametrize("csv, estimates, manifest, bad_file, reason", [
    (b"", GOOD_ESTIMATES, "complete", "results.csv", "No columns"),
    (b"x,y\n", GOOD_ESTIMATES, "complete", "results.csv", "no rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 64, GOOD_ESTIMATES, "complete", "results.csv",
     "codec"),
    (b"x\n1\n", b"", "complete", "estimates.csv", "No columns"),
    (b"x\n1\n", b"quantity,value\ntotal,1\n", "complete", "estimates.csv", "no column"),
    (b"x\n1\n", GOOD_ESTIMATES.replace(b"2.0,2.0,2.0", b"big,2.0,2.0"), "complete",
     "estimates.csv", "not numeric"),
    (b"x\n1\n", GOOD_ESTIMATES.replace(b"total,2", b"[y](javascript:alert(1)),2"),
     "complete", "estimates.csv", "not a name"),
    (b"x\n1\n", b"quantity,size,value,ci_low,ci_high,n\nother,1,1,1,1,1\n", "complete",
     "estimates.csv", "do not fit the overhead experiment"),
    (b"x\n1\n", GOOD_ESTIMATES, "{not json", "manifest.json", "not valid JSON"),
    (b"x\n1\n", GOOD_ESTIMATES, "", "manifest.json", "not valid JSON"),
    (b"x\n1\n", GOOD_ESTIMATES, "[1, 2]", "manifest.json", "not a JSON object"),
    (b"x\n1\n", GOOD_ESTIMATES, "[" * 100_000, "manifest.json", "not valid JSON"),
])
def test_a_corrupt_result_file_exits_2_naming_it(csv, estimates, manifest, bad_file, reason,
                                                 tmp_path, capsys, fake_experiment):
    out = tmp_path / "reports"
    folder = _results(out, fake_experiment, csv, estimates, manifest)
    assert cli.main(["report", "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert f"{folder / bad_file} is not a valid results file" in err
    assert reason in err and f"rerun `admodes run {fake_experiment}`" in err


def test_an_incomplete_run_is_reported_as_such_with_its_reason(tmp_path, fake_experiment):
    out = tmp_path / "reports"
    _results(out, fake_experiment, manifest={"complete": False, "status": "interrupted",
                                             "reason": "interrupted by Ctrl-C"})
    report.build(out)
    page = (out / "REPORT.md").read_text()
    assert "0 of 1 experiments completed" in page
    assert "is interrupted: interrupted by Ctrl-C" in page
    assert "The totals are" not in page  # nothing quoted from an incomplete run


def test_read_run_raises_a_value_error_for_a_corrupt_file(tmp_path):
    _results(tmp_path, "overhead", b"")
    with pytest.raises(runner.ResultsError, match="results.csv is not a valid") as info:
        runner.read_run("overhead", tmp_path)
    assert isinstance(info.value, ValueError)


# -- the main loop: what it handles and what it does not ------------------------------------

def test_a_bug_keeps_its_traceback(monkeypatch):
    def buggy(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_cmd_ops", buggy)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["ops"])


def test_a_broken_pipe_exits_141_quietly(monkeypatch, capsys):
    def reader_went_away(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(cli, "_cmd_ops", reader_went_away)
    assert cli.main(["ops"]) == 141
    assert capsys.readouterr().err == ""


def test_ops_into_head_prints_no_traceback():
    result = subprocess.run(f"{sys.executable} -m admodes ops | head -1", shell=True,
                            capture_output=True, text=True)
    assert result.stdout.count("\n") == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.stderr == ""


def test_a_reader_that_closed_the_pipe_gets_status_141_and_no_message():
    # the read end is closed before the child has even imported admodes, so every write
    # (at the latest the final flush) meets a closed pipe
    child = subprocess.Popen([sys.executable, "-m", "admodes", "ops"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    err = child.stderr.read()
    child.stderr.close()
    assert child.wait() == 141
    assert err == b""


# -- report.html: no live markup from file contents -----------------------------------------

class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


SAFE_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "h4",
             "h5", "h6", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a",
             "img", "code", "strong", "em", "details", "summary", "br", "hr", "pre",
             "blockquote"}


def _assert_no_live_markup(page: str) -> None:
    assert "<script" not in page.lower()
    for tag, attrs in _tags(page):
        assert tag in SAFE_TAGS, tag
        assert set(attrs) <= {"charset", "href", "src", "alt", "lang", "name", "content",
                              "id", "style"}, (tag, attrs)
        assert attrs.get("style") in (None, "text-align:right", "text-align:left",
                                      "text-align:center"), attrs
        for key in ("href", "src"):
            url = (attrs.get(key) or "").strip().lower()
            if key == "src" and tag == "img" and re.fullmatch(
                    r"data:image/(png|svg\+xml);base64,[a-z0-9+/=]*", url):
                continue  # a figure embedded in the page
            if key in attrs:
                assert not url.startswith("//") and "\\" not in url, url
                scheme = re.match(r"([a-z][a-z0-9+.-]*):", url)
                assert scheme is None or scheme.group(1) in ("http", "https"), url


HOSTILE_VALUES = {
    "cpu_model": "![x](x' onerror='alert(1))",
    "cores": "[y](javascript:alert(1))",
    "python_version": "<script>alert(1)</script>",
    "numpy_version": "<img src=x onerror=alert(1)>",
    "admodes_version": "<a href='javascript:alert(1)'>x</a>",
    "admodes_commit": '![i](x"onerror="alert`1`) \\',
    "date": "today\n# a heading\n| a | cell |",
    "blas": [{"internal_api": "[z](data:text/html,<script>alert(1)</script>)",
              "version": "![p](javascript:alert(1))"}],
}


def test_hostile_manifest_values_make_no_live_markup(tmp_path, fake_experiment):
    out = tmp_path / "reports"
    folder = _results(out, fake_experiment, manifest={
        "complete": True, "preset": "q<script>alert(1)</script>", "seconds": 1,
        "started": "[s](javascript:x)", "environment": HOSTILE_VALUES,
        "config": {"sizes": [1, 2], "replicates": "<b>"},
        "figures": [{"file": "a](javascript:alert(1)) <b onclick=x>.png", "caption": "<i>"},
                    {"file": "plain_name.png", "caption": "[c](javascript:alert(1))"},
                    {"file": "../escape.png", "caption": "up"}]})
    (folder / "a](javascript:alert(1)) <b onclick=x>.png").write_bytes(b"")
    (folder / "plain_name.png").write_bytes(b"")
    report.build(out)
    page = (out / "report.html").read_text()
    _assert_no_live_markup(page)
    srcs = [attrs.get("src") for tag, attrs in _tags(page) if tag == "img"]
    assert srcs and all(src.startswith("data:image/") for src in srcs)  # all embedded
    assert "Figure 1" in page and "escape" not in page

    markdown = (out / "REPORT.md").read_text()
    section = markdown.split("## A stand-in", 1)[1].split("\n## ", 1)[0]
    provenance = section.split("- preset", 1)[1]
    # no unescaped link, image or HTML tag starts in a value read from the manifest
    assert not re.search(r"(?<!\\)\]\(", provenance), provenance
    assert not re.search(r"(?<!\\)<", provenance), provenance
    assert "!\\[x\\](x' onerror='alert(1))" in provenance


@pytest.mark.parametrize("markdown", [
    "![x](x' onerror='alert(1))",
    "![x](x'onerror='alert(1)')",
    '![x](x"onerror="alert`1`)',
    "[y](javascript:alert(1))",
    "[y](javascript:alert`1`)",
    "[y](JAVASCRIPT:alert`1`)",
    "[y](data:text/html,hi)",
    "[y](vbscript:x)",
    "[y](file:///etc/passwd)",
    "[y](//evil.example)",
    "[y](\\\\evil.example)",
    "[y](\tjavascript:x)",
    "[y](\x01javascript:x)",
    "<script>alert(1)</script>",
    "**<b onmouseover=alert(1)>x</b>**",
    "`<script>`",
    "[`x`](javascript:x)",
    "[![i](javascript:x)](javascript:y)",
])
def test_to_html_emits_no_live_markup(markdown):
    page = report.to_html(f"# {markdown}\n\n- {markdown}\n\n| {markdown} |\n\n{markdown}\n",
                          "<title>")
    _assert_no_live_markup(page)


def test_to_html_keeps_the_reports_own_markup():
    page = report.to_html("- see [a/summary.md](a/summary.md) and **`x`**\n\n"
                          "![graph](graphs/g.png)\n\n[site](https://example.com)\n\n"
                          "![cost\\_curves](a/cost_curves.png)\n\n"
                          "\\[not a link\\](x)", "t")
    assert '<a href="a/summary.md">a/summary.md</a>' in page
    assert "<strong><code>x</code></strong>" in page
    assert '<img src="graphs/g.png" alt="graph" />' in page
    assert '<a href="https://example.com">site</a>' in page
    assert "<p>[not a link](x)</p>" in page
    assert '<img src="a/cost_curves.png" alt="cost_curves" />' in page


def test_markdown_text_escapes_what_could_start_markup():
    from admodes.harness.text import md

    assert md("![a](b) <c> *_|`\\") == "!\\[a\\](b) \\<c\\> \\*\\_\\|\\`\\\\"
    assert md("one\ntwo\r\n\x00three") == "one two three"
    assert md(None) == "None"
