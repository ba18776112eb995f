"""Facilities answer recall notices: acknowledgements close them, open ones age into alerts.

On SQLite and PostgreSQL, from the multi-hospital recall of :mod:`tests.notice_story`
(six notices of one automatic case, issued at hour 204): an answer from the facility a
notice went to closes it, and the case report says when, how and by whom; a notice left
open is overdue — in the report and in ``alerts`` — only once older than its limit at the
question's moment (24 h to quarantine, 72 h to notify a recipient); an answer naming no
notice of its unit, or from another facility, is a recorded fact that closes nothing and
is shown as unmatched. The report says when each notice was sent (the outbox's time).
The HTTP routes answer the same documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.adapters.persistence import store_for
from ledger.bootstrap import ReadModels, open_read_models_of
from ledger.domain.acknowledgement import NoticeLimits
from ledger.domain.inventory import AlertPolicy
from ledger.domain.notice import notice_id
from ledger.entrypoints import documents
from ledger.entrypoints.api import create_app
from ledger.entrypoints.serve import Served
from tests.builders import CENTRE, HOSPITAL, PLASMA, RBC, at
from tests.notice_story import (
    CRYO,
    ISSUED_AT,
    PLATELETS,
    RESULT_HOUR,
    SECOND_HOSPITAL,
    RecallStory,
    recall_story,
)

HOUR = timedelta(hours=1)
#: Before any notice is overdue: 23 h after they were issued.
EARLY = ISSUED_AT + 23 * HOUR


@pytest.fixture
def story() -> RecallStory:
    return recall_story()


@pytest.fixture
def models(durable_store_url: str, story: RecallStory) -> Iterator[ReadModels]:
    """The story recorded and projected: the automatic case has quarantined, and its
    notices are in the outbox and in the read models."""
    opened = open_read_models_of(store_for(durable_store_url), page_size=11)
    opened.ledger.record(story.facts)
    opened.projector.catch_up()
    yield opened
    opened.close()


def answer(
    models: ReadModels,
    story: RecallStory,
    din: str,
    product: str,
    *,
    hour: float,
    action: str,
    facility: str,
    notice: str | None = None,
) -> None:
    """A facility's NoticeAcknowledged, recorded (as the ingest would) and projected."""
    timeline = story.earlier if din == story.earlier.din else story.reactive
    named = notice or notice_id(story.case_id, din, product)
    fact = timeline.acknowledged(named, hour, action, facility, product_code=product)
    models.ledger.record([fact])
    models.projector.catch_up()


def report(models: ReadModels, story: RecallStory, moment: datetime, **limits: Any) -> Any:
    found = documents.lookback(models, story.case_id, moment, NoticeLimits(**limits))
    assert found is not None
    return found


def notices_by_unit(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(n["din"], n["product_code"]): n for n in document["notices"]}


def alerts(models: ReadModels, moment: datetime, **limits: Any) -> list[dict[str, Any]]:
    return documents.alerts(
        models.view, models.identities, moment, AlertPolicy(), None, NoticeLimits(**limits)
    )


def open_notice_alerts(models: ReadModels, moment: datetime, **limits: Any) -> set[Any]:
    return {
        (a["din"], a["product_code"], a["facility"], a["action"])
        for a in alerts(models, moment, **limits)
        if a["kind"] == "OPEN_NOTICE"
    }


def test_the_case_report_lists_every_notice_open_before_any_answer(
    models: ReadModels, story: RecallStory
) -> None:
    document = report(models, story, EARLY)
    expected = {(d, p, f, a) for d, p, f, a, _ in story.expected()}
    found = {(n["din"], n["product_code"], n["facility"], n["action"]) for n in document["notices"]}
    assert found == expected
    assert document["as_of"] == "2026-09-10T19:00:00Z"
    assert document["notice_limits_hours"] == {"QUARANTINE": 24.0, "NOTIFY_RECIPIENT": 72.0}
    for notice in document["notices"]:
        assert notice["notice_id"] == notice_id(
            story.case_id, notice["din"], notice["product_code"]
        )
        assert (notice["issued_at"], notice["case_id"]) == ("2026-09-09T20:00:00Z", story.case_id)
        assert (notice["open"], notice["acknowledged"], notice["sent_at"]) == (True, None, None)
        assert (notice["age_hours"], notice["overdue"]) == (23.0, False)
    assert len(document["open_notices"]) == 6
    assert document["unmatched_acknowledgements"] == []


