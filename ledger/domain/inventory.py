"""Days of supply and inventory alert levels (pure).

Days of supply (DOS) = issuable units ÷ average daily use over a trailing
window (``shared/domain.md`` §6). Thresholds are configuration ("hospital-level
yellow/orange/red thresholds are locally defined — make thresholds config"):
a hospital warns at 3/2/1 days (yellow/orange/red); a blood centre's regional
view starts its emergency plan below 5 days (China's 2025 clinical blood-use
rules; Shanghai's yellow threshold). A component whose shelf life makes those
numbers meaningless is judged by thresholds of its own (:data:`COMPONENT_THRESHOLDS`).

Issuable means released, not quarantined, not expired — and not reserved for one
patient: an autologous unit may only go to its own donor (§8), so it is neither
stock for anyone else nor demand on the shelf, and the read side counts it apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ledger.domain.vocabulary import Component


class AlertLevel(StrEnum):
    """How short a stock group is: a hospital's three levels, a centre's emergency."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    ORANGE = "ORANGE"
    RED = "RED"
    EMERGENCY = "EMERGENCY"


@dataclass(frozen=True)
class Thresholds:
    """The days of supply below which a stock group alerts: at a hospital, yellow,
    orange and red; at a blood centre, its emergency plan."""

    yellow: float
    orange: float
    red: float
    emergency: float

    def __post_init__(self) -> None:
        values = (self.yellow, self.orange, self.red, self.emergency)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            msg = "thresholds must be days of supply, 0 or more"
            raise ValueError(msg)
        if not self.red <= self.orange <= self.yellow:
            msg = "hospital thresholds must satisfy red <= orange <= yellow"
            raise ValueError(msg)

    def level(self, days_of_supply: float | None, *, centre: bool) -> AlertLevel:
        """The alert level of ``days_of_supply``; ``None`` (no recent use) is GREEN."""
        if days_of_supply is None:
            return AlertLevel.GREEN
        if centre:
            short = days_of_supply < self.emergency
            return AlertLevel.EMERGENCY if short else AlertLevel.GREEN
        for threshold, level in (
            (self.red, AlertLevel.RED),
            (self.orange, AlertLevel.ORANGE),
            (self.yellow, AlertLevel.YELLOW),
        ):
            if days_of_supply < threshold:
                return level
        return AlertLevel.GREEN

    def to_json(self, *, centre: bool) -> dict[str, float]:
        """The thresholds that apply to a facility of this kind, by level name."""
        if centre:
            return {"emergency": self.emergency}
        return {"yellow": self.yellow, "orange": self.orange, "red": self.red}


#: Components judged by thresholds of their own; every other component (red cells,
#: whole blood, plasma, cryo) by the policy's defaults, 3/2/1 days at a hospital and 5
#: at a centre, since their shelf lives (21 to 42 days; plasma and cryo a year or more,
#: frozen: ``shared/domain.md`` §2) allow such stock.
#:
#: Platelets keep 5 days at 20 to 24 °C (§2; 7 with bacterial mitigation): 5 days of
#: stock is their whole shelf life, and 3 at a hospital most of it, so those thresholds
#: would keep every platelet group in alert however well it is run. NHSBT aims for at
#: least **1 day** of platelets (§6, against 6 days of red cells): a hospital is orange
#: below that aim, red below half of it (0.5 day) and yellow below 1.5 days; a blood
#: centre, holding the region's buffer for its hospitals, starts its emergency plan
#: below 2 days, the ~2 days of predicted stock below which NHSBT's shortage plan
#: turns amber (§6).
COMPONENT_THRESHOLDS: tuple[tuple[str, Thresholds], ...] = (
    (Component.PLATELETS, Thresholds(yellow=1.5, orange=1.0, red=0.5, emergency=2.0)),
)


@dataclass(frozen=True)
class AlertPolicy:
    """When an inventory row raises an alert.

    ``hospital_*_days`` and ``centre_emergency_days`` are the defaults, for every
    component without thresholds of its own in ``components`` (component,
    thresholds pairs: by default :data:`COMPONENT_THRESHOLDS`)."""

    window_days: int = 14
    hospital_yellow_days: float = 3.0
    hospital_orange_days: float = 2.0
    hospital_red_days: float = 1.0
    centre_emergency_days: float = 5.0
    components: tuple[tuple[str, Thresholds], ...] = field(default=COMPONENT_THRESHOLDS)

    def __post_init__(self) -> None:
        if self.window_days < 1:
            msg = "the daily-use window must be at least 1 day"
            raise ValueError(msg)
        _ = self.defaults  # the defaults are thresholds too: making them checks them
        named = [component for component, _ in self.components]
        if len(set(named)) != len(named):
            msg = "each component may have one set of thresholds"
            raise ValueError(msg)

    @property
    def defaults(self) -> Thresholds:
        """The thresholds of a component without its own."""
        return Thresholds(
            yellow=self.hospital_yellow_days,
            orange=self.hospital_orange_days,
            red=self.hospital_red_days,
            emergency=self.centre_emergency_days,
        )

    def thresholds(self, component: str | None) -> Thresholds:
        """The thresholds a stock group of ``component`` is judged by."""
        return dict(self.components).get(component or "", self.defaults)

    def overriding(self, components: Iterable[tuple[str, Thresholds]]) -> AlertPolicy:
        """This policy with these components' thresholds in place of their current ones
        (the last given for a component wins)."""
        given = dict(components)
        kept = [(c, t) for c, t in self.components if c not in given]
        return replace(self, components=(*kept, *given.items()))

    def level(
        self, days_of_supply: float | None, *, component: str | None, centre: bool
    ) -> AlertLevel:
        """The alert level of a row; ``None`` days of supply (no recent use) is GREEN."""
        return self.thresholds(component).level(days_of_supply, centre=centre)


def daily_use(uses_in_window: int, window_days: int) -> float:
    return uses_in_window / window_days


def days_of_supply(available: int, average_daily_use: float) -> float | None:
    """Available ÷ daily use; ``None`` when nothing was used in the window."""
    if average_daily_use <= 0:
        return None
    return available / average_daily_use
