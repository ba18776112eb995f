"""The in-memory backend (``memory://``): the library's plain-Python recorder, for tests.

Nothing is kept when the process ends, and there are no read models (the
projections need SQL). It keeps the same promises as the SQL backends —
which the library's own contract tests check on all three.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent, Tracking
from eventsourcing.popo import POPOFactory, POPOProcessRecorder
from eventsourcing.utils import get_topic

from ledger.adapters.persistence.base import (
    Checkpoint,
    FactId,
    LedgerRecorder,
    Store,
    checkpoints_of,
    fact_ids_of,
    notices_of,
    trackings_of,
)
from ledger.domain.notice import RecallNotice
from ledger.services.ports import (
    FACT_INDEX,
    AccessEntry,
    AccessTables,
    AuditEntry,
    AuditStore,
    Cosignature,
    NoticeOutbox,
    OutboxEntry,
    SealedCheckpoint,
    TokenExists,
    TokenRecord,
)


class MemoryStore(Store):
    """``memory://``: a store that lives as long as the process."""

    SCHEMES = ("memory",)
    SHARED = False

    def library_env(self) -> dict[str, str]:
        return {"PERSISTENCE_MODULE": get_topic(MemoryLedgerFactory)}

    def exists(self) -> bool:
        return False  # a fresh one each time: there is never anything to read

    def check_writable(self) -> None:
        return

    @property
    def has_read_models(self) -> bool:
        return False

    _access: MemoryAccessTables | None = None

    def access_tables(self) -> AccessTables:
        """The same tables for as long as this store object lives (a server and its
        tests share them)."""
        if self._access is None:
            self._access = MemoryAccessTables()
        return self._access


class MemoryLedgerRecorder(POPOProcessRecorder, LedgerRecorder):
    """The library's in-memory process recorder, taking a whole poll per call."""

    def __init__(self) -> None:
        super().__init__()
        self._checkpoints: dict[str, Checkpoint] = {}
        self._fact_ids: dict[str, FactId] = {}
        self._outbox = MemoryNoticeOutbox(self._database_lock)

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """Every position must exceed the one recorded before it — including one
        recorded earlier in the same call — as a database's tracking table insists."""
        super()._assert_uniqueness(stored_events)
        new_ids = [f.event_id for f in fact_ids_of(kwargs)]
        if len(set(new_ids)) < len(new_ids) or not self._fact_ids.keys().isdisjoint(new_ids):
            msg = "an event id is already recorded"
            raise IntegrityError(msg)
        latest: dict[str, int] = {}
        for tracking in trackings_of(kwargs):
            name = tracking.application_name
            recorded = latest.get(name, self._max_tracking_ids[name])
            if recorded is not None and recorded >= tracking.notification_id:
                msg = (
                    f"Tracking notification ID {tracking.notification_id} of {name} "
                    f"not greater than {recorded}"
                )
                raise IntegrityError(msg)
            latest[name] = tracking.notification_id

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._update_table(stored_events)
        for tracking in trackings_of(kwargs):
            self._insert_tracking(tracking)
        self._checkpoints.update((c.partition_key, c) for c in checkpoints_of(kwargs))
        self._fact_ids.update((f.event_id, f) for f in fact_ids_of(kwargs))
        self._outbox.record(notices_of(kwargs))
        return notification_ids

    def notice_outbox(self) -> NoticeOutbox:
        return self._outbox

    def select_fact_ids(self, event_ids: Sequence[str]) -> dict[str, FactId]:
        with self._database_lock:
            return {i: self._fact_ids[i] for i in event_ids if i in self._fact_ids}

    def index_facts(self, fact_ids: Sequence[FactId]) -> None:
        with self._database_lock:
            for fact_id in fact_ids:
                self._fact_ids.setdefault(fact_id.event_id, fact_id)
            self._insert_tracking(Tracking(FACT_INDEX, 1))

    def checkpoint(self, partition_key: str) -> Checkpoint | None:
        with self._database_lock:
            return self._checkpoints.get(partition_key)

    def select_streams(
        self, originator_ids: Sequence[UUID], up_to: int | None = None
    ) -> list[StoredEvent]:
        """The library keeps each stream's versions as positions in one list of
        all events; a position is its notification id less one."""
        last = 2**63 - 1 if up_to is None else up_to
        with self._database_lock:
            return [
                self._stored_events[position]
                for i in originator_ids
                for position in self._stored_events_index.get(str(i), {}).values()
                if position < last
            ]

    def select_stream_tails(
        self, originator_ids: Sequence[UUID], after: Sequence[int]
    ) -> list[StoredEvent]:
        with self._database_lock:
            return [
                self._stored_events[position]
                for i, version in zip(originator_ids, after, strict=True)
                for stored, position in self._stored_events_index.get(str(i), {}).items()
                if stored > version
            ]


class MemoryNoticeOutbox(NoticeOutbox):
    """The outbox of one in-memory recorder, under its lock (written by
    :meth:`record` from inside the recorder's insert, with the events)."""

    def __init__(self, lock: threading.Lock | threading.RLock) -> None:
        self._lock = lock
        self._entries: list[OutboxEntry] = []
        self._ids: set[str] = set()

    def record(self, notices: Sequence[RecallNotice]) -> None:
        """Append the notices not recorded yet (the caller holds the lock)."""
        for notice in notices:
            if notice.notice_id not in self._ids:
                self._ids.add(notice.notice_id)
                self._entries.append(OutboxEntry(len(self._entries) + 1, notice, None))

    def pending(self, limit: int) -> list[OutboxEntry]:
        with self._lock:
            return [e for e in self._entries if e.sent_at is None][:limit]

    def mark_sent(self, positions: Sequence[int], at: datetime) -> None:
        with self._lock:
            for position in positions:
                entry = self._entries[position - 1]
                if entry.sent_at is None:
                    self._entries[position - 1] = replace(entry, sent_at=at)

    def of_case(self, case_id: str) -> list[OutboxEntry]:
        with self._lock:
            return [e for e in self._entries if e.notice.case_id == case_id]

    def entries(self, *, facility: str | None = None) -> list[OutboxEntry]:
        with self._lock:
            return [e for e in self._entries if facility in (None, e.notice.facility)]

    def close(self) -> None:
        return


