"""A ward's September, written out by hand: the records the reports count.

Seven units hung (one of them twice), four reaction reports (one a repeat of
another, one reported before its onset) and six evaluations (two of which
evaluate nothing). ``tests/unit/test_indicators.py`` and
``tests/unit/test_hemovigilance.py`` count them by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.domain.transfusion import Evaluation, Reaction, Transfusion

WARD = "S3102"
SEP_1 = datetime(2026, 9, 1, tzinfo=UTC)


def at(day: int, hour: float) -> datetime:
    """September ``day`` at ``hour`` (UTC)."""
    return SEP_1 + timedelta(days=day - 1, hours=hour)


def hung(
    unit: str,
    patient: str,
    started: datetime,
    component: str | None,
    units: float,
    *,
    autologous: bool = False,
) -> Transfusion:
    return Transfusion(unit, patient, WARD, started, component, units, autologous)


def reacted(
    event: str,
    unit: str,
    patient: str,
    category: str,
    onset: datetime,
    reported: datetime,
    severity: str = "NON_SEVERE",
    imputability: str = "PROBABLE",
) -> Reaction:
    return Reaction(
        event, unit, patient, WARD, "RED_CELLS", category, severity, imputability, onset, reported
    )


def september() -> tuple[list[Transfusion], list[Reaction], list[Evaluation]]:
    """A ward's September: seven units hung (one twice), four reaction reports, six
    evaluations (two that evaluate nothing)."""
    transfusions = [
        hung("u1-rbc", "P1", at(2, 7), "RED_CELLS", 2.0),
        hung("u1-ffp", "P1", at(2, 14), "PLASMA", 1.0),  # P1's second unit, same day
        hung("u2-wb", "P2", at(3, 10), "WHOLE_BLOOD", 2.0, autologous=True),
        hung("u3-rbc", "P3", at(5, 12), "RED_CELLS", 1.5),
        hung("u3-plt", "P3", at(5, 12.5), "PLATELETS", 1.0),
        hung("u4-rbc", "P4", at(9, 16), "RED_CELLS", 2.0),
        hung("u4-rbc", "P4", at(9, 17), "RED_CELLS", 2.0),  # started again: counts once
        hung("u7-cryo", "P1", at(11, 8), "CRYO", 1.0),  # P1 again, another day
    ]
    reactions = [
        reacted("r1", "u1-ffp", "P1", "FNHTR", at(2, 15), at(2, 17)),
        reacted("r2", "u3-rbc", "P3", "ALLERGIC", at(5, 13), at(5, 22), "SEVERE", "DEFINITE"),
        # the same reaction, reported again against the platelets hung with it
        reacted("r2b", "u3-plt", "P3", "ALLERGIC", at(5, 13), at(6, 0), "SEVERE", "DEFINITE"),
        reacted("r4", "u4-rbc", "P4", "TACO", at(9, 21), at(9, 20)),  # before its onset
    ]
    evaluations = [
        Evaluation("u1-rbc", "P1", at(3, 8), effective=True),
        Evaluation("u2-wb", "P2", at(3, 20), effective=False),
        Evaluation("u4-rbc", "P4", at(10, 2), effective=False),
        Evaluation("u4-rbc", "P4", at(10, 9), effective=True),  # the last one counts
        Evaluation("u3-rbc", "P9", at(6, 8), effective=True),  # another patient: not P3's
        Evaluation("u7-cryo", "P1", at(11, 7), effective=True),  # before the start
    ]
    return transfusions, reactions, evaluations
