"""The ledger application: records batches of facts with their upstream position.

``BloodLedger`` is an ``eventsourcing`` application whose recorder is a
*process recorder*: every batch of new events is inserted in one transaction
together with tracking records (``Tracking(upstream, position)``) naming
where in each upstream — a Kafka partition — the batch ends. A batch replayed
after a crash is therefore recognised from the database alone, even when the
Kafka offset commit was lost (``shared/notes/eventsourcing-library.md`` §1.11).

The application is configured only by the environment it is given (its
store's, see :mod:`ledger.adapters.persistence`), never by the process's:
an operator's stray variable cannot change what is recorded or where.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import ApplicationRecorder, JSONTranscoder, Tracking, Transcoder
from eventsourcing.utils import Environment, EnvType

from ledger.domain.donation import Donation, Workspace, donation_id, record_fact, unit_record
from ledger.domain.facts import ReportedFact
from ledger.domain.unit import BloodUnit, UnitRecord, unit_id
from ledger.services.eventlog import EventLog
from ledger.services.ports import Checkpoint, LedgerRecorder

#: How many recently written aggregates are kept in memory by default.
DEFAULT_CACHE_SIZE = 2000


@dataclass(frozen=True)
class BatchOutcome:
    """What recording one batch did."""

    facts: int
    duplicates: int
    events: int


class BloodLedger(Application[UUID]):
    """Blood units and donations, and where each upstream has been read to."""

    name = "bloodledger"

    def __init__(
        self,
        env: EnvType,
        *,
        transcoder: JSONTranscoder | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._transcoder = transcoder if transcoder is not None else JSONTranscoder()
        self.cache_size = cache_size
        self.recent: OrderedDict[UUID, Donation | BloodUnit] = OrderedDict()
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
    ) -> BatchOutcome:
        """Record a batch of facts, and upstream positions, in one transaction.

        Duplicates (an ``event_id`` already recorded where the fact belongs)
        are no-ops. If any tracking position was already recorded, the
        library raises ``IntegrityError`` and nothing is written. ``also``
        names further aggregates (a lookback case) saved in the same transaction.
        """
        workspace = self._workspace(facts)
        duplicates = sum(0 if record_fact(fact, workspace) else 1 for fact in facts)
        events = [e for agg in [*workspace.aggregates(), *also] for e in agg.collect_events()]
        if events or trackings or checkpoints:
            self.events.put(events, trackings=list(trackings), checkpoints=list(checkpoints))
        self._remember(workspace.aggregates())
        return BatchOutcome(facts=len(facts), duplicates=duplicates, events=len(events))

    def _workspace(self, facts: Sequence[ReportedFact]) -> Workspace:
        """The batch's aggregates: those kept in memory, the rest read in one query."""
        wanted = {donation_id(f.din) for f in facts} | {
            unit_id(f.din, f.product_code) for f in facts if f.product_code is not None
        }
        missing = wanted - self.recent.keys()
        found = self.event_log.aggregates(sorted(missing))
        absent = missing - found.keys()

        def load(aggregate_id: UUID) -> Donation | BloodUnit | None:
            if aggregate_id in absent:
                return None
            kept = self.recent.pop(aggregate_id, None)
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
        for aggregate in aggregates:
            self.recent[aggregate.id] = aggregate
        while len(self.recent) > self.cache_size:
            self.recent.popitem(last=False)

    def checkpoint(self, partition_key: str) -> Checkpoint | None:
        """Where a Kafka partition was read to (offset and fingerprint of that record)."""
        return self.ledger_recorder.checkpoint(partition_key)

    def position(self, upstream: str) -> int | None:
        """The last upstream position recorded (e.g. a Kafka partition's offset)."""
        return self.ledger_recorder.max_tracking_id(upstream)

    def donation(self, din: str) -> Donation | None:
        found = self.load(donation_id(din))
        return found if isinstance(found, Donation) else None

    def units_of(self, din: str, product_code: str | None = None) -> list[UnitRecord]:
        """The units of a donation (or the one named), in order of first appearance,
        each with its donation's facts."""
        donation = self.donation(din)
        if donation is None:
            return []
        codes = [product_code] if product_code else donation.product_codes
        found = self.event_log.aggregates([unit_id(din, code) for code in codes])
        units = [found.get(unit_id(din, code)) for code in codes]
        return [unit_record(u, donation) for u in units if isinstance(u, BloodUnit)]
