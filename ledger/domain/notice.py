"""Recall notices: what the ledger tells the facilities holding the units it quarantines.

The ledger quarantines units itself — every unit of a donation with a REACTIVE
infectious marker, and every unit a lookback case finds — but a quarantine in
the ledger's store stops nothing at a hospital's fridge. Each such quarantine
therefore gives a :class:`RecallNotice` to the facility that must act, chosen by
where the unit was at the quarantine's moment (the state machine's fold as of
that instant, :mod:`ledger.domain.unit_state`):

- being or already transfused -> ``NOTIFY_RECIPIENT`` to the facility that
  transfused it, naming the recipient's pseudonym (the one who received the unit
  first: a unit flagged ``DOUBLE_USE`` names its first recipient; the lookback
  report lists every one);
- discarded before (and never transfused) -> no notice: nobody can use it;
- in transit -> ``QUARANTINE`` to the facility it was issued to;
- anywhere else -> ``QUARANTINE`` to the facility that holds it (a ward's unit:
  its hospital), or, if no fact has placed it yet, the blood centre that
  collected the donation (the DIN's FIN).

One notice per case and unit: ``notice_id`` is derived from the two
(:func:`notice_id`), so a notice is the same notice however often it is
derived, recorded or sent, and consumers drop repeats by it. A reactive
donation's own quarantine belongs to the case that donation opens
(:func:`~ledger.domain.lookback.automatic_case_id`), whether or not its donor is
known, so its units get one notice, not one for the result and one for the case.
When a case quarantines a unit more than once (one quarantine per reactive
result), its notice is the earliest quarantine's, the reactive donation's own
first on a tie. ``issued_at`` is that quarantine's ``occurred_at`` — the moment
of the fact that caused it — never the time the ledger ran: the same facts give
the same notices.

Everything here is pure: :func:`recall_notices` reads one unit's facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeGuard

from ledger.domain.events import Fact, TransfusionStarted, UnitQuarantined
from ledger.domain.lookback import automatic_case_id
from ledger.domain.unit import LEDGER_ACTOR, NAMESPACE, UnitRecord
from ledger.domain.unit_state import Status, in_occurred_order
from ledger.domain.vocabulary import NoticeAction


@dataclass(frozen=True)
class RecallNotice:
    """One notice to one facility about one unit, as ``bloodledger.notices`` carries it.

    ``patient_id`` names the recipient of a ``NOTIFY_RECIPIENT`` notice (``None``
    otherwise); inside the ledger it is held as the facts hold it — sealed on a
    protected ledger — and revealed only in the published message.
    """

    notice_id: str
    case_id: str
    din: str
    product_code: str
    facility: str
    action: NoticeAction
    reason: str
    patient_id: str | None
    issued_at: datetime


def notice_fields(notice: RecallNotice) -> dict[str, Any]:
    """The notice's fields by their contract names, ``action`` as its plain symbol (what
    the outbox's row and the published record are made of)."""
    return {**asdict(notice), "action": str(notice.action)}


def notice_id(case_id: str, din: str, product_code: str) -> str:
    """The id of a case's notice about a unit: UUID v5 of
    ``recall-notice/<case_id>/<din>/<product_code>`` in the ledger's namespace
    (:data:`~ledger.domain.unit.NAMESPACE`). Never change it: consumers drop
    repeats by it, and acknowledgements name it."""
    return str(uuid.uuid5(NAMESPACE, f"recall-notice/{case_id}/{din}/{product_code}"))


def is_ledger_quarantine(fact: object) -> TypeGuard[UnitQuarantined]:
    """A ``UnitQuarantined`` the ledger appended itself (a reactive donation's, a case's);
    one an integrator reported is its own business and gives no notice."""
    return isinstance(fact, UnitQuarantined) and fact.source_system == LEDGER_ACTOR


def notice_case(quarantine: UnitQuarantined) -> str:
    """The case a ledger quarantine's notice belongs to: the one it names, or, for a
    reactive donation's own quarantine, the case that donation opens."""
    return quarantine.case_id or automatic_case_id(quarantine.din)


def recall_notices(record: UnitRecord) -> list[RecallNotice]:
    """Every notice the ledger's quarantines of this unit call for, one per case (in
    the order the cases first quarantined it)."""
    first: dict[str, UnitQuarantined] = {}
    for quarantine in sorted(_ledger_quarantines(record.facts), key=_precedence):
        first.setdefault(notice_case(quarantine), quarantine)
    found = (recall_notice(record, case_id, q) for case_id, q in first.items())
    return [notice for notice in found if notice is not None]


def recall_notice(
    record: UnitRecord, case_id: str, quarantine: UnitQuarantined
) -> RecallNotice | None:
    """The notice one quarantine of the unit gives, from where the unit was at its
    moment (``None``: it had been discarded, and never transfused)."""
    moment = quarantine.occurred_at
    state = record.state(as_of=moment)
    action, patient = NoticeAction.QUARANTINE, None
    if state.transfusion_started:
        started = _first_start(record.facts, moment)
        action, patient, facility = (
            NoticeAction.NOTIFY_RECIPIENT,
            started.patient_id,
            started.facility,
        )
    elif state.status == Status.DISCARDED:
        return None
    elif state.status == Status.IN_TRANSIT and state.in_transit_to:
        facility = state.in_transit_to
    else:
        facility = state.facility or record.din[:5]
    return RecallNotice(
        notice_id=notice_id(case_id, record.din, record.product_code),
        case_id=case_id,
        din=record.din,
        product_code=record.product_code,
        facility=facility,
        action=action,
        reason=quarantine.reason,
        patient_id=patient,
        issued_at=moment,
    )


def _ledger_quarantines(facts: Iterable[Fact]) -> list[UnitQuarantined]:
    return [fact for fact in facts if is_ledger_quarantine(fact)]


def _precedence(quarantine: UnitQuarantined) -> tuple[datetime, bool, str]:
    """Earliest first; on a tie the reactive donation's own quarantine (it names no
    case), then by event id, so the choice never depends on recording order."""
    return quarantine.occurred_at, quarantine.case_id is not None, quarantine.event_id


def _first_start(facts: Iterable[Fact], moment: datetime) -> TransfusionStarted:
    """The unit's first transfusion start by ``moment`` (the fold says there is one)."""
    return next(
        fact
        for fact in in_occurred_order(facts)
        if isinstance(fact, TransfusionStarted) and fact.occurred_at <= moment
    )
