"""Every store gives the answers the domain gives: memory, SQLite and PostgreSQL.

The unit tests check the rules on the domain alone
(:class:`tests.domain_ledger.DomainLedger`); here the same facts go through
the application, the transcoder and each backend's recorder, and every
unit's history and state must read back exactly as the domain folds them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ledger.services.application import BloodLedger
from ledger.services.history import history_json
from simulator import DemoConfig, generate
from tests.domain_ledger import DomainLedger
from tests.unit.test_unit_state import FLAG_STORIES

STREAM = generate(DemoConfig(seed=31, days=12, hospitals=2, donations_per_day=6))


def _without_recording_times(document: dict[str, Any]) -> dict[str, Any]:
    for unit in document["units"]:
        del unit["state"]["flags_known_since"]
        for entry in [*unit["events"], *unit["findings"]]:
            entry.pop("recorded_at", None)
            entry.pop("known_since", None)
    return document


def _histories(ledger: BloodLedger | DomainLedger, dins: list[str]) -> dict[str, Any]:
    return {din: _without_recording_times(history_json(ledger.units_of(din))) for din in dins}


def test_a_stream_and_every_flag_story_read_back_as_the_domain_folds_them(
    ledger: BloodLedger,
) -> None:
    # One DIN per flag story (the stories all use the builders' default DIN).
    told = [
        replace(fact, din=f"S319926{number:06d}")
        for number, story in enumerate(FLAG_STORIES.values())
        for fact in story().facts
    ]
    facts = [*STREAM.facts, *told]
    domain = DomainLedger()
    for start in range(0, len(facts), 300):
        batch = facts[start : start + 300]
        assert ledger.record(batch).duplicates == domain.record(batch).duplicates
    dins = list(dict.fromkeys(f.din for f in facts))
    assert _histories(ledger, dins) == _histories(domain, dins)
    assert len(dins) > 50
