"""A non-editable install runs the experiments from any folder: build admodes into a fresh
virtual environment and run `admodes run accuracy` from outside the checkout. (About 30 s:
the runtime dependencies come from the environment running the tests; the build's own,
setuptools and wheel, from the package index, as for any `pip install .`.)"""

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's python, its admodes command) with admodes built and installed into it."""
    where = tmp_path_factory.mktemp("install")
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    # numpy & co. from the environment running the tests; a plain path in a .pth file adds
    # that folder without running its .pth files, so an editable admodes there stays out
    purelib = sysconfig.get_paths()["purelib"]
    (Path(site.stdout.strip()) / "parent_env.pth").write_text(purelib + "\n")
    # built as `pip install .` builds it: setuptools and wheel in an isolated build env
    built = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--disable-pip-version-check", str(ROOT)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return python, env_dir / "bin" / "admodes", where


def test_the_installed_package_is_a_copy_not_the_checkout(installed):
    python, _, where = installed
    out = subprocess.run([python, "-c", "import admodes, admodes.experiments as e; "
                          "print(admodes.__file__); print(e.__file__)"],
                         capture_output=True, text=True, check=True, cwd=where)
    for path in out.stdout.split():
        assert str(ROOT) not in path and "site-packages" in path, path


def test_admodes_run_works_from_an_empty_folder_outside_the_checkout(installed):
    python, admodes, where = installed
    empty = where / "empty"
    empty.mkdir()
    done = subprocess.run([admodes, "run", "accuracy", "--preset", "quick", "--no-progress"],
                          cwd=empty, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((empty / "reports" / "accuracy" / "manifest.json").read_text())
    assert manifest["complete"] is True
    # the commit of the source it was built from, recorded at build time
    commit = manifest["environment"]["admodes_commit"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True)
    if head.returncode == 0:
        assert commit and commit.split("+")[0] == head.stdout.strip()
    assert (empty / "reports" / "REPORT.md").exists()
    assert "site-packages" in manifest["environment"]["admodes_path"]


def test_python_experiments_file_still_runs_from_the_checkout(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "accuracy.py"),
                           "--quick", "--out", str(tmp_path), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "machine epsilons at worst" in done.stdout
    assert json.loads((tmp_path / "accuracy" / "manifest.json").read_text())["complete"]
