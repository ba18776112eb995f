"""The witness's directories: its own state, and the ledger's publication it reads.

The state directory (``--state DIR``) holds::

    skey, vkey             the witness's cosigning key (0600) and its verifier key
    accepted/<size>        every checkpoint accepted, as the ledger signed it
    cosigned/<size>        the last note cosigned at that size (the ledger's and ours)
    forks/<n>-<time>/      a fork's evidence; while forks/ exists nothing is cosigned
    lock                   held while a witness runs, so two runs never interleave

Every file is written whole or not at all: to a temporary file in the same
directory, flushed to disk, then renamed over the name (``os.replace``).

A publication (``--published DIR``) is the ledger's: ``checkpoint`` (the
latest), ``checkpoints/<size>`` (every one published) and
``consistency/<m>-<n>`` (a proof between each consecutive pair).

These classes implement :class:`ledger.services.witness.WitnessState` and
:class:`~ledger.services.witness.Publication` by their shape.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ledger.adapters.keys import SKEY, VKEY, KeyFileError
from ledger.domain.note import COSIGNATURE, NoteError, SigningKey

ACCEPTED = "accepted"
COSIGNED = "cosigned"
FORKS = "forks"
LOCK = "lock"
_SIZE = re.compile(r"0|[1-9][0-9]*")
_PAIR = re.compile(r"(0|[1-9][0-9]*)-(0|[1-9][0-9]*)")


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """``path`` holds ``data`` whole, or keeps what it held."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sizes(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if _SIZE.fullmatch(p.name))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class WitnessDirectory:
    """A witness's state directory (``--state DIR``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's lock (made with the directory if it is new)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.path / LOCK, "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    # -- the cosigning key ---------------------------------------------------------------

    def signing_key(self, name: str) -> tuple[SigningKey, bool]:
        """The witness's key, made as ``name`` if there is none yet; whether it was made."""
        skey = self.path / SKEY
        if skey.exists():
            return self.load_key(), False
        try:
            key = SigningKey.generate(name, COSIGNATURE)
        except NoteError as e:
            raise KeyFileError(f"cannot make the witness key: {e}") from None
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(skey, (key.text() + "\n").encode(), mode=0o600)
        write_atomically(self.path / VKEY, (key.verifier.text() + "\n").encode())
        return key, True

    def load_key(self) -> SigningKey:
        skey = self.path / SKEY
        try:
            key = SigningKey.parse(skey.read_text())
        except OSError as e:
            raise KeyFileError(f"cannot read the witness key {skey}: {e.strerror}") from None
        except NoteError as e:
            raise KeyFileError(f"{skey}: {e}") from None
        if key.sig_type != COSIGNATURE:
            raise KeyFileError(f"{skey} is not a cosigning key (signature type 0x04)")
        return key

    # -- WitnessState ------------------------------------------------------------------

    def accepted_sizes(self) -> list[int]:
        return _sizes(self.path / ACCEPTED)

    def accepted(self, size: int) -> bytes | None:
        return _read(self.path / ACCEPTED / str(size))

    def cosigned(self, size: int) -> bytes | None:
        return _read(self.path / COSIGNED / str(size))

    def accept(self, size: int, checkpoint: bytes, cosigned: bytes) -> None:
        for folder in (COSIGNED, ACCEPTED):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        # What was cosigned first: the checkpoint counts as accepted once both are written.
        write_atomically(self.path / COSIGNED / str(size), cosigned)
        write_atomically(self.path / ACCEPTED / str(size), checkpoint)

    def fork_record(self) -> str | None:
        forks = self.path / FORKS
        return str(forks) if forks.exists() else None

    def record_fork(self, name: str, evidence: Mapping[str, bytes]) -> str:
        forks = self.path / FORKS
        forks.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=forks))
        for file, content in evidence.items():
            write_atomically(staging / file, content)
        target, n = forks / name, 1
        while target.exists():
            n += 1
            target = forks / f"{name}.{n}"
        os.replace(staging, target)
        _sync_directory(forks)
        return str(target)


class PublishedDirectory:
    """The ledger's publication, as a directory (``--published DIR``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return str(self.path)

    def checkpoint_sizes(self) -> list[int]:
        return _sizes(self.path / "checkpoints")

    def proof_sizes(self) -> list[tuple[int, int]]:
        folder = self.path / "consistency"
        if not folder.is_dir():
            return []
        found = (_PAIR.fullmatch(p.name) for p in folder.iterdir())
        return sorted((int(m[1]), int(m[2])) for m in found if m)

    def checkpoint(self, size: int) -> bytes | None:
        return _read(self.path / "checkpoints" / str(size))

    def consistency(self, old: int, new: int) -> bytes | None:
        return _read(self.path / "consistency" / f"{old}-{new}")


def publication_of(checkpoint: Path) -> Path | None:
    """The publication a checkpoint file was taken from, if its path says so:
    ``DIR/checkpoint`` or ``DIR/checkpoints/<size>``."""
    if checkpoint.name == "checkpoint":
        return checkpoint.parent
    if checkpoint.parent.name == "checkpoints" and _SIZE.fullmatch(checkpoint.name):
        return checkpoint.parent.parent
    return None
