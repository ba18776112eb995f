"""Testing at the centre: blood grouping and the mandatory infectious-marker screen.

The second stage. A few hours after collection the centre's LIMS reports the
ABO/RhD grouping and then each screening test (NAT and serology for HIV, HBV and
HCV, syphilis, ALT), all NEGATIVE except the one marker planned to come back
REACTIVE. The time the last result arrives is returned, because no unit of the
donation may be released before it.
"""

from __future__ import annotations

from datetime import datetime

from ledger.domain.vocabulary import EventType, Test, TestResult
from simulator.config import CENTRE_LIMS, SCREENING_TESTS
from simulator.world import Donation, Sim


def test(sim: Sim, donation: Donation) -> datetime:
    """Grouping and the infectious markers, a few hours after collection.

    Returns when the last result came in: the earliest a unit may be released.
    """
    ready = sim.after(donation.collected_at, 240, 480)
    _result(sim, donation, Test.ABO_RHD.value, ready, abo=donation.abo, rhd=donation.rhd)
    for test in SCREENING_TESTS:
        ready = max(ready, sim.after(donation.collected_at, 300, 840))
        _result(sim, donation, test, ready)
    return ready


def _result(
    sim: Sim,
    donation: Donation,
    test: str,
    at: datetime,
    *,
    abo: str | None = None,
    rhd: str | None = None,
) -> None:
    reactive = test == donation.reactive_test
    if reactive:
        donation.reactive_at = at
    sim.emit(
        EventType.TestResultRecorded,
        at,
        sim.centre,
        CENTRE_LIMS,
        sim.staff("lab", sim.centre) if sim.chance(0.5) else None,
        donation.din,
        None,
        test=test,
        result=(TestResult.REACTIVE if reactive else TestResult.NEGATIVE).value,
        abo=abo,
        rhd=rhd,
    )
