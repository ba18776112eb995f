"""Lookback cases: a donor found infectious, and everything made from their blood.

A case is an aggregate of its own (one per case id). Opening it records who
and why; the quarantines it causes are ``UnitQuarantined`` facts carrying the
case id, appended to each unit's stream, with event ids derived from the case
and the unit so that opening the same case twice quarantines nothing twice.

A case quarantines every unit of the donor's donations in its window,
whatever the unit's status (a quarantine after a transfusion changes nothing
but the record): that set only grows as facts arrive, so the quarantines are
a function of the facts alone, the same whenever and in whatever order they
are ingested. The report then sorts the units by status: in stock anywhere
-> quarantined; transfused (or being) -> recipients to notify; discarded ->
accounted for; in transit or at a ward -> not yet accounted for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from ledger.domain.events import LookbackOpened
from ledger.domain.facts import ReportedFact
from ledger.domain.unit import LEDGER_ACTOR, NAMESPACE
from ledger.domain.unit_state import Status
from ledger.domain.vocabulary import EventType

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


def quarantine_event_id(
    case_id: str, din: str, product_code: str, result_event_id: str | None = None
) -> str:
    """Derived, so a case quarantines each unit at most once for each of its causes: a
    manual case once; an automatic case once per reactive result of its donation."""
    if result_event_id is None:
        name = f"lookback-quarantine/{case_id}/{din}/{product_code}"
    else:
        name = f"lookback-quarantine/{case_id}/{result_event_id}/{din}/{product_code}"
    return str(uuid.uuid5(NAMESPACE, name))


@dataclass(frozen=True)
class Cause:
    """Why a case quarantines units, and when: a reactive result of the case's donation
    (an automatic case), or the opening of a manual case (``result_event_id`` None)."""

    occurred_at: datetime
    result_event_id: str | None = None
    test: str | None = None


def case_quarantine(
    case_id: str, reason: str, actor: str, cause: Cause, din: str, product_code: str
) -> ReportedFact:
    """The ``UnitQuarantined`` a case appends to one unit: a pure function of the case,
    its cause and the unit, so every store derives exactly the same fact.

    It occurs when its cause did, never when the ledger happened to run; it is
    reported at the facility that collected the donation (the DIN's FIN), which,
    unlike where the unit is now, no later fact can change.
    """
    why = f"{cause.test} reactive on donation" if cause.test else reason
    return ReportedFact(
        event_id=quarantine_event_id(case_id, din, product_code, cause.result_event_id),
        event_type=EventType.UnitQuarantined,
        occurred_at=cause.occurred_at,
        source_system=LEDGER_ACTOR,
        facility=din[:5],
        actor=actor,
        din=din,
        product_code=product_code,
        payload={"reason": f"LOOKBACK {case_id}: {why}", "case_id": case_id},
    )


def manual_case_id(donor_id: str, since: datetime, reason: str) -> str:
    """The same donor, start and reason name the same case."""
    digest = uuid.uuid5(NAMESPACE, f"manual/{donor_id}/{since.isoformat()}/{reason}").hex[:10]
    return f"LB-{digest.upper()}"


def automatic_case_id(din: str) -> str:
    """The case a reactive donation opens: one per donation."""
    return f"LB-AUTO-{din}"


def automatic_case(
    din: str, donor_id: str, collected_at: datetime, window: timedelta
) -> CaseRequest:
    """The case the ledger opens for a reactive donation whose donor is known: the
    donor's donations in the window before it. Nothing in it depends on which of
    the donation's reactive results arrived first."""
    return CaseRequest(
        case_id=automatic_case_id(din),
        donor_id=donor_id,
        reason=f"reactive infectious marker on donation {din}",
        since=collected_at - window,
        until=collected_at,
        trigger_din=din,
        actor=LEDGER_ACTOR,
    )


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
        return cls._create(
            LookbackOpened,
            id=case_aggregate_id(request.case_id),
            case_id=request.case_id,
            donor_id=request.donor_id,
            reason=request.reason,
            since=request.since,
            until=request.until,
            trigger_din=request.trigger_din,
            actor=request.actor,
        )
