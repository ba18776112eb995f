"""Sealing: the log's facts appended to the audit tree, and signed checkpoints published.

The sealer follows the notification log in order. Every ``every`` facts (or,
following, every ``interval`` seconds when there are new ones) it appends
them to the tree and signs a checkpoint, and writes the entries, the tree's
stored nodes, the chains' heads and the checkpoint in one transaction — so a
crash seals a batch wholly or not at all, and the next run resumes at the
first fact not sealed. Only then is the checkpoint published outside the
database (a directory, a Kafka topic): a tree only the store's administrator
can see proves nothing. A checkpoint committed but not yet published (a
crash in between) is published at the next start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from eventsourcing.persistence import IntegrityError, Notification

from ledger.domain import merkle
from ledger.domain.instants import ms
from ledger.domain.leaf import Chains, Leaf, decoded, state_bytes, stream_id, subject_of
from ledger.domain.merkle import StridedNodes, TreeEdge
from ledger.domain.note import Checkpoint, Note, SigningKey
from ledger.services.ports import AuditEntry, AuditStore, SealedCheckpoint

log = logging.getLogger("bloodledger.audit")

DEFAULT_EVERY = 10_000
DEFAULT_INTERVAL_S = 60.0
PAGE = 5_000


class CheckpointPublisher(Protocol):
    """Somewhere outside the database that checkpoints are published to."""

    def publish(
        self, checkpoint: SealedCheckpoint, previous: SealedCheckpoint | None, proof: list[bytes]
    ) -> None:
        """Publish ``checkpoint`` with the consistency ``proof`` from ``previous``
        (idempotent: the same checkpoint may be published again after a crash)."""


class Clock(Protocol):
    def __call__(self) -> float: ...


class NotificationLog(Protocol):
    """The part of the event log the sealer reads (:class:`~ledger.services.eventlog.EventLog`)."""

    def page(self, start: int, limit: int) -> Sequence[Notification]: ...

    def head(self) -> int: ...


@dataclass(frozen=True)
class SealSettings:
    every: int = DEFAULT_EVERY
    interval: float = DEFAULT_INTERVAL_S

    def __post_init__(self) -> None:
        if self.every < 1 or self.interval <= 0:
            raise ValueError("--every must be at least 1 and --interval positive")


@dataclass(frozen=True)
class Sealed:
    """What one call sealed: facts, checkpoints signed, and the tree's size now."""

    facts: int
    checkpoints: int
    size: int


