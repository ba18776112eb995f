"""The synthetic history: the demo generator scaled up, dated in the past.

Facilities, donors and days are configurable; the event-type mix is the
demo's (collections, nine test results per donation, components, releases,
issues, receipts, crossmatches, transfusions, evaluations, a few reactions,
discards, returns and breaches, ~0.5 % re-sends, ~0.6 % late arrivals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.adapters.avro import AvroCodec
from ledger.domain.facts import ReportedFact
from simulator import DemoConfig, generate

#: Facts a day per hospital and per daily donation, observed from the generator.
FACTS_PER_DONATION = 21


@dataclass(frozen=True)
class Scale:
    """The synthetic region: its hospitals, collections, donors and days."""

    hospitals: int = 6
    donations_per_day: int = 18
    #: Chance that an eligible returning donor gives the next donation.
    repeat_donor_share: float = DemoConfig.repeat_donor_share
    #: Days simulated; ``None``: as many as the records asked for need.
    days: int | None = None


#: The benchmarks' default region: six hospitals, 18 donations a day.
DEFAULT_SCALE = Scale()


def history(
    records: int, scale: Scale = DEFAULT_SCALE, *, seed: int = 99, start: datetime | None = None
) -> list[ReportedFact]:
    """About ``records`` facts (exactly ``records`` when the generator makes enough),
    ending just before now unless ``start`` is given."""
    days = scale.days or max(1, records // (FACTS_PER_DONATION * scale.donations_per_day) + 2)
    if start is None:
        start = datetime.now(UTC) - timedelta(days=days + 2)  # the codec refuses the future
    config = DemoConfig(
        start=start,
        days=days,
        hospitals=scale.hospitals,
        donations_per_day=scale.donations_per_day,
        repeat_donor_share=scale.repeat_donor_share,
        seed=seed,
    )
    return list(generate(config).facts[:records])


def encoded(facts: list[ReportedFact]) -> list[tuple[str, bytes]]:
    codec = AvroCodec()
    return [(fact.din, codec.encode(fact)) for fact in facts]
