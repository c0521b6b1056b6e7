"""The README's list of registered ops is the registry's."""

import re
from pathlib import Path

import admodes

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lists_every_registered_op_and_numpy_name():
    from admodes.coverage import numpy_markdown, ops_markdown

    text = README.read_text()
    section = text.split("<!-- ops:", 1)[1].split("<!-- /ops -->", 1)[0]
    tables = section.split("-->", 1)[1]
    assert ops_markdown() in tables, "regenerate: python -m admodes.coverage README.md"
    assert numpy_markdown() in tables, "regenerate: python -m admodes.coverage README.md"
    listed = set(re.findall(r"`(\w+)`", ops_markdown()))
    assert listed == set(admodes.OPS)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_examples_run():
    blocks = _python_blocks(README.read_text())
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:  # in order: later examples may use earlier names (f, x)
        exec(compile(block, str(README), "exec"), namespace)


def test_ci_runs_the_readmes_quick_start():
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    install_and_run, install_and_test = [line.split("#")[0].strip()
                                         for line in quick.strip().splitlines()]
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    setup, test = install_and_test.split(" && ")
    assert install_and_run.startswith(setup + " && ")
    assert setup in ci and any(line.startswith(test) for line in ci)


def test_the_readmes_example_experiment_runs_on_the_harness(tmp_path):
    from admodes.harness import run

    section = README.read_text().split("### Adding an experiment", 1)[1]
    namespace: dict = {}
    exec(compile(_python_blocks(section)[0], str(README), "exec"), namespace)
    outcome = run(namespace["EXPERIMENT"], "quick", tmp_path, show_progress=False,
                  overrides={"samples": 2, "draws": 50})
    assert outcome.complete
    summary = (tmp_path / "sine" / "summary.md").read_text()
    assert "At n = 1000 a gradient costs" in summary
