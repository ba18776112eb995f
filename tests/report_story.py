"""Facts for the reports: a hospital's September and another hospital's shelf, by hand.

:func:`september_facts` is the ward of :mod:`tests.ward_story` told as contract facts
(collections, productions, releases, issues, receipts, dispenses, starts, reactions,
evaluations) at hospital ``S3102``, with the noise a report must leave out: a
transfusion and a reaction at another hospital, and a unit hung in October.
:func:`shelf_facts` is the shelf of ``tests/unit/test_supply.py`` at hospital
``S3105``. The numbers they must give are written out, by hand, in :data:`QC`,
:data:`HEMOVIGILANCE` and :data:`SHELF`.

Hours are counted from :data:`tests.builders.START` (1 September 2026, 08:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger.domain.facts import ReportedFact
from tests.builders import CENTRE, HOSPITAL, PLASMA, RBC, Timeline, at, din

WHOLE_BLOOD = "E0001V00"
PLATELETS = "E3001V00"
CRYO = "E5001V00"
OTHER_HOSPITAL = "S3103"
SHELF_HOSPITAL = "S3105"

#: The QC report's window: September 2026.
SEPTEMBER = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
#: The inventory report's window: 1-4 September (sampled at midnight, the 5th included).
SHELF_WINDOW = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 5, tzinfo=UTC))


def _produced(
    story: Timeline,
    code: str,
    component: str,
    units: float,
    *,
    abo: str = "O",
    rhd: str = "POS",
    expires_hour: float = 24 * 60,
) -> None:
    story.fact(
        "ComponentProduced",
        1,
        code,
        CENTRE,
        component=component,
        volume_ml=200,
        units=units,
        abo=abo,
        rhd=rhd,
        expires_at=at(expires_hour),
    )
    story.released(1.5, product_code=code)


def _delivered(story: Timeline, code: str, facility: str, hour: float = 2) -> None:
    story.issued(hour - 1, to=facility, product_code=code)
    story.received(hour, at_facility=facility, product_code=code)


def _hung(story: Timeline, code: str, patient: str, hour: float, facility: str = HOSPITAL) -> None:
    story.fact("UnitDispensed", hour - 0.5, code, facility, patient_id=patient)
    story.fact(
        "TransfusionStarted", hour, code, facility, patient_id=patient, bedside_check_passed=True
    )


def _reaction(
    story: Timeline,
    code: str,
    patient: str,
    onset: float,
    reported: float,
    category: str,
    severity: str = "NON_SEVERE",
    imputability: str = "PROBABLE",
    facility: str = HOSPITAL,
) -> None:
    story.fact(
        "AdverseReactionReported",
        reported,
        code,
        facility,
        patient_id=patient,
        category=category,
        severity=severity,
        imputability=imputability,
        onset_at=at(onset),
    )


def _evaluation(story: Timeline, code: str, patient: str, hour: float, effective: bool) -> None:
    story.fact(
        "TransfusionEvaluated", hour, code, HOSPITAL, patient_id=patient, effective=effective,
        note=None,
    )  # fmt: skip


def _unit(
    story: Timeline, code: str, component: str, units: float, patient: str, hour: float,
    facility: str = HOSPITAL,
) -> None:  # fmt: skip
    _produced(story, code, component, units)
    _delivered(story, code, facility)
    _hung(story, code, patient, hour, facility)


def september_facts() -> list[ReportedFact]:
    """Hospital S3102's September (and the noise around it)."""
    d1, d2, d3, d4 = (Timeline(din=din(n)) for n in (1, 2, 3, 4))
    d5, d6, d7 = (Timeline(din=din(n)) for n in (5, 6, 7))
    for story in (d1, d3, d4, d5, d6, d7):
        story.collected()
    d2.collected(donation_type="AUTOLOGOUS", intended="P2")

    _unit(d1, RBC, "RED_CELLS", 2.0, "P1", 23)  # 2 Sep 07:00
    _unit(d1, PLASMA, "PLASMA", 1.0, "P1", 30)  # 2 Sep 14:00: the same episode
    _reaction(d1, PLASMA, "P1", onset=31, reported=33, category="FNHTR")
    _evaluation(d1, RBC, "P1", 48, effective=True)

    _unit(d2, WHOLE_BLOOD, "WHOLE_BLOOD", 2.0, "P2", 50)  # 3 Sep 10:00, autologous
    _evaluation(d2, WHOLE_BLOOD, "P2", 60, effective=False)

    _unit(d3, RBC, "RED_CELLS", 1.5, "P3", 100)  # 5 Sep 12:00
    _unit(d3, PLATELETS, "PLATELETS", 1.0, "P3", 100.5)
    _reaction(d3, RBC, "P3", 101, 110, "ALLERGIC", "SEVERE", "DEFINITE")
    _reaction(d3, PLATELETS, "P3", 101, 112, "ALLERGIC", "SEVERE", "DEFINITE")  # the same
    _evaluation(d3, RBC, "P9", 120, effective=True)  # not the patient it was hung for

    _unit(d4, RBC, "RED_CELLS", 2.0, "P4", 200)  # 9 Sep 16:00
    d4.fact("TransfusionStarted", 201, RBC, HOSPITAL, patient_id="P4", bedside_check_passed=True)
    _reaction(d4, RBC, "P4", onset=205, reported=204, category="TACO")  # before its onset
    _evaluation(d4, RBC, "P4", 210, effective=False)
    _evaluation(d4, RBC, "P4", 217, effective=True)  # the last evaluation counts

    _unit(d5, RBC, "RED_CELLS", 2.0, "P5", 60, facility=OTHER_HOSPITAL)
    _reaction(d5, RBC, "P5", 61, 62, "FNHTR", facility=OTHER_HOSPITAL)

    _unit(d6, RBC, "RED_CELLS", 2.0, "P6", 24 * 35)  # 6 October: after the window
    _reaction(d6, RBC, "P6", 24 * 35 + 1, 24 * 35 + 2, "FNHTR")

    _unit(d7, CRYO, "CRYO", 1.0, "P1", 240)  # 11 Sep 08:00: P1's second episode
    _evaluation(d7, CRYO, "P1", 239, effective=True)  # before the start: evaluates nothing
    return [f for story in (d1, d2, d3, d4, d5, d6, d7) for f in story.facts]


