"""The inventory dashboard's grid: per facility, a component-by-group (ABO/RhD) matrix.

A blood bank reads its stock as a grid — red cells, platelets, plasma, cryo down
the side, the eight ABO/RhD groups across — and looks for the coloured cells. The
inventory answer (:class:`~projections.queries.InventoryRow`, one per facility,
component and group) is laid out so here: components in the order a blood bank
lists them, groups in the usual order (O, A, B, AB; positive then negative), every
group shown in every row so the columns line up (an empty cell: nothing on the
shelf and no recent use), and any group or component the facts left unknown last.
Pure: the page renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.domain.inventory import AlertLevel, AlertPolicy, Thresholds
from ledger.domain.vocabulary import ABO, Component, RhD
from projections.queries import InventoryRow

__all__ = ["COMPONENT_ORDER", "GROUP_ORDER", "FacilityGrid", "grids", "legend", "summary"]

#: Components down the side, as a blood bank lists them.
COMPONENT_ORDER: tuple[str, ...] = (
    Component.RED_CELLS,
    Component.WHOLE_BLOOD,
    Component.PLATELETS,
    Component.PLASMA,
    Component.CRYO,
)
#: ABO/RhD groups across.
GROUP_ORDER: tuple[tuple[str, str], ...] = tuple(
    (abo, rhd) for abo in (ABO.O, ABO.A, ABO.B, ABO.AB) for rhd in (RhD.POS, RhD.NEG)
)
#: Alert levels from the most to the least urgent.
LEVEL_ORDER: tuple[AlertLevel, ...] = (
    AlertLevel.EMERGENCY,
    AlertLevel.RED,
    AlertLevel.ORANGE,
    AlertLevel.YELLOW,
    AlertLevel.GREEN,
)


@dataclass
class FacilityGrid:
    """One facility's matrix: ``cells[i][j]`` is component ``i``'s row for group
    ``j`` (``None``: nothing there)."""

    facility: str
    centre: bool
    groups: list[tuple[str, str]]
    components: list[str]
    cells: list[list[InventoryRow | None]] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, list[InventoryRow | None]]]:
        return list(zip(self.components, self.cells, strict=True))


def _ordered(found: set[str], order: Sequence[str]) -> list[str]:
    return [c for c in order if c in found] + sorted(found - set(order))


def grids(rows: Sequence[InventoryRow]) -> list[FacilityGrid]:
    """The rows as one grid per facility, facilities in their order."""
    by_facility: dict[str, list[InventoryRow]] = {}
    for row in rows:
        by_facility.setdefault(row.facility, []).append(row)
    made = []
    for facility, own in by_facility.items():
        groups = list(GROUP_ORDER) + sorted({(r.abo, r.rhd) for r in own} - set(GROUP_ORDER))
        components = _ordered({r.component for r in own}, COMPONENT_ORDER)
        at = {(r.component, r.abo, r.rhd): r for r in own}
        cells = [[at.get((c, abo, rhd)) for abo, rhd in groups] for c in components]
        made.append(FacilityGrid(facility, own[0].centre, groups, components, cells))
    return made


def legend(policy: AlertPolicy) -> list[tuple[str, Thresholds]]:
    """Each component, in the grid's order, with the thresholds its cells are judged
    by: the colours' meaning, as the policy in force says (never numbers written in a
    template, which a configured policy would contradict)."""
    return [(component, policy.thresholds(component)) for component in COMPONENT_ORDER]


def summary(rows: Sequence[InventoryRow]) -> list[tuple[AlertLevel, int]]:
    """How many stock groups are at each level, the most urgent first (levels with
    none left out)."""
    counts = {level: sum(1 for r in rows if r.alert == level) for level in LEVEL_ORDER}
    return [(level, n) for level, n in counts.items() if n]
