"""The combined report, built from a tiny run of every experiment: the answer first, every
figure embedded and captioned, every table with a header row, links that resolve, and a
summary that quotes only numbers its runs' estimates.csv hold."""

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pytest

from admodes import report, runner
from admodes.harness import run
from admodes.harness.text import num

TIMING = {"replicates": 2, "samples": 2, "warmup": 0, "min_sample_s": 1e-5, "draws": 50}
TINY = {
    "scaling": {"grid_max": 4, "extreme_max": 8, "hidden": 4, "chain_depth": 4,
                "chain_width": 2, **TIMING},
    "memory": {"chain_lengths": [8, 40, 400], "vector_size": 16, "jacobian_sizes": [8, 32],
               **TIMING},
    "accuracy": {},
    "mlp_training": {"n_train": 96, "n_test": 64, "hidden": (4, 4), "epochs": 2,
                     "batch_size": 32, "seeds": 2, "exact_seeds": 2,
                     "fg_learning_rates": (0.03, 0.1), "scalar_hidden": (2, 2),
                     "scalar_steps": 2, "scalar_batch": 8, "cost_widths": (2, 4),
                     "vectorized_max_params": 30, "grid": 12, **TIMING},
    "overhead": {"chain_ops": 8, "vector_size": 5, "batch": 3, "features": 4, "hidden": 2,
                 **TIMING},
    "nn_speed": {"sizes": [2, 3, 3, 1], "array_samples": 40, "scalar_samples": 5, **TIMING},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    assert set(TINY) == set(runner.ORDER)
    for name in runner.ORDER:
        outcome = run(runner.load(name), "quick", out, overrides=TINY[name],
                      show_progress=False)
        assert outcome.complete, (name, outcome.reason)
    report.build(out)
    return out, (out / "REPORT.md").read_text(), (out / "report.html").read_text()


class Page(HTMLParser):
    """The tags of a page, in order, with the text of each heading and paragraph."""

    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.stack, self.text = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append((tuple(self.stack), data))


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def test_the_html_parses_and_is_one_self_contained_file(built):
    _, _, page = built
    parsed = parse(page)
    images = [attrs for tag, attrs in parsed.tags if tag == "img"]
    assert len(images) >= 10
    for attrs in images:
        assert attrs["src"].startswith(("data:image/png;base64,", "data:image/svg+xml;base64,"))
    assert not [t for t, a in parsed.tags if t in ("link", "script")]
    assert "<style>" in page  # styles inline


def test_every_table_has_a_header_row_of_th(built):
    _, _, page = built
    tables = re.findall(r"<table>(.*?)</table>", page, flags=re.S)
    assert len(tables) >= 5
    for table in tables:
        assert re.search(r"<thead>\s*<tr>\s*<th", table), table[:200]


def test_every_figure_has_a_numbered_caption(built):
    _, markdown, _ = built
    figures = re.findall(r"!\[Figure (\d+)\]\(([^)]+)\)\n\n\*Figure (\d+)\.\* (\S)", markdown)
    numbers = [int(a) for a, _, b, _ in figures if a == b]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 8
    assert len(figures) == markdown.count("![Figure ")


def test_the_answer_comes_first(built):
    _, markdown, _ = built
    summary = markdown.index("## Summary")
    first_experiment = markdown.index("## " + runner.load(runner.ORDER[0]).title)
    assert summary < markdown.index("![Figure 1](headline.png)") < first_experiment
    bullets = markdown[summary:].split("\n\n", 2)[1]
    assert 4 <= bullets.count("\n- ") + 1 <= 6  # the five findings that matter


def _formatted(values) -> set[str]:
    out = set()
    for v in values:
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        out |= {num(v, d) for d in range(1, 5)}
    return out


def test_the_summary_quotes_only_numbers_from_the_estimates(built):
    out, markdown, _ = built
    allowed = set()
    for name in runner.ORDER:
        estimates = pd.read_csv(out / name / "estimates.csv")
        allowed |= _formatted(estimates[["value", "ci_low", "ci_high"]].to_numpy().ravel())
        for column in estimates.columns:  # group values: sizes, seeds
            allowed |= _formatted(estimates[column].dropna().unique())
        manifest = runner.read_run(name, out)[0]
        allowed |= _formatted(v for v in manifest["config"].values()
                              if isinstance(v, (int, float)))
    summary = markdown.split("## Summary", 1)[1].split("![Figure 1]", 1)[0]
    quoted = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]\d+)?", summary)
    assert quoted
    unknown = [q for q in quoted if q not in allowed]
    assert not unknown, unknown


def test_links_resolve_to_files_and_anchors(built):
    out, markdown, page = built
    parsed = parse(page)
    for tag, attrs in parsed.tags:
        href = attrs.get("href") if tag == "a" else None
        if not href:
            continue
        if href.startswith("#"):
            assert href[1:] in parsed.ids, href
        else:
            assert (out / href).exists(), href
    for link in re.findall(r"\]\(([^)#]+)\)", markdown):
        assert (out / link).exists(), link


def test_each_experiment_has_its_own_html_page_and_says_where_its_numbers_came_from(built):
    out, markdown, _ = built
    for name in runner.ORDER:
        page = (out / name / "summary.html").read_text()
        assert "How much to trust this" in page and 'href="../report.html"' in page
        for src in re.findall(r'<img src="([^"]+)"', page):  # its own figures, beside it
            assert (out / name / src).is_file(), src
        assert len(re.findall("<img ", page)) == len(runner.load(name).figures)
    assert markdown.count("How much to trust this:") == len(runner.ORDER)
    assert markdown.count("- preset quick:") == len(runner.ORDER)


def test_an_incomplete_experiment_is_shown_as_such(built, tmp_path):
    out, _, _ = built
    copy = tmp_path / "reports"
    shutil.copytree(out, copy)
    (copy / "memory" / "manifest.json").unlink()
    report.build(copy)
    markdown = (copy / "REPORT.md").read_text()
    assert "5 of 6 experiments completed; not included: memory" in markdown
    assert "Not included: memory has no finished run" in markdown


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (headless)")
def test_the_page_renders_in_a_browser(built, tmp_path):
    out, _, _ = built
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1280,2400", (out / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 50_000  # a page with figures, not blank
