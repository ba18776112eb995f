"""The same facts always give the same ledger, whenever and however they are ingested.

One stream — late arrivals, re-sends, reactive donations whose donors gave
before — is ingested into SQLite with the read models kept current after
every small batch, and seconds later into PostgreSQL in large batches and
projected afterwards. Every unit's history (recording times aside), the
inventory at several moments and every lookback case must be identical: what
the ledger derives (quarantines, cases) depends on the facts alone.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_read_models_of
from ledger.domain.inventory import AlertPolicy
from ledger.services import lookback
from ledger.services.history import history_json
from projections import queries
from simulator import DemoConfig, generate
from tests.integration.support import publish_facts, run_cli, run_ingest

STREAM = DemoConfig(seed=12, days=21, hospitals=2, donations_per_day=10, repeat_donor_share=0.7)

#: Fields that say when the ledger recorded or learned something: they differ by design.
RECORDING_TIMES = {"recorded_at", "known_since", "opened_at", "flags_known_since", "sent_at"}


def _without_recording_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_recording_times(v) for k, v in value.items() if k not in RECORDING_TIMES
        }
    if isinstance(value, list):
        return [_without_recording_times(v) for v in value]
    return value


#: The moment the lookback reports age open recall notices at (after every stream's end).
REPORTED_AT = datetime(2030, 1, 1, tzinfo=UTC)


def _answers(url: str, dins: list[str], moments: list[Any]) -> dict[str, Any]:
    with open_read_models_of(store_for(url)) as models:
        models.projector.catch_up()
        return _without_recording_times(
            {
                "histories": {din: history_json(models.ledger.units_of(din)) for din in dins},
                "inventory": [
                    [row.to_json() for row in queries.inventory(models.view, m, AlertPolicy())]
                    for m in moments
                ],
                "cases": {
                    case_id: models.lookbacks.report(case_id, REPORTED_AT)
                    for case_id in models.view.case_ids()
                },
            }
        )


def test_two_stores_fed_the_same_stream_at_different_times_agree(
    broker: EmbeddedBroker, topic: str, sqlite_url: str, pg_url: str
) -> None:
    stream = generate(STREAM)
    publish_facts(broker.bootstrap, topic, stream.facts)
    first = run_ingest(broker.bootstrap, topic, sqlite_url, "--project", "--batch-size", "97")
    assert first.returncode == 0, first.stdout + first.stderr
    time.sleep(2)  # the wall clock moves on: nothing derived may follow it
    second = run_ingest(broker.bootstrap, topic, pg_url, "--batch-size", "2000")
    assert second.returncode == 0, second.stdout + second.stderr

    dins = sorted({f.din for f in stream.facts})
    start = min(f.occurred_at for f in stream.facts)
    moments = [start + timedelta(days=d, hours=7) for d in (3, 8, 13, 18, 25)]
    sqlite, postgres = _answers(sqlite_url, dins, moments), _answers(pg_url, dins, moments)
    assert len(sqlite["cases"]) >= 2, "the stream should make the ledger open lookbacks"
    lookback_quarantines = [
        event
        for document in sqlite["histories"].values()
        for unit in document["units"]
        for event in unit["events"]
        if event["event_type"] == "UnitQuarantined" and event["case_id"]
    ]
    assert lookback_quarantines, "the lookbacks should quarantine earlier donations' units"
    assert sqlite == postgres

    # The same through the commands an investigator types.
    case_id = sorted(sqlite["cases"])[0]
    show = ("lookback", "show", case_id, "--json", "--as-of", REPORTED_AT.isoformat())
    shown = [json.loads(run_cli(*show, "--store", url).stdout) for url in (sqlite_url, pg_url)]
    assert _without_recording_times(shown[0]) == _without_recording_times(shown[1])


def test_cases_recorded_one_per_transaction_or_many_together_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The automatic policy records its cases in groups; the group size changes nothing."""
    stream = generate(STREAM)
    answers = []
    for per_transaction in (1, lookback.CASES_PER_TRANSACTION):
        monkeypatch.setattr(lookback, "CASES_PER_TRANSACTION", per_transaction)
        url = f"sqlite:///{tmp_path}/ledger-{per_transaction}.db"
        with open_read_models_of(store_for(url)) as models:
            for start in range(0, len(stream.facts), 500):
                models.ledger.record(stream.facts[start : start + 500])
            models.projector.catch_up()  # one policy run at the end, every donor at once
        answers.append(_answers(url, [], []))
    assert len(answers[0]["cases"]) >= 2
    assert answers[0] == answers[1]