def shelf_facts() -> list[ReportedFact]:
    """Hospital S3105's shelf: three O RhD+ red-cell units and an A RhD- plasma unit
    received on 1 Sep at 10:00; two hung (2 Sep 14:00, 3 Sep 01:00), one expiring on
    4 Sep at 12:00, the plasma never used."""
    stories = [Timeline(din=din(n)) for n in (11, 12, 13, 14)]
    for story in stories:
        story.collected()
    first, second, third, plasma = stories
    for story, expires in ((first, 24 * 60), (second, 24 * 60), (third, 76)):
        _produced(story, RBC, "RED_CELLS", 2.0, expires_hour=expires)
        _delivered(story, RBC, SHELF_HOSPITAL)
    _hung(first, RBC, "P21", 30, SHELF_HOSPITAL)
    _hung(second, RBC, "P22", 41, SHELF_HOSPITAL)
    _produced(plasma, PLASMA, "PLASMA", 1.0, abo="A", rhd="NEG", expires_hour=24 * 300)
    _delivered(plasma, PLASMA, SHELF_HOSPITAL)
    return [f for story in stories for f in story.facts]


#: What the QC report of S3102 for September must say, counted by hand (as in
#: ``tests/unit/test_indicators.py``): value per indicator key, with its two halves.
QC: dict[str, Any] = {
    "totals": {"units_transfused": 7, "units": 10.5, "episodes": 5, "reaction_cases": 3},
    "indicators": {
        "staff_per_thousand_units": (None, 8.5, None),
        "reactions_per_thousand_episodes": (3, 5, 600.0),
        "surgical_autologous_rate": (2.0, 7.5, 26.67),
        "component_transfusion_rate": (8.5, 10.5, 80.95),
        "evaluation_rate": (3, 7, 42.86),
        "effective_rate": (2, 3, 66.67),
    },
    "shares": {"RED_CELLS": 64.71, "PLASMA": 11.76, "PLATELETS": 11.76, "CRYO": 11.76},
}

#: What the hemovigilance report of S3102 for September must say.
HEMOVIGILANCE: dict[str, Any] = {
    "reports": 4,
    "cases": 3,
    "serious": 1,
    "units_transfused": 7,
    "episodes": 5,
    "per_thousand_units": 428.57,
    "per_thousand_episodes": 600.0,
    "hours": [2.0, 9.0],
    "before_onset": 1,
}

#: What the inventory report of S3105 must say (window of 2 days' use): per group, the
#: units on the shelf and the days of supply at each midnight from 1 to 5 September.
SHELF: dict[tuple[str, str, str], dict[str, list[Any]]] = {
    ("RED_CELLS", "O", "POS"): {
        "available": [0, 3, 2, 1, 0],
        "days_of_supply": [None, None, 4.0, 1.0, 0.0],
        "alert": ["GREEN", "GREEN", "GREEN", "ORANGE", "RED"],
    },
    ("PLASMA", "A", "NEG"): {
        "available": [0, 1, 1, 1, 1],
        "days_of_supply": [None] * 5,
        "alert": ["GREEN"] * 5,
    },
}
