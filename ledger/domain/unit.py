"""The ``BloodUnit`` aggregate (one per DIN + product code) and ``UnitRecord``.

A unit's stream holds the facts about that unit; the facts about its
donation as a whole (collection, test results) live once, in the donation's
stream (:mod:`ledger.domain.donation`). A ``UnitRecord`` puts the two
together: the unit as investigators and read models see it. Aggregates only
keep facts; what they mean — status, location, flags — is the pure fold in
:mod:`ledger.domain.unit_state`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ledger.domain.din import RECENT_DINS
from ledger.domain.events import Fact, UnitRegistered
from ledger.domain.facts import ReportedFact
from ledger.domain.stream import FactStream, Recorded
from ledger.domain.unit_state import Finding, UnitState, evaluate, known_since
from ledger.domain.vocabulary import EventType, is_reactive_marker

#: Namespace of the ledger's deterministic identifiers. Never change it.
NAMESPACE = UUID("6f1c3d2a-8b0e-5c7d-9a4f-2e1b0c9d8a7e")

#: ``source_system`` and ``actor`` of facts the ledger itself appends.
LEDGER_ACTOR = "bloodledger"


@functools.lru_cache(maxsize=RECENT_DINS)
def unit_id(din: str, product_code: str) -> UUID:
    """The stream id of a unit: derived, so a unit can never be registered twice."""
    return uuid.uuid5(NAMESPACE, f"unit/{din}/{product_code}")


class BloodUnit(FactStream):
    """A blood unit: the facts reported about it, in recording order."""

    TOPIC = "bloodledger:BloodUnit"

    def __init__(self, din: str, product_code: str) -> None:
        self.din = din
        self.product_code = product_code
        self.facts: list[Fact] = []
        self.by_id: dict[str, Fact] = {}

    @classmethod
    def register(cls, din: str, product_code: str) -> BloodUnit:
        return cls._create(
            UnitRegistered, id=unit_id(din, product_code), din=din, product_code=product_code
        )

    def quarantine_for(self, result: ReportedFact) -> Recorded:
        """The ledger quarantines the unit for a REACTIVE result of its donation.

        The ``UnitQuarantined`` is the ledger's own fact; its event id is
        derived from the result's, so it, too, is recorded only once.
        """
        return self.record(self._ledger_quarantine(result))

    def _ledger_quarantine(self, result: ReportedFact) -> ReportedFact:
        return ReportedFact(
            event_id=str(
                uuid.uuid5(NAMESPACE, f"quarantine/{result.event_id}/{self.product_code}")
            ),
            event_type=EventType.UnitQuarantined,
            occurred_at=result.occurred_at,
            source_system=LEDGER_ACTOR,
            facility=result.facility,
            actor=LEDGER_ACTOR,
            din=self.din,
            product_code=self.product_code,
            payload={"reason": f"REACTIVE_DONATION: {result.payload['test']}", "case_id": None},
        )


def is_reactive_result(fact: ReportedFact) -> bool:
    """A REACTIVE infectious-marker result: it quarantines every unit of the donation."""
    return fact.event_type == EventType.TestResultRecorded and is_reactive_marker(
        fact.payload.get("test"), fact.payload.get("result")
    )


@dataclass(frozen=True)
class UnitRecord:
    """A unit as investigators and read models see it: its own facts and its
    donation's, one timeline, folded together into its state."""

    unit: BloodUnit
    donation_facts: Sequence[Fact]

    @property
    def id(self) -> UUID:
        return self.unit.id

    @property
    def din(self) -> str:
        return self.unit.din

    @property
    def product_code(self) -> str:
        return self.unit.product_code

    @functools.cached_property
    def facts(self) -> list[Fact]:
        """Both streams' facts, in the order the ledger recorded them."""
        return sorted([*self.donation_facts, *self.unit.facts], key=lambda f: f.timestamp)

    def state(self, as_of: datetime | None = None) -> UnitState:
        """The unit's state now, or as of a past moment (facts occurred by then)."""
        return evaluate(self.din, self.product_code, self.facts, as_of)

    def known_since(self, as_of: datetime | None = None) -> dict[Finding, datetime]:
        """When the ledger first knew each finding of :meth:`state`."""
        return known_since(self.din, self.product_code, self.facts, as_of)
