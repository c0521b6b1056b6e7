"""An experiment's folder, kept true under faults.

While a run measures, its rows go to a hidden ``.results.partial.jsonl``, one line per row,
flushed cell by cell; the files of the previous run stay as they were. When the run ends
(or is interrupted), every new file is written under a temporary name, the old
``manifest.json`` is removed, the new files are renamed into place, files of the old run
that the new one did not write are removed, and ``manifest.json`` is written last. A
reader trusts a folder only when its manifest says ``complete: true``: a kill at any point
leaves either the old run whole, or no manifest (the report says the experiment is
incomplete), never files of two runs under one manifest. Leftover temporary files are
removed when the next run starts.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
RESULTS = "results.csv"
ESTIMATES = "estimates.csv"
SUMMARY = "summary.md"
PARTIAL = ".results.partial.jsonl"
_TEMP_MARK = ".tmp-"


class RunFolderError(ValueError):
    """A folder whose files cannot be read back as a complete run."""


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError raised inside names ``path`` when it names no file (a failed write(), as
    on a full disk, names none, and "No space left on device" alone does not say where)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def write(path: Path, data: bytes | str) -> None:
    """Write a file; an OSError names it."""
    with naming(path):
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TEMP_MARK}{os.getpid()}")


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files an earlier, killed run left in ``folder``."""
    removed = []
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(".") and (_TEMP_MARK in path.name or path.name == PARTIAL):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _plain(value: Any) -> Any:
    """A JSON-able version of a cell parameter or metric (numpy scalars, tuples)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, tuple):
        return list(value)
    return value


class PartialRows:
    """Rows appended to the hidden partial file as they are measured."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / PARTIAL
        write(self.path, "")
        self.count = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        with naming(self.path), self.path.open("a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")
                self.count += 1
            out.flush()
            os.fsync(out.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def replace_run(folder: Path, files: Mapping[str, bytes | str], manifest: dict[str, Any]) -> None:
    """Put a finished (or interrupted) run's files into ``folder``, manifest last."""
    folder.mkdir(parents=True, exist_ok=True)
    temps = {}
    try:
        for name, data in files.items():
            tmp = _temp_name(folder / name)
            temps[name] = tmp
            write(tmp, data)
        old = _previous_files(folder)
        (folder / MANIFEST).unlink(missing_ok=True)  # from here on: no complete run
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
        for name in old - set(files) - {MANIFEST}:
            (folder / name).unlink(missing_ok=True)
        manifest = {**manifest, "files": sorted(files)}
        tmp = _temp_name(folder / MANIFEST)
        temps[MANIFEST] = tmp
        write(tmp, json.dumps(manifest, indent=2, default=str) + "\n")
        os.replace(tmp, folder / MANIFEST)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


_KNOWN = {RESULTS, ESTIMATES, SUMMARY, "meta.json", "slopes.csv"}


def _previous_files(folder: Path) -> set[str]:
    """The files of an earlier run: what its manifest listed; without a readable manifest,
    the files runs of this and earlier versions write."""
    try:
        listed = (read_manifest(folder) or {}).get("files")
    except RunFolderError:
        listed = None
    if isinstance(listed, list) and all(isinstance(n, str) and "/" not in n for n in listed):
        return set(listed)
    return {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
            and (p.name in _KNOWN or p.suffix in (".png", ".svg", ".csv", ".md"))}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, None when there is none; RunFolderError when it is not a
    JSON object."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise RunFolderError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise RunFolderError(f"{path} is not a JSON object")
    return manifest
