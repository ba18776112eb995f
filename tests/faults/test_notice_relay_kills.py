"""``bloodledger notices relay`` SIGKILLed at random moments while notices are pending,
then run to completion: every notice reached the topic, each facility got exactly the
notices for its units (a repeat or two allowed: consumers drop them by ``notice_id``).
And the broker going away: the notices wait in the outbox, none is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.persistence import store_for
from ledger.bootstrap import notice_relay, open_read_models_of
from ledger.services.ports import NoticeOutbox, Unavailable
from tests.integration.notice_support import read_notices
from tests.integration.support import cli, wait_for
from tests.notice_story import recall_story

#: Stories recorded (six notices each), and notices per publish: enough publishes that
#: every kill lands with notices still pending.
STORIES = 40
BATCH = 2
KILLS = 5


def sent(outbox: NoticeOutbox) -> int:
    return sum(1 for entry in outbox.entries() if entry.sent_at is not None)


@pytest.fixture
def relays() -> Iterator[list[subprocess.Popen[str]]]:
    """Relay processes; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start_relay(
    started: list[subprocess.Popen[str]], bootstrap: str, topic: str, url: str, *extra: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        cli("notices", "relay", "--bootstrap", bootstrap, "--topic", topic, "--store", url,
            "--batch-size", str(BATCH), *extra),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    started.append(process)
    return process


def test_relay_sigkilled_at_random_moments_loses_no_notice(
    broker: EmbeddedBroker,
    durable_store_url: str,
    relays: list[subprocess.Popen[str]],
) -> None:
    stories = [recall_story(number) for number in range(STORIES)]
    with open_read_models_of(store_for(durable_store_url)) as models:
        models.ledger.record([fact for story in stories for fact in story.facts])
        models.projector.catch_up()  # the lookbacks: every story's case
        expected = {
            entry.notice.notice_id: entry.notice.facility
            for entry in models.ledger.ledger_recorder.notice_outbox().entries()
        }
    assert len(expected) == sum(len(story.expected()) for story in stories)
    topic = f"notices-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {topic: 3})

    outbox = store_for(durable_store_url).notice_outbox()
    chance = random.Random(20261301)
    done = 0
    try:
        for kill in range(KILLS):
            process = start_relay(relays, broker.bootstrap, topic, durable_store_url)
            wait_for(
                lambda done=done: sent(outbox) > done,
                f"the relay's progress before kill {kill + 1}",
            )
            time.sleep(chance.uniform(0, 0.2))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            done = sent(outbox)
            assert done < len(expected), f"every notice was sent before kill {kill + 1}"
        final = start_relay(relays, broker.bootstrap, topic, durable_store_url, "--until-idle", "1")
        output, _ = final.communicate(timeout=120)
        assert final.returncode == 0, output
        assert sent(outbox) == len(expected) and outbox.pending(10) == []
    finally:
        outbox.close()

    records = read_notices(broker.bootstrap, topic, at_least=len(expected))
    assert all(r.key == r.notice["facility"] for r in records)
    received = {r.notice["notice_id"]: r.key for r in records}  # what a consumer keeps
    assert received == expected  # every notice, each to its facility; nothing else
    for facility in set(expected.values()):
        mine = {i for i, f in expected.items() if f == facility}
        assert {r.notice["notice_id"] for r in records if r.key == facility} == mine
    assert len(records) >= len(expected)  # repeats allowed: the kills land between
    # publishing and marking sent at times; at most a batch per kill is sent again
    assert len(records) - len(expected) <= KILLS * BATCH


def test_the_broker_away_delays_the_notices_and_loses_none(
    own_broker: EmbeddedBroker, durable_store_url: str
) -> None:
    story = recall_story()
    with open_read_models_of(store_for(durable_store_url)) as models:
        models.ledger.record(story.facts)
        models.projector.catch_up()
        outbox = models.ledger.ledger_recorder.notice_outbox()
        relay = notice_relay(
            models.ledger, own_broker.bootstrap, "bloodledger.notices", timeout_s=2
        )
        try:
            own_broker.stop()
            assert relay.tick_or_wait() == 0  # the ingest's hook: it goes on
            with pytest.raises(Unavailable):
                relay.tick()
            assert len(outbox.pending(100)) == len(story.expected())
            own_broker.start()  # memory only: it comes back empty, the topic made anew
            assert relay.tick() == len(story.expected())
        finally:
            relay.close()
        expected = {(e.notice.facility, e.notice.notice_id) for e in outbox.entries()}
    records = read_notices(
        own_broker.bootstrap, "bloodledger.notices", at_least=len(story.expected())
    )
    assert {(r.key, r.notice["notice_id"]) for r in records} == expected
    assert len(records) == len(story.expected())
