"""A unit's history: its facts in real-world order and its state, as JSON or text.

Used by ``bloodledger history`` and the demo. ``as_of`` replays only the
facts that had occurred by then, so an investigator sees the unit as it
stood at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.domain.events import Fact
from ledger.domain.unit import UnitRecord
from ledger.domain.unit_state import in_occurred_order


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else value


def fact_json(fact: Fact) -> dict[str, Any]:
    """One history entry: envelope fields, then the payload's fields."""
    entry: dict[str, Any] = {
        "event_id": fact.event_id,
        "event_type": fact.EVENT_TYPE,
        "occurred_at": _iso(fact.occurred_at),
        "recorded_at": _iso(fact.timestamp),
        "facility": fact.facility,
        "source_system": fact.source_system,
        "actor": fact.actor,
    }
    entry.update({name: _jsonable(value) for name, value in fact.payload.items()})
    return entry


def unit_json(unit: UnitRecord, as_of: datetime | None = None) -> dict[str, Any]:
    facts = [f for f in in_occurred_order(unit.facts) if as_of is None or f.occurred_at <= as_of]
    state = unit.state(as_of)
    return {
        "din": unit.din,
        "product_code": unit.product_code,
        "state": state.to_json(),
        "findings": [
            {
                "flag": f.flag,
                "event_id": f.event_id,
                "occurred_at": _iso(f.occurred_at),
                "detail": f.detail,
            }
            for f in state.findings
        ],
        "events": [fact_json(f) for f in facts],
    }


def history_json(units: Sequence[UnitRecord], as_of: datetime | None = None) -> dict[str, Any]:
    """The ``history --json`` document."""
    document: dict[str, Any] = {"units": [unit_json(unit, as_of) for unit in units]}
    if as_of is not None:
        document["as_of"] = _iso(as_of)
    return document


def _payload_text(entry: dict[str, Any]) -> str:
    skip = {
        "event_id",
        "event_type",
        "occurred_at",
        "recorded_at",
        "facility",
        "source_system",
        "actor",
    }
    return " ".join(f"{k}={v}" for k, v in entry.items() if k not in skip and v is not None)


def history_text(document: dict[str, Any]) -> str:
    """A readable timeline per unit, flags first."""
    lines: list[str] = []
    if "as_of" in document:
        lines.append(f"As of {document['as_of']} (facts occurred by then)")
    for unit in document["units"]:
        state = unit["state"]
        group = " ".join(str(x) for x in (state["abo"], state["rhd"]) if x)
        lines.append("")
        component = state["component"] or "?"
        lines.append(f"Unit {unit['din']} {unit['product_code']}  {component} {group}".rstrip())
        transit = state["in_transit_to"]
        where = f"in transit to {transit}" if transit else state["facility"]
        lines.append(
            f"  status {state['status']} at {where or '?'}; expires {state['expires_at'] or '?'}"
        )
        for finding in unit["findings"]:
            lines.append(f"  !! {finding['flag']}: {finding['detail']} ({finding['occurred_at']})")
        for entry in unit["events"]:
            lines.append(
                f"  {entry['occurred_at']:<25} {entry['facility']:<6} {entry['event_type']:<24} "
                f"{_payload_text(entry)}".rstrip()
            )
    if not document["units"]:
        lines.append("No units recorded for this DIN.")
    return "\n".join(lines)
