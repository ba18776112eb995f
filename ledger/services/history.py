"""A unit's history: its facts in real-world order and its state, as a JSON document.

Every fact shows both of its times: ``occurred_at`` (the world) and
``recorded_at`` (when the ledger recorded it); every finding says since when
the ledger knew it. Read with ``known_at``, the units hold only the facts the
ledger had recorded by then: what it knew at that moment.

Used by ``bloodledger history`` and the demo (the text form is in
:mod:`ledger.entrypoints.reports`). ``as_of`` replays only the
facts that had occurred by then, so an investigator sees the unit as it
stood at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.domain.events import Fact
from ledger.domain.instants import iso
from ledger.domain.unit import UnitRecord
from ledger.domain.unit_state import UnitState, in_occurred_order


def _jsonable(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def fact_json(fact: Fact) -> dict[str, Any]:
    """One history entry: envelope fields, then the payload's fields."""
    entry: dict[str, Any] = {
        "event_id": fact.event_id,
        "event_type": fact.EVENT_TYPE,
        "occurred_at": iso(fact.occurred_at),
        "recorded_at": iso(fact.timestamp),
        "facility": fact.facility,
        "source_system": fact.source_system,
        "actor": fact.actor,
    }
    entry.update({name: _jsonable(value) for name, value in fact.payload.items()})
    return entry


def unit_json(unit: UnitRecord, as_of: datetime | None = None) -> dict[str, Any]:
    """A unit's facts (occurred by ``as_of``) in real-world order, its state, and each
    finding with when it occurred and since when the ledger knew it."""
    facts = [f for f in in_occurred_order(unit.facts) if as_of is None or f.occurred_at <= as_of]
    return {**unit_state_json(unit, as_of), "events": [fact_json(f) for f in facts]}


def unit_state_json(
    unit: UnitRecord, as_of: datetime | None = None, state: UnitState | None = None
) -> dict[str, Any]:
    """:func:`unit_json` without the facts (what a bedside answer shows): ``state``, if
    given, is ``unit.state(as_of)`` already evaluated."""
    state = state if state is not None else unit.state(as_of)
    known = unit.known_since(as_of) if state.findings else {}
    flags_known: dict[str, str] = {}
    for finding in state.findings:
        flags_known.setdefault(finding.flag, iso(known[finding]))
    return {
        "din": unit.din,
        "product_code": unit.product_code,
        "state": {**state.to_json(), "flags_known_since": flags_known},
        "findings": [
            {
                "flag": f.flag,
                "event_id": f.event_id,
                "occurred_at": iso(f.occurred_at),
                "known_since": iso(known[f]),
                "detail": f.detail,
                "detail_code": f.said.code,
                "detail_fields": f.said.values(),
            }
            for f in state.findings
        ],
    }


def history_json(
    units: Sequence[UnitRecord],
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``history --json`` document (``units`` read as known at ``known_at``, if given)."""
    document: dict[str, Any] = {"units": [unit_json(unit, as_of) for unit in units]}
    if as_of is not None:
        document["as_of"] = iso(as_of)
    if known_at is not None:
        document["known_at"] = iso(known_at)
    return document