class Sealer:
    """Appends the log's facts to the audit tree and signs checkpoints of it."""

    def __init__(
        self,
        events: NotificationLog,
        store: AuditStore,
        key: SigningKey | Sequence[SigningKey],
        publishers: Sequence[CheckpointPublisher] = (),
        *,
        settings: SealSettings | None = None,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.events = events
        self.store = store
        #: Every key signs each checkpoint (several while a key is being rotated);
        #: they share one name, the log's origin.
        self.keys = [key] if isinstance(key, SigningKey) else list(key)
        if not self.keys or len({k.name for k in self.keys}) != 1:
            raise ValueError("the signing keys of one log share one name: its origin")
        self.publishers = list(publishers)
        self.settings = settings or SealSettings()
        self.clock = clock
        self.monotonic = monotonic
        self._waiting_since: float | None = None
        self._restore()

    def _restore(self) -> None:
        """Resume from the store: tree size, position, right edge, chains."""
        self.size, self.position = self.store.size_and_position()
        self.nodes = StridedNodes(self.store.nodes)
        self.nodes.prefetch(lambda: TreeEdge.restore(self.nodes, self.size))
        self.edge = TreeEdge.restore(self.nodes, self.size)
        self.nodes.known.clear()
        self.chains = Chains(self.store.heads)
        checkpoints = self.store.checkpoints()
        self.last = checkpoints[-1] if checkpoints else None

    @property
    def origin(self) -> str:
        return self.keys[0].name

    def unsealed(self) -> int:
        """Facts recorded but not yet in the tree (the log's head minus the position;
        on PostgreSQL an id burnt by a rolled-back insert counts until passed)."""
        return max(0, self.events.head() - self.position)

    def republish(self) -> None:
        """Publish the last checkpoint again (a crash may have come between its commit
        and its publication; publishing twice is harmless)."""
        if self.last is None:
            return
        checkpoints = self.store.checkpoints()
        previous = checkpoints[-2] if len(checkpoints) > 1 else None
        self._publish(self.last, previous)

    def seal(
        self,
        *,
        stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Sealed:
        """Seal every fact up to the log's head now, a checkpoint every ``every`` facts."""
        facts = checkpoints = 0
        head = self.events.head()
        while self.position < head and not (stop and stop()):
            sealed = self._seal_batch(self.settings.every)
            if not sealed:
                break
            facts, checkpoints = facts + sealed, checkpoints + 1
            if progress is not None:
                progress(self.position, head)
        return Sealed(facts, checkpoints, self.size)

    def follow(self, stop: Callable[[], bool], poll_s: float = 0.5) -> Sealed:
        """Seal as facts arrive until stopped (see :meth:`tick`)."""
        facts = checkpoints = 0
        while not stop():
            sealed = self.tick()
            facts, checkpoints = facts + sealed.facts, checkpoints + sealed.checkpoints
            if not sealed.facts:
                time.sleep(poll_s)
        return Sealed(facts, checkpoints, self.size)

    def tick(self) -> Sealed:
        """Seal if it is due: as soon as ``every`` facts wait, or once ``interval``
        seconds have passed since the first of fewer was seen waiting. What a
        follower calls in its loop, and the ingest and projector after each batch."""
        waiting = self.unsealed()
        now = self.monotonic()
        if not waiting:
            self._waiting_since = None
            return Sealed(0, 0, self.size)
        if self._waiting_since is None:
            self._waiting_since = now
        if waiting < self.settings.every and now - self._waiting_since < self.settings.interval:
            return Sealed(0, 0, self.size)
        facts = checkpoints = 0
        while self.unsealed() >= self.settings.every or (checkpoints == 0 and self.unsealed()):
            sealed = self._seal_batch(self.settings.every)
            if not sealed:
                break
            facts, checkpoints = facts + sealed, checkpoints + 1
        self._waiting_since = now if self.unsealed() else None
        return Sealed(facts, checkpoints, self.size)

    def _seal_batch(self, limit: int) -> int:
        """Append up to ``limit`` facts and sign a checkpoint, in one transaction."""
        notifications = self._read(limit)
        if not notifications:
            return 0
        entries, nodes = self._append(notifications)
        checkpoint = self._sign()
        try:
            self.store.append(entries, nodes, self.chains.flush(), checkpoint)
        except IntegrityError:
            log.warning("audit seal: another sealer appended first; resuming from the store")
            self._restore()
            return 0
        except BaseException:
            self._restore()  # the batch is not in the tree: forget it in memory too
            raise
        previous, self.last = self.last, checkpoint
        self.position = notifications[-1].id
        log.info("audit seal: %d facts, tree size %d", len(entries), self.size)
        self._publish(checkpoint, previous)
        return len(entries)

    def _read(self, limit: int) -> list[Notification]:
        found: list[Notification] = []
        start = self.position + 1
        while len(found) < limit:
            page = self.events.page(start, min(PAGE, limit - len(found)))
            if not page:
                break
            found.extend(page)
            start = page[-1].id + 1
        return found

    def _append(
        self, notifications: Sequence[Notification]
    ) -> tuple[list[AuditEntry], list[tuple[int, int, bytes]]]:
        states = [state_bytes(n.state) for n in notifications]
        subjects = [subject_of(decoded(state)) for state in states]
        self.chains.prepare(k for s in subjects for k in s.keys)
        entries: list[AuditEntry] = []
        nodes: list[tuple[int, int, bytes]] = []

        def finished(level: int, index: int, value: bytes) -> None:
            nodes.append((level, index, value))

        for notification, state, subject in zip(notifications, states, subjects, strict=True):
            index, stream = self.size, stream_id(notification.originator_id)
            links = self.chains.link(index, subject.keys)
            leaf = Leaf(
                stream,
                notification.originator_version,
                notification.topic,
                links,
                state,
            )
            digest = merkle.leaf_hash(leaf.encoded())
            self.edge.append(digest, finished)
            entries.append(
                AuditEntry(
                    index=index,
                    notification_id=notification.id,
                    leaf_hash=digest,
                    links=leaf.link_text(),
                    stream=stream,
                    version=notification.originator_version,
                    topic=notification.topic,
                    din=subject.din,
                    product_code=subject.product_code,
                    facility=subject.facility,
                    actor=subject.actor,
                    occurred_at=ms(subject.occurred_at),
                )
            )
            self.size += 1
        return entries, nodes

    def _sign(self) -> SealedCheckpoint:
        root = self.edge.root()
        note = Note(Checkpoint(self.origin, self.size, root).text()).signed(*self.keys)
        return SealedCheckpoint(self.size, root, note.encoded(), int(self.clock() * 1000))

    def _publish(self, checkpoint: SealedCheckpoint, previous: SealedCheckpoint | None) -> None:
        proof: list[bytes] = []
        if previous is not None and previous.size < checkpoint.size:
            source = StridedNodes(self.store.nodes)
            source.prefetch(
                lambda: merkle.consistency_proof(source, previous.size, checkpoint.size)
            )
            proof = merkle.consistency_proof(source, previous.size, checkpoint.size)
        for publisher in self.publishers:
            publisher.publish(checkpoint, previous, proof)
