"""What a server keeps in memory to answer faster, and its bounds.

The ledger's last-written aggregates (:class:`RecentAggregates`): bounded by count
and by the events they hold, least recently used dropped first, an aggregate taken
out no longer kept. The holders of recently authenticated tokens
(:class:`RecentHolders`): forgotten after their time, on a revocation through the
same access control, and beyond their number; nothing kept when the time is 0.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.adapters.persistence.memory import MemoryAccessTables
from ledger.domain.access import Unauthenticated
from ledger.domain.donation import Donation, Workspace, record_fact
from ledger.domain.identity import CLEAR
from ledger.domain.unit import BloodUnit
from ledger.services.access import AccessControl, RecentHolders
from ledger.services.recent import RecentAggregates
from tests.builders import Timeline, din


def unit_with(checks: int, sequence: int) -> BloodUnit:
    """A released unit checked ``checks`` times (its version one higher a check)."""
    timeline = Timeline(din=din(sequence))
    timeline.collected()
    timeline.produced()
    timeline.released()
    for n in range(checks):
        timeline.checked(hour=22 + n / 10)
    workspace = Workspace(lambda _: None)
    for fact in timeline.facts:
        record_fact(fact, workspace)
    [unit] = [a for a in workspace.aggregates() if isinstance(a, BloodUnit)]
    assert not isinstance(unit, Donation)
    return unit


def test_kept_aggregates_are_bounded_by_count_least_recently_used_first() -> None:
    units = [unit_with(0, n) for n in range(1, 5)]
    recent = RecentAggregates(size=3, events=10_000)
    recent.keep(units[:3])
    recent.keep([units[0]])  # used again: now the most recent
    recent.keep([units[3]])
    assert units[1].id not in recent
    assert [u.id in recent for u in (units[0], units[2], units[3])] == [True] * 3
    assert len(recent) == 3 and recent.held == sum(u.version for u in (units[0], *units[2:]))


def test_kept_aggregates_are_bounded_by_the_events_they_hold() -> None:
    """A unit checked again and again grows; the events bound drops the oldest ones,
    so memory stays bounded however often the kept units are checked."""
    small, big = unit_with(0, 1), unit_with(30, 2)
    recent = RecentAggregates(size=100, events=big.version + small.version - 1)
    recent.keep([small])
    recent.keep([big])
    assert small.id not in recent and big.id in recent
    assert recent.held == big.version
    too_big = RecentAggregates(size=100, events=big.version - 1)
    too_big.keep([big])
    assert len(too_big) == 0 and too_big.held == 0


def test_a_taken_aggregate_is_no_longer_kept_until_kept_again() -> None:
    unit = unit_with(2, 1)
    recent = RecentAggregates(size=10, events=1000)
    recent.keep([unit])
    assert recent.take(unit.id) is unit
    assert unit.id not in recent and recent.held == 0
    assert recent.take(unit.id) is None  # a second thread finds none: it reads the store
    recent.keep([unit])
    recent.keep([unit])  # kept twice: counted once
    assert recent.held == unit.version


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_holder_is_remembered_for_its_time_then_asked_again() -> None:
    ticks = Ticks()
    tables = MemoryAccessTables()
    control = AccessControl(tables, CLEAR, lambda: datetime(2026, 9, 1, tzinfo=UTC))
    control.recent = RecentHolders(5.0, clock=ticks)
    token = control.create("ward-3", "clinician", "S3101")
    assert control.remembered(token) is None  # never authenticated yet
    assert control.authenticate(token).name == "ward-3"
    assert control.remembered(token) == control.authenticate(token)
    tables.revoke("ward-3", datetime(2026, 9, 1, tzinfo=UTC))  # from another process
    assert control.authenticate(token).name == "ward-3"  # within its 5 s
    ticks.now += 5.0
    assert control.remembered(token) is None
    with pytest.raises(Unauthenticated, match="revoked"):
        control.authenticate(token)


def test_a_revocation_through_the_same_control_is_refused_at_once() -> None:
    control = AccessControl(
        MemoryAccessTables(),
        CLEAR,
        lambda: datetime(2026, 9, 1, tzinfo=UTC),
        remember_tokens_s=3600,
    )
    token = control.create("ward-3", "clinician", "S3101")
    control.authenticate(token)
    control.revoke("ward-3")
    assert control.remembered(token) is None
    with pytest.raises(Unauthenticated, match="revoked"):
        control.authenticate(token)


def test_holders_are_bounded_and_none_kept_for_no_time() -> None:
    holders = RecentHolders(60.0, size=2)
    control = AccessControl(MemoryAccessTables(), CLEAR, lambda: datetime(2026, 9, 1, tzinfo=UTC))
    tokens = [control.create(f"ward-{n}", "clinician", "S3101") for n in range(3)]
    control.recent = holders
    for token in tokens:
        control.authenticate(token)
    assert [control.remembered(t) is not None for t in tokens] == [False, True, True]
    plain = AccessControl(MemoryAccessTables(), CLEAR, lambda: datetime(2026, 9, 1, tzinfo=UTC))
    token = plain.create("ward-9", "clinician", "S3101")
    plain.authenticate(token)
    assert plain.remembered(token) is None
    assert plain.remembered(None) is None and plain.remembered("not a token") is None
