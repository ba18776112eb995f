"""Every stored event class of the ledger, one class per contract event type.

Each class is stored under an explicit, stable ``TOPIC``
(``bloodledger:<EventType>``) so that records written today stay readable
after 30 years of refactoring: moving or renaming a class never changes what
is stored (``tests/integration/test_stored_compat.py`` reads a store written
before these classes were written out). Changing a class's fields needs a
``class_version`` bump and an ``upcast_vN_vN+1`` method, never a rewrite.

A :class:`Fact` is what an integrating system reported, stored verbatim: the
envelope's fields, then the payload's fields in contract order (the order is
part of the stored JSON). Enum-valued fields hold the symbol as a plain
string — the stored form — and compare equal to the members of
:mod:`ledger.domain.vocabulary`. The same class is used whichever aggregate's
stream the fact is recorded in (see :mod:`ledger.domain.donation`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from eventsourcing.domain import AggregateCreated, AggregateEvent
from eventsourcing.utils import register_topic

from ledger.domain.facts import ReportedFact
from ledger.domain.vocabulary import EventType, is_reactive_marker

#: The envelope fields every fact has, before its payload's.
ENVELOPE_FIELDS: tuple[str, ...] = (
    "event_id",
    "occurred_at",
    "source_system",
    "facility",
    "actor",
    "din",
    "product_code",
)


class LedgerEvent(AggregateEvent):
    """Base of every stored ledger event: insists on an explicit, unique topic."""

    TOPIC = "bloodledger:LedgerEvent"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        topic = cls.__dict__.get("TOPIC")
        if not topic:
            msg = f"{cls.__qualname__} must define its own explicit TOPIC"
            raise TypeError(msg)
        register_topic(topic, cls)


class Fact(LedgerEvent):
    """A reported fact: envelope fields plus the payload's fields.

    ``occurred_at`` is real-world time; the library's ``timestamp`` is the
    time the ledger recorded the fact (so both "when it happened" and "when
    the ledger knew" are kept).
    """

    TOPIC = "bloodledger:Fact"
    #: The contract's name of this event type (the Avro payload record's name).
    EVENT_TYPE: ClassVar[EventType]
    #: The payload's field names, in contract order (set for each subclass).
    PAYLOAD_FIELDS: ClassVar[tuple[str, ...]] = ()

    event_id: str
    occurred_at: datetime
    source_system: str
    facility: str
    actor: str | None
    din: str
    product_code: str | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = inspect.get_annotations(cls)  # this class's own fields, in order
        cls.PAYLOAD_FIELDS = tuple(name for name in own if name not in ENVELOPE_FIELDS)
        _FACT_CLASSES[cls.EVENT_TYPE] = cls

    def apply(self, aggregate: Any) -> None:
        aggregate.apply_fact(self)

    @property
    def payload(self) -> dict[str, Any]:
        """The payload fields, as reported."""
        return {name: getattr(self, name) for name in self.PAYLOAD_FIELDS}

    def same_content(self, fact: ReportedFact) -> bool:
        """Whether ``fact`` says exactly what this stored fact says (every envelope
        and payload field; a payload field left out counts as its default, null)."""
        return (
            fact.event_type == self.EVENT_TYPE
            and fact.occurred_at == self.occurred_at
            and fact.source_system == self.source_system
            and fact.facility == self.facility
            and fact.actor == self.actor
            and fact.din == self.din
            and fact.product_code == self.product_code
            and all(fact.payload.get(name) == getattr(self, name) for name in self.PAYLOAD_FIELDS)
            and fact.payload.keys() <= set(self.PAYLOAD_FIELDS)
        )

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


_FACT_CLASSES: dict[str, type[Fact]] = {}

# -- donation level (``product_code`` is null) ---------------------------------------


class DonationCollected(Fact):
    """Blood was collected from a donor (a pseudonym) into this donation."""

    TOPIC = "bloodledger:DonationCollected"
    EVENT_TYPE = EventType.DonationCollected
    donor_id: str
    donation_type: str  # DonationType
    intended_patient_id: str | None
    procedure: str  # Procedure
    volume_ml: int


class TestResultRecorded(Fact):
    """A screening or grouping result of the donation."""

    TOPIC = "bloodledger:TestResultRecorded"
    EVENT_TYPE = EventType.TestResultRecorded
    test: str  # Test
    result: str  # TestResult
    abo: str | None  # ABO, for ABO_RHD
    rhd: str | None  # RhD, for ABO_RHD

    @property
    def is_reactive_marker(self) -> bool:
        """A REACTIVE infectious-marker result: the donation is reactive."""
        return is_reactive_marker(self.test, self.result)


# -- unit level (DIN + product code) -------------------------------------------------


class ComponentProduced(Fact):
    """A component was made from the donation: the unit exists."""

    TOPIC = "bloodledger:ComponentProduced"
    EVENT_TYPE = EventType.ComponentProduced
    component: str  # Component
    volume_ml: int
    units: float
    abo: str  # ABO
    rhd: str  # RhD
    expires_at: datetime


class UnitReleased(Fact):
    """Testing complete, labelled: the unit is available."""

    TOPIC = "bloodledger:UnitReleased"
    EVENT_TYPE = EventType.UnitReleased


class UnitQuarantined(Fact):
    """The unit may not be used until released (a reactive donation's never is)."""

    TOPIC = "bloodledger:UnitQuarantined"
    EVENT_TYPE = EventType.UnitQuarantined
    reason: str
    case_id: str | None


class UnitDiscarded(Fact):
    """The unit was destroyed."""

    TOPIC = "bloodledger:UnitDiscarded"
    EVENT_TYPE = EventType.UnitDiscarded
    reason: str  # DiscardReason


class UnitIssued(Fact):
    """The unit left ``facility`` for ``to_facility``."""

    TOPIC = "bloodledger:UnitIssued"
    EVENT_TYPE = EventType.UnitIssued
    to_facility: str
    shipment_id: str | None


class UnitReceived(Fact):
    """The unit arrived at ``facility``."""

    TOPIC = "bloodledger:UnitReceived"
    EVENT_TYPE = EventType.UnitReceived
    temperature_ok: bool


class CrossmatchPerformed(Fact):
    """The unit was crossmatched against a patient's sample."""

    TOPIC = "bloodledger:CrossmatchPerformed"
    EVENT_TYPE = EventType.CrossmatchPerformed
    patient_id: str
    patient_abo: str  # ABO
    patient_rhd: str  # RhD
    sample_id: str
    sample_collected_at: datetime
    method: str  # CrossmatchMethod
    result: str  # CrossmatchResult


class UnitDispensed(Fact):
    """The blood bank handed the unit out for a patient (to a ward)."""

    TOPIC = "bloodledger:UnitDispensed"
    EVENT_TYPE = EventType.UnitDispensed
    patient_id: str


class UnitReturned(Fact):
    """The unit came back to the blood bank unused."""

    TOPIC = "bloodledger:UnitReturned"
    EVENT_TYPE = EventType.UnitReturned
    minutes_out_of_storage: int


class TransfusionStarted(Fact):
    """The unit was hung for a patient."""

    TOPIC = "bloodledger:TransfusionStarted"
    EVENT_TYPE = EventType.TransfusionStarted
    patient_id: str
    bedside_check_passed: bool


class TransfusionCompleted(Fact):
    """The transfusion ended (completed, or stopped)."""

    TOPIC = "bloodledger:TransfusionCompleted"
    EVENT_TYPE = EventType.TransfusionCompleted
    patient_id: str
    volume_ml: int
    outcome: str  # TransfusionOutcome


class AdverseReactionReported(Fact):
    """A hemovigilance report of a reaction to the unit."""

    TOPIC = "bloodledger:AdverseReactionReported"
    EVENT_TYPE = EventType.AdverseReactionReported
    patient_id: str
    category: str  # ReactionCategory
    severity: str  # Severity
    imputability: str  # Imputability
    onset_at: datetime


class TransfusionEvaluated(Fact):
    """The post-transfusion evaluation of the unit's effect."""

    TOPIC = "bloodledger:TransfusionEvaluated"
    EVENT_TYPE = EventType.TransfusionEvaluated
    patient_id: str
    effective: bool
    note: str | None


class PreTransfusionCheckPerformed(Fact):
    """The ledger answered a bedside pre-transfusion check of the unit for a patient:
    who asked (``actor``), from where (``facility``), the patient's group as the request
    stated it, the decision and every reason that applied (:mod:`ledger.domain.bedside`)."""

    TOPIC = "bloodledger:PreTransfusionCheckPerformed"
    EVENT_TYPE = EventType.PreTransfusionCheckPerformed
    patient_id: str
    patient_abo: str  # ABO, as the bedside request states it
    patient_rhd: str  # RhD, as the bedside request states it
    decision: str  # Decision
    reasons: list[str]  # ReasonCode, every one that applied, in the rules' order


class NoticeAcknowledged(Fact):
    """A facility (``facility``: who acknowledges) answered a recall notice about the unit:
    what it did. The ledger records it whatever it names — a notice it never sent
    included — and matches it to its notices by ``notice_id`` when asked."""

    TOPIC = "bloodledger:NoticeAcknowledged"
    EVENT_TYPE = EventType.NoticeAcknowledged
    notice_id: str
    action_taken: str  # AckAction


def fact_class(event_type: str) -> type[Fact]:
    """The stored class of a contract event type (``KeyError`` if there is none)."""
    return _FACT_CLASSES[event_type]


def new_fact_kwargs(fact: ReportedFact) -> dict[str, Any]:
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
    for name in fact_class(fact.event_type).PAYLOAD_FIELDS:
        kwargs[name] = fact.payload.get(name)
    return kwargs


F = TypeVar("F", bound=Fact)


def facts_of(facts: Iterable[Fact], kind: type[F]) -> list[F]:
    """The facts of one class, in the given order."""
    return [fact for fact in facts if isinstance(fact, kind)]


def first_of(facts: Iterable[Fact], kind: type[F]) -> F | None:
    """The first fact of one class, if any."""
    return next((fact for fact in facts if isinstance(fact, kind)), None)


def is_reactive(fact: Fact) -> bool:
    """A stored REACTIVE infectious-marker result."""
    return isinstance(fact, TestResultRecorded) and fact.is_reactive_marker


#: Payload fields whose values identify a person (never logged).
PII_FIELDS: frozenset[str] = frozenset({"donor_id", "intended_patient_id", "patient_id"})


# -- the ledger's own aggregates' events ---------------------------------------------


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
    """A unit of the donation became known: its facts now fold the donation's."""

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
