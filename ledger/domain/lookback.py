"""Lookback cases: a donor found infectious, and everything made from their blood.

A case is an aggregate of its own (one per case id). Opening it records who
and why; the quarantines it causes are ``UnitQuarantined`` facts carrying the
case id, appended to each unit's stream, with event ids derived from the case
and the unit so that opening the same case twice quarantines nothing twice.

Which units a case acts on is decided from each unit's status (pure):
in stock anywhere -> quarantine; transfused (or being) -> notify recipients;
discarded -> accounted for; in transit or at a ward -> not yet accounted for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from ledger.domain.events import LookbackOpened
from ledger.domain.unit import NAMESPACE
from ledger.domain.unit_state import Status

#: Default lookback window before the trigger (FDA 610.46/610.47 HIV/HCV rule).
DEFAULT_WINDOW_DAYS = 365

#: Statuses of a unit the case quarantines (it is somewhere a person could take it).
IN_STOCK: frozenset[str] = frozenset(
    {Status.PRODUCED, Status.AVAILABLE, Status.QUARANTINED, Status.IN_TRANSIT, Status.DISPENSED}
)
#: Statuses whose recipients must be notified.
CONSUMED: frozenset[str] = frozenset({Status.IN_TRANSFUSION, Status.TRANSFUSED})
#: Statuses with a final disposition other than transfusion.
DISPOSED: frozenset[str] = frozenset({Status.DISCARDED})
#: In stock, but where the unit physically is, is not confirmed by a fact.
UNCONFIRMED: frozenset[str] = frozenset({Status.IN_TRANSIT, Status.DISPENSED})


def case_aggregate_id(case_id: str) -> UUID:
    return uuid.uuid5(NAMESPACE, f"lookback/{case_id}")


def quarantine_event_id(case_id: str, din: str, product_code: str) -> str:
    """Derived, so a case quarantines each unit at most once."""
    return str(uuid.uuid5(NAMESPACE, f"lookback-quarantine/{case_id}/{din}/{product_code}"))


def manual_case_id(donor_id: str, since: datetime, reason: str) -> str:
    """The same donor, start and reason name the same case."""
    digest = uuid.uuid5(NAMESPACE, f"manual/{donor_id}/{since.isoformat()}/{reason}").hex[:10]
    return f"LB-{digest.upper()}"


def automatic_case_id(din: str) -> str:
    """The case a reactive donation opens: one per donation."""
    return f"LB-AUTO-{din}"


@dataclass(frozen=True)
class CaseRequest:
    """What opening a case needs: the fields of its ``LookbackOpened`` event."""

    case_id: str
    donor_id: str
    reason: str
    since: datetime
    until: datetime
    trigger_din: str | None
    actor: str


class LookbackCase(BaseAggregate[UUID]):
    """Who is looked back on, from when, why, and what triggered it."""

    TOPIC = "bloodledger:LookbackCase"

    def __init__(
        self,
        case_id: str,
        donor_id: str,
        reason: str,
        since: datetime,
        until: datetime,
        trigger_din: str | None,
        actor: str,
    ) -> None:
        self.case_id = case_id
        self.donor_id = donor_id
        self.reason = reason
        self.since = since
        self.until = until
        self.trigger_din = trigger_din
        self.actor = actor

    @classmethod
    def open(cls, request: CaseRequest) -> LookbackCase:
        return cls._create(LookbackOpened, id=case_aggregate_id(request.case_id), **vars(request))
