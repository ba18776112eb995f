"""Whether a ledger's identifiers are sealed: one small aggregate, one event.

A ledger created with a cipher key records, while its log is still empty,
that its donor and patient identifiers are sealed
(:mod:`ledger.domain.identity`) and the check value of the key that seals
them. A store then remembers by itself that it is protected, and tells the
right key from a wrong one, without ever holding the key. The aggregate's
stream id is fixed: a store has at most one protection, recorded once.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from eventsourcing.domain import AggregateCreated, BaseAggregate

from ledger.domain.events import LedgerEvent
from ledger.domain.unit import NAMESPACE

#: The stream of a store's protection: one per store, so two writers creating a
#: store at once record one protection (the second insert fails as a version conflict).
PROTECTION_ID: UUID = uuid.uuid5(NAMESPACE, "identities/protection")


class IdentitiesProtected(AggregateCreated, LedgerEvent):
    """The ledger's identifiers are sealed under the key whose check value is given."""

    TOPIC = "bloodledger:IdentityProtection.IdentitiesProtected"
    key_check: str


class IdentityProtection(BaseAggregate[UUID]):
    """A protected ledger: the check value of the key its identifiers are sealed with."""

    TOPIC = "bloodledger:IdentityProtection"

    def __init__(self, key_check: str) -> None:
        self.key_check = key_check

    @classmethod
    def protect(cls, key_check: str) -> IdentityProtection:
        return cls._create(IdentitiesProtected, id=PROTECTION_ID, key_check=key_check)

    def opens_with(self, key_check: str) -> bool:
        """Whether a key with this check value is the one the ledger was protected with."""
        return key_check == self.key_check
