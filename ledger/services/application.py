"""The ledger application: records batches of facts with their upstream position.

``BloodLedger`` is an ``eventsourcing`` application whose recorder is a
*process recorder*: every batch of new events is inserted in one transaction
together with tracking records (``Tracking(upstream, position)``) naming
where in each upstream — a Kafka partition — the batch ends. A batch replayed
after a crash is therefore recognised from the database alone, even when the
Kafka offset commit was lost (``shared/notes/eventsourcing-library.md`` §1.11).

The recall notices a batch's own quarantines call for (:mod:`ledger.domain.notice`) are
derived with the batch and inserted in its transaction (the outbox): a notice exists
exactly when its quarantine does, and :mod:`.relay` sends it.

The application is configured only by the environment it is given (its
store's, see :mod:`ledger.adapters.persistence`), never by the process's:
an operator's stray variable cannot change what is recorded or where.

Donor and patient identifiers are sealed here, before anything else sees a
fact (:attr:`BloodLedger.identities`, :mod:`ledger.domain.identity`): every
writer — the Kafka ingest, lookbacks, the demo, tests — records sealed
identifiers in a protected ledger, and the domain and the read models work on
them unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Tracking,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType

from ledger.domain.donation import Donation, Workspace, donation_id, record_fact, unit_record
from ledger.domain.events import Fact
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import CLEAR, Identities, IdentityKey, is_sealed
from ledger.domain.lookback import LookbackCase
from ledger.domain.notice import RecallNotice, is_ledger_quarantine, recall_notices
from ledger.domain.protection import PROTECTION_ID, IdentityProtection
from ledger.domain.stream import FactStream, Recorded
from ledger.domain.unit import BloodUnit, UnitRecord, unit_id
from ledger.services.eventlog import EventLog
from ledger.services.ports import FACT_INDEX, Checkpoint, FactId, LedgerRecorder
from ledger.services.recent import RecentAggregates

log = logging.getLogger("bloodledger.ledger")

#: How many recently written aggregates are kept in memory by default.
DEFAULT_CACHE_SIZE = 2000
#: Events the kept aggregates may hold between them, for each one they may number.
EVENTS_PER_KEPT = 30


@dataclass(frozen=True)
class Conflict:
    """A fact refused: its ``event_id`` is taken by a different fact, stored (or being
    stored in the same batch) at ``first``, a fact about ``din`` / ``product_code``."""

    fact: ReportedFact
    first: FactId
    din: str
    product_code: str | None


@dataclass(frozen=True)
class Batch:
    """A batch of facts applied to its aggregates in memory, not yet stored."""

    facts: int
    duplicates: int
    conflicts: list[Conflict]
    events: list[Any]
    fact_ids: list[FactId]
    aggregates: list[Any]
    #: The recall notices its new quarantines call for (stored with its events).
    notices: list[RecallNotice] = field(default_factory=list)


@dataclass(frozen=True)
class BatchOutcome:
    """What recording one batch did."""

    facts: int
    duplicates: int
    events: int
    conflicts: list[Conflict] = field(default_factory=list)


class IdentitiesWithheld(ValueError):
    """A protected ledger opened without its key was asked to record something."""


class WithheldIdentities(Identities):
    """A protected ledger opened without its key (to read stored bytes, e.g. for an
    audit): identifiers stay sealed, and nothing can be sealed, so nothing is recorded."""

    def __init__(self) -> None:
        super().__init__(None)

    @property
    def protected(self) -> bool:
        return True

    def seal(self, kind: str, value: str) -> str:
        raise IdentitiesWithheld(_WITHHELD)

    def sealed_fact(self, fact: ReportedFact) -> ReportedFact:
        raise IdentitiesWithheld(_WITHHELD)


_WITHHELD = (
    "this ledger's identifiers are encrypted and it was opened without its cipher key: "
    "it records nothing"
)


def _fact_id(fact: Fact) -> FactId:
    return FactId(fact.event_id, fact.originator_id, fact.originator_version)


def _notices(events: Sequence[Any], workspace: Workspace) -> list[RecallNotice]:
    """The notices of every unit the batch quarantines (the ledger's own quarantines),
    from each unit's facts as the batch leaves them: recorded in the batch's
    transaction, so a notice exists exactly when its quarantine does."""
    quarantined = {e.originator_id: e.din for e in events if is_ledger_quarantine(e)}
    notices: list[RecallNotice] = []
    for stream, din in quarantined.items():
        unit = workspace.stream(stream)
        if isinstance(unit, BloodUnit):
            notices += recall_notices(unit_record(unit, workspace.donation(din)))
    return notices


def stream_of(fact: ReportedFact) -> UUID:
    """The stream a reported fact belongs in: its unit's, or its donation's."""
    if fact.product_code is None:
        return donation_id(fact.din)
    return unit_id(fact.din, fact.product_code)


class BloodLedger(Application[UUID]):
    """Blood units and donations, and where each upstream has been read to."""

    name = "bloodledger"

    def __init__(
        self,
        env: EnvType,
        *,
        transcoder: JSONTranscoder | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        identities: Identities = CLEAR,
    ) -> None:
        self._transcoder = transcoder if transcoder is not None else JSONTranscoder()
        self.cache_size = cache_size
        #: How this ledger treats donor and patient identifiers: every fact recorded
        #: is sealed with them first; outputs reveal with them (set when opened).
        self.identities = identities
        #: The aggregates last written, as written: at most ``cache_size`` of them,
        #: holding at most ``EVENTS_PER_KEPT`` events each on average.
        self.recent = RecentAggregates(cache_size, cache_size * EVENTS_PER_KEPT)
        super().__init__(env)
        #: The log, read-only: what the read side is given.
        self.event_log = EventLog(self.ledger_recorder, self.mapper, self.name)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Exactly the environment given (the library would merge ``os.environ``)."""
        return Environment(name, dict(env or {}))

    def construct_transcoder(self) -> Transcoder:
        self.register_transcodings(self._transcoder)
        return self._transcoder

    def construct_recorder(self) -> ApplicationRecorder:
        """The backend's ledger recorder (a process recorder taking whole polls)."""
        recorder = self.factory.process_recorder()
        if not isinstance(recorder, LedgerRecorder):
            msg = f"{type(recorder).__name__} is not a ledger recorder"
            raise TypeError(msg)
        self.ledger_recorder = recorder
        return recorder

    def index_facts(self) -> int:
        """Index a store written before the fact index existed (once); how many facts.

        Every write since keeps the index in its own transaction, so one pass over
        the log, in notification order (the first fact under an id wins), completes
        it. A store whose log already reuses an id in two streams keeps the first;
        ``reconcile`` names the others.
        """
        if self.position(FACT_INDEX) is not None:
            return 0
        fact_ids: list[FactId] = []
        start = 1
        while page := self.event_log.page(start, 5000):
            for notification in page:
                event = self.event_log.decode(notification)
                if isinstance(event, Fact):
                    fact_ids.append(
                        FactId(event.event_id, event.originator_id, event.originator_version)
                    )
            start = page[-1].id + 1
        try:
            self.ledger_recorder.index_facts(fact_ids)
        except IntegrityError:  # another process completed it at the same moment
            return 0
        reused = len(fact_ids) - len({f.event_id for f in fact_ids})
        if reused:
            log.warning("%d stored facts reuse an event id of another; kept the first", reused)
        return len(fact_ids)

    def protection(self) -> IdentityProtection | None:
        """The store's identity protection (``None``: its identifiers are in the clear)."""
        found = self.load(PROTECTION_ID)
        return found if isinstance(found, IdentityProtection) else None

    def protect(self, key: IdentityKey) -> IdentityProtection:
        """Record that this ledger's identifiers are sealed under ``key`` (its log empty),
        and seal with it from now on; returns the protection stored — this one, or the one
        another process recorded at the same moment (the caller checks it is ``key``'s)."""
        protection = IdentityProtection.protect(key.check)
        try:
            self.events.put(protection.collect_events(), trackings=[], checkpoints=[], fact_ids=[])
        except IntegrityError:  # another process created the store at the same moment
            stored = self.protection()
            if stored is None:
                raise
            return stored
        self.identities = Identities(key)
        return protection

    def load(self, aggregate_id: UUID) -> Any:
        """One aggregate (``None`` if it has no events), read as the log reads them."""
        return self.event_log.aggregates([aggregate_id]).get(aggregate_id)

    def record(
        self,
        facts: Sequence[ReportedFact],
        trackings: Sequence[Tracking] = (),
        *,
        checkpoints: Sequence[Checkpoint] = (),
        also: Sequence[BaseAggregate[UUID]] = (),
        read: Sequence[Donation | BloodUnit] = (),
    ) -> BatchOutcome:
        """Record a batch of facts, and upstream positions, in one transaction.

        Repeats (an ``event_id`` already recorded with the same content) are
        no-ops; conflicts (the same id, different content) are not recorded and
        are returned in the outcome. If any position was already recorded, or an
        event id is taken in another stream, the library raises ``IntegrityError``
        and nothing is written. ``also`` names further aggregates (a lookback
        case) saved in the same transaction; ``read``, aggregates the caller has
        just read from the store, recorded through as they are instead of being
        read again (see :meth:`prepare`).
        """
        batch = self.prepare(facts, also=also, read=read)
        return self.commit(batch, trackings, checkpoints=checkpoints)

    def prepare(
        self,
        facts: Sequence[ReportedFact],
        *,
        also: Sequence[BaseAggregate[UUID]] = (),
        read: Sequence[Donation | BloodUnit] = (),
    ) -> Batch:
        """Apply a batch to its aggregates in memory: what it would store, what it refuses.

        Each fact's identifiers are sealed first (a sealed one stays as it is); a
        conflict names the fact as given, so the caller finds the record it came in.
        The aggregates in ``read`` are used as they are (a bedside check records
        through the unit and donation it has just decided on): one that is no longer
        the stream's last version fails the commit with a version conflict
        (``IntegrityError``), as a stale kept one does, and nothing is written."""
        sealed = self._sealed(facts, also)
        workspace = self._workspace(sealed, read)
        duplicates = 0
        conflicts: list[Conflict] = []
        in_batch: dict[str, UUID] = {}
        for given, fact in zip(facts, sealed, strict=True):
            stream = stream_of(fact)
            elsewhere = in_batch.setdefault(fact.event_id, stream)
            if elsewhere != stream:  # the id is taken by a fact of this batch in another stream
                conflicts.append(self._conflict(given, workspace.stream(elsewhere)))
                continue
            recorded, holder = record_fact(fact, workspace)
            if recorded == Recorded.REPEAT:
                duplicates += 1
            elif recorded == Recorded.CONFLICT:
                conflicts.append(self._conflict(given, holder))
        aggregates = [*workspace.aggregates(), *also]
        events = [e for agg in aggregates for e in agg.collect_events()]
        fact_ids = [
            FactId(e.event_id, e.originator_id, e.originator_version)
            for e in events
            if isinstance(e, Fact)
        ]
        notices = _notices(events, workspace)
        return Batch(
            len(facts), duplicates, conflicts, events, fact_ids, workspace.aggregates(), notices
        )

    def _sealed(
        self, facts: Sequence[ReportedFact], also: Sequence[BaseAggregate[UUID]]
    ) -> list[ReportedFact]:
        """The facts with their identifiers sealed (refused: a ledger opened without its
        key, or a lookback case naming a donor in the clear in a protected ledger)."""
        if isinstance(self.identities, WithheldIdentities):
            raise IdentitiesWithheld(_WITHHELD)
        if self.identities.protected and any(
            isinstance(a, LookbackCase) and not is_sealed(a.donor_id) for a in also
        ):
            msg = "a lookback case of a protected ledger must name its donor sealed"
            raise ValueError(msg)
        return [self.identities.sealed_fact(fact) for fact in facts]

    def commit(
        self,
        batch: Batch,
        trackings: Sequence[Tracking] = (),
        *,
        checkpoints: Sequence[Checkpoint] = (),
    ) -> BatchOutcome:
        """Store a prepared batch with upstream positions, in one transaction."""
        if batch.events or trackings or checkpoints:
            self.events.put(
                batch.events,
                trackings=list(trackings),
                checkpoints=list(checkpoints),
                fact_ids=batch.fact_ids,
                notices=batch.notices,
            )
        self._remember(batch.aggregates)
        return BatchOutcome(batch.facts, batch.duplicates, len(batch.events), batch.conflicts)

    def taken_elsewhere(self, facts: Sequence[ReportedFact]) -> list[Conflict]:
        """Facts whose ``event_id`` is already stored in another stream (one query)."""
        found = self.ledger_recorder.select_fact_ids([f.event_id for f in facts])
        conflicts = []
        for fact in facts:
            first = found.get(fact.event_id)
            if first is not None and first.originator_id != stream_of(fact):
                conflicts.append(self._conflict(fact, self.load(first.originator_id)))
        return conflicts

    @staticmethod
    def _conflict(fact: ReportedFact, holder: FactStream) -> Conflict:
        first = holder.by_id[fact.event_id]
        where = FactId(fact.event_id, first.originator_id, first.originator_version)
        return Conflict(fact, where, first.din, first.product_code)

    def _workspace(
        self, facts: Sequence[ReportedFact], read: Sequence[Donation | BloodUnit] = ()
    ) -> Workspace:
        """The batch's aggregates: those given as ``read``, those kept in memory, the
        rest read in one query."""
        wanted = {donation_id(f.din) for f in facts} | {
            unit_id(f.din, f.product_code) for f in facts if f.product_code is not None
        }
        given = {a.id: a for a in read if a.id in wanted}
        # Not a set operation over the cache: that would hash every key it holds.
        missing = {i for i in wanted if i not in given and i not in self.recent}
        found = {**self.event_log.aggregates(sorted(missing)), **given}
        absent = missing - found.keys()

        def load(aggregate_id: UUID) -> Donation | BloodUnit | None:
            if aggregate_id in absent:
                return None
            kept = self.recent.take(aggregate_id)
            return kept if kept is not None else self.load(aggregate_id)

        workspace = Workspace(load)
        workspace.preload(found)
        return workspace

    def _remember(self, aggregates: Sequence[Donation | BloodUnit]) -> None:
        """Keep what was just written, as written, for the next batch (LRU, bounded).

        Aggregates of a batch that failed are not kept: their in-memory state
        holds events that were never stored. A kept aggregate another process
        has since appended to fails its next write with a version conflict,
        and is then read afresh from the store.
        """
        self.recent.keep(aggregates)

    def checkpoint(self, partition_key: str) -> Checkpoint | None:
        """Where a Kafka partition was read to (offset and fingerprint of that record)."""
        return self.ledger_recorder.checkpoint(partition_key)

    def position(self, upstream: str) -> int | None:
        """The last upstream position recorded (e.g. a Kafka partition's offset)."""
        return self.ledger_recorder.max_tracking_id(upstream)

    def donation(self, din: str, known_at: datetime | None = None) -> Donation | None:
        found = self.event_log.aggregates([donation_id(din)], known_at=known_at)
        donation = found.get(donation_id(din))
        return donation if isinstance(donation, Donation) else None

    def units_of(
        self, din: str, product_code: str | None = None, known_at: datetime | None = None
    ) -> list[UnitRecord]:
        """The units of a donation (or the one named), in order of first appearance,
        each with its donation's facts — only those recorded by ``known_at``, if given."""
        if product_code:
            found = self.unit_and_donation(din, product_code, known_at)
            return [unit_record(*found)] if found is not None else []
        donation = self.donation(din, known_at)
        if donation is None:
            return []
        codes = donation.product_codes
        units = self.event_log.aggregates([unit_id(din, code) for code in codes], known_at=known_at)
        in_order = [units.get(unit_id(din, code)) for code in codes]
        return [unit_record(u, donation) for u in in_order if isinstance(u, BloodUnit)]

    def unit_to_record(self, din: str, product_code: str) -> tuple[BloodUnit, Donation] | None:
        """A unit and its donation as stored now, to decide on and record through
        (:meth:`record`'s ``read``): the copies this ledger kept, taken out (no other
        thread sees them until they are written and kept again), with what was stored
        after them read and applied — or, not kept, read whole. One query either way;
        whatever another process appended is read."""
        ids = [unit_id(din, product_code), donation_id(din)]
        kept = {i: a for i in ids if (a := self.recent.take(i)) is not None}
        found = self.event_log.current(ids, kept)
        unit, donation = found.get(ids[0]), found.get(ids[1])
        if isinstance(unit, BloodUnit) and isinstance(donation, Donation):
            return unit, donation
        return None

    def unit_and_donation(
        self, din: str, product_code: str, known_at: datetime | None = None
    ) -> tuple[BloodUnit, Donation] | None:
        """One unit and its donation, read together from the store (one query),
        optionally as known at ``known_at``."""
        ids = [unit_id(din, product_code), donation_id(din)]
        found = self.event_log.aggregates(ids, known_at=known_at)
        unit, donation = found.get(ids[0]), found.get(ids[1])
        if isinstance(unit, BloodUnit) and isinstance(donation, Donation):
            return unit, donation
        return None
