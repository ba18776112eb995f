"""The ``Donation`` aggregate (one per DIN) and how donation facts reach units.

Design: collection and test results are facts about the *donation*, yet an
investigator replaying one unit must see them, and they change the unit's
state (its donor, its autologous recipient, a reactive marker). So each
donation-level fact is recorded once in the donation's own stream — the
authoritative record, which also lists the donation's units — and copied,
with the same ``event_id``, into the stream of every unit of that DIN. A
unit that becomes known later (a component produced after the result arrived)
receives copies of every donation fact recorded so far when it is registered.
Each unit's stream is therefore self-contained: its state and history are a
fold over one stream, and a REACTIVE result quarantines components produced
after it just as it does those that already existed.
"""

from __future__ import annotations

import functools
import uuid
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from ledger.domain.events import (
    FACT_CLASSES,
    DonationRegistered,
    DonationUnitAdded,
    Fact,
    fact_kwargs,
)
from ledger.domain.facts import ReportedFact
from ledger.domain.unit import NAMESPACE, BloodUnit


@functools.lru_cache(maxsize=65536)
def donation_id(din: str) -> UUID:
    """The stream id of a donation, derived from its DIN."""
    return uuid.uuid5(NAMESPACE, f"donation/{din}")


class Donation(BaseAggregate[UUID]):
    """A donation: its donation-level facts and the product codes of its units."""

    TOPIC = "bloodledger:Donation"

    def __init__(self, din: str) -> None:
        self.din = din
        self.facts: list[Fact] = []
        self.event_ids: set[str] = set()
        self.product_codes: list[str] = []

    @classmethod
    def register(cls, din: str) -> Donation:
        return cls._create(DonationRegistered, id=donation_id(din), din=din)

    def apply_fact(self, fact: Fact) -> None:
        self.facts.append(fact)
        self.event_ids.add(fact.event_id)

    def record(self, fact: ReportedFact) -> bool:
        """Record a donation-level fact; False if its ``event_id`` is already here."""
        if fact.event_id in self.event_ids:
            return False
        self.trigger_event(FACT_CLASSES[fact.event_type], **fact_kwargs(fact))
        return True

    def add_unit(self, product_code: str) -> None:
        self.trigger_event(DonationUnitAdded, product_code=product_code)


class Workspace(Protocol):
    """The aggregates a batch of facts touches, loaded or newly registered."""

    def donation(self, din: str) -> Donation | None: ...

    def unit(self, din: str, product_code: str) -> BloodUnit | None: ...

    def add(self, aggregate: Donation | BloodUnit) -> None: ...


def record_fact(fact: ReportedFact, workspace: Workspace) -> bool:
    """Record one reported fact where it belongs; False if it is a duplicate.

    Donation-level facts go to the donation and every unit of it; unit-level
    facts to their unit, which is registered (with copies of the donation's
    facts) the first time any fact about it arrives.
    """
    donation = workspace.donation(fact.din)
    if donation is None:
        donation = Donation.register(fact.din)
        workspace.add(donation)
    if fact.product_code is None:
        if not donation.record(fact):
            return False
        for product_code in donation.product_codes:
            _unit(donation, product_code, workspace).record(fact)
        return True
    return _unit(donation, fact.product_code, workspace).record(fact)


def _unit(donation: Donation, product_code: str, workspace: Workspace) -> BloodUnit:
    # Every unit is registered through its donation, so the donation knows
    # whether the unit exists: no need to look for one that cannot.
    unit = (
        workspace.unit(donation.din, product_code)
        if product_code in donation.product_codes
        else None
    )
    if unit is None:
        unit = BloodUnit.register(donation.din, product_code)
        workspace.add(unit)
        donation.add_unit(product_code)
        for earlier in donation.facts:
            unit.record(earlier.reported())
    return unit
