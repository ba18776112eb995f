"""Questions people ask of the read models: inventory, trace, alerts, lookbacks.

Every answer is a few indexed queries over the projection tables (each a
method of :class:`~projections.ports.ReadModelStore`, whose SQL lives with
its backend); no aggregate is replayed to answer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.acknowledgement import NoticeLimits, open_at
from ledger.domain.instants import from_ms, iso, iso_ms, ms
from ledger.domain.inventory import (
    AlertLevel,
    AlertPolicy,
    Thresholds,
    daily_use,
    days_of_supply,
)
from projections.ports import ReadModelStore
from projections.rows import Row

GroupKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class InventoryRow:
    """One facility's stock group: its issuable units (``available``, ``units`` and
    the expiring counts), the demand on them, and the alert level ``thresholds``
    give; units reserved for their autologous donor-patient are counted apart
    (``reserved_autologous``) and raise no alert."""

    facility: str
    component: str
    abo: str
    rhd: str
    available: int
    units: float
    expiring_24h: int
    expiring_72h: int
    daily_use: float
    days_of_supply: float | None
    alert: AlertLevel
    centre: bool
    #: What the row was judged by (those of the facility's kind are shown).
    thresholds: Thresholds
    reserved_autologous: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "facility": self.facility,
            "component": self.component,
            "abo": self.abo,
            "rhd": self.rhd,
            "available": self.available,
            "units": round(self.units, 2),
            "expiring_24h": self.expiring_24h,
            "expiring_72h": self.expiring_72h,
            "daily_use": round(self.daily_use, 3),
            "days_of_supply": None
            if self.days_of_supply is None
            else round(self.days_of_supply, 2),
            "alert": self.alert,
            "reserved_autologous": self.reserved_autologous,
            "thresholds": self.thresholds.to_json(centre=self.centre),
        }


def inventory(
    view: ReadModelStore, at: datetime, policy: AlertPolicy, facility: str | None = None
) -> list[InventoryRow]:
    """Stock per facility x component x ABO x RhD at ``at``, with days of supply and alerts."""
    t, in24, in72 = ms(at), ms(at + timedelta(hours=24)), ms(at + timedelta(hours=72))
    stock = view.stock(t, in24, in72, facility)
    uses = view.uses(ms(at - timedelta(days=policy.window_days)), t, facility)
    return _inventory_rows(stock, uses, view.centres(), policy)


def _key(row: Row) -> GroupKey:
    return (row["facility"], row["component"] or "?", row["abo"] or "?", row["rhd"] or "?")


def _inventory_rows(
    stock: list[Row], uses: list[Row], centres: set[str], policy: AlertPolicy
) -> list[InventoryRow]:
    on_shelf = {_key(r): r for r in stock}
    used = {_key(r): int(r["used"]) for r in uses}
    thresholds_of = functools.cache(policy.thresholds)  # a few components, hundreds of rows
    rows = []
    for key in sorted(set(on_shelf) | set(used)):
        shelf = on_shelf.get(key, {})
        available = int(shelf.get("available") or 0)
        use = daily_use(used.get(key, 0), policy.window_days)
        dos = days_of_supply(available, use)
        centre = key[0] in centres
        thresholds = thresholds_of(key[1])
        rows.append(
            InventoryRow(
                *key,
                available=available,
                units=float(shelf.get("units") or 0.0),
                expiring_24h=int(shelf.get("expiring_24h") or 0),
                expiring_72h=int(shelf.get("expiring_72h") or 0),
                daily_use=use,
                days_of_supply=dos,
                alert=thresholds.level(dos, centre=centre),
                centre=centre,
                thresholds=thresholds,
                reserved_autologous=int(shelf.get("reserved_autologous") or 0),
            )
        )
    return rows


def _units_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "din": r["din"],
            "product_code": r["product_code"],
            "component": r["component"],
            "status": r["status"],
            "facility": r["facility"],
            "flags": [f for f in r["flags"].split(",") if f],
        }
        for r in rows
    ]


def _recipients_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "patient_id": r["patient_id"],
            "din": r["din"],
            "product_code": r["product_code"],
            "facility": r["facility"],
            "transfused_at": iso_ms(r["transfused_at"]),
        }
        for r in rows
    ]


def _donations_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "din": r["din"],
            "donor_id": r["donor_id"],
            "donation_type": r["donation_type"],
            "collected_at": iso_ms(r["collected_at"]),
            "facility": r["facility"],
            "reactive": bool(r["reactive_tests"]),
        }
        for r in rows
    ]


def _by_dins(view: ReadModelStore, dins: list[str]) -> tuple[list[Row], list[Row], list[Row]]:
    return view.donations_by_din(dins), view.units_by_din(dins), view.transfusions_by_din(dins)


def _trace_document(
    donations: list[Row], units: list[Row], recipients: list[Row]
) -> dict[str, Any]:
    donors = sorted({r["donor_id"] for r in donations if r["donor_id"]})
    return {
        "donors": donors,
        "donations": _donations_json(donations),
        "units": _units_json(units),
        "recipients": _recipients_json(recipients),
    }


def trace_donor(view: ReadModelStore, donor_id: str) -> dict[str, Any]:
    """Forward: the donor's donations, their units, where each is, who received them."""
    dins = [r["din"] for r in view.donations_of_donor(donor_id)]
    return _trace_document(*_by_dins(view, dins))


