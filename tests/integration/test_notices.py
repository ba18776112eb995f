"""Recall notices on both durable stores and the real broker: the hand-built
multi-hospital case gives exactly its notices, recorded in the quarantine's own
transaction, published keyed by facility and read back by an independent client, never
twice after restarts, and the recipient sealed at rest on a protected store."""

from __future__ import annotations

import heapq
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import PersistenceError

from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.postgres import PostgresLedgerRecorder
from ledger.bootstrap import ReadModels, notice_relay, open_read_models_of
from ledger.domain.identity import IdentityKey, generate_master_key, is_sealed
from ledger.domain.notice import is_ledger_quarantine
from ledger.services.ports import OutboxEntry
from simulator import DemoConfig, generate
from tests.builders import RBC
from tests.integration.notice_support import Published, read_notices
from tests.integration.support import publish_facts, run_ingest
from tests.notice_story import CRYO, ISSUED_AT, PATIENT, Notice, RecallStory, recall_story

#: A stream with many reactive donations whose donors gave before (lookbacks), late
#: hospital facts and re-sends.
REACTIVE_STREAM = DemoConfig(
    seed=5, days=21, hospitals=3, donations_per_day=15, repeat_donor_share=0.8, reactive_rate=0.15
)


def notices_topic(broker: EmbeddedBroker) -> str:
    name = f"notices-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {name: 3})
    return name


def summary(entries: Sequence[OutboxEntry]) -> set[Notice]:
    return {
        (n.din, n.product_code, n.facility, n.action, n.patient_id)
        for n in (e.notice for e in entries)
    }


def published_summary(records: Sequence[Published]) -> set[Notice]:
    return {
        (n["din"], n["product_code"], n["facility"], n["action"], n["patient_id"])
        for n in (r.notice for r in records)
    }


@pytest.fixture
def story() -> RecallStory:
    return recall_story()


def recorded(url: str, story: RecallStory, **keywords: Any) -> ReadModels:
    """The store with the story recorded and its read models current: the automatic
    lookback has opened the case and quarantined the earlier donation's units."""
    models = open_read_models_of(store_for(url), **keywords)
    models.ledger.record(story.facts)
    models.projector.catch_up()
    return models


@pytest.fixture
def models(durable_store_url: str, story: RecallStory) -> Iterator[ReadModels]:
    opened = recorded(durable_store_url, story)
    yield opened
    opened.close()


def test_the_multi_hospital_case_gives_exactly_its_notices(
    models: ReadModels, story: RecallStory
) -> None:
    entries = models.ledger.ledger_recorder.notice_outbox().entries()
    assert summary(entries) == story.expected()  # nothing for the unit discarded before
    assert len(entries) == len(story.expected())
    assert {e.notice.case_id for e in entries} == {story.case_id}
    assert {e.notice.issued_at for e in entries} == {ISSUED_AT}
    assert [e.position for e in entries] == sorted(e.position for e in entries)
    assert all(e.sent_at is None for e in entries)
    assert models.ledger.ledger_recorder.notice_outbox().of_case(story.case_id) == entries
    by_facility = models.ledger.ledger_recorder.notice_outbox().entries(facility="S3103")
    assert summary(by_facility) == {n for n in story.expected() if n[2] == "S3103"}


