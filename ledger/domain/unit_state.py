"""The blood unit's state machine: a pure fold over its facts in real-world order.

A unit's state is never stored; it is evaluated from the facts recorded in its
stream, sorted by ``occurred_at`` (ties broken by recording order). So a fact
that arrives late — a hospital's receipt before the centre's issue — lands in
its true place, and "as of" any moment is the same fold over the facts that
had occurred by then.

Rule breaches do not stop the fold: the ledger records what was reported and
judges it, raising safety flags (``shared/contract/events-v1.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ledger.domain import events as e
from ledger.domain.compatibility import (
    RED_CELL_COMPONENTS,
    AboMatch,
    abo_match,
    rhd_compatible,
)
from ledger.domain.events import Fact
from ledger.domain.sentence import Sentence, said
from ledger.domain.vocabulary import CrossmatchResult, Decision, DonationType, Flag, Test

#: A crossmatch sample must be collected at most this long before transfusion.
CROSSMATCH_SAMPLE_VALIDITY = timedelta(days=3)
#: Minutes out of controlled storage after which a returned unit is compromised.
MAX_MINUTES_OUT_OF_STORAGE = 30


class Status(StrEnum):
    """Lifecycle statuses, from the furthest along to the earliest."""

    DISCARDED = "DISCARDED"
    TRANSFUSED = "TRANSFUSED"
    IN_TRANSFUSION = "IN_TRANSFUSION"
    DISPENSED = "DISPENSED"
    IN_TRANSIT = "IN_TRANSIT"
    QUARANTINED = "QUARANTINED"
    AVAILABLE = "AVAILABLE"
    PRODUCED = "PRODUCED"
    NOT_PRODUCED = "NOT_PRODUCED"


class Use(StrEnum):
    """The uses of a unit each checked alike (a finding's ``action``)."""

    ISSUE = "issue"
    DISPENSE = "dispense"
    TRANSFUSION = "transfusion"


class DetailCode(StrEnum):
    """What a finding's detail says, as a stable code (its values as the detail's fields)."""

    NOT_IN_STOCK = "NOT_IN_STOCK"  # action
    USED_WHILE_QUARANTINED = "USED_WHILE_QUARANTINED"  # action
    USED_UNRELEASED = "USED_UNRELEASED"  # action
    USED_AFTER_COLD_CHAIN_BREACH = "USED_AFTER_COLD_CHAIN_BREACH"  # action
    REACTIVE_TEST = "REACTIVE_TEST"  # test
    PRODUCED_TWICE = "PRODUCED_TWICE"
    RECEIVED_WHERE_NOT_ISSUED = "RECEIVED_WHERE_NOT_ISSUED"
    CROSSMATCH_BEFORE_PRODUCTION = "CROSSMATCH_BEFORE_PRODUCTION"
    STARTED_TWICE = "STARTED_TWICE"
    STARTED_AFTER_EXPIRY = "STARTED_AFTER_EXPIRY"
    BEDSIDE_CHECK_NOT_PASSED = "BEDSIDE_CHECK_NOT_PASSED"
    STARTED_AFTER_STOP = "STARTED_AFTER_STOP"
    AUTOLOGOUS_TO_ANOTHER_PATIENT = "AUTOLOGOUS_TO_ANOTHER_PATIENT"
    ABO_MISMATCH = "ABO_MISMATCH"  # component, abo, patient_abo
    RHD_MISMATCH = "RHD_MISMATCH"  # rhd, patient_rhd
    NO_RECENT_CROSSMATCH = "NO_RECENT_CROSSMATCH"
    COMPLETED_NEVER_STARTED = "COMPLETED_NEVER_STARTED"


@dataclass(frozen=True)
class Finding:
    """Why a flag was raised: the flag, the fact that showed it, and a PII-free detail
    (a :class:`~ledger.domain.sentence.Sentence` coded by :class:`DetailCode`)."""

    flag: Flag
    event_id: str
    occurred_at: datetime
    said: Sentence

    @property
    def detail(self) -> str:
        """The detail's English text, as the documents have always shown it."""
        return self.said.text


@dataclass(frozen=True)
class Acknowledgement:
    """A facility's answer to a recall notice about the unit (a ``NoticeAcknowledged``):
    which notice, what it did, who answered and when. The fold only keeps them; which
    notice one closes is for whoever knows the notices (:mod:`ledger.domain.notice`)."""

    notice_id: str
    action_taken: str
    facility: str
    event_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class Crossmatch:
    """One crossmatch of the unit: for whom, the group typed on the sample, and when."""

    patient_id: str
    patient_abo: str
    patient_rhd: str
    sample_collected_at: datetime
    compatible: bool
    occurred_at: datetime


# -- the rules, shared by the state machine and the bedside check -------------------


def sample_valid_at(sample_collected_at: datetime, at: datetime) -> bool:
    """The 3-day rule: the sample was collected at most 3 days before ``at``, not after."""
    return at - CROSSMATCH_SAMPLE_VALIDITY <= sample_collected_at <= at


def valid_crossmatches(crossmatches: Iterable[Crossmatch], at: datetime) -> list[Crossmatch]:
    """The COMPATIBLE crossmatches done by ``at`` on a sample still valid at ``at``."""
    return [
        c
        for c in crossmatches
        if c.compatible and c.occurred_at <= at and sample_valid_at(c.sample_collected_at, at)
    ]


def latest_crossmatch(
    crossmatches: Sequence[Crossmatch], patient: str, at: datetime
) -> Crossmatch | None:
    """The patient's last crossmatch done by ``at`` (its sample gives the patient's group)."""
    mine = [c for c in crossmatches if c.patient_id == patient and c.occurred_at <= at]
    return mine[-1] if mine else None


def out_of_storage_too_long(minutes: float) -> bool:
    """The 30-minute rule: longer out of controlled storage, a unit may not return to stock."""
    return minutes > MAX_MINUTES_OUT_OF_STORAGE


def is_expired(expires_at: datetime | None, at: datetime) -> bool:
    """Past its expiry at ``at``."""
    return expires_at is not None and at > expires_at


def autologous_mismatch(
    donation_type: str | None, intended_patient_id: str | None, patient: str
) -> bool:
    """An autologous unit for anyone but its donor-patient."""
    return donation_type == DonationType.AUTOLOGOUS and patient != intended_patient_id


def group_findings(
    component: str | None,
    abo: str | None,
    rhd: str | None,
    patient_abo: str,
    patient_rhd: str,
) -> list[tuple[Flag, Sentence]]:
    """The unit's ABO and RhD against a patient's group: each flag it raises, with a
    detail (``ABO_INCOMPATIBLE`` or ``ABO_OUT_OF_GROUP``, ``RHD_INCOMPATIBLE``)."""
    if not component or not abo:
        return []
    found: list[tuple[Flag, Sentence]] = []
    match = abo_match(component, abo, patient_abo)
    if match != AboMatch.COMPATIBLE:
        flag = Flag.ABO_OUT_OF_GROUP if match == AboMatch.OUT_OF_GROUP else Flag.ABO_INCOMPATIBLE
        detail = said(
            DetailCode.ABO_MISMATCH,
            "{component} {abo} to a group {patient_abo} patient",
            component=component,
            abo=abo,
            patient_abo=patient_abo,
        )
        found.append((flag, detail))
    if rhd and not rhd_compatible(component, rhd, patient_rhd):
        detail = said(
            DetailCode.RHD_MISMATCH,
            "RhD {rhd} red cells to an RhD {patient_rhd} patient",
            rhd=rhd,
            patient_rhd=patient_rhd,
        )
        found.append((Flag.RHD_INCOMPATIBLE, detail))
    return found


@dataclass(frozen=True)
class UnitState:
    """What the facts say about a unit at one moment."""

    din: str
    product_code: str
    status: Status
    facility: str | None
    abo: str | None
    rhd: str | None
    component: str | None
    units: float | None
    expires_at: datetime | None
    holder_patient_id: str | None
    donation_type: str | None
    flags: tuple[Flag, ...]
    findings: tuple[Finding, ...]
    quarantine_reasons: tuple[str, ...]
    in_transit_to: str | None
    #: Released once (a quarantine since may still hold it: ``quarantine_reasons``).
    released: bool = False
    #: The case ids of the quarantines holding the unit (those that name one).
    quarantine_case_ids: tuple[str, ...] = ()
    #: Received out of temperature, or returned after too long out of storage.
    cold_chain_breach: bool = False
    #: When the unit was dispensed to a ward, if it has not come back since.
    dispensed_at: datetime | None = None
    #: A transfusion of the unit has started (it may have ended since).
    transfusion_started: bool = False
    #: For an autologous or directed donation: the patient it was collected for.
    intended_patient_id: str | None = None
    crossmatches: tuple[Crossmatch, ...] = ()
    #: Every acknowledgement of a recall notice about the unit, in occurred order.
    acknowledgements: tuple[Acknowledgement, ...] = ()

    def acknowledgements_of(self, notice_id: str) -> tuple[Acknowledgement, ...]:
        """The answers to one notice, first first (a facility may answer twice: found,
        then discarded)."""
        return tuple(a for a in self.acknowledgements if a.notice_id == notice_id)

    def to_json(self) -> dict[str, Any]:
        """The state as the ``history --json`` document shows it."""
        return {
            "status": self.status,
            "facility": self.facility,
            "abo": self.abo,
            "rhd": self.rhd,
            "component": self.component,
            "units": self.units,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "holder_patient_id": self.holder_patient_id,
            "in_transit_to": self.in_transit_to,
            "quarantine_reasons": list(self.quarantine_reasons),
            "flags": list(self.flags),
        }


@dataclass
class _Evaluation:
    """Mutable working state of one fold; :meth:`result` freezes it."""

    din: str
    product_code: str
    produced: bool = False
    released: bool = False
    reactive: bool = False
    discarded: bool = False
    #: A transfusion of the unit has started / ended.
    started: bool = False
    completed: bool = False
    facility: str | None = None
    in_transit_to: str | None = None
    holder: str | None = None
    abo: str | None = None
    rhd: str | None = None
    donation_abo: str | None = None
    donation_rhd: str | None = None
    component: str | None = None
    units: float | None = None
    expires_at: datetime | None = None
    donation_type: str | None = None
    intended_patient_id: str | None = None
    cold_chain_breach: bool = False
    dispensed_at: datetime | None = None
    quarantine_reasons: list[str] = field(default_factory=list)
    quarantine_case_ids: list[str] = field(default_factory=list)
    crossmatches: list[Crossmatch] = field(default_factory=list)
    #: Patient -> the decision of the last bedside check for them.
    checked: dict[str, str] = field(default_factory=dict)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    # -- flags --------------------------------------------------------------

    def flag(self, flag: Flag, fact: Fact, detail: Sentence) -> None:
        self.findings.append(Finding(flag, fact.event_id, fact.occurred_at, detail))

    def check_usable(self, fact: Fact, action: Use) -> None:
        """Checks common to every use of the unit (issue, dispense, transfusion)."""
        used_up = self.completed and action != Use.TRANSFUSION  # else DOUBLE_USE
        if not self.produced or self.discarded or used_up:
            detail = said(DetailCode.NOT_IN_STOCK, "{action} of a unit not in stock", action=action)
            self.flag(Flag.UNEXPECTED_SEQUENCE, fact, detail)
        if self.quarantine_reasons:
            detail = said(
                DetailCode.USED_WHILE_QUARANTINED, "{action} while quarantined", action=action
            )
            self.flag(Flag.UNRELEASED_USE, fact, detail)
        elif not self.released:
            detail = said(DetailCode.USED_UNRELEASED, "{action} while not released", action=action)
            self.flag(Flag.UNRELEASED_USE, fact, detail)
        if self.cold_chain_breach:
            detail = said(
                DetailCode.USED_AFTER_COLD_CHAIN_BREACH,
                "{action} after a cold-chain breach",
                action=action,
            )
            self.flag(Flag.COLD_CHAIN, fact, detail)

    # -- one handler per event type ---------------------------------------

    def donation_collected(self, fact: e.DonationCollected) -> None:
        self.donation_type = fact.donation_type
        self.intended_patient_id = fact.intended_patient_id

    def test_result_recorded(self, fact: e.TestResultRecorded) -> None:
        if fact.test == Test.ABO_RHD:
            self.donation_abo = fact.abo
            self.donation_rhd = fact.rhd
        if fact.is_reactive_marker:
            self.reactive = True
            detail = said(DetailCode.REACTIVE_TEST, "{test} reactive", test=fact.test)
            self.flag(Flag.REACTIVE_DONATION, fact, detail)

    def component_produced(self, fact: e.ComponentProduced) -> None:
        if self.produced:
            detail = said(DetailCode.PRODUCED_TWICE, "component produced twice")
            self.flag(Flag.UNEXPECTED_SEQUENCE, fact, detail)
        self.produced = True
        self.component = fact.component
        self.units = fact.units
        self.abo = fact.abo
        self.rhd = fact.rhd
        self.expires_at = fact.expires_at
        self.facility = self.facility or fact.facility

    def unit_released(self, fact: e.UnitReleased) -> None:
        self.released = True
        if not self.reactive:  # a reactive donation's quarantine cannot be lifted
            self.quarantine_reasons.clear()
            self.quarantine_case_ids.clear()

    def unit_quarantined(self, fact: e.UnitQuarantined) -> None:
        self.quarantine_reasons.append(fact.reason)
        if fact.case_id:
            self.quarantine_case_ids.append(fact.case_id)

    def unit_discarded(self, fact: e.UnitDiscarded) -> None:
        self.discarded = True

    def unit_issued(self, fact: e.UnitIssued) -> None:
        self.check_usable(fact, Use.ISSUE)
        self.in_transit_to = fact.to_facility

    def unit_received(self, fact: e.UnitReceived) -> None:
        if self.in_transit_to != fact.facility:
            detail = said(
                DetailCode.RECEIVED_WHERE_NOT_ISSUED, "received where it was not issued to"
            )
            self.flag(Flag.UNEXPECTED_SEQUENCE, fact, detail)
        self.facility = fact.facility
        self.in_transit_to = None
        if not fact.temperature_ok:
            self.cold_chain_breach = True

    def crossmatch_performed(self, fact: e.CrossmatchPerformed) -> None:
        if not self.produced:
            detail = said(
                DetailCode.CROSSMATCH_BEFORE_PRODUCTION, "crossmatch before the unit existed"
            )
            self.flag(Flag.UNEXPECTED_SEQUENCE, fact, detail)
        self.crossmatches.append(
            Crossmatch(
                patient_id=fact.patient_id,
                patient_abo=fact.patient_abo,
                patient_rhd=fact.patient_rhd,
                sample_collected_at=fact.sample_collected_at,
                compatible=fact.result == CrossmatchResult.COMPATIBLE,
                occurred_at=fact.occurred_at,
            )
        )

    def unit_dispensed(self, fact: e.UnitDispensed) -> None:
        self.check_usable(fact, Use.DISPENSE)
        self.holder = fact.patient_id
        self.dispensed_at = fact.occurred_at

    def unit_returned(self, fact: e.UnitReturned) -> None:
        self.holder = None
        self.dispensed_at = None
        if out_of_storage_too_long(fact.minutes_out_of_storage):
            self.cold_chain_breach = True

    def transfusion_started(self, fact: e.TransfusionStarted) -> None:
        patient = fact.patient_id
        self.check_usable(fact, Use.TRANSFUSION)
        if self.started:
            detail = said(DetailCode.STARTED_TWICE, "transfusion started a second time")
            self.flag(Flag.DOUBLE_USE, fact, detail)
        if is_expired(self.expires_at, fact.occurred_at):
            detail = said(DetailCode.STARTED_AFTER_EXPIRY, "transfusion started after expiry")
            self.flag(Flag.EXPIRED_USE, fact, detail)
        if not fact.bedside_check_passed:
            detail = said(DetailCode.BEDSIDE_CHECK_NOT_PASSED, "bedside check not passed")
            self.flag(Flag.NO_BEDSIDE_CHECK, fact, detail)
        if self.checked.get(patient) == Decision.STOP:
            detail = said(DetailCode.STARTED_AFTER_STOP, "transfusion started after a bedside STOP")
            self.flag(Flag.STARTED_AFTER_STOP, fact, detail)
        if autologous_mismatch(self.donation_type, self.intended_patient_id, patient):
            detail = said(
                DetailCode.AUTOLOGOUS_TO_ANOTHER_PATIENT, "autologous unit to another patient"
            )
            self.flag(Flag.AUTOLOGOUS_MISMATCH, fact, detail)
        self.check_compatibility(fact, patient)
        self.started = True
        self.holder = patient

    def check_compatibility(self, fact: e.TransfusionStarted, patient: str) -> None:
        """ABO/RhD against the patient's group from crossmatch, and the 3-day rule."""
        latest = latest_crossmatch(self.crossmatches, patient, fact.occurred_at)
        component = self.component
        if latest is not None:
            abo, rhd = self.abo or self.donation_abo, self.rhd or self.donation_rhd
            for flag, detail in group_findings(
                component, abo, rhd, latest.patient_abo, latest.patient_rhd
            ):
                self.flag(flag, fact, detail)
        if component in RED_CELL_COMPONENTS and not any(
            c.patient_id == patient for c in valid_crossmatches(self.crossmatches, fact.occurred_at)
        ):
            detail = said(
                DetailCode.NO_RECENT_CROSSMATCH,
                "no compatible crossmatch on a sample of the last 3 days",
            )
            self.flag(Flag.NO_VALID_CROSSMATCH, fact, detail)

    def transfusion_completed(self, fact: e.TransfusionCompleted) -> None:
        if not self.started:
            detail = said(
                DetailCode.COMPLETED_NEVER_STARTED, "transfusion completed but never started"
            )
            self.flag(Flag.UNEXPECTED_SEQUENCE, fact, detail)
        self.completed = True

    def pre_transfusion_check_performed(self, fact: e.PreTransfusionCheckPerformed) -> None:
        """A bedside check changes nothing but what a later start for its patient means."""
        self.checked[fact.patient_id] = fact.decision

    def notice_acknowledged(self, fact: e.NoticeAcknowledged) -> None:
        """An answer to a recall notice changes no status: the facility's own facts
        (a quarantine, a discard) do, when it reports them."""
        self.acknowledgements.append(
            Acknowledgement(
                notice_id=fact.notice_id,
                action_taken=fact.action_taken,
                facility=fact.facility,
                event_id=fact.event_id,
                occurred_at=fact.occurred_at,
            )
        )

    def noted(self, fact: Fact) -> None:
        """Facts that are kept in the history but do not change the unit's state."""

    # -- result -------------------------------------------------------------

    def status(self) -> Status:
        """The first status whose condition holds, in this order of precedence."""
        if self.discarded:
            return Status.DISCARDED
        if self.completed:
            return Status.TRANSFUSED
        if self.started:
            return Status.IN_TRANSFUSION
        if self.holder is not None:
            return Status.DISPENSED
        if self.in_transit_to is not None:
            return Status.IN_TRANSIT
        if self.quarantine_reasons:
            return Status.QUARANTINED
        if self.produced:
            return Status.AVAILABLE if self.released else Status.PRODUCED
        return Status.NOT_PRODUCED

    def result(self) -> UnitState:
        flags = tuple(dict.fromkeys(f.flag for f in self.findings))
        return UnitState(
            din=self.din,
            product_code=self.product_code,
            status=self.status(),
            facility=self.facility,
            abo=self.abo or self.donation_abo,
            rhd=self.rhd or self.donation_rhd,
            component=self.component,
            units=self.units,
            expires_at=self.expires_at,
            holder_patient_id=self.holder,
            donation_type=self.donation_type,
            flags=flags,
            findings=tuple(self.findings),
            quarantine_reasons=tuple(self.quarantine_reasons),
            in_transit_to=self.in_transit_to,
            released=self.released,
            quarantine_case_ids=tuple(self.quarantine_case_ids),
            cold_chain_breach=self.cold_chain_breach,
            dispensed_at=self.dispensed_at,
            transfusion_started=self.started,
            intended_patient_id=self.intended_patient_id,
            crossmatches=tuple(self.crossmatches),
            acknowledgements=tuple(self.acknowledgements),
        )


#: The handler of each stored fact class: the state machine's transitions, by class.
_HANDLERS: dict[type[Fact], Callable[[_Evaluation, Any], None]] = {
    e.DonationCollected: _Evaluation.donation_collected,
    e.TestResultRecorded: _Evaluation.test_result_recorded,
    e.ComponentProduced: _Evaluation.component_produced,
    e.UnitReleased: _Evaluation.unit_released,
    e.UnitQuarantined: _Evaluation.unit_quarantined,
    e.UnitDiscarded: _Evaluation.unit_discarded,
    e.UnitIssued: _Evaluation.unit_issued,
    e.UnitReceived: _Evaluation.unit_received,
    e.CrossmatchPerformed: _Evaluation.crossmatch_performed,
    e.UnitDispensed: _Evaluation.unit_dispensed,
    e.UnitReturned: _Evaluation.unit_returned,
    e.TransfusionStarted: _Evaluation.transfusion_started,
    e.TransfusionCompleted: _Evaluation.transfusion_completed,
    e.AdverseReactionReported: _Evaluation.noted,
    e.TransfusionEvaluated: _Evaluation.noted,
    e.PreTransfusionCheckPerformed: _Evaluation.pre_transfusion_check_performed,
    e.NoticeAcknowledged: _Evaluation.notice_acknowledged,
}


def in_occurred_order(facts: Iterable[Fact]) -> list[Fact]:
    """Facts sorted by real-world time; ties keep recording order (sort is stable)."""
    return sorted(facts, key=lambda fact: fact.occurred_at)


def evaluate(
    din: str, product_code: str, facts: Sequence[Fact], as_of: datetime | None = None
) -> UnitState:
    """The unit's state from its facts (only those occurred by ``as_of``, if given)."""
    evaluation = _Evaluation(din=din, product_code=product_code)
    for fact in in_occurred_order(facts):
        if as_of is not None and fact.occurred_at > as_of:
            break
        _HANDLERS[type(fact)](evaluation, fact)
    return evaluation.result()


def timeline(
    din: str, product_code: str, facts: Sequence[Fact]
) -> list[tuple[datetime, UnitState]]:
    """The unit's state from each moment a fact occurred until the next: one fold.

    Facts that occurred at the same instant are applied together, so every
    entry is a state the unit really had (``evaluate(..., as_of=moment)``).
    """
    evaluation = _Evaluation(din=din, product_code=product_code)
    ordered = in_occurred_order(facts)
    states: list[tuple[datetime, UnitState]] = []
    for index, fact in enumerate(ordered):
        _HANDLERS[type(fact)](evaluation, fact)
        last_at_this_instant = (
            index + 1 == len(ordered) or ordered[index + 1].occurred_at != fact.occurred_at
        )
        if last_at_this_instant:
            states.append((fact.occurred_at, evaluation.result()))
    return states


def known_since(
    din: str, product_code: str, facts: Sequence[Fact], as_of: datetime | None = None
) -> dict[Finding, datetime]:
    """When the ledger first knew each finding of the unit's state (as of ``as_of``):
    the earliest recording time by which the facts recorded already showed it."""
    remaining = set(evaluate(din, product_code, facts, as_of).findings)
    recorded = sorted(facts, key=lambda fact: fact.timestamp)
    since: dict[Finding, datetime] = {}
    for index, fact in enumerate(recorded):
        last_at_this_time = (
            index + 1 == len(recorded) or recorded[index + 1].timestamp != fact.timestamp
        )
        if not remaining or not last_at_this_time:
            continue
        shown = evaluate(din, product_code, recorded[: index + 1], as_of).findings
        for finding in remaining.intersection(shown):
            since[finding] = fact.timestamp
        remaining.difference_update(shown)
    return since
