"""Rows of the read models, computed from one aggregate (pure).

Every projection table is keyed by the aggregate it comes from, so a change
to an aggregate replaces that aggregate's rows as a whole: the rows are a
function of the aggregate's facts, never an increment on earlier rows. That
is what makes an incremental projection equal to a rebuild from scratch.
Instants are stored as epoch milliseconds (UTC), the same in SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledger.domain.acknowledgement import AnsweredNotice, UnmatchedAcknowledgement, answers
from ledger.domain.donation import Donation
from ledger.domain.events import (
    AdverseReactionReported,
    ComponentProduced,
    DonationCollected,
    TestResultRecorded,
    TransfusionEvaluated,
    TransfusionStarted,
    UnitIssued,
    UnitQuarantined,
    facts_of,
    first_of,
)
from ledger.domain.instants import ms
from ledger.domain.lookback import LookbackCase
from ledger.domain.notice import recall_notices
from ledger.domain.unit import UnitRecord
from ledger.domain.unit_state import Status, UnitState, in_occurred_order, timeline
from ledger.domain.vocabulary import DonationType

Row = dict[str, Any]


class UseKind(StrEnum):
    """What counts as using a unit, for daily use (demand)."""

    TRANSFUSED = "TRANSFUSED"  # a hospital started transfusing it
    ISSUED = "ISSUED"  # the blood centre that produced it issued it


@dataclass
class UnitRows:
    """Everything the read models hold about one unit."""

    unit_id: str
    unit: Row
    available: list[Row] = field(default_factory=list)
    uses: list[Row] = field(default_factory=list)
    transfusions: list[Row] = field(default_factory=list)
    findings: list[Row] = field(default_factory=list)
    #: The recall notices the ledger's quarantines of the unit call for, with the
    #: answer that closed each (:mod:`ledger.domain.acknowledgement`).
    notices: list[Row] = field(default_factory=list)
    #: The unit's acknowledgements that close no notice, with why.
    unmatched_acknowledgements: list[Row] = field(default_factory=list)
    #: The adverse reactions reported against the unit (the reports count them).
    reactions: list[Row] = field(default_factory=list)
    #: The post-transfusion evaluations of the unit.
    evaluations: list[Row] = field(default_factory=list)


@dataclass
class Changes:
    """Rows that replace the rows of the aggregates a page touched."""

    units: list[UnitRows] = field(default_factory=list)
    donations: list[Row] = field(default_factory=list)
    #: The reactive results of ``donations`` (all of them, replacing the old ones).
    reactive_results: list[Row] = field(default_factory=list)
    cases: list[Row] = field(default_factory=list)


def unit_rows(unit: UnitRecord) -> UnitRows:
    states = timeline(unit.din, unit.product_code, unit.facts)
    final = states[-1][1] if states else unit.state()
    unit_id = unit.id.hex
    produced = first_of(unit.facts, ComponentProduced)
    production = produced.facility if produced else None
    rows = UnitRows(unit_id=unit_id, unit=_unit_row(unit_id, unit, final, production))
    reserved = is_autologous(final)
    rows.available = _available_intervals(unit_id, states, reserved)
    rows.uses = _uses(unit_id, unit, final, production, reserved)
    rows.transfusions = [
        {
            "event_id": f.event_id,
            "unit_id": unit_id,
            "din": unit.din,
            "product_code": unit.product_code,
            "patient_id": f.patient_id,
            "facility": f.facility,
            "transfused_at": ms(f.occurred_at),
        }
        for f in facts_of(unit.facts, TransfusionStarted)
    ]
    rows.findings = [
        {
            "unit_id": unit_id,
            "din": unit.din,
            "product_code": unit.product_code,
            "flag": finding.flag,
            "event_id": finding.event_id,
            "occurred_at": ms(finding.occurred_at),
            "detail": finding.detail,
            "detail_code": finding.said.code,
            "detail_fields": json.dumps(finding.said.values()),
        }
        for finding in final.findings
    ]
    answered, unmatched = answers(recall_notices(unit), final.acknowledgements)
    rows.notices = [_notice_row(unit_id, n) for n in answered]
    rows.unmatched_acknowledgements = [
        {"unit_id": unit_id, "din": unit.din, "product_code": unit.product_code, **_unmatched(u)}
        for u in unmatched
    ]
    rows.reactions = _reactions(unit_id, unit, final)
    rows.evaluations = _evaluations(unit_id, unit)
    return rows


def _patient_fact(
    unit_id: str, unit: UnitRecord, f: AdverseReactionReported | TransfusionEvaluated
) -> Row:
    """The columns a reaction's and an evaluation's row share: which fact, which unit,
    which patient, reported where."""
    return {
        "event_id": f.event_id,
        "unit_id": unit_id,
        "din": unit.din,
        "product_code": unit.product_code,
        "patient_id": f.patient_id,
        "facility": f.facility,
    }


def _reactions(unit_id: str, unit: UnitRecord, state: UnitState) -> list[Row]:
    """Each reaction reported against the unit, by the facility that reported it."""
    return [
        {
            **_patient_fact(unit_id, unit, f),
            "component": state.component,
            "category": f.category,
            "severity": f.severity,
            "imputability": f.imputability,
            "onset_at": ms(f.onset_at),
            "reported_at": ms(f.occurred_at),
        }
        for f in facts_of(unit.facts, AdverseReactionReported)
    ]


def _evaluations(unit_id: str, unit: UnitRecord) -> list[Row]:
    """Each post-transfusion evaluation of the unit (``effective`` as 0 or 1: the same
    column type in SQLite and PostgreSQL)."""
    return [
        {
            **_patient_fact(unit_id, unit, f),
            "effective": int(bool(f.effective)),
            "evaluated_at": ms(f.occurred_at),
        }
        for f in facts_of(unit.facts, TransfusionEvaluated)
    ]


#: The notice's own fields a read-model row keeps (no reason, no recipient: the outbox
#: and the facts hold them).
_NOTICE_FIELDS = ("notice_id", "case_id", "din", "product_code", "facility")


def _notice_row(unit_id: str, answered: AnsweredNotice) -> Row:
    """A notice and the answer that closed it."""
    notice, answer = answered.notice, answered.answer
    return {
        "unit_id": unit_id,
        **{name: getattr(notice, name) for name in _NOTICE_FIELDS},
        "action": str(notice.action),
        "issued_at": ms(notice.issued_at),
        "acknowledged_at": ms(answer.occurred_at) if answer else None,
        "action_taken": answer.action_taken if answer else None,
        "acknowledged_by": answer.facility if answer else None,
        "acknowledgement_id": answer.event_id if answer else None,
    }


def _unmatched(unmatched: UnmatchedAcknowledgement) -> Row:
    answer = unmatched.acknowledgement
    return {
        "notice_id": answer.notice_id,
        "action_taken": answer.action_taken,
        "facility": answer.facility,
        "event_id": answer.event_id,
        "occurred_at": ms(answer.occurred_at),
        "why": unmatched.why,
        "why_code": unmatched.said.code,
        "why_fields": json.dumps(unmatched.said.values()),
    }


def _unit_row(unit_id: str, unit: UnitRecord, state: UnitState, production: str | None) -> Row:
    case_ids = [f.case_id for f in facts_of(unit.facts, UnitQuarantined) if f.case_id]
    return {
        "unit_id": unit_id,
        "din": unit.din,
        "product_code": unit.product_code,
        "status": state.status,
        "facility": state.facility,
        "in_transit_to": state.in_transit_to,
        "component": state.component,
        "abo": state.abo,
        "rhd": state.rhd,
        "units": state.units,
        "expires_at": ms(state.expires_at),
        "flags": ",".join(state.flags),
        "case_ids": ",".join(dict.fromkeys(case_ids)),
        "production_facility": production,
    }


def is_autologous(state: UnitState) -> bool:
    """Reserved for its donor-patient (``shared/domain.md`` §8): not issuable stock nor
    demand on it. A fact of the donation, so of the unit's whole life (its final state
    knows it, whenever the collection was reported)."""
    return state.donation_type == DonationType.AUTOLOGOUS


def _available_intervals(
    unit_id: str, states: list[tuple[datetime, UnitState]], autologous: bool
) -> list[Row]:
    """The periods the unit was on a shelf, released and not quarantined (``autologous``
    as 0 or 1, like every flag column: the inventory counts those units apart)."""
    rows: list[Row] = []
    for index, (start, state) in enumerate(states):
        if state.status != Status.AVAILABLE or state.facility is None:
            continue
        end = states[index + 1][0] if index + 1 < len(states) else None
        rows.append(
            {
                "unit_id": unit_id,
                "facility": state.facility,
                "component": state.component,
                "abo": state.abo,
                "rhd": state.rhd,
                "units": state.units,
                "expires_at": ms(state.expires_at),
                "valid_from": ms(start),
                "valid_to": ms(end),
                "autologous": int(autologous),
            }
        )
    return rows


def _uses(
    unit_id: str, unit: UnitRecord, state: UnitState, production: str | None, autologous: bool
) -> list[Row]:
    """Demand: a hospital uses a unit when it starts transfusing it; a blood
    centre when it issues a unit it produced (an autologous unit's use is marked: it
    drew on no one's shelf)."""
    ordered = in_occurred_order(unit.facts)
    started = first_of(ordered, TransfusionStarted)
    issued = next((f for f in facts_of(ordered, UnitIssued) if f.facility == production), None)
    base = {
        "unit_id": unit_id,
        "component": state.component,
        "abo": state.abo,
        "rhd": state.rhd,
        "autologous": int(autologous),
    }
    return [
        {**base, "facility": fact.facility, "used_at": ms(fact.occurred_at), "kind": kind}
        for fact, kind in ((started, UseKind.TRANSFUSED), (issued, UseKind.ISSUED))
        if fact is not None
    ]


def donation_row(donation: Donation) -> Row:
    collected = first_of(donation.facts, DonationCollected)
    reactive = facts_of(in_occurred_order(donation.facts), TestResultRecorded)
    reactive = [f for f in reactive if f.is_reactive_marker]
    return {
        "din": donation.din,
        "donor_id": collected.donor_id if collected else None,
        "donation_type": collected.donation_type if collected else None,
        "collected_at": ms(collected.occurred_at) if collected else None,
        "facility": collected.facility if collected else None,
        "reactive_at": ms(reactive[0].occurred_at) if reactive else None,
        "reactive_tests": ",".join(dict.fromkeys(f.test for f in reactive)),
    }


def reactive_result_rows(donation: Donation) -> list[Row]:
    """Each REACTIVE infectious-marker result of a donation: a lookback's causes."""
    return [
        {
            "din": donation.din,
            "event_id": f.event_id,
            "test": f.test,
            "occurred_at": ms(f.occurred_at),
        }
        for f in facts_of(donation.facts, TestResultRecorded)
        if f.is_reactive_marker
    ]


def case_row(case: LookbackCase) -> Row:
    return {
        "case_id": case.case_id,
        "donor_id": case.donor_id,
        "reason": case.reason,
        "since": ms(case.since),
        "until": ms(case.until),
        "trigger_din": case.trigger_din,
        "actor": case.actor,
        "opened_at": ms(case.created_on),
    }
