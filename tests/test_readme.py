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
