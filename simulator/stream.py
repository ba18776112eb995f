"""The entry point: play the stages in order and hand back the stream.

:func:`generate` checks the :class:`DemoConfig`, builds the seeded world, and runs
the stages one after another: plan and collect the donations, test them, produce
their components and settle each unit's road, distribute and transfuse day by day,
play the planted breaches and the planted recall (when asked for), and publish. The
order of the stages is the order of the random draws, so it is fixed: changing it
changes every stream (the recall's stages draw only when it is asked for).
"""

from __future__ import annotations

from types import MappingProxyType

from simulator.breaches import inject_breaches
from simulator.components import produce, settle
from simulator.config import COMPONENTS, DEFAULT_CONFIG, DemoConfig, DemoStream
from simulator.distribution import distribute_and_transfuse
from simulator.donations import collect, plan_donations
from simulator.faults import publish
from simulator.recall import plan_recall, play_recall
from simulator.testing import test
from simulator.world import Routes, Sim


def _validate(config: DemoConfig) -> None:
    if config.start.tzinfo is None or config.start.utcoffset() is None:
        msg = "DemoConfig.start must be timezone-aware"
        raise ValueError(msg)
    if config.days < 1 or config.hospitals < 1 or config.donations_per_day < 0:
        msg = "DemoConfig needs days >= 1, hospitals >= 1 and donations_per_day >= 0"
        raise ValueError(msg)
    shares = (
        config.breach_rate,
        config.reactive_rate,
        config.repeat_donor_share,
        config.rhd_negative_share,
        config.autologous_share,
        config.apheresis_share,
        config.autologous_share + config.apheresis_share,
    )
    if not all(0 <= share <= 1 for share in shares):
        msg = "DemoConfig rates and shares must be between 0 and 1 (autologous + apheresis too)"
        raise ValueError(msg)
    if config.lead_in_days < 0:
        msg = "DemoConfig.lead_in_days must be >= 0"
        raise ValueError(msg)
    uses = (config.use.of(c) for c in COMPONENTS)
    if any(u.per_donation < 0 or u.cover_days < 0 for u in uses if u is not None):
        msg = "DemoConfig.use needs per_donation >= 0 and cover_days >= 0"
        raise ValueError(msg)


def generate(config: DemoConfig = DEFAULT_CONFIG) -> DemoStream:
    """Simulate the period and return its facts in publication order.

    Stages: plan and collect donations, test, produce components, release (or
    quarantine and discard), distribute and transfuse day by day, then play the
    planted breaches and recall, and publish. The work is linear in the number of facts.
    """
    _validate(config)
    sim = Sim(config)
    routes = Routes()
    donations = plan_donations(sim)
    plan = plan_recall(sim, donations) if config.recall else None
    for donation in donations:
        collect(sim, donation)
        tested_at = test(sim, donation)
        units = produce(sim, donation)
        settle(sim, donation, units, tested_at, routes)
    distribute_and_transfuse(sim, routes)
    inject_breaches(sim, routes.breaches)
    recall = play_recall(sim, plan) if plan is not None else None
    facts, late, resent = publish(sim)
    injected = {flag: tuple(units) for flag, units in sim.injected.items()}
    return DemoStream(
        facts=facts,
        centre=sim.centre,
        hospitals=sim.hospitals,
        injected=MappingProxyType(injected),
        late=late,
        resent=resent,
        end=sim.end,
        recall=recall,
    )
