"""Lookback: a donor's earlier donations traced, their units quarantined, recipients listed.

Opening a case (by hand, or by the ledger itself when a donation turns
REACTIVE) finds the donor's donations in the window from the read models,
appends a ``UnitQuarantined`` carrying the case id to every unit still in
stock anywhere, and saves the case — all in one transaction. Event ids are
derived from the case and the unit, so opening the same case again
quarantines nothing twice. The report is computed from the read models when
asked for, so it reflects what is known now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain.facts import ReportedFact
from ledger.domain.instants import from_ms, iso_ms
from ledger.domain.lookback import (
    CONSUMED,
    DEFAULT_WINDOW_DAYS,
    DISPOSED,
    IN_STOCK,
    UNCONFIRMED,
    CaseRequest,
    LookbackCase,
    automatic_case_id,
    case_aggregate_id,
    quarantine_event_id,
)
from ledger.domain.unit import LEDGER_ACTOR
from ledger.domain.vocabulary import EventType
from ledger.services.application import BloodLedger
from ledger.services.ports import DonorIndex, Row

log = logging.getLogger("bloodledger.lookback")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CaseRecorder:
    """Records a case (if new) and a quarantine for each of its units in stock, at once.

    Works from the read models as they are: callers make them current first.
    """

    def __init__(self, ledger: BloodLedger, index: DonorIndex, clock: Clock = utc_now) -> None:
        self.ledger = ledger
        self.index = index
        self.clock = clock

    def record(self, request: CaseRequest) -> int:
        """Returns how many units the case newly quarantined."""
        exists = self.ledger.load(case_aggregate_id(request.case_id)) is not None
        _, units = self.index.donor_units(request.donor_id, request.since, request.until)
        facts = [self._quarantine(request, unit) for unit in units if _needs(request, unit)]
        if exists and not facts:
            return 0
        outcome = self.ledger.record(facts, also=[] if exists else [LookbackCase.open(request)])
        return outcome.facts - outcome.duplicates

    def _quarantine(self, request: CaseRequest, unit: Row) -> ReportedFact:
        return ReportedFact(
            event_id=quarantine_event_id(request.case_id, unit["din"], unit["product_code"]),
            event_type=EventType.UnitQuarantined,
            occurred_at=self.clock(),
            source_system=LEDGER_ACTOR,
            facility=unit["facility"] or unit["production_facility"] or unit["din"][:5],
            actor=request.actor,
            din=unit["din"],
            product_code=unit["product_code"],
            payload={
                "reason": f"LOOKBACK {request.case_id}: {request.reason}",
                "case_id": request.case_id,
            },
        )


class AutomaticLookbacks:
    """The ledger's own policy: every reactive donation whose donor is known has a case."""

    def __init__(self, cases: CaseRecorder, *, window_days: int = DEFAULT_WINDOW_DAYS) -> None:
        self.cases = cases
        self.window = timedelta(days=window_days)

    def open_missing_cases(self) -> bool:
        """Open the cases of reactive donations that have none; whether anything was recorded.

        The projector calls it when it reaches the end of the log — the end of
        a batch, so the read models hold all of the batch's units (a page can
        end inside a batch). Opening quarantines the donor's units in stock
        then. A case opens once: projecting the log again finds nothing to do.
        """
        opened = False
        for donation in self.cases.index.reactive_donations_without_case():
            request = self._request(donation)
            quarantined = self.cases.record(request)  # the read models are current: at the head
            log.info("lookback %s opened: %d units quarantined", request.case_id, quarantined)
            opened = True
        return opened

    def _request(self, donation: Row) -> CaseRequest:
        collected_at = from_ms(donation["collected_at"])
        first_test = donation["reactive_tests"].split(",")[0]
        return CaseRequest(
            case_id=automatic_case_id(donation["din"]),
            donor_id=donation["donor_id"],
            reason=f"{first_test} reactive on donation {donation['din']}",
            since=collected_at - self.window,
            until=collected_at,
            trigger_din=donation["din"],
            actor=LEDGER_ACTOR,
        )


class Lookbacks:
    """The investigator's use cases: open a case, report on one."""

    def __init__(self, cases: CaseRecorder, catch_up: Callable[[], object]) -> None:
        self.cases = cases
        self.index = cases.index
        self.catch_up = catch_up

    def open(self, request: CaseRequest) -> int:
        """Open (or re-open) a case; returns how many units it newly quarantined."""
        self.catch_up()
        quarantined = self.cases.record(request)
        self.catch_up()
        return quarantined

    def report(self, case_id: str) -> dict[str, Any] | None:
        """What the case found: quarantined, consumed, recipients, and what is unknown."""
        self.catch_up()
        case = self.index.case(case_id)
        if case is None:
            return None
        since, until = from_ms(case["since"]), from_ms(case["until"])
        donations, units = self.index.donor_units(case["donor_id"], since, until)
        recipients = self.index.recipients_of([u["unit_id"] for u in units])
        return _report(case, donations, units, recipients)


def _needs(request: CaseRequest, unit: Row) -> bool:
    """A unit in stock that the case has not quarantined yet."""
    return unit["status"] in IN_STOCK and request.case_id not in unit["case_ids"].split(",")


def _fate(unit: Row) -> str:
    status = unit["status"].lower().replace("_", " ")
    return f"{status}; where it is now is not confirmed by any fact"


def _unit_json(unit: Row) -> dict[str, Any]:
    return {
        "din": unit["din"],
        "product_code": unit["product_code"],
        "component": unit["component"],
        "status": unit["status"],
        "facility": unit["facility"],
        "in_transit_to": unit["in_transit_to"],
    }


def _report(
    case: Row, donations: list[Row], units: list[Row], recipients: list[dict[str, Any]]
) -> dict[str, Any]:
    case_id = case["case_id"]
    quarantined = [u for u in units if case_id in u["case_ids"].split(",")]
    unaccounted = [
        u
        for u in units
        if u["status"] in UNCONFIRMED or u["status"] not in IN_STOCK | CONSUMED | DISPOSED
    ]
    with_units = {u["din"] for u in units}
    undetermined = [
        f"donation {d['din']}: no component of it has been reported"
        for d in donations
        if d["din"] not in with_units
    ]
    undetermined += [f"unit {u['din']} {u['product_code']}: {_fate(u)}" for u in unaccounted]
    undetermined.append(
        "donations whose collection was never reported cannot be attributed to this donor"
    )
    return {
        "case_id": case_id,
        "donor_id": case["donor_id"],
        "reason": case["reason"],
        "since": iso_ms(case["since"]),
        "until": iso_ms(case["until"]),
        "trigger_din": case["trigger_din"],
        "opened_by": case["actor"],
        "opened_at": iso_ms(case["opened_at"]),
        "donations": [
            {"din": d["din"], "collected_at": iso_ms(d["collected_at"])} for d in donations
        ],
        "units_quarantined": [_unit_json(u) for u in quarantined],
        "units_consumed": [_unit_json(u) for u in units if u["status"] in CONSUMED],
        "units_disposed": [_unit_json(u) for u in units if u["status"] in DISPOSED],
        "recipients_to_notify": recipients,
        "units_not_accounted_for": [_unit_json(u) for u in unaccounted],
        "undetermined": undetermined,
    }
