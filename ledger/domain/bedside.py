"""The bedside pre-transfusion check: may this unit be hung for this patient, now?

A pure function of the unit's state at the instant asked about (the state
machine's fold, :mod:`ledger.domain.unit_state`, over the facts occurred by
then) and what the bedside says: the patient, their ABO/RhD as the request
states it, the facility asking. It returns *every* reason that applies, not
the first, each with a severity; the decision is the worst of them: STOP if any
reason stops, WARN if any warns, else ALLOW. The rules are the state machine's
own (:func:`~ledger.domain.unit_state.group_findings`, the 3-day sample rule,
the 30-minute rule, expiry, the autologous rule), so a check agrees with the
flags the ledger puts on the unit when the transfusion is then reported: every
breach a transfusion started at that instant would show is among the reasons
(but the start's own ``NO_BEDSIDE_CHECK``, and ``UNEXPECTED_SEQUENCE`` for a unit
never produced, which is ``NOT_RELEASED`` here), and each reason of
:data:`FLAG_OF` is a flag that start raises — the group reasons as long as the
request states the group typed on the patient's crossmatch (the check judges
the request's group too, and says when they differ).

Severities (``shared/domain.md`` §2, §3, §8; ``shared/notes/audit-fhir-bedside.md``,
"Bedside pre-transfusion checks": JPAC 4.10, NZ Blood 3.11, BloodTrack, VBECS) —
a STOP is a hard stop, a WARN an override with a mandatory, logged reason:

- STOP ``NOT_RELEASED``, ``QUARANTINED`` (with its case ids), ``REACTIVE_DONATION``:
  testing not complete, quarantined or recalled, or a transfusion-transmissible
  marker on the donation — hard stops.
- STOP ``DISCARDED``, ``DOUBLE_USE`` (already transfused or being transfused),
  ``OTHER_PATIENT`` (crossmatched or dispensed for someone else),
  ``AUTOLOGOUS_MISMATCH`` (§8: autologous blood goes to its donor only, a hard
  block), ``NOT_RECEIVED_HERE`` (the asking facility's blood bank never received it:
  the unit in hand is not the one the ledger knows, or it skipped receipt checks):
  patient or unit identity mismatch, or a unit not issued for this patient.
- STOP ``EXPIRED_USE`` and ``ABO_INCOMPATIBLE`` (a major incompatibility, §3.1,
  against the group in the request or on the patient's crossmatch): hard stops.
- STOP ``PATIENT_GROUP_MISMATCH``: the group in the request is not the group typed
  on the patient's crossmatch sample — a wrong-blood-in-tube signal, a patient
  identity mismatch.
- STOP ``COLD_CHAIN``: received out of temperature, or returned after more than 30
  minutes out of controlled storage (§6: it may not re-enter stock) — compromised.
- STOP ``NO_VALID_CROSSMATCH`` (red cells or whole blood without a COMPATIBLE
  crossmatch for this patient on a sample collected ≤ 3 days before, §3.4): a
  missing or expired sample/crossmatch is a hard stop — except for group O RhD
  negative red cells, where it WARNs: emergency release of uncrossmatched O RhD
  negative red cells (§3.2) is an override with a reason.
- WARN ``RHD_INCOMPATIBLE``: RhD-positive red cells for an RhD-negative patient
  are given when RhD-negative stock is short or in an emergency (anti-D Ig for
  women of childbearing potential): an override with a reason.
- WARN ``ABO_OUT_OF_GROUP``: out-of-group platelets or cryo, allowed when short
  (§3.1) but to be acknowledged.
- WARN ``OUT_OF_STORAGE``: dispensed more than 30 minutes ago and not returned. It
  may no longer go back to stock, but red cells may still be transfused within 4
  hours of leaving storage (§6): confirm the unit is within its time. (Not the
  ledger's ``COLD_CHAIN`` flag, which a return after 30 minutes raises.)

Messages never name a donor or a patient: groups, components, facilities (FINs),
case ids and instants only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.compatibility import RED_CELL_COMPONENTS
from ledger.domain.instants import iso
from ledger.domain.unit_state import (
    MAX_MINUTES_OUT_OF_STORAGE,
    Status,
    UnitState,
    autologous_mismatch,
    group_findings,
    is_expired,
    latest_crossmatch,
    out_of_storage_too_long,
    valid_crossmatches,
)
from ledger.domain.vocabulary import Component, Decision, Flag, ReasonCode

__all__ = [
    "FLAG_OF",
    "SEVERITY",
    "BedsideAnswer",
    "BedsideRequest",
    "Decision",
    "Reason",
    "ReasonCode",
    "check_unit",
    "decision_of",
    "reasons_for",
]

_STOP, _WARN = Decision.STOP, Decision.WARN

#: Each reason's severity (``NO_VALID_CROSSMATCH`` WARNs for O RhD negative red cells).
SEVERITY: Mapping[ReasonCode, Decision] = {
    ReasonCode.NOT_RELEASED: _STOP,
    ReasonCode.QUARANTINED: _STOP,
    ReasonCode.DISCARDED: _STOP,
    ReasonCode.EXPIRED_USE: _STOP,
    ReasonCode.ABO_INCOMPATIBLE: _STOP,
    ReasonCode.ABO_OUT_OF_GROUP: _WARN,
    ReasonCode.RHD_INCOMPATIBLE: _WARN,
    ReasonCode.NO_VALID_CROSSMATCH: _STOP,
    ReasonCode.OTHER_PATIENT: _STOP,
    ReasonCode.AUTOLOGOUS_MISMATCH: _STOP,
    ReasonCode.DOUBLE_USE: _STOP,
    ReasonCode.REACTIVE_DONATION: _STOP,
    ReasonCode.COLD_CHAIN: _STOP,
    ReasonCode.OUT_OF_STORAGE: _WARN,
    ReasonCode.NOT_RECEIVED_HERE: _STOP,
    ReasonCode.PATIENT_GROUP_MISMATCH: _STOP,
}

#: The flag the ledger raises when a transfusion is reported started at the instant a
#: reason was given (``REACTIVE_DONATION`` the unit has already). Reasons not here have
#: no flag: the ledger cannot see them in the facts of a transfusion.
FLAG_OF: Mapping[ReasonCode, Flag] = {
    ReasonCode.NOT_RELEASED: Flag.UNRELEASED_USE,
    ReasonCode.QUARANTINED: Flag.UNRELEASED_USE,
    ReasonCode.DISCARDED: Flag.UNEXPECTED_SEQUENCE,
    ReasonCode.EXPIRED_USE: Flag.EXPIRED_USE,
    ReasonCode.ABO_INCOMPATIBLE: Flag.ABO_INCOMPATIBLE,
    ReasonCode.ABO_OUT_OF_GROUP: Flag.ABO_OUT_OF_GROUP,
    ReasonCode.RHD_INCOMPATIBLE: Flag.RHD_INCOMPATIBLE,
    ReasonCode.NO_VALID_CROSSMATCH: Flag.NO_VALID_CROSSMATCH,
    ReasonCode.AUTOLOGOUS_MISMATCH: Flag.AUTOLOGOUS_MISMATCH,
    ReasonCode.DOUBLE_USE: Flag.DOUBLE_USE,
    ReasonCode.REACTIVE_DONATION: Flag.REACTIVE_DONATION,
    ReasonCode.COLD_CHAIN: Flag.COLD_CHAIN,
}

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class BedsideRequest:
    """What the bedside says: the patient (as the ledger holds identifiers: sealed in a
    protected ledger), their group as the request states it, where, and when."""

    patient_id: str
    patient_abo: str
    patient_rhd: str
    facility: str
    at: datetime


@dataclass(frozen=True)
class Reason:
    """One reason a check warns or stops; ``severity`` is WARN or STOP. ``case_ids``:
    the lookback or investigation cases of a ``QUARANTINED`` (in the message too)."""

    code: ReasonCode
    severity: Decision
    message: str
    case_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
        }
        if self.case_ids:
            document["case_ids"] = list(self.case_ids)
        return document


@dataclass(frozen=True)
class BedsideAnswer:
    """A check's decision and every reason for it."""

    decision: Decision
    reasons: tuple[Reason, ...]

    @property
    def codes(self) -> list[str]:
        """The reasons' codes, as the recorded check lists them."""
        return [reason.code.value for reason in self.reasons]


