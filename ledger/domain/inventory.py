"""Days of supply and inventory alert levels (pure).

Days of supply (DOS) = issuable units ÷ average daily use over a trailing
window (``shared/domain.md`` §6). Thresholds are configuration: a hospital
warns at 3/2/1 days (yellow/orange/red); a blood centre's regional view
starts its emergency plan below 5 days (China's 2025 clinical blood-use
rules; Shanghai's yellow threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AlertLevel(StrEnum):
    """How short a stock group is: a hospital's three levels, a centre's emergency."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    ORANGE = "ORANGE"
    RED = "RED"
    EMERGENCY = "EMERGENCY"


@dataclass(frozen=True)
class AlertPolicy:
    """When an inventory row raises an alert."""

    window_days: int = 14
    hospital_yellow_days: float = 3.0
    hospital_orange_days: float = 2.0
    hospital_red_days: float = 1.0
    centre_emergency_days: float = 5.0

    def __post_init__(self) -> None:
        if self.window_days < 1:
            msg = "the daily-use window must be at least 1 day"
            raise ValueError(msg)
        if not self.hospital_red_days <= self.hospital_orange_days <= self.hospital_yellow_days:
            msg = "hospital thresholds must satisfy red <= orange <= yellow"
            raise ValueError(msg)

    def level(self, days_of_supply: float | None, *, centre: bool) -> AlertLevel:
        """The alert level of a row; ``None`` days of supply (no recent use) is GREEN."""
        if days_of_supply is None:
            return AlertLevel.GREEN
        if centre:
            short = days_of_supply < self.centre_emergency_days
            return AlertLevel.EMERGENCY if short else AlertLevel.GREEN
        for threshold, level in (
            (self.hospital_red_days, AlertLevel.RED),
            (self.hospital_orange_days, AlertLevel.ORANGE),
            (self.hospital_yellow_days, AlertLevel.YELLOW),
        ):
            if days_of_supply < threshold:
                return level
        return AlertLevel.GREEN


def daily_use(uses_in_window: int, window_days: int) -> float:
    return uses_in_window / window_days


def days_of_supply(available: int, average_daily_use: float) -> float | None:
    """Available ÷ daily use; ``None`` when nothing was used in the window."""
    if average_daily_use <= 0:
        return None
    return available / average_daily_use
