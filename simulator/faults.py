"""Publication order: how the facts reach the ledger, late and sometimes twice.

The seventh stage. Real integrations do not deliver facts in the order they
happened: hospital systems batch and retry. The facts are published by
``occurred_at``, except that a few hospital facts are held back for one to six
hours (late arrivals) and a few facts are sent a second time with the same
``event_id`` (exact re-sends), so that the ledger's out-of-order handling and
idempotency are exercised by every stream. :func:`count_late` counts the late
arrivals of any published sequence.
"""

from __future__ import annotations

from datetime import datetime

from ledger.domain.facts import ReportedFact
from simulator.config import LATE_SHARE, RESEND_SHARE
from simulator.world import Sim


def publish(sim: Sim) -> tuple[tuple[ReportedFact, ...], int, int]:
    """Publication order: by ``occurred_at``, with late hospital facts and re-sends.

    Returns the facts, how many ended up after a fact that happened later than
    them (late arrivals), and how many were sent twice.
    """
    queue: list[tuple[datetime, int, ReportedFact]] = []
    for serial, fact in enumerate(sim.facts):
        published_at = fact.occurred_at
        if fact.facility != sim.centre and sim.chance(LATE_SHARE):
            published_at = sim.after(published_at, 60, 360)
        elif sim.chance(RESEND_SHARE):
            queue.append((sim.after(published_at, 5, 240), len(sim.facts) + serial, fact))
        queue.append((published_at, serial, fact))
    queue.sort(key=lambda entry: (entry[0], entry[1]))
    facts = tuple(fact for _, _, fact in queue)
    return facts, count_late(facts), len(queue) - len(sim.facts)


def count_late(facts: tuple[ReportedFact, ...]) -> int:
    """Facts published after one that happened later (re-sends not counted)."""
    seen: set[str] = set()
    latest: datetime | None = None
    late = 0
    for fact in facts:
        if fact.event_id in seen:
            continue
        seen.add(fact.event_id)
        if latest is not None and fact.occurred_at < latest:
            late += 1
        else:
            latest = fact.occurred_at
    return late
