"""Bundles on disk: written as a directory of files, read back into memory to check.

A bundle is small (a selection's facts and their proofs), so it is checked
in memory, from exactly the bytes on disk; writing refuses a directory that
already holds something, so two exports never mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ledger.adapters.checkpoints import write_atomically

#: More files than any bundle has: a directory that is not a bundle is not read whole.
MAX_FILES = 2_000_000


class BundleError(ValueError):
    """A bundle directory that cannot be written or read."""


def write_bundle(folder: Path, files: Mapping[str, bytes]) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise BundleError(f"{folder} is not empty: give a new directory for the bundle")
    for name, data in files.items():
        write_atomically(folder / name, data)


def read_bundle(folder: Path) -> dict[str, bytes]:
    """Every file of the bundle at ``folder``, by its path relative to it."""
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a bundle directory")
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
            if len(files) > MAX_FILES:
                raise BundleError(f"{folder} holds more files than a bundle does")
    return files
