"""Property: a unit's state depends on the facts, not on the order they arrive in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.facts import ReportedFact
from tests.builders import PLASMA, RBC, two_units_story
from tests.domain_ledger import DomainLedger

FACTS = two_units_story()


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
