"""What the read side needs from the store: the log to follow, and tables to keep.

Both are implemented elsewhere (the log in :mod:`ledger.services.eventlog`,
the tables per backend in :mod:`ledger.adapters.persistence`) and handed to
the projector by :mod:`ledger.bootstrap`; nothing here can write a fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent, Tracking

from projections.rows import Changes, Row


class EventLog(Protocol):
    """The ledger's notification log, read-only."""

    @property
    def name(self) -> str:
        """The log's tracking name (whoever follows it records positions under it)."""

    def page(self, start: int, limit: int) -> Sequence[Notification]:
        """At most ``limit`` notifications from id ``start`` on."""

    def head(self) -> int:
        """The last notification id (0 if the log is empty)."""

    def decode(self, stored: StoredEvent | Notification) -> DomainEventProtocol[UUID]: ...

    def aggregates(self, ids: Sequence[UUID], up_to: int | None = None) -> dict[UUID, Any]:
        """Aggregates as they stood at notification ``up_to`` (absent: none by then)."""


class ReadModelStore(Protocol):
    """The read models' tables: pages of changes in, answers out."""

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        """Replace the changed aggregates' rows and record the position, atomically."""

    def reset(self, upstream: str) -> None:
        """Empty every table and forget the position: the start of a rebuild."""

    def stock(self, t: int, in24: int, in72: int, facility: str | None) -> list[Row]: ...
    def uses(self, window_start: int, t: int, facility: str | None) -> list[Row]: ...
    def centres(self) -> set[str]: ...
    def donations_by_din(self, dins: Sequence[str]) -> list[Row]: ...
    def units_by_din(self, dins: Sequence[str]) -> list[Row]: ...
    def transfusions_by_din(self, dins: Sequence[str]) -> list[Row]: ...
    def transfusions_of_units(self, unit_ids: Sequence[str]) -> list[Row]: ...
    def transfusions_of_patient(self, patient_id: str) -> list[Row]: ...
    def donations_of_donor(
        self, donor_id: str, since: int | None = None, until: int | None = None
    ) -> list[Row]: ...
    def donations_of_donors(self, donors: Sequence[str]) -> list[Row]: ...
    def findings_between(self, since: int, at: int) -> list[Row]: ...
    def donors_of(self, dins: Sequence[str]) -> set[str]: ...
    def reactive_donations(self, donors: Sequence[str] | None = None) -> list[Row]: ...
    def cases(self, donors: Sequence[str] | None = None) -> list[Row]: ...
    def reactive_results(self, dins: Sequence[str]) -> list[Row]: ...
    def case(self, case_id: str) -> Row | None: ...
    def case_ids(self) -> list[str]: ...
