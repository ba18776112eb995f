"""Days of supply over time: a facility's stock groups sampled across a window (pure).

The inventory dashboard answers "how many days of red cells do we hold now"; the
inventory report answers "how did that move over the month, and how long did each
group spend below its alert thresholds". At each sampled instant a group's days of
supply are computed exactly as :func:`projections.queries.inventory` computes them
at that instant (``shared/domain.md`` §6): the units on a shelf then — released, not
quarantined, not expired, not autologous — over the average daily use in the trailing
window, judged by the thresholds of the group's component.

From the shelf spells (the periods each unit was available, as the read models keep
them) and the uses, one sweep per group: sorted starts and ends, counted by
bisection at each instant, so a year of daily samples over a blood centre's whole
stock costs a sort, not a scan per sample.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.inventory import AlertLevel, AlertPolicy, daily_use, days_of_supply
from ledger.domain.vocabulary import ABO, Component, RhD

#: A stock group: component, ABO, RhD (``?`` where the ledger never learned one).
Group = tuple[str, str, str]
UNKNOWN = "?"


@dataclass(frozen=True)
class ShelfSpell:
    """A period a unit was available on the facility's shelf: from ``since`` until
    ``until`` (``None``: still there), and no longer than its expiry."""

    component: str | None
    abo: str | None
    rhd: str | None
    since: datetime
    until: datetime | None
    expires_at: datetime | None

    @property
    def group(self) -> Group:
        return _group(self.component, self.abo, self.rhd)

    @property
    def end(self) -> datetime | None:
        """When it stopped counting as stock: taken off the shelf, or expired."""
        ends = [moment for moment in (self.until, self.expires_at) if moment is not None]
        return min(ends) if ends else None


@dataclass(frozen=True)
class Use:
    """A unit used (demand): a hospital's transfusion start, a centre's issue."""

    component: str | None
    abo: str | None
    rhd: str | None
    used_at: datetime

    @property
    def group(self) -> Group:
        return _group(self.component, self.abo, self.rhd)


def _group(component: str | None, abo: str | None, rhd: str | None) -> Group:
    return (component or UNKNOWN, abo or UNKNOWN, rhd or UNKNOWN)


@dataclass(frozen=True)
class SupplyPoint:
    """One group at one instant: stock, demand, days of supply and the alert level."""

    at: datetime
    available: int
    daily_use: float
    days_of_supply: float | None
    alert: AlertLevel

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "available": self.available,
            "daily_use": round(self.daily_use, 3),
            "days_of_supply": None
            if self.days_of_supply is None
            else round(self.days_of_supply, 2),
            "alert": self.alert,
        }


def instants(start: datetime, end: datetime, step: timedelta = timedelta(days=1)) -> list[datetime]:
    """``start``, ``start + step`` … up to and including ``end``."""
    if step <= timedelta(0):
        raise ValueError("the sampling step must be positive")
    found, moment = [], start
    while moment <= end:
        found.append(moment)
        moment += step
    return found


def _group_order(group: Group) -> tuple[int, int, int, Group]:
    def place(value: str, order: Sequence[str]) -> int:
        return order.index(value) if value in order else len(order)

    component, abo, rhd = group
    return (place(component, list(Component)), place(abo, list(ABO)), place(rhd, list(RhD)), group)


def supply_series(
    spells: Iterable[ShelfSpell],
    uses: Iterable[Use],
    at: Sequence[datetime],
    policy: AlertPolicy,
    *,
    centre: bool,
) -> dict[Group, list[SupplyPoint]]:
    """Each group's days of supply at each instant of ``at`` (sorted), groups in the
    reports' order (component, then ABO, then RhD). A group is present when a spell or
    a use of it is among those given."""
    starts: dict[Group, list[datetime]] = {}
    ends: dict[Group, list[datetime]] = {}
    used: dict[Group, list[datetime]] = {}
    for spell in spells:
        end = spell.end
        if end is not None and end <= spell.since:
            starts.setdefault(spell.group, [])  # on a shelf never: the group is still seen
            continue
        starts.setdefault(spell.group, []).append(spell.since)
        if end is not None:
            ends.setdefault(spell.group, []).append(end)
    for use in uses:
        used.setdefault(use.group, []).append(use.used_at)
    window = timedelta(days=policy.window_days)
    series: dict[Group, list[SupplyPoint]] = {}
    for group in sorted(starts.keys() | used.keys(), key=_group_order):
        since, until = sorted(starts.get(group, [])), sorted(ends.get(group, []))
        demand = sorted(used.get(group, []))
        thresholds = policy.thresholds(group[0])
        points = []
        for moment in at:
            available = bisect_right(since, moment) - bisect_right(until, moment)
            recent = bisect_right(demand, moment) - bisect_right(demand, moment - window)
            per_day = daily_use(recent, policy.window_days)
            dos = days_of_supply(available, per_day)
            points.append(
                SupplyPoint(moment, available, per_day, dos, thresholds.level(dos, centre=centre))
            )
        series[group] = points
    return series


def time_in_alert(points: Sequence[SupplyPoint]) -> dict[str, int]:
    """How many of a group's samples were at each alert level."""
    counts = {str(level): 0 for level in AlertLevel}
    for point in points:
        counts[point.alert] += 1
    return counts
