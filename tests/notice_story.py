"""A hand-built multi-hospital recall: one donor, two donations, units everywhere.

The donor's first donation (hour 0) went out to two hospitals: its red cells
were transfused at ``HOSPITAL`` to P000001, its plasma is in stock at
``SECOND_HOSPITAL``, its platelets are on their way to ``HOSPITAL``, its cryo
is still at the centre, and a split plasma was discarded long before anything
was known. The donor's second donation (hour 200) tests REACTIVE at hour 204:
its own units are quarantined by the result (one produced two hours after it),
and the case it opens (``LB-AUTO-<its DIN>``) looks back on the first donation.

:func:`expected` is every notice that case must give — and none for the
discarded unit — as (din, product code, facility, action, patient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.domain.facts import ReportedFact
from ledger.domain.lookback import Cause, automatic_case_id, case_quarantine
from ledger.domain.unit import LEDGER_ACTOR
from tests.builders import CENTRE, HOSPITAL, PLASMA, RBC, Timeline, at, din

SECOND_HOSPITAL = "S3103"
PLATELETS = "E3090V00"
CRYO = "E5165V00"
SPLIT_PLASMA = "E2702V0B"
DONOR = "D000042"
PATIENT = "P000001"
#: When the second donation's HIV NAT came back REACTIVE, and every notice's ``issued_at``.
RESULT_HOUR = 204
ISSUED_AT = at(RESULT_HOUR)

Notice = tuple[str, str, str, str, str | None]


@dataclass
class RecallStory:
    earlier: Timeline = field(default_factory=lambda: Timeline(din=din(1)))
    reactive: Timeline = field(default_factory=lambda: Timeline(din=din(2)))
    donor: str = DONOR

    @property
    def facts(self) -> list[ReportedFact]:
        return [*self.earlier.facts, *self.reactive.facts]

    @property
    def case_id(self) -> str:
        return automatic_case_id(self.reactive.din)

    @property
    def result(self) -> ReportedFact:
        return next(f for f in self.reactive.facts if f.payload.get("result") == "REACTIVE")

    def expected(self) -> set[Notice]:
        first, second = self.earlier.din, self.reactive.din
        return {
            (first, RBC, HOSPITAL, "NOTIFY_RECIPIENT", PATIENT),
            (first, PLASMA, SECOND_HOSPITAL, "QUARANTINE", None),
            (first, PLATELETS, HOSPITAL, "QUARANTINE", None),  # in transit: its receiver
            (first, CRYO, CENTRE, "QUARANTINE", None),
            (second, RBC, CENTRE, "QUARANTINE", None),
            (second, CRYO, CENTRE, "QUARANTINE", None),  # produced after the result
        }

    def case_quarantines(self) -> list[ReportedFact]:
        """The quarantines the automatic case records (what the lookback policy derives
        from the read models), for tests without them."""
        result = self.result
        cause = Cause(result.occurred_at, result.event_id, result.payload["test"])
        reason = f"reactive infectious marker on donation {self.reactive.din}"
        units = [(self.earlier.din, code) for code in (RBC, PLASMA, PLATELETS, CRYO, SPLIT_PLASMA)]
        units += [(self.reactive.din, code) for code in (RBC, CRYO)]
        return [
            case_quarantine(self.case_id, reason, LEDGER_ACTOR, cause, d, code) for d, code in units
        ]


def recall_story(number: int = 0) -> RecallStory:
    """The story; ``number`` tells several apart (their own DINs and donor)."""
    story = RecallStory(
        Timeline(din=din(2 * number + 1)),
        Timeline(din=din(2 * number + 2)),
        DONOR if number == 0 else f"D{number:06d}",
    )
    first = story.earlier
    first.collected(donor=story.donor)
    first.tested()
    for step in (first.produced, first.grouped, first.released, first.issued, first.received):
        step()
    for step in (first.crossmatched, first.dispensed, first.started, first.completed):
        step()
    first.produced(hour=2, product_code=PLASMA, component="PLASMA")
    first.released(hour=6, product_code=PLASMA)
    first.issued(hour=8.5, to=SECOND_HOSPITAL, product_code=PLASMA)
    first.received(hour=10.5, at_facility=SECOND_HOSPITAL, product_code=PLASMA)
    first.produced(hour=2, product_code=PLATELETS, component="PLATELETS", shelf_days=30)
    first.released(hour=6, product_code=PLATELETS)
    first.issued(hour=150, product_code=PLATELETS)
    first.produced(hour=2, product_code=CRYO, component="CRYO")
    first.released(hour=6, product_code=CRYO)
    first.produced(hour=2, product_code=SPLIT_PLASMA, component="PLASMA")
    first.discarded(hour=12, reason="DAMAGED", product_code=SPLIT_PLASMA)
    second = story.reactive
    second.collected(hour=200, donor=story.donor)
    second.produced(hour=202)
    second.tested(hour=RESULT_HOUR, test="HIV_NAT", result="REACTIVE")
    second.produced(hour=206, product_code=CRYO, component="CRYO")
    return story
