"""A facility's use of blood as the reports read it from the read models.

The service layer's :class:`~ledger.services.ports.UsageRecords`: each question one
indexed query (:class:`~projections.ports.ReadModelStore`), its rows turned into the
domain's records (:mod:`ledger.domain.transfusion`, :mod:`ledger.domain.supply`), so
the reports count the same rows the dashboard and the traces read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.domain.instants import from_ms, ms
from ledger.domain.supply import ShelfSpell, Use
from ledger.domain.transfusion import Evaluation, Reaction, Transfusion
from ledger.domain.vocabulary import DonationType
from projections.ports import ReadModelStore
from projections.rows import Row


class UsageIndex:
    """The reports' questions, answered from one store's read models."""

    def __init__(self, view: ReadModelStore) -> None:
        self.view = view

    def transfusions(self, facility: str, start: datetime, end: datetime) -> list[Transfusion]:
        return [
            Transfusion(
                unit_id=r["unit_id"],
                patient_id=r["patient_id"],
                facility=r["facility"],
                started_at=from_ms(r["transfused_at"]),
                component=r["component"],
                units=float(r["units"] or 0.0),
                autologous=r["donation_type"] == DonationType.AUTOLOGOUS,
            )
            for r in self.view.transfusions_at(facility, ms(start), ms(end))
        ]

    def reactions(self, facility: str, start: datetime, end: datetime) -> list[Reaction]:
        return [
            Reaction(
                event_id=r["event_id"],
                unit_id=r["unit_id"],
                patient_id=r["patient_id"],
                facility=r["facility"],
                component=r["component"],
                category=r["category"],
                severity=r["severity"],
                imputability=r["imputability"],
                onset_at=from_ms(r["onset_at"]),
                reported_at=from_ms(r["reported_at"]),
            )
            for r in self.view.reactions_at(facility, ms(start), ms(end))
        ]

    def evaluations(self, unit_ids: Sequence[str]) -> list[Evaluation]:
        return [
            Evaluation(
                unit_id=r["unit_id"],
                patient_id=r["patient_id"],
                evaluated_at=from_ms(r["evaluated_at"]),
                effective=bool(r["effective"]),
            )
            for r in self.view.evaluations_of_units(unit_ids)
        ]

    def shelf(self, facility: str, start: datetime, end: datetime) -> list[ShelfSpell]:
        return [_spell(r) for r in self.view.shelf_at(facility, ms(start), ms(end))]

    def uses(self, facility: str, start: datetime, end: datetime) -> list[Use]:
        return [
            Use(r["component"], r["abo"], r["rhd"], from_ms(r["used_at"]))
            for r in self.view.uses_at(facility, ms(start), ms(end))
        ]

    def is_centre(self, facility: str) -> bool:
        return self.view.is_centre(facility)


def _spell(row: Row) -> ShelfSpell:
    return ShelfSpell(
        component=row["component"],
        abo=row["abo"],
        rhd=row["rhd"],
        since=from_ms(row["valid_from"]),
        until=from_ms(row["valid_to"]),
        expires_at=from_ms(row["expires_at"]),
    )