def trace_patient(view: ReadModelStore, patient_id: str) -> dict[str, Any]:
    """Backward: the units a patient received, their donations and donors."""
    received = view.transfusions_of_patient(patient_id)
    dins = sorted({r["din"] for r in received})
    donations, units, _ = _by_dins(view, dins)
    unit_ids = {r["unit_id"] for r in received}
    return _trace_document(donations, [u for u in units if u["unit_id"] in unit_ids], received)


def trace_din(view: ReadModelStore, din: str) -> dict[str, Any]:
    """Both ways from a donation: its donor, its units and their recipients."""
    return _trace_document(*_by_dins(view, [din]))


_HOUR = timedelta(hours=1)


def _hours(span: timedelta) -> float:
    return round(span / _HOUR, 2)


def _notice_json(row: Row, at: datetime, limits: NoticeLimits) -> dict[str, Any]:
    """A notice as reports show it: its answer by ``at`` (if one), and if still open
    then, how old it is and whether that is past its limit."""
    issued, answered_at = from_ms(row["issued_at"]), from_ms(row["acknowledged_at"])
    answered = answered_at is not None and answered_at <= at
    still_open = open_at(issued, answered_at, at)
    limit = limits.of(row["action"])
    overdue = still_open and limits.overdue(row["action"], issued, at)
    return {
        "notice_id": row["notice_id"],
        "case_id": row["case_id"],
        "din": row["din"],
        "product_code": row["product_code"],
        "facility": row["facility"],
        "action": row["action"],
        "issued_at": iso_ms(row["issued_at"]),
        "acknowledged": {
            "at": iso_ms(row["acknowledged_at"]),
            "action_taken": row["action_taken"],
            "facility": row["acknowledged_by"],
            "event_id": row["acknowledgement_id"],
        }
        if answered
        else None,
        "open": still_open,
        "age_hours": _hours(at - issued) if still_open else None,
        "limit_hours": _hours(limit),
        "overdue": overdue,
        "overdue_since": iso(issued + limit) if overdue else None,
    }


def _unmatched_json(row: Row) -> dict[str, Any]:
    return {
        "din": row["din"],
        "product_code": row["product_code"],
        "notice_id": row["notice_id"],
        "action_taken": row["action_taken"],
        "facility": row["facility"],
        "at": iso_ms(row["occurred_at"]),
        "event_id": row["event_id"],
        "why": row["why"],
        "why_code": row["why_code"],
        "why_fields": json.loads(row["why_fields"]),
    }


def overdue_notices(
    view: ReadModelStore, at: datetime, limits: NoticeLimits
) -> list[dict[str, Any]]:
    """Notices open at ``at`` and older than their limit then, oldest first."""
    notices = [_notice_json(row, at, limits) for row in view.open_notices(ms(at))]
    return [notice for notice in notices if notice["overdue"]]


def alerts(
    view: ReadModelStore,
    at: datetime,
    policy: AlertPolicy,
    since: datetime | None = None,
    limits: NoticeLimits | None = None,
) -> list[dict[str, Any]]:
    """Safety flags raised on units, recall notices open past their limit,
    acknowledgements that closed no notice, and inventory rows in alert, newest first.

    An overdue notice, like low stock, is a condition at ``at`` (whenever it was
    issued): its entry is dated when it became overdue, and ``since`` does not hide it.
    """
    limits = limits or NoticeLimits()
    entries = _finding_entries(view.findings_between(ms(since) or 0, ms(at)))
    entries.extend(_conditions(view, at, policy, since, limits))
    return _newest_first(entries)


@dataclass(frozen=True)
class AlertList:
    """The newest entries of an alert list, and how many it holds in all."""

    entries: list[dict[str, Any]]
    total: int


