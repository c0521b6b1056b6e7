"""Build step that records the source commit in the built package (admodes/_build.py), so an
installed copy's result files can say which source they came from. Everything else about
the package is in pyproject.toml."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "admodes", "experiments"], cwd=here, capture_output=True,
                               text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


class BuildWithCommit(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "admodes" / "_build.py"
        if target.parent.is_dir():
            target.write_text(f"COMMIT = {_commit()!r}\n", encoding="utf-8")


setup(cmdclass={"build_py": BuildWithCommit})
