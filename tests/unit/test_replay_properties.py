"""Property: a unit's state depends on the facts, not on the order they arrive in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.facts import ReportedFact
from tests.builders import PLASMA, RBC, Timeline
from tests.domain_ledger import DomainLedger


def story() -> list[ReportedFact]:
    """Two units of one donation, a late reactive result, a return and a breach."""
    timeline = Timeline().transfused_cleanly(RBC)
    timeline.produced(hour=3, product_code=PLASMA, component="PLASMA")
    timeline.released(hour=6, product_code=PLASMA)
    timeline.issued(hour=8, product_code=PLASMA)
    timeline.received(hour=10, product_code=PLASMA, ok=False)
    timeline.dispensed(hour=30, product_code=PLASMA)
    timeline.returned(hour=31, minutes=40, product_code=PLASMA)
    timeline.started(hour=32, product_code=PLASMA, bedside=False)
    timeline.tested(hour=40, test="HCV_AB", result="REACTIVE")
    return timeline.facts


FACTS = story()


def final_states(arrival: list[ReportedFact], cuts: list[int]) -> dict[str, tuple[object, ...]]:
    ledger = DomainLedger()
    start = 0
    for cut in [*sorted(cuts), len(arrival)]:
        ledger.record(arrival[start:cut])
        start = cut
    din = arrival[0].din
    return {
        unit.product_code: (unit.state().to_json(), unit.state().findings, len(unit.facts))
        for unit in ledger.units_of(din)
    }


IN_ORDER = final_states(sorted(FACTS, key=lambda f: f.occurred_at), [])


@settings(max_examples=150, deadline=None)
@given(
    arrival=st.permutations(FACTS),
    cuts=st.lists(st.integers(min_value=0, max_value=len(FACTS)), max_size=4),
    resend=st.lists(st.sampled_from(FACTS), max_size=5),
)
def test_any_arrival_order_batching_and_resends_give_the_same_state(
    arrival: list[ReportedFact], cuts: list[int], resend: list[ReportedFact]
) -> None:
    assert final_states([*arrival, *resend], cuts) == IN_ORDER


def test_the_story_raises_the_flags_it_tells() -> None:
    rbc_state, _, _ = IN_ORDER[RBC]
    plasma_state, _, _ = IN_ORDER[PLASMA]
    assert isinstance(rbc_state, dict) and isinstance(plasma_state, dict)
    assert rbc_state["flags"] == ["REACTIVE_DONATION"]
    assert set(plasma_state["flags"]) == {"COLD_CHAIN", "NO_BEDSIDE_CHECK", "REACTIVE_DONATION"}
