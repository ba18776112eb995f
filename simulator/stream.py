"""The entry point: play the stages in order and hand back the stream.

:func:`generate` checks the :class:`DemoConfig`, builds the seeded world, and runs
the stages one after another: plan and collect the donations, test them, produce
their components and settle each unit's road, distribute and transfuse day by day,
play the planted breaches, and publish. The order of the stages is the order of
the random draws, so it is fixed: changing it changes every stream.
"""

from __future__ import annotations

from types import MappingProxyType

from simulator.breaches import inject_breaches
from simulator.components import produce, settle
from simulator.config import DEFAULT_CONFIG, DemoConfig, DemoStream
from simulator.distribution import distribute_and_transfuse
from simulator.donations import collect, plan_donations
from simulator.faults import publish
from simulator.testing import test
from simulator.world import Routes, Sim


def _validate(config: DemoConfig) -> None:
    if config.start.tzinfo is None or config.start.utcoffset() is None:
        msg = "DemoConfig.start must be timezone-aware"
        raise ValueError(msg)
    if config.days < 1 or config.hospitals < 1 or config.donations_per_day < 0:
        msg = "DemoConfig needs days >= 1, hospitals >= 1 and donations_per_day >= 0"
        raise ValueError(msg)
    if not (0 <= config.breach_rate <= 1 and 0 <= config.reactive_rate <= 1):
        msg = "DemoConfig rates must be between 0 and 1"
        raise ValueError(msg)


def generate(config: DemoConfig = DEFAULT_CONFIG) -> DemoStream:
    """Simulate the period and return its facts in publication order.

    Stages: plan and collect donations, test, produce components, release (or
    quarantine and discard), distribute and transfuse day by day, then play the
    planted breaches and publish. The work is linear in the number of facts.
    """
    _validate(config)
    sim = Sim(config)
    routes = Routes()
    for donation in plan_donations(sim):
        collect(sim, donation)
        tested_at = test(sim, donation)
        units = produce(sim, donation)
        settle(sim, donation, units, tested_at, routes)
    distribute_and_transfuse(sim, routes)
    inject_breaches(sim, routes.breaches)
    facts, late, resent = publish(sim)
    injected = {flag: tuple(units) for flag, units in sim.injected.items()}
    return DemoStream(
        facts=facts,
        centre=sim.centre,
        hospitals=sim.hospitals,
        injected=MappingProxyType(injected),
        late=late,
        resent=resent,
    )
