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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.application import BloodLedger
from ledger.domain.donation import Donation
from ledger.domain.events import Fact, is_reactive
from ledger.domain.facts import ReportedFact
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
from projections import queries
from projections.projector import Projector
from projections.rows import Row, from_ms, iso_ms

log = logging.getLogger("bloodledger.lookback")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Lookbacks:
    """Opens lookback cases and reports on them."""

    def __init__(
        self,
        ledger: BloodLedger,
        projector: Projector,
        *,
        window_days: int = DEFAULT_WINDOW_DAYS,
        clock: Clock = utc_now,
    ) -> None:
        self.ledger = ledger
        self.projector = projector
        self.view = projector.view
        self.window = timedelta(days=window_days)
        self.clock = clock
        self._cases: set[str] = set()

    def open(self, request: CaseRequest, *, catch_up: bool = True) -> int:
        """Open (or re-open) a case; returns how many units it newly quarantined.

        ``catch_up=False`` when called from inside the projector (the policy),
        whose read models are current up to the page it is processing.
        """
        if catch_up:
            self.projector.catch_up()
        quarantined = self._open(request, self._case_exists(request.case_id))
        if catch_up:
            self.projector.catch_up()
        return quarantined

    def _open(self, request: CaseRequest, exists: bool) -> int:
        _, units = queries.donor_units(self.view, request.donor_id, request.since, request.until)
        facts = [self._quarantine(request, unit) for unit in units if _needs(request, unit)]
        case = None if exists else LookbackCase.open(request)
        if not facts and case is None:
            return 0
        outcome = self.ledger.record(facts, also=[case] if case else [])
        self._cases.add(request.case_id)
        return outcome.facts - outcome.duplicates

    def _case_exists(self, case_id: str) -> bool:
        """Cases are never removed, so one that was seen once is remembered."""
        if case_id not in self._cases and self.ledger.load(case_aggregate_id(case_id)):
            self._cases.add(case_id)
        return case_id in self._cases

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

    def open_for_reactive(self, donations: Sequence[Donation], units: Sequence[Row]) -> None:
        """The ledger's own policy: a reactive donation with a known donor opens a case.

        Called again whenever the projector changes the donation or its units
        (a page can end inside the batch that brought them), so a unit of the
        case that comes to light later is quarantined too. ``units`` are the
        unit rows the page wrote: an open case is only looked at again when
        one of its trigger donation's units is in stock and not yet quarantined.
        """
        by_din: dict[str, list[Row]] = {}
        for unit in units:
            by_din.setdefault(unit["din"], []).append(unit)
        for donation in donations:
            request = self._automatic_request(donation)
            if request is None:
                continue
            exists = self._case_exists(request.case_id)
            changed = by_din.get(donation.din, [])
            if exists and not any(_needs(request, unit) for unit in changed):
                continue
            quarantined = self._open(request, exists)
            if not exists or quarantined:
                log.info("lookback %s: %d units quarantined", request.case_id, quarantined)

    def _automatic_request(self, donation: Donation) -> CaseRequest | None:
        collected = _first(donation.facts, EventType.DonationCollected)
        reactive = next((f for f in donation.facts if is_reactive(f)), None)
        if collected is None or reactive is None:
            return None  # no donor known yet: the case opens when the collection is reported
        return CaseRequest(
            case_id=automatic_case_id(donation.din),
            donor_id=collected.donor_id,  # type: ignore[attr-defined]
            reason=f"{reactive.test} reactive on donation {donation.din}",  # type: ignore[attr-defined]
            since=collected.occurred_at - self.window,
            until=collected.occurred_at,
            trigger_din=donation.din,
            actor=LEDGER_ACTOR,
        )

    def report(self, case_id: str) -> dict[str, Any] | None:
        """What the case found: quarantined, consumed, recipients, and what is unknown."""
        self.projector.catch_up()
        case = queries.case(self.view, case_id)
        if case is None:
            return None
        since, until = from_ms(case["since"]), from_ms(case["until"])
        assert since is not None and until is not None
        donations, units = queries.donor_units(self.view, case["donor_id"], since, until)
        return _report(
            case, donations, units, queries.recipients_of(self.view, [u["unit_id"] for u in units])
        )


def _needs(request: CaseRequest, unit: Row) -> bool:
    """A unit in stock that the case has not quarantined yet."""
    return unit["status"] in IN_STOCK and request.case_id not in unit["case_ids"].split(",")


def _first(facts: Sequence[Fact], event_type: str) -> Fact | None:
    return next((f for f in facts if event_type == f.EVENT_TYPE), None)


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
