"""Which answer closes which recall notice, and when an open one is overdue (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.acknowledgement import NoticeLimits, Unmatched, answers, open_at
from ledger.domain.notice import RecallNotice
from ledger.domain.unit_state import Acknowledgement
from ledger.domain.vocabulary import NoticeAction
from tests.builders import CENTRE, HOSPITAL, RBC, at, din

ISSUED = at(100)


def notice(notice_id: str, facility: str = HOSPITAL, action: str = "QUARANTINE") -> RecallNotice:
    return RecallNotice(
        notice_id, "LB-1", din(), RBC, facility, NoticeAction(action), "why", None, ISSUED
    )


def answer(
    notice_id: str, hour: float, facility: str = HOSPITAL, action: str = "QUARANTINED"
) -> Acknowledgement:
    return Acknowledgement(notice_id, action, facility, f"e-{notice_id}-{hour}", at(hour))


def test_the_first_answer_from_the_notices_facility_closes_it() -> None:
    notices = [notice("n1"), notice("n2", facility=CENTRE)]
    found, unmatched = answers(
        notices,
        [answer("n1", 101), answer("n1", 105, action="DISCARDED"), answer("n2", 102, HOSPITAL)],
    )
    assert [(a.notice.notice_id, a.answer) for a in found] == [
        ("n1", answer("n1", 101)),
        ("n2", None),  # answered by another facility: still open
    ]
    assert [(u.acknowledgement.notice_id, u.why) for u in unmatched] == [
        ("n2", f"from {HOSPITAL}; the notice was sent to {CENTRE}")
    ]
    # the same, coded: what a page says in its reader's language
    assert [(u.said.code, u.said.values()) for u in unmatched] == [
        (Unmatched.OTHER_FACILITY, {"facility": HOSPITAL, "notice_facility": CENTRE})
    ]


def test_an_answer_naming_no_notice_of_the_unit_is_unmatched() -> None:
    found, unmatched = answers([notice("n1")], [answer("elsewhere", 101, action="NOT_FOUND")])
    assert found[0].answer is None
    assert [u.why for u in unmatched] == ["names no notice the ledger sent about this unit"]
    assert [(u.said.code, u.said.values()) for u in unmatched] == [(Unmatched.NO_SUCH_NOTICE, {})]
    assert answers([], []) == ([], [])


def test_open_from_its_issue_until_its_answer() -> None:
    assert not open_at(ISSUED, None, at(99))
    assert open_at(ISSUED, None, ISSUED)
    assert open_at(ISSUED, at(110), at(109))
    assert not open_at(ISSUED, at(110), at(110))


def test_overdue_strictly_after_its_limit_by_what_it_asks() -> None:
    limits = NoticeLimits()
    day, three = ISSUED + timedelta(hours=24), ISSUED + timedelta(hours=72)
    assert not limits.overdue("QUARANTINE", ISSUED, day)
    assert limits.overdue("QUARANTINE", ISSUED, day + timedelta(seconds=1))
    assert not limits.overdue("NOTIFY_RECIPIENT", ISSUED, three)
    assert limits.overdue("NOTIFY_RECIPIENT", ISSUED, three + timedelta(seconds=1))
    assert NoticeLimits(timedelta(hours=2)).of("QUARANTINE") == timedelta(hours=2)
    with pytest.raises(ValueError, match="longer than zero"):
        NoticeLimits(notify_recipient=timedelta(0))
