"""A facility's transfusion reactions over a window, counted for hemovigilance (pure).

What a hemovigilance officer reads first: how many reaction cases were reported, of
which categories, how severe and how surely caused by the transfusion; how often per
1,000 units transfused and per 1,000 transfusion episodes; and how long each took
from onset to report (the 2000 rules want reactions reported at once and returned to
the blood bank; slow reporting is a finding in itself). Cases and units are counted
as :mod:`ledger.domain.transfusion` says.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ledger.domain.transfusion import (
    Reaction,
    Transfusion,
    episodes,
    first_starts,
    reaction_cases,
)
from ledger.domain.vocabulary import Imputability, ReactionCategory, Severity

#: Severities a reaction is serious at (SHOT's and ISBT's "severe" and worse).
SERIOUS = frozenset({Severity.SEVERE, Severity.LIFE_THREATENING, Severity.DEATH})
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Delays:
    """Onset-to-report delays of the cases, in hours (those reported before their onset
    are a data error: counted apart, not in the statistics)."""

    hours: tuple[float, ...]
    before_onset: int

    @property
    def median(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None

    @property
    def p90(self) -> float | None:
        """The 90th percentile, nearest rank (a delay some case really had)."""
        if not self.hours:
            return None
        ordered = sorted(self.hours)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]

    @property
    def longest(self) -> float | None:
        return max(self.hours) if self.hours else None

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": len(self.hours),
            "before_onset": self.before_onset,
            "median_hours": _rounded(self.median),
            "p90_hours": _rounded(self.p90),
            "max_hours": _rounded(self.longest),
            "hours": [round(h, 2) for h in self.hours],
        }


@dataclass(frozen=True)
class Hemovigilance:
    """The reactions of one facility and window, counted."""

    reports: int
    cases: tuple[Reaction, ...]
    units_transfused: int
    episodes: int
    delays: Delays

    @property
    def per_thousand_units(self) -> float | None:
        """Cases per 1,000 units transfused."""
        return _per_thousand(len(self.cases), self.units_transfused)

    @property
    def per_thousand_episodes(self) -> float | None:
        """Cases per 1,000 transfusion episodes (the 2019 indicator #6)."""
        return _per_thousand(len(self.cases), self.episodes)

    @property
    def serious(self) -> int:
        return sum(1 for c in self.cases if c.severity in SERIOUS)

    def by(self, attribute: str, order: Sequence[str]) -> dict[str, int]:
        """Cases per value of ``attribute``, every value of ``order`` present (0 or more)."""
        counted = Counter(getattr(c, attribute) for c in self.cases)
        return {value: counted[value] for value in [*order, *sorted(set(counted) - set(order))]}

    def category_by_severity(self) -> dict[str, dict[str, int]]:
        """Cases per category (those with any) and severity."""
        counted = Counter((c.category, c.severity) for c in self.cases)
        return {
            category: {severity: counted[(category, severity)] for severity in Severity}
            for category, n in self.by("category", list(ReactionCategory)).items()
            if n
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "reports": self.reports,
            "cases": len(self.cases),
            "serious": self.serious,
            "units_transfused": self.units_transfused,
            "episodes": self.episodes,
            "per_thousand_units": _rounded(self.per_thousand_units),
            "per_thousand_episodes": _rounded(self.per_thousand_episodes),
            "by_category": self.by("category", list(ReactionCategory)),
            "by_severity": self.by("severity", list(Severity)),
            "by_imputability": self.by("imputability", list(Imputability)),
            "category_by_severity": self.category_by_severity(),
            "delays": self.delays.to_json(),
        }


def hemovigilance(
    reactions: Sequence[Reaction], transfusions: Sequence[Transfusion]
) -> Hemovigilance:
    """The facility's reactions reported in the window, against its transfusions
    started in the same window."""
    cases = tuple(reaction_cases(reactions))
    used = first_starts(transfusions)
    delays = [c.delay / _HOUR for c in cases]
    return Hemovigilance(
        reports=len(reactions),
        cases=cases,
        units_transfused=len(used),
        episodes=len(episodes(used)),
        delays=Delays(
            hours=tuple(d for d in delays if d >= 0),
            before_onset=sum(1 for d in delays if d < 0),
        ),
    )


def _per_thousand(count: int, of: int) -> float | None:
    return count / of * 1000 if of else None


def _rounded(number: float | None) -> float | None:
    return None if number is None else round(number, 2)
