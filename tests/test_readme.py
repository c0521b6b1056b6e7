"""The README's list of registered ops is the registry's."""

import re
from pathlib import Path

import admodes

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lists_every_registered_op():
    text = README.read_text()
    section = text.split("<!-- ops:", 1)[1].split("<!-- /ops -->", 1)[0]
    listed = set(re.findall(r"`(\w+)`", section))
    assert listed == set(admodes.OPS)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_examples_run():
    blocks = _python_blocks(README.read_text())
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:  # in order: later examples may use earlier names (f, x)
        exec(compile(block, str(README), "exec"), namespace)