class MemoryLedgerFactory(POPOFactory):
    """The library's in-memory factory, making the ledger's recorder."""

    def process_recorder(self) -> ProcessRecorder:
        return MemoryLedgerRecorder()


class MemoryAuditTables(AuditStore):
    """The audit log's tables in memory (for tests of the sealer and the exports;
    a ``memory://`` store is new each time it is opened, so it has none of its own)."""

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._heads: dict[str, int] = {}
        self._checkpoints: dict[int, SealedCheckpoint] = {}
        self._cosignatures: dict[tuple[int, str, int], Cosignature] = {}

    def size_and_position(self) -> tuple[int, int]:
        last = self._entries[-1] if self._entries else None
        return (0, 0) if last is None else (last.index + 1, last.notification_id)

    def heads(self, chains: Sequence[str]) -> dict[str, int]:
        return {k: self._heads[k] for k in chains if k in self._heads}

    def nodes(self, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = {}
        for level, index in wanted:
            if level == 0 and index < len(self._entries):
                found[(0, index)] = self._entries[index].leaf_hash
            elif (level, index) in self._nodes:
                found[(level, index)] = self._nodes[(level, index)]
        return found

    def append(
        self,
        entries: Sequence[AuditEntry],
        nodes: Sequence[tuple[int, int, bytes]],
        heads: Mapping[str, int],
        checkpoint: SealedCheckpoint,
    ) -> None:
        if entries and entries[0].index != len(self._entries):
            raise IntegrityError(f"leaf {entries[0].index} is already in the tree")
        if checkpoint.size in self._checkpoints:
            raise IntegrityError(f"checkpoint {checkpoint.size} is already signed")
        self._entries.extend(entries)
        self._nodes.update({(level, index): value for level, index, value in nodes})
        self._heads.update(heads)
        self._checkpoints[checkpoint.size] = checkpoint

    def checkpoints(self) -> list[SealedCheckpoint]:
        return [self._checkpoints[size] for size in sorted(self._checkpoints)]

    def entries(self, indexes: Sequence[int]) -> list[AuditEntry]:
        return [self._entries[i] for i in sorted(set(indexes)) if 0 <= i < len(self._entries)]

    def entries_between(self, start: int, stop: int) -> list[AuditEntry]:
        return self._entries[start:stop]

    def leaf_hashes(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        return [(e.notification_id, e.leaf_hash) for e in self._entries[start:stop]]

    def entries_where(
        self,
        *,
        din: str | None = None,
        facility: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[AuditEntry]:
        wanted = {"din": din, "facility": facility, "actor": actor}
        if all(v is None for v in wanted.values()):
            raise ValueError("name a DIN, a facility or an actor")
        return [
            e
            for e in self._entries
            if all(v is None or getattr(e, k) == v for k, v in wanted.items())
            and (since is None or (e.occurred_at is not None and e.occurred_at >= since))
            and (until is None or (e.occurred_at is not None and e.occurred_at <= until))
        ]

    def add_cosignatures(self, cosignatures: Sequence[Cosignature]) -> int:
        new = [c for c in cosignatures if (c.size, c.witness, c.key_id) not in self._cosignatures]
        self._cosignatures.update({(c.size, c.witness, c.key_id): c for c in new})
        return len(new)

    def cosignatures(self) -> list[Cosignature]:
        return sorted(self._cosignatures.values(), key=lambda c: (c.size, c.witness))

    def close(self) -> None:
        return


class MemoryAccessTables(AccessTables):
    """Tokens and the access log in memory (the log only ever grows here too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenRecord] = {}
        self._log: list[AccessEntry] = []

    def add_token(
        self,
        name: str,
        role: str,
        facility: str | None,
        token_hash: str,
        created_at: datetime,
    ) -> None:
        with self._lock:
            if name in self._tokens or any(
                t.token_hash == token_hash for t in self._tokens.values()
            ):
                raise TokenExists(name)
            self._tokens[name] = TokenRecord(name, role, facility, token_hash, created_at, None)

    def revoke(self, name: str, at: datetime) -> bool:
        with self._lock:
            found = self._tokens.get(name)
            if found is None or found.revoked_at is not None:
                return False
            self._tokens[name] = replace(found, revoked_at=at)
            return True

    def tokens(self) -> list[TokenRecord]:
        with self._lock:
            return [self._tokens[name] for name in sorted(self._tokens)]

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._lock:
            return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    def append_access(self, entry: AccessEntry) -> int:
        with self._lock:
            self._log.append(replace(entry, id=len(self._log) + 1))
            return len(self._log)

    def access_entries(
        self, *, limit: int = 100, offset: int = 0, since: datetime | None = None
    ) -> list[AccessEntry]:
        with self._lock:
            newest_first = [e for e in reversed(self._log) if since is None or e.at >= since]
        return newest_first[offset : offset + limit]

    def close(self) -> None:
        return
