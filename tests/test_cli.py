"""The command line end to end, on tiny configurations, into temporary directories."""

import re
import subprocess
import sys

import pytest

from admodes import cli, runner


def _links(markdown: str) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", markdown)


def test_run_writes_the_report_and_links_only_files_that_exist(tmp_path):
    out = tmp_path / "reports"
    assert cli.main(["run", "accuracy", "--out", str(out), "--no-progress"]) == 0
    report = (out / "REPORT.md").read_text()
    for heading in ("## One computation, both ways", "## Accuracy: AD against finite "
                    "differences", "## How to read this"):
        assert heading in report
    links = _links(report)
    assert "accuracy/results.csv" in links and "graphs/notebook_example.png" in links
    assert "accuracy/error_vs_step.png" in links and "accuracy/summary.html" in links
    for link in links:
        if not link.startswith("#"):
            assert (out / link).exists(), link
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<img" in page
    srcs = re.findall(r'src="([^"]+)"', page)
    assert srcs and all(src.startswith("data:image/") for src in srcs)  # self-contained
    # rebuilt from disk, without measuring again, the report says the same
    (out / "REPORT.md").unlink()
    assert cli.main(["report", "--out", str(out)]) == 0
    assert (out / "REPORT.md").read_text() == report


def test_run_help_lists_every_experiment(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--help"])
    printed = capsys.readouterr().out
    for name in runner.ORDER:
        assert re.search(rf"^  {name}\s+\w", printed, re.M), name
    assert "cannot be loaded" not in printed


@pytest.mark.parametrize("argv", [
    ["run", "no-such-experiment"],
    ["run", "--preset", "slow"],
    ["run", "--seed", "many"],
    ["report", "--out", "/nonexistent/reports"],
    ["graph", "(a + b", "--at", "1,2"],
    ["graph", "a * b", "--at", "1"],
    ["graph", "a * b", "--at", "a=1,c=2"],
    ["graph", "missing.py", "--at", "1"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2_with_a_one_line_message(argv, capsys, tmp_path):
    assert cli.main(argv) == 2  # argparse's own errors too: no SystemExit, no usage block
    err = capsys.readouterr().err
    assert err.startswith("admodes: error: ") and err.count("\n") == 1


def test_run_into_an_unwritable_directory_fails_before_measuring(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["run", "overhead", "--out", str(blocker / "sub")]) == 2
    assert "cannot write to output directory" in capsys.readouterr().err


def test_graph_prints_the_wengert_list_and_writes_the_drawing(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert cli.main(["graph", "(a + b) * (a * b)", "--at", "a=3,b=4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "84.0" in printed and "40.0" in printed and "33.0" in printed
    assert "<svg" in out.read_text()


def test_graph_from_a_script(tmp_path, capsys):
    script = tmp_path / "f.py"
    script.write_text("import numpy as np\n\ndef f(x, y):\n    return np.sin(x) * y\n")
    out = tmp_path / "g.dot"
    assert cli.main(["graph", str(script), "--at", "0,2", "--out", str(out)]) == 0
    assert "digraph" in out.read_text()


def test_ops_lists_every_registered_op(capsys):
    import admodes

    assert cli.main(["ops"]) == 0
    printed = capsys.readouterr().out
    for name in admodes.OPS:
        assert re.search(rf"\b{name}\b", printed), name


def test_every_command_has_help():
    for command in ([], ["run"], ["report"], ["graph"], ["ops"]):
        result = subprocess.run([sys.executable, "-m", "admodes", *command, "--help"],
                                capture_output=True, text=True)
        assert result.returncode == 0 and "usage:" in result.stdout
