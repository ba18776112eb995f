"""Every stored event class of the ledger, in one place.

Each contract event type has one class here; the class is stored under an
explicit, stable ``TOPIC`` (``bloodledger:<EventType>``) so that records
written today stay readable after 30 years of refactoring. Moving or renaming
a class never changes what is stored; changing its fields needs a
``class_version`` bump and an ``upcast_vN_vN+1`` method, never a rewrite.

A :class:`Fact` is what an integrating system reported, stored verbatim:
the envelope's fields plus the payload's. The same class is used whichever
aggregate's stream the fact is recorded in (donation-level facts are recorded
in the donation's stream and in each of its units'; see
:mod:`ledger.domain.donation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from eventsourcing.domain import AggregateCreated, AggregateEvent
from eventsourcing.utils import register_topic

from ledger.domain.facts import ReportedFact
from ledger.domain.vocabulary import is_reactive_marker


def _register(cls: type[Any]) -> None:
    """Register a class's own explicit ``TOPIC`` (required, unique)."""
    topic = cls.__dict__.get("TOPIC")
    if not topic:
        msg = f"{cls.__qualname__} must define its own explicit TOPIC"
        raise TypeError(msg)
    register_topic(topic, cls)


class LedgerEvent(AggregateEvent):
    """Base of every stored ledger event: insists on an explicit topic."""

    TOPIC = "bloodledger:LedgerEvent"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)


class Fact(LedgerEvent):
    """A reported fact: envelope fields plus the payload's fields.

    ``occurred_at`` is real-world time; the library's ``timestamp`` is the
    time the ledger recorded the fact (so both "when it happened" and "when
    we knew" are kept).
    """

    TOPIC = "bloodledger:Fact"
    EVENT_TYPE = ""
    PAYLOAD_FIELDS = cast("tuple[str, ...]", ())

    event_id: str
    occurred_at: datetime
    source_system: str
    facility: str
    actor: str | None
    din: str
    product_code: str | None

    def apply(self, aggregate: Any) -> None:
        aggregate.apply_fact(self)

    @property
    def payload(self) -> dict[str, Any]:
        """The payload fields, as reported."""
        return {name: getattr(self, name) for name in self.PAYLOAD_FIELDS}

    def reported(self) -> ReportedFact:
        """The fact as it was reported (to record it in another stream)."""
        return ReportedFact(
            event_id=self.event_id,
            event_type=self.EVENT_TYPE,
            occurred_at=self.occurred_at,
            source_system=self.source_system,
            facility=self.facility,
            actor=self.actor,
            din=self.din,
            product_code=self.product_code,
            payload=self.payload,
        )


def _fact_class(event_type: str, fields: dict[str, Any]) -> type[Fact]:
    """Define the stored class of one contract event type.

    Defined from a table rather than written out fifteen times: the table
    below *is* the contract's list of payloads, readable at a glance.
    """
    annotations = dict(fields)
    namespace: dict[str, Any] = {
        "__annotations__": annotations,
        "__module__": __name__,
        "__qualname__": event_type,
        "TOPIC": f"bloodledger:{event_type}",
        "EVENT_TYPE": event_type,
        "PAYLOAD_FIELDS": tuple(fields),
    }
    return cast("type[Fact]", type(event_type, (Fact,), namespace))


_OPT_STR = "str | None"

#: Payload fields of each contract event type, as annotation strings.
PAYLOAD_FIELDS: dict[str, dict[str, Any]] = {
    "DonationCollected": {
        "donor_id": "str",
        "donation_type": "str",
        "intended_patient_id": _OPT_STR,
        "procedure": "str",
        "volume_ml": "int",
    },
    "TestResultRecorded": {"test": "str", "result": "str", "abo": _OPT_STR, "rhd": _OPT_STR},
    "ComponentProduced": {
        "component": "str",
        "volume_ml": "int",
        "units": "float",
        "abo": "str",
        "rhd": "str",
        "expires_at": "datetime",
    },
    "UnitReleased": {},
    "UnitQuarantined": {"reason": "str", "case_id": _OPT_STR},
    "UnitDiscarded": {"reason": "str"},
    "UnitIssued": {"to_facility": "str", "shipment_id": _OPT_STR},
    "UnitReceived": {"temperature_ok": "bool"},
    "CrossmatchPerformed": {
        "patient_id": "str",
        "patient_abo": "str",
        "patient_rhd": "str",
        "sample_id": "str",
        "sample_collected_at": "datetime",
        "method": "str",
        "result": "str",
    },
    "UnitDispensed": {"patient_id": "str"},
    "UnitReturned": {"minutes_out_of_storage": "int"},
    "TransfusionStarted": {"patient_id": "str", "bedside_check_passed": "bool"},
    "TransfusionCompleted": {"patient_id": "str", "volume_ml": "int", "outcome": "str"},
    "AdverseReactionReported": {
        "patient_id": "str",
        "category": "str",
        "severity": "str",
        "imputability": "str",
        "onset_at": "datetime",
    },
    "TransfusionEvaluated": {"patient_id": "str", "effective": "bool", "note": _OPT_STR},
}

#: The stored class of each contract event type.
FACT_CLASSES: dict[str, type[Fact]] = {
    name: _fact_class(name, fields) for name, fields in PAYLOAD_FIELDS.items()
}


def is_reactive(fact: Fact) -> bool:
    """A stored REACTIVE infectious-marker result."""
    return fact.EVENT_TYPE == "TestResultRecorded" and is_reactive_marker(
        fact.test,  # type: ignore[attr-defined]
        fact.result,  # type: ignore[attr-defined]
    )


#: Payload fields whose values identify a person (never logged).
PII_FIELDS: frozenset[str] = frozenset({"donor_id", "intended_patient_id", "patient_id"})


def fact_kwargs(fact: ReportedFact) -> dict[str, Any]:
    """Keyword arguments that construct the stored event of a reported fact."""
    kwargs: dict[str, Any] = {
        "event_id": fact.event_id,
        "occurred_at": fact.occurred_at,
        "source_system": fact.source_system,
        "facility": fact.facility,
        "actor": fact.actor,
        "din": fact.din,
        "product_code": fact.product_code,
    }
    for name in PAYLOAD_FIELDS[fact.event_type]:
        kwargs[name] = fact.payload.get(name)
    return kwargs


class UnitRegistered(AggregateCreated, LedgerEvent):
    """A blood unit (DIN + product code) became known to the ledger."""

    TOPIC = "bloodledger:BloodUnit.Registered"
    din: str
    product_code: str


class DonationRegistered(AggregateCreated, LedgerEvent):
    """A donation (DIN) became known to the ledger."""

    TOPIC = "bloodledger:Donation.Registered"
    din: str


class DonationUnitAdded(LedgerEvent):
    """A unit of the donation became known: donation facts now fan out to it."""

    TOPIC = "bloodledger:Donation.UnitAdded"
    product_code: str

    def apply(self, aggregate: Any) -> None:
        aggregate.product_codes.append(self.product_code)


class LookbackOpened(AggregateCreated, LedgerEvent):
    """A lookback case was opened on a donor's donations in [since, until]."""

    TOPIC = "bloodledger:LookbackCase.Opened"
    case_id: str
    donor_id: str
    reason: str
    since: datetime
    until: datetime
    trigger_din: str | None
    actor: str
