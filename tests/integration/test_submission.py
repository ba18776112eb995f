"""Events submitted without Kafka, against the real (embedded) broker: on the topic keyed
by DIN and in order once acknowledged, nothing of a rejected request, then ingested as any
other record; an unreachable broker is told within a bounded time."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.contract_json import fact_to_json
from ledger.adapters.kafka import TopicReader
from ledger.bootstrap import event_submission
from ledger.domain.facts import ReportedFact
from ledger.services.ports import KafkaRecord, Unavailable
from ledger.services.submission import EventSubmission, Rejected
from tests.factories import example_fact
from tests.integration.support import expected_facts, run_ingest, stored_facts_at

pytestmark = pytest.mark.integration

DINS = ("A999926000017", "A999926000025", "B123426000001")


def story(din: str) -> list[ReportedFact]:
    """A donation and one unit of it, issued and received: its facts in order."""
    facts = [example_fact("DonationCollected", din=din)]
    facts += [
        example_fact(event_type, din=din)
        for event_type in ("ComponentProduced", "UnitReleased", "UnitIssued", "UnitReceived")
    ]
    return facts


def body(facts: list[ReportedFact]) -> bytes:
    return json.dumps([fact_to_json(fact) for fact in facts]).encode()


def on_topic(bootstrap: str, topic: str) -> list[KafkaRecord]:
    return list(TopicReader(bootstrap, idle_s=2).records(topic))


@pytest.fixture
def submission(broker: EmbeddedBroker, topic: str) -> Iterator[EventSubmission]:
    made = event_submission(broker.bootstrap, topic)
    yield made
    made.close()


def test_submitted_events_are_on_the_topic_keyed_by_din_in_order_then_stored(
    broker: EmbeddedBroker, topic: str, submission: EventSubmission, sqlite_url: str
) -> None:
    stories = {din: story(din) for din in DINS}
    interleaved = [fact for facts in zip(*stories.values(), strict=True) for fact in facts]
    bad = [stories[DINS[0]][0], example_fact("UnitReleased", din="A99992600001")]
    with pytest.raises(Rejected) as caught:
        submission.submit_json(body(bad))
    assert [(p.index, p.reason) for p in caught.value.problems] == [(1, "BAD_DIN")]

    ids = submission.submit_json(body(interleaved))
    extra = example_fact("UnitDispensed", din=DINS[2])
    assert submission.submit_avro(AvroCodec().encode(extra)) == [extra.event_id]
    assert ids == [fact.event_id for fact in interleaved]

    records = on_topic(broker.bootstrap, topic)
    assert len(records) == len(interleaved) + 1  # nothing of the rejected request
    codec = AvroCodec()
    by_din: dict[str, list[ReportedFact]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None and record.value is not None
        fact = codec.decode(record.value)
        assert record.key == fact.din.encode()
        by_din[fact.din].append(fact)
        partitions[fact.din].add(record.partition)
    assert all(len(found) == 1 for found in partitions.values())  # one DIN, one partition
    assert {din: facts for din, facts in by_din.items()} == {
        **stories,
        DINS[2]: [*stories[DINS[2]], extra],
    }

    result = run_ingest(broker.bootstrap, topic, sqlite_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stored_facts_at(sqlite_url) == expected_facts([*interleaved, extra])


def test_a_repeated_submission_is_stored_once(
    broker: EmbeddedBroker, topic: str, submission: EventSubmission, sqlite_url: str
) -> None:
    facts = story(DINS[1])
    assert submission.submit_json(body(facts)) == submission.submit_json(body(facts))
    assert len(on_topic(broker.bootstrap, topic)) == 2 * len(facts)
    result = run_ingest(broker.bootstrap, topic, sqlite_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stored_facts_at(sqlite_url) == expected_facts(facts)


def test_one_submission_serves_many_threads(
    broker: EmbeddedBroker, topic: str, submission: EventSubmission
) -> None:
    requests = [story(f"A9999260{n:05d}") for n in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda facts: submission.submit_json(body(facts)), requests))
    assert answers == [[fact.event_id for fact in facts] for facts in requests]
    records = on_topic(broker.bootstrap, topic)
    assert sorted(r.key or b"" for r in records) == sorted(
        fact.din.encode() for facts in requests for fact in facts
    )


def test_an_unreachable_broker_is_unavailable_within_the_timeout() -> None:
    submission = event_submission("127.0.0.1:1", "bloodledger.events", timeout_s=2)
    try:
        for _ in range(2):  # the next request tries again, as long
            started = time.monotonic()
            with pytest.raises(Unavailable, match="within 2 s"):
                submission.submit_json(body(story(DINS[0])))
            assert time.monotonic() - started < 6
    finally:
        submission.close()
