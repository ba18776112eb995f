"""Acknowledgements of recall notices: which one closes which notice, and when a
notice still open is overdue.

A facility answers a :class:`~ledger.domain.notice.RecallNotice` with a
``NoticeAcknowledged`` fact on the notice's unit, naming the notice and what it did
(:class:`~ledger.domain.vocabulary.AckAction`; ``NOT_FOUND`` is an answer too: the
facility looked). The unit's fold keeps every such answer
(:class:`~ledger.domain.unit_state.Acknowledgement`); here they meet the unit's
notices. An answer closes a notice when it names it and comes from the facility
the notice was sent to — the consignee the regulation holds to act (21 CFR 610.46:
"notify consignees"); the first such answer, in occurred order, closes it. Any
other answer is recorded like every fact but closes nothing, and is kept as
*unmatched*, saying why, so that nobody believes a notice closed that is not: one
naming no notice of its unit (a mistyped id, the wrong unit), or one from a facility
the notice was not sent to.

A notice open at a moment is *overdue* once it is older than its limit, its age
measured from ``issued_at`` (the moment of the fact that caused it, not when the
ledger happened to send it: the clock the regulation runs starts with the finding)
to the moment of the question — a parameter of the question, never a stored fact.
Pure: no clock is read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ledger.domain.notice import RecallNotice
from ledger.domain.sentence import Sentence, said
from ledger.domain.unit_state import Acknowledgement
from ledger.domain.vocabulary import NoticeAction

#: A unit in someone's fridge may be hung at any hour: a quarantine is wanted the same day.
DEFAULT_QUARANTINE_LIMIT = timedelta(hours=24)
#: A recipient's notice goes through the transfusion service to the patient's physician:
#: three calendar days, the window 21 CFR 610.46 gives a blood centre to quarantine prior
#: components and notify consignees once a donor tests reactive (``shared/domain.md``
#: §5.2). Reaching the recipient may take up to 12 weeks (42 CFR 482.27); acknowledging
#: the notice, and saying what was done, should not.
DEFAULT_RECIPIENT_LIMIT = timedelta(hours=72)


@dataclass(frozen=True)
class NoticeLimits:
    """How long a notice may stay open before it is overdue, by what it asks."""

    quarantine: timedelta = DEFAULT_QUARANTINE_LIMIT
    notify_recipient: timedelta = DEFAULT_RECIPIENT_LIMIT

    def __post_init__(self) -> None:
        if self.quarantine <= timedelta(0) or self.notify_recipient <= timedelta(0):
            msg = "a notice's limit must be longer than zero"
            raise ValueError(msg)

    def of(self, action: str) -> timedelta:
        """The limit of a notice asking ``action``."""
        if action == NoticeAction.NOTIFY_RECIPIENT:
            return self.notify_recipient
        return self.quarantine

    def overdue(self, action: str, issued_at: datetime, at: datetime) -> bool:
        """Whether a notice open at ``at`` is older than its limit then (strictly)."""
        return at - issued_at > self.of(action)


@dataclass(frozen=True)
class AnsweredNotice:
    """A notice and the answer that closed it (``None``: none has)."""

    notice: RecallNotice
    answer: Acknowledgement | None


def open_at(issued_at: datetime, answered_at: datetime | None, at: datetime) -> bool:
    """Whether a notice was open at ``at``: issued by then and not answered by then (an
    answer closes it from the moment it occurred, so a past moment sees it open)."""
    return issued_at <= at and (answered_at is None or answered_at > at)


class Unmatched(StrEnum):
    """Why an answer closes no notice, as a stable code."""

    NO_SUCH_NOTICE = "NO_SUCH_NOTICE"
    OTHER_FACILITY = "OTHER_FACILITY"  # facility, notice_facility


@dataclass(frozen=True)
class UnmatchedAcknowledgement:
    """An answer that closes no notice, and why (facility FINs only: no identifier),
    a :class:`~ledger.domain.sentence.Sentence` coded by :class:`Unmatched`."""

    acknowledgement: Acknowledgement
    said: Sentence

    @property
    def why(self) -> str:
        """Why, in English, as the documents have always shown it."""
        return self.said.text


def answers(
    notices: Sequence[RecallNotice], acknowledgements: Iterable[Acknowledgement]
) -> tuple[list[AnsweredNotice], list[UnmatchedAcknowledgement]]:
    """One unit's notices with the answer closing each, and the answers closing none.

    ``acknowledgements`` are the unit's, in occurred order (as its fold keeps them);
    a notice's later answers from its facility (found, then discarded) are matched
    but do not close it again.
    """
    by_id = {notice.notice_id: notice for notice in notices}
    closing: dict[str, Acknowledgement] = {}
    unmatched: list[UnmatchedAcknowledgement] = []
    for answer in acknowledgements:
        notice = by_id.get(answer.notice_id)
        if notice is None:
            why = said(Unmatched.NO_SUCH_NOTICE, "names no notice the ledger sent about this unit")
            unmatched.append(UnmatchedAcknowledgement(answer, why))
        elif answer.facility != notice.facility:
            why = said(
                Unmatched.OTHER_FACILITY,
                "from {facility}; the notice was sent to {notice_facility}",
                facility=answer.facility,
                notice_facility=notice.facility,
            )
            unmatched.append(UnmatchedAcknowledgement(answer, why))
        else:
            closing.setdefault(notice.notice_id, answer)
    answered = [AnsweredNotice(n, closing.get(n.notice_id)) for n in notices]
    return answered, unmatched
