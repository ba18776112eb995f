"""The notice relay against an in-memory ledger and a publisher double: in order, keyed
by facility, marked sent only once the broker has them, recipients revealed only in
the message."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from ledger.adapters.notice_avro import NoticeCodec
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.identity import CLEAR, IdentityKey, generate_master_key, is_sealed
from ledger.services.application import BloodLedger
from ledger.services.ports import Unavailable
from ledger.services.relay import NoticeRelay, RecipientWithheld
from tests.notice_story import PATIENT, recall_story

SENT_AT = datetime(2030, 1, 1, tzinfo=UTC)


class Broker:
    """A publisher double: keeps what it acknowledged, or refuses while ``down``."""

    def __init__(self) -> None:
        self.topics: dict[str, list[tuple[bytes, bytes]]] = {}
        self.down = False

    def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        if self.down:
            raise Unavailable("the broker did not acknowledge the records within 1 s")
        self.topics.setdefault(topic, []).extend(records)

    def close(self) -> None:
        return


@pytest.fixture
def ledger() -> Iterator[BloodLedger]:
    story = recall_story()
    app = open_ledger(store_for("memory://"))
    app.record(story.facts)
    app.record(story.case_quarantines())
    yield app
    app.close()


def relay(ledger: BloodLedger, broker: Broker, batch_size: int = 500) -> NoticeRelay:
    outbox = ledger.ledger_recorder.notice_outbox()
    return NoticeRelay(
        outbox, broker, NoticeCodec(), ledger.identities, "notices", lambda: SENT_AT,
        batch_size=batch_size,
    )  # fmt: skip


def test_pending_notices_are_published_in_order_keyed_by_facility_then_marked(
    ledger: BloodLedger,
) -> None:
    broker = Broker()
    outbox = ledger.ledger_recorder.notice_outbox()
    entries = outbox.pending(100)
    assert len(entries) == len(recall_story().expected())
    assert relay(ledger, broker, batch_size=4).tick() == len(entries)
    published = broker.topics["notices"]
    codec = NoticeCodec()
    assert [codec.decode(value).notice_id for _, value in published] == [
        e.notice.notice_id for e in entries
    ]
    assert [key.decode() for key, _ in published] == [e.notice.facility for e in entries]
    assert outbox.pending(100) == []
    assert {e.sent_at for e in outbox.entries()} == {SENT_AT}
    assert relay(ledger, broker).tick() == 0


def test_a_broker_that_does_not_acknowledge_leaves_every_notice_pending(
    ledger: BloodLedger,
) -> None:
    broker = Broker()
    broker.down = True
    outbox = ledger.ledger_recorder.notice_outbox()
    before = outbox.pending(100)
    with pytest.raises(Unavailable):
        relay(ledger, broker).tick()
    assert relay(ledger, broker).tick_or_wait() == 0  # the ingest's hook goes on
    assert outbox.pending(100) == before
    broker.down = False
    assert relay(ledger, broker).tick() == len(before)


def test_inside_the_ingest_a_broker_that_does_not_answer_is_left_alone_for_a_while(
    ledger: BloodLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest's hook never holds its poll loop: one batch per call, and no try at all
    for a growing pause after the broker failed to answer."""
    broker = Broker()
    broker.down = True
    attempts: list[int] = []
    publish = broker.publish
    monkeypatch.setattr(broker, "publish", lambda t, r: attempts.append(len(r)) or publish(t, r))
    hook = relay(ledger, broker, batch_size=2)
    assert hook.tick_or_wait() == 0 and hook.tick_or_wait() == 0
    assert attempts == [2]  # the second call did not try
    broker.down = False
    monkeypatch.setattr("ledger.services.relay.time.monotonic", lambda: 10**9)
    assert hook.tick_or_wait() == 2  # the pause is over: one batch
    assert hook.tick_or_wait(max_batches=None) == len(recall_story().expected()) - 2


def test_a_relay_stopped_between_publishing_and_marking_sends_the_same_notice_again(
    ledger: BloodLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker()
    outbox = ledger.ledger_recorder.notice_outbox()

    def crash(positions: Sequence[int], at: datetime) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(outbox, "mark_sent", crash)
    with pytest.raises(KeyboardInterrupt):
        relay(ledger, broker).tick()
    monkeypatch.undo()
    relay(ledger, broker).tick()
    ids = [NoticeCodec().decode(value).notice_id for _, value in broker.topics["notices"]]
    assert len(ids) == 2 * len(set(ids))  # every notice twice: consumers drop the repeat


def test_run_until_idle_sends_everything_and_returns() -> None:
    ledger = open_ledger(store_for("memory://"))
    try:
        story = recall_story()
        ledger.record(story.facts)
        broker = Broker()
        assert relay(ledger, broker).run(until_idle=0.2) == 2  # the reactive donation's own
    finally:
        ledger.close()


@pytest.fixture
def protected() -> Iterator[BloodLedger]:
    """The story on a protected ledger: identifiers sealed at rest."""
    story = recall_story()
    app = open_ledger(store_for("memory://"), identity_key=IdentityKey(generate_master_key()))
    app.record(story.facts)
    app.record(story.case_quarantines())
    yield app
    app.close()


def test_the_outbox_holds_the_recipient_sealed_and_the_message_names_them(
    protected: BloodLedger,
) -> None:
    entries = protected.ledger_recorder.notice_outbox().entries()
    [held] = [e for e in entries if e.notice.patient_id]
    assert is_sealed(held.notice.patient_id)
    assert PATIENT not in repr(entries)
    broker = Broker()
    relay(protected, broker).tick()
    published = [NoticeCodec().decode(value) for _, value in broker.topics["notices"]]
    assert [n.patient_id for n in published if n.patient_id] == [PATIENT]


def test_a_relay_that_cannot_reveal_a_recipient_publishes_nothing(protected: BloodLedger) -> None:
    outbox = protected.ledger_recorder.notice_outbox()
    broker = Broker()
    blind = NoticeRelay(outbox, broker, NoticeCodec(), CLEAR, "notices", lambda: SENT_AT)
    with pytest.raises(RecipientWithheld) as refused:
        blind.tick()
    assert PATIENT not in str(refused.value) and "bl1:" not in str(refused.value)
    assert broker.topics == {}
    assert len(outbox.pending(100)) == len(recall_story().expected())
