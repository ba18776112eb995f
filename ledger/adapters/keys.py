"""Key files: the audit log's signing key and verifier key, on disk.

``DIR/skey`` holds the signing key (``PRIVATE+KEY+...``, readable by its owner
only) and ``DIR/vkey`` the verifier key a regulator is given. The signing key
is found with ``--key DIR`` or ``BLOODLEDGER_AUDIT_KEY`` (a directory, or the
key text itself), so a container can take it from a secret.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ledger.domain.note import NoteError, SigningKey, VerifierKey

SKEY = "skey"
VKEY = "vkey"


class KeyFileError(ValueError):
    """A key that cannot be found or read; the message says where it was looked for."""


def write_signing_key(name: str, folder: Path) -> str:
    """A new key named ``name`` in ``folder`` (refusing to replace one); the verifier key."""
    key = SigningKey.generate(name)
    folder.mkdir(parents=True, exist_ok=True)
    skey = folder / SKEY
    if skey.exists():
        raise KeyFileError(f"{skey} exists: a signing key is never overwritten")
    descriptor = os.open(skey, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(key.text() + "\n")
    vkey = key.verifier.text()
    (folder / VKEY).write_text(vkey + "\n")
    return vkey


def load_signing_key(source: str | None) -> SigningKey:
    """The key at ``source``: a directory holding ``skey``, a file, or the key text."""
    if not source:
        raise KeyFileError(
            "no signing key: give --key DIR or set BLOODLEDGER_AUDIT_KEY "
            "(make one with: bloodledger audit keygen --name NAME --out DIR)"
        )
    text = source
    if not source.startswith("PRIVATE+KEY+"):
        path = Path(source)
        path = path / SKEY if path.is_dir() else path
        if not path.is_file():
            raise KeyFileError(f"no signing key at {path}")
        text = path.read_text()
    try:
        return SigningKey.parse(text)
    except NoteError as e:
        raise KeyFileError(f"the signing key is unreadable: {e}") from None


def load_signing_keys(sources: Sequence[str]) -> list[SigningKey]:
    """Every key named: several while a key is rotated (each source may also list
    several, separated by commas, as ``BLOODLEDGER_AUDIT_KEY`` can)."""
    named = [part for source in sources for part in source.split(",") if part.strip()]
    if not named:
        return [load_signing_key(None)]
    keys = [load_signing_key(part.strip()) for part in named]
    if len({k.name for k in keys}) != 1:
        raise KeyFileError("the signing keys of one log share one name (its origin)")
    return keys


def load_verifier_key(path: Path) -> VerifierKey:
    """A verifier key from a file (``vkey``), or a directory holding one."""
    path = path / VKEY if path.is_dir() else path
    try:
        return VerifierKey.parse(path.read_text())
    except OSError as e:
        raise KeyFileError(f"no verifier key at {path}: {e.strerror}") from None
    except NoteError as e:
        raise KeyFileError(f"{path}: {e}") from None
