"""A planted recall: a repeat donor turns reactive, and the ledger must tell three hospitals.

Asked for by :attr:`DemoConfig.recall`. A regular whole-blood donor gave a donation
:data:`RECALL_INTERVAL` before the period (six months is China's interval between two
whole-blood donations), tested NEGATIVE on every marker and split into red cells,
plasma and cryo. Its red cells went to one hospital and were transfused there within
days; its plasma went to another and is still in that hospital's freezer; its cryo
stayed at the centre. In the period the donor gives again, and that donation's
infectious marker comes back REACTIVE at least four days before the end; the cryo had
been issued to a third hospital shortly before the result, and its receipt is never
reported (it is on its way when the ledger learns of the result).

The ledger's automatic lookback (case ``LB-AUTO-<reactive DIN>``) then quarantines the
earlier donation's units, and its notices reach the hospitals: QUARANTINE to the one
holding the plasma, NOTIFY_RECIPIENT, naming the patient, to the one that transfused the
red cells, and QUARANTINE to the one the cryo is travelling to. The hospital stage never
sees these units, so nothing uses them after the result: no flag is raised but the
reactive donation's own, listed in :attr:`DemoStream.injected` as every reactive one is.

:func:`plan_recall` runs with the other plans, before any collection (so that the
earlier donation's DIN comes first in the centre's sequence); :func:`play_recall` plays
the earlier donation's road once the period has been played, and says what it planted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ledger.domain.lookback import automatic_case_id
from ledger.domain.vocabulary import ABO, Component, DonationType, Procedure, RhD
from simulator.components import produce, settle
from simulator.config import ABO_SHARES, INFECTIOUS_MARKERS, PlantedRecall, RecalledUnit
from simulator.distribution import issue, ship
from simulator.donations import collect
from simulator.hospitals import crossmatched_transfusion, recipient
from simulator.testing import test
from simulator.world import Donation, Routes, Sim, Unit

#: How long before the reactive donation the donor gave the earlier one.
RECALL_INTERVAL = timedelta(days=190)
#: The reactive donation is collected this many days before the end, or more.
DAYS_BEFORE_END = 5
#: ...and at most this many (the window it is chosen in).
LATEST_WINDOW_DAYS = 10
#: The DINs the centre would have used between the two donations are left unused, up to this.
MOST_SKIPPED_DINS = 200_000


@dataclass(frozen=True)
class RecallPlan:
    """The two donations of the recalled donor, chosen before any collection."""

    earlier: Donation
    reactive: Donation


def plan_recall(sim: Sim, donations: list[Donation]) -> RecallPlan:
    """Choose the donation that will test REACTIVE and make the donor's earlier one.

    The reactive donation is a voluntary whole-blood donation with nothing else planted
    on it, collected 5 to 10 days before the end.
    """
    if len(sim.hospitals) < 2:
        msg = "DemoConfig.recall needs at least 2 hospitals"
        raise ValueError(msg)
    first_day = max(0, sim.config.days - LATEST_WINDOW_DAYS)
    last_day = sim.config.days - DAYS_BEFORE_END
    candidates = [
        d
        for d in donations
        if first_day <= sim.day_of(d.collected_at) <= last_day and _unplanted(d)
    ]
    if not candidates:
        msg = (
            f"DemoConfig.recall needs at least {DAYS_BEFORE_END} days, with voluntary "
            f"whole-blood donations to choose the reactive one from"
        )
        raise ValueError(msg)
    reactive = sim.rng.choice(candidates)
    reactive.reactive_test = sim.choose(INFECTIOUS_MARKERS)
    common = tuple((abo, share) for abo, share in ABO_SHARES.items() if abo != ABO.AB)
    reactive.known_donor = (sim.pseudonym("D"), sim.choose(common), RhD.POS.value)
    earlier_day = sim.day_of(reactive.collected_at) - RECALL_INTERVAL.days
    earlier = Donation(
        collected_at=sim.at(earlier_day, 8, 17),
        known_donor=reactive.known_donor,
        volume_ml=400,
        makes_cryo=True,
    )
    earlier.din = sim.din(earlier.collected_at)
    between = RECALL_INTERVAL.days * sim.config.donations_per_day
    sim.skip_dins(earlier.collected_at, min(between, MOST_SKIPPED_DINS))
    return RecallPlan(earlier=earlier, reactive=reactive)


def _unplanted(donation: Donation) -> bool:
    return (
        donation.donation_type == DonationType.VOLUNTARY
        and donation.procedure == Procedure.WHOLE_BLOOD
        and donation.reactive_test is None
        and not donation.post_donation_info
        and donation.breach is None
    )


def play_recall(sim: Sim, plan: RecallPlan) -> PlantedRecall:
    """The earlier donation, vein to vein: collected, tested, split, released; red cells
    transfused at one hospital, plasma kept at another, cryo issued to a third just
    before the reactive result and never received."""
    earlier, reactive = plan.earlier, plan.reactive
    if reactive.reactive_at is None or reactive.reactive_test is None:
        msg = "the recall's reactive donation was never tested"
        raise AssertionError(msg)
    collect(sim, earlier)
    tested_at = test(sim, earlier)
    routes = Routes()
    settle(sim, earlier, produce(sim, earlier), tested_at, routes)
    made = {unit.component: unit for unit in routes.stock}
    red_cells, plasma, cryo = (
        made[c.value] for c in (Component.RED_CELLS, Component.PLASMA, Component.CRYO)
    )
    holder, giver, receiver = (sim.hospitals[i % len(sim.hospitals)] for i in range(3))
    patient = _transfused(sim, red_cells, giver)
    _shipped(sim, plasma, holder)  # and kept frozen there
    issued_at = sim.after(reactive.reactive_at, -90, -20)
    issue(sim, cryo, receiver, issued_at, sim.reference("SHP", 7), sim.staff("dsp", sim.centre))
    return PlantedRecall(
        donor_id=earlier.donor_id,
        earlier_din=earlier.din,
        reactive_din=reactive.din,
        test=reactive.reactive_test,
        result_at=reactive.reactive_at,
        case_id=automatic_case_id(reactive.din),
        on_shelf=_recalled(plasma, holder),
        transfused=_recalled(red_cells, giver),
        recipient_id=patient,
        in_transit=_recalled(cryo, receiver),
    )


def _transfused(sim: Sim, unit: Unit, hospital: str) -> str:
    """Shipped by the next morning run and given to a patient a day or two later; the
    patient's pseudonym."""
    _shipped(sim, unit, hospital)
    patient = recipient(sim, hospital, unit)
    used_at = sim.at(sim.day_of(unit.last_at) + sim.rng.randint(1, 2), 10, 20)
    crossmatched_transfusion(sim, unit, patient, used_at)
    return patient.patient_id


def _shipped(sim: Sim, unit: Unit, hospital: str) -> None:
    """Issued by the next morning run and received at ``hospital``, fit for use."""
    ship(sim, [unit], hospital, sim.after(sim.next_shipping(unit.last_at), 0, 60), incidents=False)


def _recalled(unit: Unit, facility: str) -> RecalledUnit:
    return RecalledUnit(facility, unit.din, unit.product_code, unit.component)
