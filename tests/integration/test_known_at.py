"""What did the ledger know then? Recording time kept beside real-world time, on both stores.

The investigator's classic question: when this unit was transfused, had the
reactive result already reached the ledger? A donation is tested REACTIVE
before its red cells are transfused, but the result reaches the ledger only
afterwards. As of the transfusion the unit was reactive; known at the
transfusion, it was not.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.instants import iso
from ledger.services.history import history_json
from tests.builders import RBC, Timeline, at, din
from tests.integration.support import run_cli

DIN = din(77)


def _now() -> datetime:
    moment = datetime.now(UTC)
    time.sleep(0.05)  # recording times on either side are strictly apart
    return moment


def _record(url: str) -> tuple[datetime, datetime, datetime]:
    """Record the story in two batches; the moments before, between and after them."""
    story = Timeline(din=DIN).transfused_cleanly()
    late = Timeline(din=DIN)
    late.tested(hour=20, test="HIV_NAT", result="REACTIVE")  # before the transfusion (23)
    ledger = open_ledger(store_for(url))
    try:
        before = _now()
        ledger.record(story.facts)
        between = _now()
        ledger.record(late.facts)
        after = _now()
    finally:
        ledger.close()
    return before, between, after


def _history(url: str, *options: str, status: int = 0) -> dict[str, object]:
    result = run_cli("history", DIN, "--product", RBC, "--json", "--store", url, *options)
    assert result.returncode == status, result.stderr  # 1: no unit (known then)
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_history_known_at_shows_only_what_had_been_recorded(durable_store_url: str) -> None:
    before, between, after = _record(durable_store_url)
    transfusion = iso(at(23))
    then = _history(durable_store_url, "--known-at", iso(between), "--as-of", transfusion)
    [unit] = then["units"]  # type: ignore[misc]
    assert then["known_at"] == iso(between)
    assert unit["state"]["flags"] == []  # the ledger did not know yet
    assert unit["state"]["status"] == "IN_TRANSFUSION"
    assert all(event["recorded_at"] <= iso(between) for event in unit["events"])

    known = _history(durable_store_url, "--known-at", iso(after), "--as-of", transfusion)
    [unit] = known["units"]  # type: ignore[misc]
    # It had occurred by then: the unit was reactive, and hung while quarantined.
    assert unit["state"]["flags"] == ["REACTIVE_DONATION", "UNRELEASED_USE"]
    [finding] = [f for f in unit["findings"] if f["flag"] == "REACTIVE_DONATION"]
    assert iso(between) < finding["known_since"] <= iso(after)
    assert unit["state"]["flags_known_since"]["REACTIVE_DONATION"] == finding["known_since"]
    assert finding["occurred_at"] == iso(at(20))

    nothing = _history(durable_store_url, "--known-at", iso(before), status=1)
    assert nothing["units"] == []


def test_recorded_at_and_known_since_in_history_json(durable_store_url: str) -> None:
    _, between, after = _record(durable_store_url)
    ledger = open_ledger(store_for(durable_store_url))
    try:
        [unit] = history_json(ledger.units_of(DIN, RBC))["units"]
    finally:
        ledger.close()
    recorded = {e["event_type"]: e["recorded_at"] for e in unit["events"]}
    assert recorded["TestResultRecorded"] > iso(between) >= recorded["ComponentProduced"]
    assert all(e["recorded_at"] <= iso(after) for e in unit["events"])


def test_trace_inventory_and_alerts_as_the_ledger_knew_them(durable_store_url: str) -> None:
    _, between, after = _record(durable_store_url)
    url = durable_store_url

    def run(*args: str) -> object:
        result = run_cli(*args, "--json", "--store", url)
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)

    then = run("trace", "--din", DIN, "--known-at", iso(between))
    now = run("trace", "--din", DIN)
    assert [d["reactive"] for d in then["donations"]] == [False]  # type: ignore[index]
    assert [d["reactive"] for d in now["donations"]] == [True]  # type: ignore[index]

    moment = iso(at(23) + timedelta(minutes=1))
    alerts_then = run("alerts", "--as-of", moment, "--known-at", iso(between))
    alerts_now = run("alerts", "--as-of", moment, "--known-at", iso(after))
    flags = [[a["flag"] for a in found if a["kind"] == "SAFETY_FLAG"]  # type: ignore[attr-defined]
             for found in (alerts_then, alerts_now)]  # fmt: skip
    assert "REACTIVE_DONATION" not in flags[0]
    assert "REACTIVE_DONATION" in flags[1]

    stock_at = iso(at(12))  # received, on the hospital's shelf
    stock_then = run("inventory", "--as-of", stock_at, "--known-at", iso(between))
    stock_now = run("inventory", "--as-of", stock_at, "--known-at", iso(after))
    available = [sum(r["available"] for r in rows) for rows in (stock_then, stock_now)]  # type: ignore[attr-defined]
    assert available == [1, 1]  # the result occurred at hour 20: at hour 12 both say on shelf