def newest_alerts(
    view: ReadModelStore,
    at: datetime,
    policy: AlertPolicy,
    most: int,
    since: datetime | None = None,
    limits: NoticeLimits | None = None,
    facility: str | None = None,
) -> AlertList:
    """The first ``most`` entries of :func:`alerts` — of those naming ``facility``, if
    given — and how many there are, without making the others: the safety findings
    (the many) are counted, and only the newest ``most`` read. The rest is made whole
    (the stock's alerts are at ``at``, the newest there are). A finding's entry names
    no facility (a unit's flag, wherever it was), so one facility's list holds none."""
    limits = limits or NoticeLimits()
    start, end = ms(since) or 0, ms(at)
    rest = _conditions(view, at, policy, since, limits, facility)
    if facility is not None:
        rest = [e for e in rest if e.get("facility") == facility]
        entries, findings = rest, 0
    else:
        entries = _finding_entries(view.findings_between(start, end, most)) + rest
        findings = view.count_findings_between(start, end)
    return AlertList(_newest_first(entries)[:most], findings + len(rest))


def _finding_entries(findings: Sequence[Row]) -> list[dict[str, Any]]:
    """Safety findings as alert entries, in their order."""
    return [
        {
            "kind": "SAFETY_FLAG",
            "at": iso_ms(r["occurred_at"]),
            "flag": r["flag"],
            "din": r["din"],
            "product_code": r["product_code"],
            "event_id": r["event_id"],
            "detail": r["detail"],
            "detail_code": r["detail_code"],
            "detail_fields": json.loads(r["detail_fields"]),
        }
        for r in findings
    ]


def _conditions(
    view: ReadModelStore,
    at: datetime,
    policy: AlertPolicy,
    since: datetime | None,
    limits: NoticeLimits,
    facility: str | None = None,
) -> list[dict[str, Any]]:
    """The entries besides the safety flags: notices open past their limit,
    acknowledgements that closed no notice, and stock in alert (``facility``'s only,
    if given: the others' entries are then left to the caller to drop)."""
    entries: list[dict[str, Any]] = [
        {"kind": "OPEN_NOTICE", "at": n["overdue_since"], **n}
        for n in overdue_notices(view, at, limits)
    ]
    entries.extend(
        {"kind": "UNMATCHED_ACKNOWLEDGEMENT", **_unmatched_json(r)}
        for r in view.unmatched_between(ms(since) or 0, ms(at))
    )
    shelves = inventory(view, at, policy, facility)
    stock = [row for row in shelves if row.alert != AlertLevel.GREEN]
    entries.extend({"kind": "INVENTORY", "at": iso_ms(ms(at)), **row.to_json()} for row in stock)
    return entries


def _newest_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries by when, newest first; those of one moment in the order given."""
    entries.sort(key=lambda e: e["at"] or "", reverse=True)
    return entries


class LookbackIndex:
    """What a lookback finds in the read models (the service layer's ``DonorIndex``)."""

    def __init__(self, view: ReadModelStore) -> None:
        self.view = view

    def donor_units(
        self, donor_id: str, since: datetime, until: datetime
    ) -> tuple[list[Row], list[Row]]:
        """A donor's donations collected in [since, until] and their units."""
        donations = self.view.donations_of_donor(donor_id, ms(since), ms(until))
        return donations, self.view.units_by_din([r["din"] for r in donations])

    def donors_units(self, donors: Sequence[str]) -> tuple[list[Row], list[Row]]:
        """Every donation of these donors and their units."""
        donations = self.view.donations_of_donors(donors)
        return donations, self.view.units_by_din([r["din"] for r in donations])

    def recipients_of(self, unit_ids: Sequence[str]) -> list[dict[str, Any]]:
        return _recipients_json(self.view.transfusions_of_units(unit_ids))

    def donors_of(self, dins: Sequence[str]) -> set[str]:
        return self.view.donors_of(dins)

    def reactive_donations(self, donors: Sequence[str] | None = None) -> list[Row]:
        return self.view.reactive_donations(donors)

    def cases(self, donors: Sequence[str] | None = None) -> list[Row]:
        return self.view.cases(donors)

    def reactive_results(self, dins: Sequence[str]) -> list[Row]:
        return self.view.reactive_results(dins)

    def case(self, case_id: str) -> Row | None:
        return self.view.case(case_id)

    def notices_of_case(
        self, case_id: str, at: datetime, limits: NoticeLimits
    ) -> list[dict[str, Any]]:
        return [_notice_json(row, at, limits) for row in self.view.notices_of_case(case_id)]

    def unmatched_acknowledgements(self, unit_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [_unmatched_json(row) for row in self.view.unmatched_acknowledgements(unit_ids)]