def decision_of(reasons: Iterable[Reason]) -> Decision:
    """STOP if any reason stops, WARN if any warns, else ALLOW."""
    severities = {reason.severity for reason in reasons}
    if Decision.STOP in severities:
        return Decision.STOP
    return Decision.WARN if Decision.WARN in severities else Decision.ALLOW


def check_unit(state: UnitState, request: BedsideRequest) -> BedsideAnswer:
    """The answer for a unit whose state is ``state`` (as of ``request.at``)."""
    reasons = tuple(reasons_for(state, request))
    return BedsideAnswer(decision_of(reasons), reasons)


def reasons_for(state: UnitState, request: BedsideRequest) -> list[Reason]:
    """Every reason that applies to hanging the unit for the patient at ``request.at``."""
    return [
        *_availability(state, request),
        *_patient(state, request),
        *_groups(state, request),
        *_condition(state, request),
    ]


def _reason(
    code: ReasonCode, message: str, case_ids: tuple[str, ...] = (), *, warn: bool = False
) -> Reason:
    return Reason(code, Decision.WARN if warn else SEVERITY[code], message, case_ids)


def _availability(state: UnitState, request: BedsideRequest) -> Iterator[Reason]:
    """Released, not quarantined, not discarded, not used yet, in date, here."""
    if not state.released:
        yield _reason(ReasonCode.NOT_RELEASED, "the unit has not been released for use")
    if state.quarantine_reasons:
        cases = tuple(dict.fromkeys(state.quarantine_case_ids))
        named = f" (case {', '.join(cases)})" if cases else ""
        yield _reason(ReasonCode.QUARANTINED, f"the unit is quarantined{named}", cases)
    if state.status == Status.DISCARDED:
        yield _reason(ReasonCode.DISCARDED, "the unit has been discarded")
    if state.transfusion_started:
        message = "the unit is already being transfused or was transfused"
        yield _reason(ReasonCode.DOUBLE_USE, message)
    if state.expires_at is not None and is_expired(state.expires_at, request.at):
        message = f"the unit expired at {iso(state.expires_at)}"
        yield _reason(ReasonCode.EXPIRED_USE, message)
    if state.in_transit_to is not None or state.facility != request.facility:
        where = (
            f"in transit to {state.in_transit_to}"
            if state.in_transit_to is not None
            else f"at {state.facility or 'no facility'}"
        )
        message = f"the unit is not recorded as received at {request.facility} (it is {where})"
        yield _reason(ReasonCode.NOT_RECEIVED_HERE, message)


