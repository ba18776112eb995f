"""Rows of the read models, computed from one aggregate (pure).

Every projection table is keyed by the aggregate it comes from, so a change
to an aggregate replaces that aggregate's rows as a whole: the rows are a
function of the aggregate's facts, never an increment on earlier rows. That
is what makes an incremental projection equal to a rebuild from scratch.
Instants are stored as epoch milliseconds (UTC), the same in SQLite and
PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.domain.donation import Donation
from ledger.domain.events import is_reactive
from ledger.domain.lookback import LookbackCase
from ledger.domain.unit import UnitRecord
from ledger.domain.unit_state import Status, UnitState, in_occurred_order, timeline
from ledger.domain.vocabulary import EventType

Row = dict[str, Any]


def ms(moment: datetime | None) -> int | None:
    """Epoch milliseconds of an instant (``None`` stays ``None``)."""
    return None if moment is None else int(moment.timestamp() * 1000)


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def iso_ms(value: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC text (``Z``), for JSON documents."""
    moment = from_ms(value)
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class UnitRows:
    """Everything the read models hold about one unit."""

    unit_id: str
    unit: Row
    available: list[Row] = field(default_factory=list)
    uses: list[Row] = field(default_factory=list)
    transfusions: list[Row] = field(default_factory=list)
    findings: list[Row] = field(default_factory=list)


def unit_rows(unit: UnitRecord) -> UnitRows:
    states = timeline(unit.din, unit.product_code, unit.facts)
    final = states[-1][1] if states else unit.state()
    unit_id = unit.id.hex
    production = next(
        (f.facility for f in unit.facts if EventType.ComponentProduced == f.EVENT_TYPE), None
    )
    rows = UnitRows(unit_id=unit_id, unit=_unit_row(unit_id, unit, final, production))
    rows.available = _available_intervals(unit_id, states)
    rows.uses = _uses(unit_id, unit, final, production)
    rows.transfusions = [
        {
            "event_id": f.event_id,
            "unit_id": unit_id,
            "din": unit.din,
            "product_code": unit.product_code,
            "patient_id": f.patient_id,  # type: ignore[attr-defined]
            "facility": f.facility,
            "transfused_at": ms(f.occurred_at),
        }
        for f in unit.facts
        if EventType.TransfusionStarted == f.EVENT_TYPE
    ]
    rows.findings = [
        {
            "unit_id": unit_id,
            "din": unit.din,
            "product_code": unit.product_code,
            "flag": finding.flag,
            "event_id": finding.event_id,
            "occurred_at": ms(finding.occurred_at),
            "detail": finding.detail,
        }
        for finding in final.findings
    ]
    return rows


def _unit_row(unit_id: str, unit: UnitRecord, state: UnitState, production: str | None) -> Row:
    case_ids = [
        f.case_id  # type: ignore[attr-defined]
        for f in unit.facts
        if EventType.UnitQuarantined == f.EVENT_TYPE and f.case_id  # type: ignore[attr-defined]
    ]
    return {
        "unit_id": unit_id,
        "din": unit.din,
        "product_code": unit.product_code,
        "status": state.status,
        "facility": state.facility,
        "in_transit_to": state.in_transit_to,
        "component": state.component,
        "abo": state.abo,
        "rhd": state.rhd,
        "units": state.units,
        "expires_at": ms(state.expires_at),
        "flags": ",".join(state.flags),
        "case_ids": ",".join(dict.fromkeys(case_ids)),
        "production_facility": production,
    }


def _available_intervals(unit_id: str, states: list[tuple[datetime, UnitState]]) -> list[Row]:
    """The periods the unit was on a shelf, released and not quarantined."""
    rows: list[Row] = []
    for index, (start, state) in enumerate(states):
        if state.status != Status.AVAILABLE or state.facility is None:
            continue
        end = states[index + 1][0] if index + 1 < len(states) else None
        rows.append(
            {
                "unit_id": unit_id,
                "facility": state.facility,
                "component": state.component,
                "abo": state.abo,
                "rhd": state.rhd,
                "units": state.units,
                "expires_at": ms(state.expires_at),
                "valid_from": ms(start),
                "valid_to": ms(end),
            }
        )
    return rows


def _uses(unit_id: str, unit: UnitRecord, state: UnitState, production: str | None) -> list[Row]:
    """Demand: a hospital uses a unit when it starts transfusing it; a blood
    centre when it issues a unit it produced."""
    ordered = in_occurred_order(unit.facts)
    started = next((f for f in ordered if EventType.TransfusionStarted == f.EVENT_TYPE), None)
    issued = next(
        (f for f in ordered if EventType.UnitIssued == f.EVENT_TYPE and f.facility == production),
        None,
    )
    base = {"unit_id": unit_id, "component": state.component, "abo": state.abo, "rhd": state.rhd}
    return [
        {**base, "facility": fact.facility, "used_at": ms(fact.occurred_at), "kind": kind}
        for fact, kind in ((started, "TRANSFUSED"), (issued, "ISSUED"))
        if fact is not None
    ]


def donation_row(donation: Donation) -> Row:
    collected = next(
        (f for f in donation.facts if EventType.DonationCollected == f.EVENT_TYPE), None
    )
    reactive = [f for f in in_occurred_order(donation.facts) if is_reactive(f)]
    return {
        "din": donation.din,
        "donor_id": collected.donor_id if collected else None,  # type: ignore[attr-defined]
        "donation_type": collected.donation_type if collected else None,  # type: ignore[attr-defined]
        "collected_at": ms(collected.occurred_at) if collected else None,
        "facility": collected.facility if collected else None,
        "reactive_at": ms(reactive[0].occurred_at) if reactive else None,
        "reactive_tests": ",".join(dict.fromkeys(f.test for f in reactive)),  # type: ignore[attr-defined]
    }


def case_row(case: LookbackCase) -> Row:
    return {
        "case_id": case.case_id,
        "donor_id": case.donor_id,
        "reason": case.reason,
        "since": ms(case.since),
        "until": ms(case.until),
        "trigger_din": case.trigger_din,
        "actor": case.actor,
        "opened_at": ms(case.created_on),
    }
