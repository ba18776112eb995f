"""ABO and RhD compatibility of a component with a recipient (``shared/domain.md`` §3.1).

A *major* incompatibility is a breach: red cells carrying an antigen the
recipient has antibodies to, plasma whose antibodies meet the recipient's
antigens, or whole blood (which carries both) that is not ABO-identical.
Platelets should be ABO-identical (China's 临床输血技术规范 art. 16 for
apheresis platelets) and cryoprecipitate plasma-compatible, but out-of-group
units of either are allowed when stock is short, and cryo's ABO is often
ignored in adults: that is *out of group*, worth knowing, not a breach.
"""

from __future__ import annotations

from enum import StrEnum

from ledger.domain.vocabulary import Component


class AboMatch(StrEnum):
    """How a component's ABO group meets a recipient's."""

    COMPATIBLE = "COMPATIBLE"
    MAJOR_INCOMPATIBLE = "MAJOR_INCOMPATIBLE"
    OUT_OF_GROUP = "OUT_OF_GROUP"


#: Recipient ABO -> donor ABO groups whose red cells it may receive.
RED_CELL_DONORS: dict[str, frozenset[str]] = {
    "O": frozenset({"O"}),
    "A": frozenset({"A", "O"}),
    "B": frozenset({"B", "O"}),
    "AB": frozenset({"AB", "A", "B", "O"}),
}

#: Recipient ABO -> donor ABO groups whose plasma it may receive.
PLASMA_DONORS: dict[str, frozenset[str]] = {
    "O": frozenset({"O", "A", "B", "AB"}),
    "A": frozenset({"A", "AB"}),
    "B": frozenset({"B", "AB"}),
    "AB": frozenset({"AB"}),
}

#: Components carrying red cells, for which RhD matters.
RED_CELL_COMPONENTS: frozenset[str] = frozenset({Component.RED_CELLS, Component.WHOLE_BLOOD})


def abo_match(component: str, donor_abo: str, recipient_abo: str) -> AboMatch:
    """How a component of ``donor_abo`` meets a recipient of ``recipient_abo``."""
    if component == Component.RED_CELLS:
        allowed = donor_abo in RED_CELL_DONORS.get(recipient_abo, frozenset())
    elif component == Component.PLASMA:
        allowed = donor_abo in PLASMA_DONORS.get(recipient_abo, frozenset())
    elif component == Component.CRYO:
        if donor_abo in PLASMA_DONORS.get(recipient_abo, frozenset()):
            return AboMatch.COMPATIBLE
        return AboMatch.OUT_OF_GROUP
    elif component == Component.PLATELETS:
        return AboMatch.COMPATIBLE if donor_abo == recipient_abo else AboMatch.OUT_OF_GROUP
    else:  # whole blood carries both cells and plasma
        allowed = donor_abo == recipient_abo
    return AboMatch.COMPATIBLE if allowed else AboMatch.MAJOR_INCOMPATIBLE


def rhd_compatible(component: str, donor_rhd: str, recipient_rhd: str) -> bool:
    """RhD-negative recipients get RhD-negative red cells; anyone else anything."""
    if component not in RED_CELL_COMPONENTS:
        return True
    return not (recipient_rhd == "NEG" and donor_rhd == "POS")
