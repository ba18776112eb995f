"""The domain on its own: facts recorded by the aggregates and read back by replay.

No store, no serialisation, no I/O: what :class:`~ledger.services.application.BloodLedger`
does with a recorder, done with a dict of event lists, so unit tests exercise
the aggregates and the unit's state machine directly. Aggregates are always
rebuilt from their events, so the rules are checked on replayed state. The
backends are compared with this in ``tests/integration/test_backend_parity.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger.domain.donation import Donation, Workspace, donation_id, record_fact, unit_record
from ledger.domain.facts import ReportedFact
from ledger.domain.stream import Recorded, fold
from ledger.domain.unit import BloodUnit, UnitRecord, unit_id


@dataclass(frozen=True)
class Outcome:
    facts: int
    duplicates: int
    events: int
    conflicts: int


class DomainLedger:
    """Streams of domain events in memory, appended to one batch at a time."""

    def __init__(self) -> None:
        self.streams: dict[UUID, list[Any]] = {}

    def record(self, facts: Sequence[ReportedFact]) -> Outcome:
        workspace = Workspace(self.load)
        recorded = [record_fact(fact, workspace)[0] for fact in facts]
        events = [e for a in workspace.aggregates() for e in a.collect_events()]
        for event in events:
            self.streams.setdefault(event.originator_id, []).append(event)
        return Outcome(
            len(facts),
            recorded.count(Recorded.REPEAT),
            len(events),
            recorded.count(Recorded.CONFLICT),
        )

    def load(self, aggregate_id: UUID) -> Any:
        events = self.streams.get(aggregate_id)
        return fold(None, events) if events else None

    def donation(self, din: str) -> Donation | None:
        found = self.load(donation_id(din))
        return found if isinstance(found, Donation) else None

    def units_of(self, din: str, product_code: str | None = None) -> list[UnitRecord]:
        donation = self.donation(din)
        if donation is None:
            return []
        codes = [product_code] if product_code else donation.product_codes
        units = [self.load(unit_id(din, code)) for code in codes]
        return [unit_record(u, donation) for u in units if isinstance(u, BloodUnit)]