def test_answers_from_the_notified_facilities_close_their_notices(
    models: ReadModels, story: RecallStory
) -> None:
    first, second = story.earlier.din, story.reactive.din
    answer(models, story, first, PLASMA, hour=210, action="QUARANTINED", facility=SECOND_HOSPITAL)
    answer(models, story, first, PLATELETS, hour=212, action="NOT_FOUND", facility=HOSPITAL)
    answer(models, story, first, RBC, hour=230, action="PATIENT_NOTIFIED", facility=HOSPITAL)
    answer(models, story, second, RBC, hour=206, action="DISCARDED", facility=CENTRE)
    answer(models, story, first, PLASMA, hour=216, action="DISCARDED", facility=SECOND_HOSPITAL)
    document = report(models, story, at(RESULT_HOUR + 100))
    by_unit = notices_by_unit(document)
    assert by_unit[first, PLASMA]["acknowledged"] == {
        "at": "2026-09-10T02:00:00Z",  # the first answer closes it; the later one is kept
        "action_taken": "QUARANTINED",
        "facility": SECOND_HOSPITAL,
        "event_id": by_unit[first, PLASMA]["acknowledged"]["event_id"],
    }
    assert by_unit[first, PLATELETS]["acknowledged"]["action_taken"] == "NOT_FOUND"
    recipient = by_unit[first, RBC]
    assert (recipient["action"], recipient["acknowledged"]["action_taken"]) == (
        "NOTIFY_RECIPIENT",
        "PATIENT_NOTIFIED",
    )
    assert by_unit[second, RBC]["acknowledged"]["facility"] == CENTRE
    closed = [n for n in document["notices"] if n["acknowledged"]]
    assert all(not n["open"] and not n["overdue"] and n["age_hours"] is None for n in closed)
    still_open = {(n["din"], n["product_code"]) for n in document["open_notices"]}
    assert still_open == {(first, CRYO), (second, CRYO)}
    assert document["unmatched_acknowledgements"] == []
    assert open_notice_alerts(models, at(RESULT_HOUR + 100)) == {
        (first, CRYO, CENTRE, "QUARANTINE"),
        (second, CRYO, CENTRE, "QUARANTINE"),
    }


def test_an_answer_closes_a_notice_from_its_moment_on(
    models: ReadModels, story: RecallStory
) -> None:
    """Asked of a moment before the answer, the notice was open (and overdue) then."""
    first = story.earlier.din
    answer(models, story, first, PLASMA, hour=240, action="QUARANTINED", facility=SECOND_HOSPITAL)
    before = notices_by_unit(report(models, story, at(239)))[first, PLASMA]
    assert (before["open"], before["overdue"], before["acknowledged"]) == (True, True, None)
    assert before["overdue_since"] == "2026-09-10T20:00:00Z"
    after = notices_by_unit(report(models, story, at(241)))[first, PLASMA]
    assert (after["open"], after["overdue"]) == (False, False)
    assert (first, PLASMA, SECOND_HOSPITAL, "QUARANTINE") in open_notice_alerts(models, at(239))
    assert (first, PLASMA, SECOND_HOSPITAL, "QUARANTINE") not in open_notice_alerts(models, at(241))


def test_an_open_notice_is_overdue_only_past_its_limit(
    models: ReadModels, story: RecallStory
) -> None:
    quarantines = {(d, p, f, a) for d, p, f, a, _ in story.expected() if a == "QUARANTINE"}
    recipient = {(d, p, f, a) for d, p, f, a, _ in story.expected() if a == "NOTIFY_RECIPIENT"}
    assert open_notice_alerts(models, EARLY) == set()
    assert open_notice_alerts(models, ISSUED_AT + 24 * HOUR) == set()  # older than: strictly
    past_a_day = ISSUED_AT + 24 * HOUR + timedelta(minutes=1)
    assert open_notice_alerts(models, past_a_day) == quarantines
    assert open_notice_alerts(models, ISSUED_AT + 72 * HOUR) == quarantines
    assert open_notice_alerts(models, ISSUED_AT + 73 * HOUR) == quarantines | recipient
    # the limits are the question's: shorter ones make the same notices overdue sooner
    short = {"quarantine": 2 * HOUR, "notify_recipient": 3 * HOUR}
    assert open_notice_alerts(models, ISSUED_AT + 2.5 * HOUR, **short) == quarantines
    assert open_notice_alerts(models, ISSUED_AT + 4 * HOUR, **short) == quarantines | recipient
    document = report(models, story, past_a_day)
    late = {(n["din"], n["product_code"], n["facility"], n["action"]) for n in document["notices"]
            if n["overdue"]}  # fmt: skip
    assert late == quarantines
    entry = next(a for a in alerts(models, past_a_day) if a["kind"] == "OPEN_NOTICE")
    assert entry["at"] == entry["overdue_since"] == "2026-09-10T20:00:00Z"
    assert (entry["case_id"], entry["issued_at"], entry["limit_hours"]) == (
        story.case_id,
        "2026-09-09T20:00:00Z",
        24.0,
    )
    assert entry["age_hours"] == 24.02


