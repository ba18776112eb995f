"""The bedside pre-transfusion check, as a use case: one unit read, one fact recorded.

``BedsideChecks.check`` answers "may this unit be hung for this patient?" from
the ledger's current facts: it reads the unit and its donation as stored now
(one query: only what was stored after the copies the ledger kept of them, if it
did), evaluates the rules of :mod:`ledger.domain.bedside` on the unit's state at the
instant asked about, records the answer in the unit's stream as a
``PreTransfusionCheckPerformed`` fact (who asked, from which facility, the
decision and its reasons) and returns the answer document::

    {"decision": "ALLOW" | "WARN" | "STOP",
     "reasons": [{"code", "severity", "message"}, ...],   # every one that applies
     "unit": {"din", "product_code", "state", "findings"},  # as history renders them
     "checked_at": "2026-09-02T07:00:00Z"}

The patient id is sealed before it meets the unit's facts (a protected ledger
compares sealed identifiers) and in the recorded fact, like every identifier;
the answer shows identifiers revealed. A later ``TransfusionStarted`` for the
same patient after a STOP raises ``STARTED_AFTER_STOP`` on the unit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.domain.bedside import BedsideAnswer, BedsideRequest, check_unit
from ledger.domain.din import InvalidDIN, is_fin, validate_din
from ledger.domain.donation import Donation, unit_record
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import IDENTITY_FIELDS
from ledger.domain.instants import iso
from ledger.domain.unit import BloodUnit, UnitRecord
from ledger.domain.unit_state import UnitState
from ledger.domain.vocabulary import ABO, EventType, RhD
from ledger.services.application import BloodLedger
from ledger.services.history import unit_state_json

#: ``source_system`` of the checks the ledger answers over its API.
API_SOURCE = "bloodledger-api"
#: How many times a check is tried when another writer appended to the unit meanwhile.
ATTEMPTS = 3


@dataclass(frozen=True)
class CheckRequest:
    """A bedside check as asked: the unit scanned, the patient, where, and when
    (``at`` None: now)."""

    din: str
    product_code: str
    patient_id: str
    patient_abo: str
    patient_rhd: str
    facility: str
    at: datetime | None = None


class UnknownUnit(LookupError):
    """No unit of that DIN and product code in the ledger (the message names the DIN)."""


class BadCheckRequest(ValueError):
    """A check request that cannot be answered; ``field`` names the field at fault and
    the message the rule, never the value of an identifier."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field


class BedsideChecks:
    """Answers bedside checks from the ledger's facts and records each one."""

    def __init__(self, ledger: BloodLedger, clock: Callable[[], datetime]) -> None:
        self.ledger = ledger
        self.clock = clock

    def check(
        self, request: CheckRequest, *, actor: str, source_system: str = API_SOURCE
    ) -> dict[str, Any]:
        """The answer document for ``request``, after recording the check as a fact.

        Raises :class:`BadCheckRequest` (a ``ValueError``) for a request that is not
        well formed, :class:`UnknownUnit` (a ``LookupError``) for a unit the ledger
        does not hold.
        """
        _validate(request, actor, source_system)
        at = _to_the_millisecond(request.at if request.at is not None else self.clock())
        patient = self.ledger.identities.seal(IDENTITY_FIELDS["patient_id"], request.patient_id)
        asked = BedsideRequest(
            patient, request.patient_abo, request.patient_rhd, request.facility, at
        )
        for attempt in range(1, ATTEMPTS + 1):
            unit, donation = self._unit(request)
            record = unit_record(unit, donation)
            state = record.state(at)
            answer = check_unit(state, asked)
            document = self._document(record, state, answer, at)
            fact = _performed(request, answer, at, actor, source_system)
            try:
                # Through the unit and donation just read: no second read. Should
                # another writer have appended to the unit since, the write fails
                # (a version conflict; the copies are dropped) and the check is made
                # again on what is stored then.
                self.ledger.record([fact], read=[unit, donation])
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
                continue
            return document
        raise AssertionError("unreachable")  # pragma: no cover

    def _unit(self, request: CheckRequest) -> tuple[BloodUnit, Donation]:
        found = self.ledger.unit_to_record(request.din, request.product_code)
        if found is None:
            msg = f"no unit {request.din} {request.product_code} in the ledger"
            raise UnknownUnit(msg)
        return found

    def _document(
        self, record: UnitRecord, state: UnitState, answer: BedsideAnswer, at: datetime
    ) -> dict[str, Any]:
        """The answer; the unit as history renders it, without its facts (the history
        has them; the bedside needs the unit's state)."""
        document = {
            "decision": answer.decision.value,
            "reasons": [reason.to_json() for reason in answer.reasons],
            "unit": unit_state_json(record, at, state),
            "checked_at": iso(at),
        }
        revealed: dict[str, Any] = self.ledger.identities.revealed(document)
        return revealed


def _performed(
    request: CheckRequest, answer: BedsideAnswer, at: datetime, actor: str, source_system: str
) -> ReportedFact:
    """The fact that records a check (its patient id is sealed when it is recorded)."""
    return ReportedFact(
        event_id=str(uuid.uuid4()),
        event_type=EventType.PreTransfusionCheckPerformed,
        occurred_at=at,
        source_system=source_system,
        facility=request.facility,
        actor=actor,
        din=request.din,
        product_code=request.product_code,
        payload={
            "patient_id": request.patient_id,
            "patient_abo": request.patient_abo,
            "patient_rhd": request.patient_rhd,
            "decision": answer.decision.value,
            "reasons": answer.codes,
        },
    )


def _to_the_millisecond(at: datetime) -> datetime:
    """The instant in UTC, to the millisecond (what the contract's instants hold)."""
    if at.utcoffset() is None:
        raise BadCheckRequest("at", "must be a timezone-aware instant")
    utc = at.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


_ABO = frozenset(group.value for group in ABO)
_RHD = frozenset(rhd.value for rhd in RhD)


def _validate(request: CheckRequest, actor: str, source_system: str) -> None:
    try:
        validate_din(request.din if isinstance(request.din, str) else "")
    except InvalidDIN as error:
        raise BadCheckRequest("din", str(error)) from None
    for field, value in (
        ("product_code", request.product_code),
        ("patient_id", request.patient_id),
        ("actor", actor),
        ("source_system", source_system),
    ):
        if not isinstance(value, str) or not value.strip():
            raise BadCheckRequest(field, "required, must be a non-empty string")
    if not isinstance(request.patient_abo, str) or request.patient_abo not in _ABO:
        raise BadCheckRequest("patient_abo", f"must be one of {', '.join(ABO)}")
    if not isinstance(request.patient_rhd, str) or request.patient_rhd not in _RHD:
        raise BadCheckRequest("patient_rhd", f"must be one of {', '.join(RhD)}")
    if not isinstance(request.facility, str) or not is_fin(request.facility):
        raise BadCheckRequest("facility", "not an ISBT 128 Facility Identification Number")
    if request.at is not None and not isinstance(request.at, datetime):
        raise BadCheckRequest("at", "must be a timezone-aware instant")
