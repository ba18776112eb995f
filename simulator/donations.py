"""Donors and donations: who gives blood at the centre, when, and how much.

The first stage of the stream. It plans the period's collections (a Poisson number
a day during opening hours), decides each donation's type and procedure, and which
ones will later prove reactive, bring post-donation information or carry a planted
breach; then it collects them in order, giving each its DIN, a donor (a returning
one when one is eligible again after the legal interval, else a new one) and a
volume, and reports ``DonationCollected``. Pre-deposit autologous donations are
given by a hospital patient for their own operation.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from ledger.domain.vocabulary import ABO, DonationType, EventType, Flag, Procedure, RhD
from simulator.breaches import plan_breaches
from simulator.config import (
    APHERESIS_VOLUME_ML,
    CENTRE_BMS,
    DONATION_INTERVAL,
    INFECTIOUS_MARKERS,
    POST_DONATION_INFO_SHARE,
    WHOLE_BLOOD_VOLUMES,
)
from simulator.world import Donation, Sim, poisson

#: Days before the period in which the lead-in collects apheresis platelets.
PLATELET_LEAD_IN_DAYS = 2


def plan_donations(sim: Sim) -> list[Donation]:
    """Collection times and, for each donation, its type, procedure and planted events."""
    donations = [Donation(collected_at=at) for at in _collection_times(sim)]
    order = list(range(len(donations)))
    sim.rng.shuffle(order)
    n_autologous = round(len(order) * sim.config.autologous_share)
    platelet_days = sum(1 for donation in donations if _collects_platelets(sim, donation))
    n_apheresis = round(platelet_days * sim.config.apheresis_share)
    for i in order[:n_autologous]:
        donations[i].donation_type = DonationType.AUTOLOGOUS.value
    voluntary = order[n_autologous:]
    platelet_donors = [i for i in voluntary if _collects_platelets(sim, donations[i])]
    for i in platelet_donors[:n_apheresis]:
        donations[i].procedure = Procedure.APHERESIS.value
    n_reactive = _share_of(sim.config.reactive_rate, len(voluntary))
    n_recalled = _share_of(POST_DONATION_INFO_SHARE, len(voluntary) - n_reactive)
    for i in voluntary[:n_reactive]:
        donations[i].reactive_test = sim.choose(INFECTIOUS_MARKERS)
    for i in voluntary[n_reactive : n_reactive + n_recalled]:
        donations[i].post_donation_info = True
    plan_breaches(sim, [donations[i] for i in voluntary[n_reactive + n_recalled :]])
    return donations


def _collection_times(sim: Sim) -> list[datetime]:
    """Donations come in through the day (08:00-17:00 local), a Poisson number a day,
    from the first day of the lead-in to the last of the period."""
    times: list[datetime] = []
    for day in range(-sim.config.lead_in_days, sim.config.days):
        count = poisson(sim.rng, sim.config.donations_per_day)
        times.extend(sorted(sim.at(day, 8, 17) for _ in range(count)))
    return times


def _collects_platelets(sim: Sim, donation: Donation) -> bool:
    """Platelets keep 5 days: in the lead-in the centre collects them only in its last
    two days, so that they are not out of date before the period starts."""
    return sim.day_of(donation.collected_at) >= -PLATELET_LEAD_IN_DAYS


def _share_of(rate: float, population: int) -> int:
    """An exact share of a population, at least one when the rate is not zero."""
    if rate <= 0 or population == 0:
        return 0
    return min(population, max(1, round(rate * population)))


def collect(sim: Sim, donation: Donation) -> None:
    """Give the donation its DIN, donor and volume; report ``DonationCollected``."""
    donation.din = donation.din or sim.din(donation.collected_at)
    if donation.donation_type == DonationType.AUTOLOGOUS:
        _collect_autologous(sim, donation)
    else:
        group = (ABO.A.value, RhD.POS.value) if donation.breach == Flag.ABO_INCOMPATIBLE else None
        donor = donation.known_donor or _donor(sim, donation, group)
        donation.donor_id, donation.abo, donation.rhd = donor
        donation.volume_ml = donation.volume_ml or _volume(sim, donation.procedure)
    intended = donation.intended_patient
    sim.emit(
        EventType.DonationCollected,
        donation.collected_at,
        sim.centre,
        CENTRE_BMS,
        sim.staff("col", sim.centre),
        donation.din,
        None,
        donor_id=donation.donor_id,
        donation_type=donation.donation_type,
        intended_patient_id=intended.patient_id if intended else None,
        procedure=donation.procedure,
        volume_ml=donation.volume_ml,
    )


def _collect_autologous(sim: Sim, donation: Donation) -> None:
    """Pre-deposit autologous blood: the patient donates for their own surgery."""
    hospital = sim.hospital()
    patient = sim.rng.choice(sim.patients[hospital])
    donation.intended_patient = patient
    donation.donor_id = sim.pseudonym("D")
    donation.abo, donation.rhd = patient.abo, patient.rhd
    donation.volume_ml = 400 if sim.chance(0.8) else 300


def _donor(sim: Sim, donation: Donation, group: tuple[str, str] | None) -> tuple[str, str, str]:
    """A returning donor when one is eligible again, else a new one: (id, ABO, RhD)."""
    waiting = sim.donors[donation.procedure]
    interval = DONATION_INTERVAL[donation.procedure]
    eligible = group is None and waiting and waiting[0][0] <= donation.collected_at
    if eligible and sim.chance(sim.config.repeat_donor_share):
        _, serial, donor = heapq.heappop(waiting)
        heapq.heappush(waiting, (donation.collected_at + interval, serial, donor))
        return donor
    abo, rhd = group or sim.blood_group()
    donor = (sim.pseudonym("D"), abo, rhd)
    heapq.heappush(waiting, (donation.collected_at + interval, sim.serial(), donor))
    return donor


def _volume(sim: Sim, procedure: str) -> int:
    if procedure == Procedure.APHERESIS:
        return APHERESIS_VOLUME_ML
    return sim.rng.choices(
        [volume for volume, _ in WHOLE_BLOOD_VOLUMES], [w for _, w in WHOLE_BLOOD_VOLUMES]
    )[0]
