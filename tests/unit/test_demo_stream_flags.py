"""The generated demo stream and the ledger agree: each unit gets exactly the flags planted."""

from __future__ import annotations

import collections

import pytest

from simulator import DemoConfig, generate
from tests.domain_ledger import DomainLedger


@pytest.mark.parametrize("seed", [2026, 7, 11])
def test_every_unit_gets_exactly_the_flags_the_generator_planted(seed: int) -> None:
    stream = generate(DemoConfig(seed=seed, days=14))
    ledger = DomainLedger()
    ledger.record(list(stream.facts))
    planted: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for flag, units in stream.injected.items():
        for unit in units:
            planted[unit].add(flag)
    units = {f.din for f in stream.facts}
    found = {
        (unit.din, unit.product_code): set(unit.state().flags)
        for din in units
        for unit in ledger.units_of(din)
        if unit.state().flags
    }
    assert found == dict(planted)
