"""Events submitted without Kafka (HTTP): checked as the ingest checks them, then produced.

A request is contract JSON (one event or a list, the form ``bloodledger encode``
reads) or one Confluent-framed Avro message. Every event is turned into the
value the ingest reads and read back with the ingest's own decoder, so a
request is refused for exactly the reasons, and with the reason codes
(:class:`~ledger.domain.facts.ErrorClass`), a record would be dead-lettered
for. The whole request is checked first, each event for the first rule it
breaks: if any event breaks one, :class:`Rejected` lists every such problem and
nothing is produced. A valid event of another facility than the submitter's is
:class:`ForeignFacility`. Otherwise the records go to the events topic keyed by
DIN, as ``bloodledger publish`` sends them, and the submission returns once
the broker has acknowledged every one: the ingest then records them as any
other record, so exactly-once effect and ordering stay where they are.

When the broker does not acknowledge in time, the publisher raises
:class:`~ledger.services.ports.Unavailable`; the client may send the same
events again (the same event ids): the ledger records an identical repeat once.

Problems name the field and the rule, never a value: donor and patient
pseudonyms are personal data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ledger.domain.facts import ErrorClass, NotAFact, ReportedFact
from ledger.domain.vocabulary import LEDGER_RECORDED
from ledger.services.ports import EventPublisher, SubmissionCodec

#: The most events one request may carry, and the largest JSON body.
MAX_EVENTS = 1000
MAX_JSON_BYTES = 4 * 1024 * 1024

#: The envelope's fields (a problem's field starts with one of them).
_ENVELOPE = frozenset(
    {"event_id", "event_type", "occurred_at", "source", "din", "din_check", "product_code",
     "payload"}
)  # fmt: skip
#: The field a reason's message starts with: ``payload.volume_ml: …`` (contract JSON),
#: ``din is …``, or the Avro record path ``bloodledger.Source.actor does not …``.
_LEADING_FIELD = re.compile(
    r"(?:bloodledger\.(?P<record>\w+)\.)?(?P<path>\w+(?:\.\w+)?)(?P<colon>:)?(?=[: ])"
)


@dataclass(frozen=True)
class Problem:
    """Why one event of a request (``index``: its place in the request, from 0; ``None``:
    the request as a whole) is not a fact. ``reason`` is the dead-letter reason code, and
    ``field`` the field at fault when the reason names one. ``message`` names the field
    and the rule, never the value."""

    index: int | None
    reason: str
    field: str | None
    message: str


class Rejected(ValueError):
    """A request with at least one event that is not a fact: nothing of it is produced."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{first.reason}: {first.message}{more}"


class ForeignFacility(PermissionError):
    """Valid events whose ``source.facility`` is not the submitter's own: nothing is
    produced. ``indexes``: their places in the request."""

    def __init__(self, indexes: list[int]) -> None:
        self.indexes = indexes
        places = ", ".join(str(i) for i in indexes)
        super().__init__(
            f"event {places}: source.facility is not the facility this client submits for"
        )


class LedgerRecorded(PermissionError):
    """Events of a type only the ledger records (its own bedside checks): an integrator
    who could send them could forge a STOP the ward never saw. Nothing is produced."""

    def __init__(self, indexes: list[int]) -> None:
        self.indexes = indexes
        places = ", ".join(str(i) for i in indexes)
        super().__init__(f"event {places}: the ledger records this event type itself")


@dataclass(frozen=True)
class _Event:
    fact: ReportedFact
    value: bytes


