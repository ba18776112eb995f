"""ABO and RhD compatibility of a component with a recipient.

Red cells: the donor's cells must lack antigens the recipient has antibodies
to. Plasma and cryoprecipitate: the reverse (donor plasma must lack antibodies
to the recipient's cells). Whole blood carries both, so only ABO-identical is
compatible. Platelets: ABO-identical, following China's 临床输血技术规范
art. 16 for apheresis platelets (``shared/domain.md`` §3.1).
"""

from __future__ import annotations

from ledger.domain.vocabulary import Component

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


def abo_compatible(component: str, donor_abo: str, recipient_abo: str) -> bool:
    """True if a component of ``donor_abo`` may be given to ``recipient_abo``."""
    if component == Component.RED_CELLS:
        return donor_abo in RED_CELL_DONORS.get(recipient_abo, frozenset())
    if component in (Component.PLASMA, Component.CRYO):
        return donor_abo in PLASMA_DONORS.get(recipient_abo, frozenset())
    return donor_abo == recipient_abo


def rhd_compatible(component: str, donor_rhd: str, recipient_rhd: str) -> bool:
    """RhD-negative recipients get RhD-negative red cells; anyone else anything."""
    if component not in RED_CELL_COMPONENTS:
        return True
    return not (recipient_rhd == "NEG" and donor_rhd == "POS")