def _fail_after_writing(recorder: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the database fail the recorder's transaction once everything of it is
    written (PostgreSQL inserts the events last; SQLite's ``_insert_events`` writes the
    whole batch): a statement the database refuses, on the transaction's own cursor."""
    postgres = isinstance(recorder, PostgresLedgerRecorder)
    name = "_insert_stored_events" if postgres else "_insert_events"
    refused = "SELECT 1 / 0" if postgres else "SELECT json('injected: not JSON')"
    original = getattr(recorder, name)

    def written_then_refused(cursor: Any, *args: Any, **kwargs: Any) -> Any:
        written = original(cursor, *args, **kwargs)
        cursor.execute(refused)
        return written

    monkeypatch.setattr(recorder, name, written_then_refused)


def test_a_notice_is_written_in_the_transaction_of_its_quarantine(
    durable_store_url: str, story: RecallStory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_read_models_of(store_for(durable_store_url)) as models:
        recorder = models.ledger.ledger_recorder
        outbox = recorder.notice_outbox()
        _fail_after_writing(recorder, monkeypatch)
        with pytest.raises(PersistenceError):
            models.ledger.record(story.facts)
        assert models.ledger.event_log.head() == 0  # no quarantine...
        assert outbox.entries() == []  # ...and no notice
        monkeypatch.undo()
        models.ledger.record(story.facts)
        quarantined = {
            (unit.din, unit.product_code)
            for din in (story.earlier.din, story.reactive.din)
            for unit in models.ledger.units_of(din)
            if any(is_ledger_quarantine(fact) for fact in unit.unit.facts)
        }
        assert quarantined == {(story.reactive.din, RBC), (story.reactive.din, CRYO)}
        assert {(e.notice.din, e.notice.product_code) for e in outbox.entries()} == quarantined


def test_the_relay_publishes_each_notice_keyed_by_its_facility(
    models: ReadModels, story: RecallStory, broker: EmbeddedBroker
) -> None:
    topic = notices_topic(broker)
    relay = notice_relay(models.ledger, broker.bootstrap, topic)
    try:
        assert relay.tick() == len(story.expected())
    finally:
        relay.close()
    records = read_notices(broker.bootstrap, topic, at_least=len(story.expected()))
    assert published_summary(records) == story.expected()
    assert len(records) == len(story.expected())
    assert all(r.key == r.notice["facility"] and r.schema_id == 3 for r in records)
    assert {r.notice["issued_at"] for r in records} == {ISSUED_AT}
    outbox = models.ledger.ledger_recorder.notice_outbox()
    assert {r.notice["notice_id"] for r in records} == {
        e.notice.notice_id for e in outbox.entries()
    }
    assert outbox.pending(100) == [] and all(e.sent_at for e in outbox.entries())


def test_no_notice_twice_after_restarts(
    durable_store_url: str, story: RecallStory, broker: EmbeddedBroker
) -> None:
    topic = notices_topic(broker)
    with recorded(durable_store_url, story) as models:
        before = models.ledger.ledger_recorder.notice_outbox().entries()
        relay = notice_relay(models.ledger, broker.bootstrap, topic)
        assert relay.tick() == len(before)
        relay.close()
    for _ in range(2):  # the same facts again, the lookbacks again, a new relay each time
        with recorded(durable_store_url, story) as models:
            models.ledger.record(story.case_quarantines())
            models.projector.catch_up()
            after = models.ledger.ledger_recorder.notice_outbox().entries()
            assert [(e.position, e.notice) for e in after] == [
                (e.position, e.notice) for e in before
            ]
            relay = notice_relay(models.ledger, broker.bootstrap, topic)
            assert relay.tick() == 0
            relay.close()
    assert len(read_notices(broker.bootstrap, topic, at_least=len(before))) == len(before)


def test_the_recipient_is_sealed_at_rest_and_named_only_in_the_notice(
    durable_store_url: str, story: RecallStory, broker: EmbeddedBroker
) -> None:
    key = IdentityKey(generate_master_key())
    with recorded(durable_store_url, story, identity_key=key) as models:
        stored = store_for(durable_store_url).notice_outbox()  # the rows, as stored
        try:
            [row] = [e for e in stored.entries() if e.notice.patient_id is not None]
            assert is_sealed(row.notice.patient_id)
            assert PATIENT not in repr(stored.entries())
        finally:
            stored.close()
        topic = notices_topic(broker)
        relay = notice_relay(models.ledger, broker.bootstrap, topic)
        relay.tick()
        relay.close()
    records = read_notices(broker.bootstrap, topic, at_least=len(story.expected()))
    assert published_summary(records) == story.expected()  # P000001 in the clear, there only


def test_ingest_relays_the_notices_of_its_batches_and_of_the_lookbacks(
    durable_store_url: str, story: RecallStory, broker: EmbeddedBroker, topic: str
) -> None:
    notices = notices_topic(broker)
    publish_facts(broker.bootstrap, topic, story.facts)
    done = run_ingest(
        broker.bootstrap, topic, durable_store_url, "--project", "--notices-topic", notices
    )
    assert done.returncode == 0, done.stderr
    records = read_notices(broker.bootstrap, notices, at_least=len(story.expected()))
    assert published_summary(records) == story.expected()
    assert len({r.notice["notice_id"] for r in records}) == len(story.expected())


def test_the_same_facts_give_the_same_notices_however_they_are_batched(tmp_path: Path) -> None:
    """A simulated stream (late hospital facts, re-sends, reactive donations) with hand-built
    recalls woven in by time: small batches with the lookbacks after each, or one large
    batch and the lookbacks at the end, seconds apart — the same outbox (the wall clock
    is in none of it)."""
    stories = [recall_story(number) for number in range(5)]
    story_facts = sorted((f for s in stories for f in s.facts), key=lambda f: f.occurred_at)
    simulated = generate(REACTIVE_STREAM).facts
    facts = list(heapq.merge(simulated, story_facts, key=lambda f: f.occurred_at))
    outboxes = []
    for size, project_each in ((97, True), (len(facts), False)):
        with open_read_models_of(store_for(f"sqlite:///{tmp_path}/{size}.db")) as models:
            for start in range(0, len(facts), size):
                models.ledger.record(facts[start : start + size])
                if project_each:
                    models.projector.catch_up()
            models.projector.catch_up()
            entries = models.ledger.ledger_recorder.notice_outbox().entries()
            outboxes.append({e.notice for e in entries})
        time.sleep(1)
    assert len(outboxes[0]) > 5 * len(stories[0].expected())
    ours = {(n.din, n.product_code, n.facility, n.action, n.patient_id) for n in outboxes[0]}
    assert set().union(*(story.expected() for story in stories)) <= ours
    assert outboxes[0] == outboxes[1]
