"""Where checkpoints are published, outside the database: a directory and a Kafka topic.

The directory is what witnesses and regulators read (serve it over HTTPS,
sync it to them, or mount it)::

    DIR/vkey                   the ledger's verifier key
    DIR/checkpoint             the latest signed checkpoint
    DIR/checkpoints/<size>     every checkpoint ever published (cosignatures added)
    DIR/consistency/<m>-<n>    the consistency proof between consecutive checkpoints

Every file is written to a temporary name and renamed, so a reader never sees
half a checkpoint. The topic (``bloodledger.checkpoints``) carries each
signed checkpoint keyed by origin, for systems that follow the ledger.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ledger.domain.note import Note, NoteError, VerifierKey, hash_lines, parse_hash_lines
from ledger.services.ports import SealedCheckpoint

CHECKPOINTS_TOPIC = "bloodledger.checkpoints"


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` at ``path``, all or nothing (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class CheckpointDirectory:
    """A published checkpoint directory (writing, for the sealer; reading, for checks)."""

    def __init__(self, root: Path, vkey: VerifierKey | None = None) -> None:
        self.root = root
        if vkey is not None and not (root / "vkey").exists():
            write_atomically(root / "vkey", (vkey.text() + "\n").encode())

    def publish(
        self, checkpoint: SealedCheckpoint, previous: SealedCheckpoint | None, proof: list[bytes]
    ) -> None:
        if previous is not None and previous.size < checkpoint.size:
            name = f"{previous.size}-{checkpoint.size}"
            write_atomically(self.root / "consistency" / name, hash_lines(proof))
        history = self.root / "checkpoints" / str(checkpoint.size)
        note = checkpoint.note
        if history.exists():  # published before: keep the cosignatures it gathered since
            note = (
                Note.parse(history.read_bytes())
                .with_signatures(Note.parse(checkpoint.note).signatures)
                .encoded()
            )
        write_atomically(history, note)
        latest = self.latest()
        if latest is None or _size(latest) <= checkpoint.size:
            write_atomically(self.root / "checkpoint", note)

    def latest(self) -> bytes | None:
        path = self.root / "checkpoint"
        return path.read_bytes() if path.is_file() else None

    def sizes(self) -> list[int]:
        folder = self.root / "checkpoints"
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())

    def checkpoint(self, size: int) -> bytes:
        return (self.root / "checkpoints" / str(size)).read_bytes()

    def all(self) -> Iterator[tuple[int, bytes]]:
        for size in self.sizes():
            yield size, self.checkpoint(size)

    def consistency(self, old: int, new: int) -> list[bytes] | None:
        path = self.root / "consistency" / f"{old}-{new}"
        return parse_hash_lines(path.read_bytes()) if path.is_file() else None

    def add_signatures(self, size: int, cosigned: Note) -> None:
        """Merge a cosigned copy's signatures into the published checkpoint of ``size``."""
        path = self.root / "checkpoints" / str(size)
        merged = Note.parse(path.read_bytes()).with_signatures(cosigned.signatures).encoded()
        write_atomically(path, merged)
        latest = self.latest()
        if latest is not None and Note.parse(latest).text == cosigned.text:
            write_atomically(self.root / "checkpoint", merged)


def _size(note: bytes) -> int:
    try:
        return int(Note.parse(note).text.split(b"\n")[1])
    except (NoteError, ValueError, IndexError):
        return -1


class KafkaCheckpoints:
    """Each checkpoint on the checkpoints topic, keyed by the log's origin."""

    def __init__(self, bootstrap: str, topic: str = CHECKPOINTS_TOPIC) -> None:
        from ledger.adapters.broker import ensure_topics
        from ledger.adapters.kafka import make_producer

        ensure_topics(bootstrap, {topic: 1})
        self.topic = topic
        self.producer = make_producer(bootstrap)

    def publish(
        self, checkpoint: SealedCheckpoint, previous: SealedCheckpoint | None, proof: list[bytes]
    ) -> None:
        origin = checkpoint.note.split(b"\n", 1)[0]
        headers = [("tree_size", str(checkpoint.size).encode())]
        self.producer.send(self.topic, key=origin, value=checkpoint.note, headers=headers)
        self.producer.flush()

    def close(self) -> None:
        self.producer.close()