def _patient(state: UnitState, request: BedsideRequest) -> Iterator[Reason]:
    """This patient's unit: crossmatched and dispensed for them; the autologous rule."""
    patient = request.patient_id
    valid = valid_crossmatches(state.crossmatches, request.at)
    mine = any(c.patient_id == patient for c in valid)
    if state.holder_patient_id is not None and state.holder_patient_id != patient:
        yield _reason(ReasonCode.OTHER_PATIENT, "the unit is dispensed to another patient")
    elif valid and not mine:
        yield _reason(ReasonCode.OTHER_PATIENT, "the unit is crossmatched for another patient")
    if autologous_mismatch(state.donation_type, state.intended_patient_id, patient):
        message = "an autologous unit may only go to its donor"
        yield _reason(ReasonCode.AUTOLOGOUS_MISMATCH, message)
    if state.component in RED_CELL_COMPONENTS and not mine:
        emergency = (state.component, state.abo, state.rhd) == (Component.RED_CELLS, "O", "NEG")
        message = "no COMPATIBLE crossmatch for this patient on a sample of the last 3 days"
        if emergency:
            message += " (uncrossmatched O RhD negative red cells: emergency release only)"
        yield _reason(ReasonCode.NO_VALID_CROSSMATCH, message, warn=emergency)


def _groups(state: UnitState, request: BedsideRequest) -> Iterator[Reason]:
    """ABO and RhD against the group the request states and the one on the patient's
    crossmatch; and whether the two agree (a wrong blood in tube shows as they don't)."""
    stated = (request.patient_abo, request.patient_rhd)
    latest = latest_crossmatch(state.crossmatches, request.patient_id, request.at)
    groups = {stated: "as the request states it"}
    if latest is not None:
        groups.setdefault((latest.patient_abo, latest.patient_rhd), "on the crossmatch sample")
    seen: set[Flag] = set()
    for (abo, rhd), source in groups.items():
        for flag, detail in group_findings(state.component, state.abo, state.rhd, abo, rhd):
            if flag not in seen:
                seen.add(flag)
                yield _reason(ReasonCode(flag.value), f"{detail.text} (patient's group {source})")
    typed = {
        (c.patient_abo, c.patient_rhd)
        for c in state.crossmatches
        if c.patient_id == request.patient_id and c.occurred_at <= request.at
    }
    if typed - {stated}:
        on_samples = ", ".join(f"{abo} {rhd}" for abo, rhd in sorted(typed - {stated}))
        message = (
            f"the request's group {stated[0]} {stated[1]} differs from the group typed on the "
            f"patient's crossmatch sample ({on_samples}): possible wrong blood in tube"
        )
        yield _reason(ReasonCode.PATIENT_GROUP_MISMATCH, message)


def _condition(state: UnitState, request: BedsideRequest) -> Iterator[Reason]:
    """The unit's condition: donation screening, the cold chain, time out of storage."""
    if Flag.REACTIVE_DONATION in state.flags:
        message = "a transfusion-transmissible infection marker is reactive on the donation"
        yield _reason(ReasonCode.REACTIVE_DONATION, message)
    if state.cold_chain_breach:
        message = (
            "the cold chain is broken (received out of temperature, or returned after more "
            f"than {MAX_MINUTES_OUT_OF_STORAGE} minutes out of controlled storage)"
        )
        yield _reason(ReasonCode.COLD_CHAIN, message)
    if state.dispensed_at is not None:
        minutes = (request.at - state.dispensed_at) / _MINUTE
        if out_of_storage_too_long(minutes):
            message = (
                f"out of controlled storage for {int(minutes)} minutes since dispensed (more "
                f"than {MAX_MINUTES_OUT_OF_STORAGE}): it may not return to stock; red cells "
                "must be transfused within 4 hours of leaving storage"
            )
            yield _reason(ReasonCode.OUT_OF_STORAGE, message)
