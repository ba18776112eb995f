"""The notice relay: the outbox's recall notices published to the hospitals' topic.

The ledger records each notice in the transaction of the quarantine that calls
for it (:class:`~ledger.services.ports.NoticeOutbox`); the relay takes the
pending ones in the order they were recorded, publishes them — keyed by the
facility that must act — waits for the broker's acknowledgement of every one,
and only then marks them sent. So a relay killed between publishing and
marking, or a broker that goes away, delays notices and may send one again,
never loses one: "exactly once" in effect, because a notice's ``notice_id`` is
the same however often it is sent and consumers drop repeats by it. Several
relays on one store (an ingest worker each) may each send a notice; that too
is a repeat.

The outbox holds the recipient's identifier as the facts do, sealed on a
protected ledger; the relay reveals it with the ledger's identities just
before encoding, so it exists in the clear only in the published message.
Logs name notices by position and count, never by patient.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from ledger.domain.identity import Identities, is_sealed
from ledger.domain.notice import RecallNotice
from ledger.services.ports import (
    EventPublisher,
    NoticeEncoder,
    NoticeOutbox,
    OutboxEntry,
    Unavailable,
)
from ledger.services.retry import Stopped, sleep_unless_stopped, until_available

log = logging.getLogger("bloodledger.relay")

#: Notices published (and acknowledged) together.
BATCH_SIZE = 500
#: How often an idle relay looks at the outbox again (seconds).
POLL_INTERVAL_S = 0.5
#: The longest wait before trying an unavailable broker again (seconds).
MAX_PAUSE_S = 10.0


class RecipientWithheld(RuntimeError):
    """A notice names a sealed recipient and the relay cannot reveal it (the ledger was
    opened without its key): publishing it would tell the hospital nothing."""


def _now() -> datetime:
    return datetime.now(UTC)


class NoticeRelay:
    """Publishes the outbox's pending notices to ``topic``, in order, then marks them sent."""

    def __init__(
        self,
        outbox: NoticeOutbox,
        publisher: EventPublisher,
        codec: NoticeEncoder,
        identities: Identities,
        topic: str,
        clock: Callable[[], datetime] = _now,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.codec = codec
        self.identities = identities
        self.topic = topic
        self.clock = clock
        self.batch_size = batch_size
        #: While the broker does not answer: how long :meth:`tick_or_wait` leaves it be,
        #: and until when (monotonic seconds).
        self._pause = 0.0
        self._retry_at = 0.0

    def tick(self, max_batches: int | None = None) -> int:
        """Publish the pending notices (every one, or ``max_batches`` batches), a batch
        at a time, each batch acknowledged by the broker before it is marked sent; how
        many were published. Raises :class:`~ledger.services.ports.Unavailable` if the
        broker does not acknowledge a batch (it stays pending, to be sent again)."""
        published = 0
        batches = 0
        while (max_batches is None or batches < max_batches) and (
            entries := self.outbox.pending(self.batch_size)
        ):
            batches += 1
            self.publisher.publish(self.topic, [self._record(e) for e in entries])
            self.outbox.mark_sent([e.position for e in entries], self.clock())
            published += len(entries)
            log.info("relayed %d notices to %s (up to position %d)",
                     len(entries), self.topic, entries[-1].position)  # fmt: skip
            if len(entries) < self.batch_size:
                break
        return published

    def tick_or_wait(self, max_batches: int | None = 1) -> int:
        """:meth:`tick` for a caller that must not be held up — the ingest, after each of
        its batches: at most ``max_batches`` batches, and a broker that does not answer
        only delays the notices; it is left alone for a growing pause (up to
        :data:`MAX_PAUSE_S`) before the next try, so the ingest's poll loop goes on."""
        now = time.monotonic()
        if now < self._retry_at:
            return 0
        try:
            published = self.tick(max_batches)
        except Unavailable as error:
            self._pause = min(max(2 * self._pause, POLL_INTERVAL_S), MAX_PAUSE_S)
            self._retry_at = now + self._pause
            log.warning("notices wait in the outbox (next try in %.1f s): %s",
                        self._pause, error.reason)  # fmt: skip
            return 0
        self._pause = 0.0
        return published

    def run(self, stop: Callable[[], bool] = lambda: False, until_idle: float | None = None) -> int:
        """Relay until stopped (or, with ``until_idle``, until nothing has been pending
        for that many seconds: notices waiting for the broker are pending); how many
        notices were published. An unavailable broker or database is waited out."""
        published = 0
        idle_since = time.monotonic()
        while not stop():
            try:
                sent = until_available(
                    lambda: self.tick_or_wait(max_batches=None), what="relaying notices",
                    stopping=stop,
                )  # fmt: skip
            except Stopped:
                break
            published += sent
            now = time.monotonic()
            if sent or self._pause:  # something went out, or waits for the broker
                idle_since = now
            elif until_idle is not None and now - idle_since >= until_idle:
                break
            if not sent:
                sleep_unless_stopped(POLL_INTERVAL_S, stop)
        return published

    def _record(self, entry: OutboxEntry) -> tuple[bytes, bytes]:
        """The Kafka record of a notice: key the facility, value the encoded notice with
        its recipient revealed."""
        notice = self._revealed(entry)
        return notice.facility.encode(), self.codec.encode(notice)

    def _revealed(self, entry: OutboxEntry) -> RecallNotice:
        notice = entry.notice
        if notice.patient_id is None:
            return notice
        patient = self.identities.reveal(notice.patient_id)
        if is_sealed(patient):
            msg = (
                f"notice at position {entry.position} names a sealed recipient: the relay "
                "needs the ledger's cipher key (BLOODLEDGER_CIPHER_KEY) to reveal it"
            )
            raise RecipientWithheld(msg)
        return replace(notice, patient_id=patient)

    def close(self) -> None:
        self.publisher.close()
        self.outbox.close()
