"""The synthetic history: the demo generator scaled up, dated in the past.

Facilities, donors and days are configurable; the event-type mix is the
demo's (collections, nine test results per donation, components, releases,
issues, receipts, crossmatches, transfusions, evaluations, a few reactions,
discards, returns and breaches, ~0.5 % re-sends, ~0.6 % late arrivals).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.adapters.avro import AvroCodec
from ledger.demo.generator import DemoConfig, generate
from ledger.domain.facts import ReportedFact

#: Facts a day per hospital and per daily donation, observed from the generator.
FACTS_PER_DONATION = 21


def history(
    records: int,
    *,
    hospitals: int = 6,
    donations_per_day: int = 18,
    seed: int = 99,
    start: datetime | None = None,
) -> list[ReportedFact]:
    """About ``records`` facts (exactly ``records`` when the generator makes enough),
    ending just before now unless ``start`` is given."""
    days = max(1, records // (FACTS_PER_DONATION * donations_per_day) + 2)
    if start is None:
        start = datetime.now(UTC) - timedelta(days=days + 2)  # the codec refuses the future
    config = DemoConfig(
        start=start, days=days, hospitals=hospitals, donations_per_day=donations_per_day, seed=seed
    )
    return list(generate(config).facts[:records])


def encoded(facts: list[ReportedFact]) -> list[tuple[str, bytes]]:
    codec = AvroCodec()
    return [(fact.din, codec.encode(fact)) for fact in facts]