def test_an_answer_naming_no_notice_of_its_unit_is_recorded_and_closes_nothing(
    models: ReadModels, story: RecallStory
) -> None:
    first = story.earlier.din
    stray = "00000000-0000-4000-8000-000000000000"
    other_units = notice_id(story.case_id, first, PLATELETS)  # a notice, of another unit
    answer(models, story, first, PLASMA, hour=210, action="NOT_FOUND",
           facility=SECOND_HOSPITAL, notice=stray)  # fmt: skip
    answer(models, story, first, PLASMA, hour=211, action="QUARANTINED",
           facility=SECOND_HOSPITAL, notice=other_units)  # fmt: skip
    answer(models, story, first, CRYO, hour=212, action="QUARANTINED", facility=HOSPITAL)
    [unit] = models.ledger.units_of(first, PLASMA)
    assert [a.notice_id for a in unit.state().acknowledgements] == [stray, other_units]
    document = report(models, story, at(RESULT_HOUR + 30))
    assert len(document["open_notices"]) == 6  # none of the three closed anything
    unmatched = document["unmatched_acknowledgements"]  # by unit, then time
    assert [(u["din"], u["product_code"], u["notice_id"], u["why"]) for u in unmatched] == [
        (first, PLASMA, stray, "names no notice the ledger sent about this unit"),
        (first, PLASMA, other_units, "names no notice the ledger sent about this unit"),
        (first, CRYO, notice_id(story.case_id, first, CRYO),
         f"from {HOSPITAL}; the notice was sent to {CENTRE}"),
    ]  # fmt: skip
    assert unmatched[0]["action_taken"] == "NOT_FOUND"
    assert unmatched[0]["facility"] == SECOND_HOSPITAL
    assert unmatched[0]["at"] == "2026-09-10T02:00:00Z"
    flagged = [a for a in alerts(models, at(RESULT_HOUR + 30))
               if a["kind"] == "UNMATCHED_ACKNOWLEDGEMENT"]  # fmt: skip
    assert [(a["notice_id"], a["at"]) for a in flagged] == [
        (notice_id(story.case_id, first, CRYO), "2026-09-10T04:00:00Z"),
        (other_units, "2026-09-10T03:00:00Z"),
        (stray, "2026-09-10T02:00:00Z"),
    ]  # newest first, like every alert
    assert not any(a["kind"] == "UNMATCHED_ACKNOWLEDGEMENT" for a in alerts(models, at(209)))


def test_the_report_says_when_each_notice_was_sent(models: ReadModels, story: RecallStory) -> None:
    assert models.outbox is not None
    entries = models.outbox.of_case(story.case_id)
    assert len(entries) == 6
    sent = datetime(2026, 9, 9, 20, 0, 3, tzinfo=UTC)
    models.outbox.mark_sent([entries[0].position, entries[1].position], sent)
    document = report(models, story, EARLY)
    by_id = {n["notice_id"]: n["sent_at"] for n in document["notices"]}
    assert by_id[entries[0].notice.notice_id] == by_id[entries[1].notice.notice_id]
    assert by_id[entries[0].notice.notice_id] == "2026-09-09T20:00:03Z"
    assert sorted(by_id.values(), key=str)[2:] == [None] * 4
    assert set(by_id) == {e.notice.notice_id for e in entries}  # the read side's are the outbox's


def test_a_rebuild_gives_the_same_notices_and_answers(
    models: ReadModels, story: RecallStory
) -> None:
    first = story.earlier.din
    answer(models, story, first, PLASMA, hour=210, action="QUARANTINED", facility=SECOND_HOSPITAL)
    answer(models, story, first, CRYO, hour=212, action="QUARANTINED", facility=HOSPITAL)
    before = report(models, story, at(300)), alerts(models, at(300))
    models.projector.rebuild()
    assert (report(models, story, at(300)), alerts(models, at(300))) == before


def test_the_http_routes_answer_the_same_documents(
    durable_store_url: str, story: RecallStory
) -> None:
    """``GET /api/v1/alerts`` and ``/lookbacks/{id}`` show the notices too (a clinician:
    its own facility's open notices only)."""
    moment = ISSUED_AT + 73 * HOUR
    served = Served(store_for(durable_store_url), clock=lambda: moment)
    try:
        served.models.ledger.record(story.facts)
        served.models.projector.catch_up()
        control = served.access.control
        tokens = {
            "clinician": control.create("ward", "clinician", HOSPITAL),
            "investigator": control.create("inv", "investigator", None),
        }
        with TestClient(create_app(served.services)) as client:

            def get(who: str, path: str) -> Any:
                answer = client.get(path, headers={"Authorization": f"Bearer {tokens[who]}"})
                assert answer.status_code == 200, answer.text
                return answer.json()

            late = [a for a in get("clinician", "/api/v1/alerts") if a["kind"] == "OPEN_NOTICE"]
            assert {(a["product_code"], a["action"]) for a in late} == {
                (RBC, "NOTIFY_RECIPIENT"),
                (PLATELETS, "QUARANTINE"),
            }
            document = get("investigator", f"/api/v1/lookbacks/{story.case_id}")
            assert len(document["notices"]) == 6
            assert {"open_notices", "unmatched_acknowledgements"} <= document.keys()
    finally:
        served.close()
