"""Lookback: a donor's earlier donations traced, their units quarantined, recipients listed.

A case is opened by hand (an investigator names the donor, the window and
when) or by the ledger itself, for every donation with a REACTIVE
infectious marker whose donor is known. A case quarantines every unit of
the donor's donations in its window — one ``UnitQuarantined`` per cause
(each reactive result of an automatic case's donation; the opening of a
manual case), occurring when the cause did, with an event id derived from
the case, the cause and the unit. So the quarantines are a function of the
facts alone: re-opening records nothing twice, a unit reported later is
quarantined when it arrives, and two stores fed the same facts at different
times derive exactly the same ones. The report is computed from the read
models when asked for, so it reflects what is known now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ledger.domain.acknowledgement import NoticeLimits
from ledger.domain.facts import ReportedFact
from ledger.domain.instants import from_ms, iso, iso_ms, ms
from ledger.domain.lookback import (
    CONSUMED,
    DEFAULT_WINDOW_DAYS,
    DISPOSED,
    IN_STOCK,
    UNCONFIRMED,
    CaseRequest,
    Cause,
    LookbackCase,
    automatic_case,
    case_aggregate_id,
    case_quarantine,
)
from ledger.domain.sentence import Sentence, said
from ledger.domain.vocabulary import NoticeAction
from ledger.services.application import BloodLedger
from ledger.services.ports import DonorIndex, NoticeOutbox, Row

log = logging.getLogger("bloodledger.lookback")

CASES_PER_TRANSACTION = 200
"""Cases the automatic policy records together: a handful of queries and one
transaction each (a rebuild's end can bring thousands up to date at once)."""


class CaseRecorder:
    """Records cases (those new) and the quarantines they imply that are not yet recorded.

    Works from the read models as they are: callers make them current first.
    Many cases are recorded from a fixed handful of queries and one
    transaction, whatever their number: the automatic policy brings every
    reactive donor's cases up to date at the end of a rebuild.
    """

    def __init__(self, ledger: BloodLedger, index: DonorIndex) -> None:
        self.ledger = ledger
        self.index = index

    def record(self, request: CaseRequest) -> int:
        """Returns how many quarantines it newly recorded."""
        return self.record_all([request])

    def record_all(self, requests: Sequence[CaseRequest]) -> int:
        """Record these cases in one transaction; how many quarantines were newly recorded."""
        implied = self.quarantines(requests)
        recorded = self.ledger.ledger_recorder.select_fact_ids(
            [f.event_id for facts in implied.values() for f in facts]
        )
        missing = {
            case_id: [f for f in facts if f.event_id not in recorded]
            for case_id, facts in implied.items()
        }
        ids = {case_aggregate_id(r.case_id): r for r in requests}
        existing = self.ledger.event_log.aggregates(list(ids))
        opened = [LookbackCase.open(r) for i, r in ids.items() if i not in existing]
        facts = [f for case_facts in missing.values() for f in case_facts]
        if not facts and not opened:
            return 0
        outcome = self.ledger.record(facts, also=opened)
        for case_id, case_facts in missing.items():
            if case_facts and not outcome.duplicates:
                log.info("lookback %s: %d quarantines recorded", case_id, len(case_facts))
        if outcome.duplicates:
            log.info(
                "lookbacks: %d of their quarantines were recorded meanwhile by another writer",
                outcome.duplicates,
            )
        return outcome.facts - outcome.duplicates

    def quarantines(self, requests: Sequence[CaseRequest]) -> dict[str, list[ReportedFact]]:
        """Every quarantine each case implies, from what the read models know now."""
        donations, units = self.index.donors_units(sorted({r.donor_id for r in requests}))
        of_donor = _grouped(donations, "donor_id")
        units_of = _grouped(units, "din")
        causes = self._causes(requests)
        implied: dict[str, list[ReportedFact]] = {}
        for request in requests:
            since, until = ms(request.since), ms(request.until)
            window = [
                unit
                for d in of_donor.get(request.donor_id, [])
                if d["collected_at"] is not None and since <= d["collected_at"] <= until
                for unit in units_of.get(d["din"], [])
            ]
            implied[request.case_id] = [
                case_quarantine(
                    request.case_id,
                    request.reason,
                    request.actor,
                    cause,
                    u["din"],
                    u["product_code"],
                )
                for cause in causes[request.case_id]
                for u in window
            ]
        return implied

    def _causes(self, requests: Sequence[CaseRequest]) -> dict[str, list[Cause]]:
        """A manual case has one, its opening (at ``until``); an automatic one, each
        reactive result of its donation."""
        triggers = sorted({r.trigger_din for r in requests if r.trigger_din is not None})
        results: dict[str, list[Cause]] = {}
        for r in self.index.reactive_results(triggers):
            cause = Cause(from_ms(r["occurred_at"]), r["event_id"], r["test"])
            results.setdefault(r["din"], []).append(cause)
        return {
            r.case_id: [Cause(r.until)] if r.trigger_din is None else results.get(r.trigger_din, [])
            for r in requests
        }


def _grouped(rows: Iterable[Row], key: str) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


class AutomaticLookbacks:
    """The ledger's own policy: every reactive donation whose donor is known has a case,
    and every case has quarantined every unit it implies."""

    def __init__(self, cases: CaseRecorder, *, window_days: int = DEFAULT_WINDOW_DAYS) -> None:
        self.cases = cases
        self.window = timedelta(days=window_days)

    def at_head(self, dins: Iterable[str] | None) -> bool:
        """Bring the cases of the donors of ``dins`` (all donors: ``None``) up to date;
        whether anything was recorded.

        The projector calls it when it reaches the end of the log — the end of
        a batch, so the read models hold all of the batch's units (a page can
        end inside a batch) — with the donations its catch-up touched.
        """
        index = self.cases.index
        donors: list[str] | None = None
        if dins is not None:
            donors = sorted(index.donors_of(sorted(set(dins))))
            if not donors:
                return False
        requests = {
            request.case_id: request
            for request in map(self._automatic, index.reactive_donations(donors))
        }
        for case in index.cases(donors):
            requests.setdefault(case["case_id"], _request(case))
        pending = list(requests.values())
        recorded = 0
        for start in range(0, len(pending), CASES_PER_TRANSACTION):
            recorded += self.cases.record_all(pending[start : start + CASES_PER_TRANSACTION])
        return recorded > 0

    def _automatic(self, donation: Row) -> CaseRequest:
        collected_at = from_ms(donation["collected_at"])
        return automatic_case(donation["din"], donation["donor_id"], collected_at, self.window)


def _request(case: Row) -> CaseRequest:
    """The request a recorded case was opened with."""
    return CaseRequest(
        case_id=case["case_id"],
        donor_id=case["donor_id"],
        reason=case["reason"],
        since=from_ms(case["since"]),
        until=from_ms(case["until"]),
        trigger_din=case["trigger_din"],
        actor=case["actor"],
    )


class Lookbacks:
    """The investigator's use cases: open a case, report on one.

    With the store's notice ``outbox``, a report says when each recall notice went out
    (without one — a store that keeps none — every notice reads as not yet sent).
    """

    def __init__(
        self,
        cases: CaseRecorder,
        catch_up: Callable[[], object],
        outbox: NoticeOutbox | None = None,
    ) -> None:
        self.cases = cases
        self.index = cases.index
        self.catch_up = catch_up
        self.outbox = outbox

    def open(self, request: CaseRequest) -> int:
        """Open (or re-open) a case; returns how many quarantines it newly recorded."""
        self.catch_up()
        quarantined = self.cases.record(request)
        self.catch_up()
        return quarantined

    def report(
        self, case_id: str, at: datetime, limits: NoticeLimits | None = None
    ) -> dict[str, Any] | None:
        """What the case found: quarantined, consumed, recipients, and what is unknown;
        and its recall notices as of ``at`` (the question's moment: answered or open,
        and which open ones are past their ``limits``)."""
        self.catch_up()
        case = self.index.case(case_id)
        if case is None:
            return None
        since, until = from_ms(case["since"]), from_ms(case["until"])
        donations, units = self.index.donor_units(case["donor_id"], since, until)
        recipients = self.index.recipients_of([u["unit_id"] for u in units])
        report = _report(case, donations, units, recipients)
        report.update(self._notices(case_id, [u["unit_id"] for u in units], at, limits))
        return report

    def _notices(
        self, case_id: str, unit_ids: list[str], at: datetime, limits: NoticeLimits | None
    ) -> dict[str, Any]:
        """The case's notices with when each was sent, the open ones, and the answers
        about its units that closed no notice."""
        limits = limits or NoticeLimits()
        entries = self.outbox.of_case(case_id) if self.outbox is not None else []
        sent = {e.notice.notice_id: iso(e.sent_at) for e in entries if e.sent_at is not None}
        notices = [
            {**n, "sent_at": sent.get(n["notice_id"])}
            for n in self.index.notices_of_case(case_id, at, limits)
        ]
        return {
            "as_of": iso(at),
            "notice_limits_hours": {
                str(action): limits.of(action) / timedelta(hours=1) for action in NoticeAction
            },
            "notices": notices,
            "open_notices": [n for n in notices if n["open"]],
            "unmatched_acknowledgements": self.index.unmatched_acknowledgements(unit_ids),
        }


class Undetermined(StrEnum):
    """What a lookback could not determine, as a stable code (a report's
    ``undetermined_codes``, beside its English ``undetermined``)."""

    NO_COMPONENT_REPORTED = "NO_COMPONENT_REPORTED"  # din
    WHEREABOUTS_UNCONFIRMED = "WHEREABOUTS_UNCONFIRMED"  # din, product_code, status
    COLLECTIONS_UNREPORTED = "COLLECTIONS_UNREPORTED"


def _unconfirmed(unit: Row) -> Sentence:
    """A unit whose whereabouts no fact confirms (its status written out in the text)."""
    status = unit["status"].lower().replace("_", " ")
    din, product = unit["din"], unit["product_code"]
    return Sentence(
        Undetermined.WHEREABOUTS_UNCONFIRMED,
        f"unit {din} {product}: {status}; where it is now is not confirmed by any fact",
        (("din", din), ("product_code", product), ("status", unit["status"])),
    )


def _unit_json(unit: Row) -> dict[str, Any]:
    return {
        "din": unit["din"],
        "product_code": unit["product_code"],
        "component": unit["component"],
        "status": unit["status"],
        "facility": unit["facility"],
        "in_transit_to": unit["in_transit_to"],
    }


def _report(
    case: Row, donations: list[Row], units: list[Row], recipients: list[dict[str, Any]]
) -> dict[str, Any]:
    case_id = case["case_id"]
    quarantined = [
        u for u in units if case_id in u["case_ids"].split(",") and u["status"] in IN_STOCK
    ]
    unaccounted = [
        u
        for u in units
        if u["status"] in UNCONFIRMED or u["status"] not in IN_STOCK | CONSUMED | DISPOSED
    ]
    with_units = {u["din"] for u in units}
    undetermined = [
        said(
            Undetermined.NO_COMPONENT_REPORTED,
            "donation {din}: no component of it has been reported",
            din=d["din"],
        )
        for d in donations
        if d["din"] not in with_units
    ]
    undetermined += [_unconfirmed(u) for u in unaccounted]
    undetermined.append(
        said(
            Undetermined.COLLECTIONS_UNREPORTED,
            "donations whose collection was never reported cannot be attributed to this donor",
        )
    )
    return {
        "case_id": case_id,
        "donor_id": case["donor_id"],
        "reason": case["reason"],
        "since": iso_ms(case["since"]),
        "until": iso_ms(case["until"]),
        "trigger_din": case["trigger_din"],
        "opened_by": case["actor"],
        "opened_at": iso_ms(case["opened_at"]),
        "donations": [
            {"din": d["din"], "collected_at": iso_ms(d["collected_at"])} for d in donations
        ],
        "units_quarantined": [_unit_json(u) for u in quarantined],
        "units_consumed": [_unit_json(u) for u in units if u["status"] in CONSUMED],
        "units_disposed": [_unit_json(u) for u in units if u["status"] in DISPOSED],
        "recipients_to_notify": recipients,
        "units_not_accounted_for": [_unit_json(u) for u in unaccounted],
        "undetermined": [u.text for u in undetermined],
        "undetermined_codes": [u.to_json() for u in undetermined],
    }