class EventSubmission:
    """Checks submitted events as the ingest would and produces them to ``topic``."""

    def __init__(
        self,
        publisher: EventPublisher,
        codec: SubmissionCodec,
        topic: str,
        *,
        max_events: int = MAX_EVENTS,
        max_json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.publisher = publisher
        self.codec = codec
        self.topic = topic
        self.max_events = max_events
        self.max_json_bytes = max_json_bytes

    def submit_json(self, body: bytes, *, facility: str | None = None) -> list[str]:
        """Contract JSON (one event or a list): their event ids, in order, once the
        broker has acknowledged them. ``facility``: the only ``source.facility`` the
        submitter may report for (``None``: any)."""
        documents = self._documents(body)
        events: list[_Event] = []
        problems: list[Problem] = []
        for index, document in enumerate(documents):
            try:
                value = self.codec.encode_json(document)
                events.append(_Event(self.codec.decode(value), value))
            except NotAFact as reason:
                problems.append(_problem(index, reason))
        if problems:
            raise Rejected(problems)
        return self._produce(_repeats_checked(events), facility)

    def submit_avro(self, body: bytes, *, facility: str | None = None) -> list[str]:
        """One Confluent-framed Avro message, produced untouched: its event id, once the
        broker has acknowledged it."""
        try:
            fact = self.codec.decode(body)
        except NotAFact as reason:
            raise Rejected([_problem(0, reason)]) from None
        return self._produce([_Event(fact, body)], facility)

    def close(self) -> None:
        self.publisher.close()

    def _documents(self, body: bytes) -> list[object]:
        """The request's events, parsed (the request's own problems rejected)."""
        if len(body) > self.max_json_bytes:
            msg = f"the request is larger than {self.max_json_bytes} bytes: send fewer events"
            raise _whole(ErrorClass.TOO_LARGE, msg)
        if not body.strip():
            raise _whole(ErrorClass.EMPTY, "the request has no body")
        try:
            document = json.loads(body, parse_constant=_no_constant)
        except RecursionError:
            raise _whole(ErrorClass.UNDECODABLE, "the body is nested too deeply") from None
        except ValueError as error:
            raise _whole(ErrorClass.UNDECODABLE, _not_json(error)) from None
        documents: list[object] = document if isinstance(document, list) else [document]
        if not documents:
            raise _whole(ErrorClass.EMPTY, "the request holds no event")
        if len(documents) > self.max_events:
            msg = f"the request holds more than {self.max_events} events: send fewer at a time"
            raise _whole(ErrorClass.TOO_LARGE, msg)
        return documents

    def _produce(self, events: list[_Event], facility: str | None) -> list[str]:
        own = [i for i, event in enumerate(events) if event.fact.event_type in LEDGER_RECORDED]
        if own:
            raise LedgerRecorded(own)
        if facility is not None:
            foreign = [i for i, event in enumerate(events) if event.fact.facility != facility]
            if foreign:
                raise ForeignFacility(foreign)
        first: dict[str, _Event] = {}
        for event in events:
            first.setdefault(event.fact.event_id, event)
        records = [(event.fact.din.encode(), event.value) for event in first.values()]
        self.publisher.publish(self.topic, records)
        return [event.fact.event_id for event in events]


def _repeats_checked(events: list[_Event]) -> list[_Event]:
    """The events, unless one repeats an earlier one's event id with other content (an
    identical repeat passes: it is produced once, and the ledger would record it once)."""
    seen: dict[str, tuple[int, ReportedFact]] = {}
    problems: list[Problem] = []
    for index, event in enumerate(events):
        earlier = seen.setdefault(event.fact.event_id, (index, event.fact))
        if earlier[1] != event.fact:
            msg = f"event_id is that of event {earlier[0]} of this request, with other content"
            problems.append(Problem(index, ErrorClass.EVENT_ID_CONFLICT, "event_id", msg))
    if problems:
        raise Rejected(problems)
    return events


def _problem(index: int, reason: NotAFact) -> Problem:
    return Problem(index, str(reason.error_class), _field_of(reason), reason.message)


def _field_of(reason: NotAFact) -> str | None:
    """The contract field a reason names (its message starts with it), if any."""
    if reason.error_class == ErrorClass.BAD_DIN:
        return "din_check" if "check character" in reason.message else "din"
    found = _LEADING_FIELD.match(reason.message)
    if found is None:
        return None
    record, path = found["record"], found["path"]
    if record == "Source":
        return f"source.{path}"
    if record is not None and record != "Event":
        return f"payload.{path}"
    if found["colon"] or path.partition(".")[0] in _ENVELOPE:
        return path
    return None


def _whole(reason: ErrorClass, message: str) -> Rejected:
    """A problem of the request as a whole."""
    return Rejected([Problem(None, str(reason), None, message)])


def _no_constant(name: str) -> object:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _not_json(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        where = f"line {error.lineno} column {error.colno}"
        return f"the body is not valid JSON ({error.msg} at {where})"
    if isinstance(error, UnicodeDecodeError):
        return "the body is not valid JSON (it is not UTF-8 text)"
    return "the body is not valid JSON (a number is out of range or NaN/Infinity)"
