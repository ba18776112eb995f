"""The injected rule breaches: which donations carry them and how each one is played.

Everything ordinary in the stream keeps the rules, so the only safety flags a
correct ledger may raise are the ones planted here. At planning time each kind of
breach is given to a voluntary donation collected a week or more before the end (at
least one of each kind when enough are eligible, more with
:attr:`DemoConfig.breach_rate`), its procedure and type adjusted to fit; once
testing is done the one component that carries it is set aside. After the ordinary
days are played, each carrier unit is shipped on its own and used in exactly one
wrong way (expired, on a stale sample, ABO-incompatible, without a bedside check,
twice, after a cold-chain excursion, unreleased, or given to a patient other than
its autologous donor), and recorded in :attr:`DemoStream.injected` under the one
flag it must raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from ledger.domain.vocabulary import ABO, Component, DonationType, EventType, Flag, Procedure, RhD
from simulator.config import BEDSIDE_SCAN, BREACH_FLAGS
from simulator.distribution import ship
from simulator.hospitals import crossmatched_transfusion, dispense, recipient, transfuse
from simulator.world import Donation, Sample, Sim, Unit, intended


def plan_breaches(sim: Sim, candidates: list[Donation]) -> None:
    """Pick carrier donations for the breaches: every kind once, more with the rate.

    Carriers are collected in the period (not its lead-in) a week or more before the
    end, so each breach plays out within it. Each carrier's procedure and type are set to fit
    the breach (platelets expire within days; autologous blood has its own patient).
    """
    if sim.config.breach_rate <= 0:
        return
    last_day = max(0, sim.config.days - 8)
    eligible = [d for d in candidates if 0 <= sim.day_of(d.collected_at) <= last_day]
    # To the hundredth: the small world's estimate has always been 1.36, so its streams
    # stay as they were.
    per_donation = round(sim.config.use.transfusions_per_donation(), 2)
    estimate = sim.config.breach_rate * per_donation * (len(candidates) + 1)
    count = min(len(eligible), max(len(BREACH_FLAGS), round(estimate)))
    kinds = list(BREACH_FLAGS)
    sim.rng.shuffle(kinds)
    kinds += [sim.rng.choice(BREACH_FLAGS) for _ in range(count - len(kinds))]
    for donation, kind in zip(eligible[:count], kinds, strict=False):
        donation.breach = kind
        donation.procedure = Procedure.WHOLE_BLOOD.value
        if kind == Flag.EXPIRED_USE:
            donation.procedure = Procedure.APHERESIS.value
        elif kind == Flag.AUTOLOGOUS_MISMATCH:
            donation.donation_type = DonationType.AUTOLOGOUS.value


def breach_component(flag: str) -> str:
    """The component of a carrier donation that carries its breach."""
    return {
        Flag.EXPIRED_USE.value: Component.PLATELETS.value,
        Flag.DOUBLE_USE.value: Component.PLASMA.value,
        Flag.AUTOLOGOUS_MISMATCH.value: Component.WHOLE_BLOOD.value,
    }.get(flag, Component.RED_CELLS.value)


def inject_breaches(sim: Sim, breaches: list[tuple[str, Unit]]) -> None:
    """Play each planted breach on its own unit, otherwise by the rules."""
    for flag, unit in breaches:
        patient = unit.donation.intended_patient
        hospital = patient.hospital if patient else sim.hospital()
        if flag == Flag.UNRELEASED_USE:
            shipped_at = sim.after(unit.last_at, 20, 90)  # before any release was recorded
        else:
            shipped_at = sim.after(sim.next_shipping(unit.last_at), 0, 60)
        ship(sim, [unit], hospital, shipped_at, incidents=False)
        used_at = sim.at(sim.day_of(unit.last_at) + sim.rng.randint(1, 2), 10, 20)
        _BREACHES[flag](sim, unit, hospital, used_at)
        sim.inject(flag, unit)


def _expired_use(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """Platelets dispensed and transfused hours after their expiry."""
    patient = recipient(sim, hospital, unit)
    dispensed_at = sim.after(max(used_at, unit.expires_at), 120, 600)
    dispense(sim, unit, patient, dispensed_at)
    transfuse(sim, unit, patient, dispensed_at)


def _no_valid_crossmatch(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """Red cells crossmatched on a sample drawn 5 days before the transfusion."""
    patient = recipient(sim, hospital, unit)
    old = Sample(sim.reference("SMP", 8), sim.after(used_at - timedelta(days=5), -120, 0))
    crossmatched_transfusion(sim, unit, patient, used_at, sample=old)


def _abo_incompatible(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """Group A red cells to a group O patient, behind a recent crossmatch called compatible."""
    patient = recipient(
        sim,
        hospital,
        unit,
        accepts=lambda p: p.abo == ABO.O and p.rhd == RhD.POS,
        fallback=(ABO.O.value, RhD.POS.value),
    )
    crossmatched_transfusion(sim, unit, patient, used_at)


def _no_bedside_check(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """A properly crossmatched unit started without the bedside identity check."""
    crossmatched_transfusion(sim, unit, recipient(sim, hospital, unit), used_at, bedside_ok=False)


def _double_use(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """Plasma transfused to one patient, then scanned as started for a second one."""
    first = recipient(sim, hospital, unit)
    second = recipient(sim, hospital, unit, exclude=(first,))
    dispense(sim, unit, first, used_at)
    transfuse(sim, unit, first, used_at, evaluate=False)
    sim.unit_event(
        unit,
        EventType.TransfusionStarted,
        sim.after(unit.last_at, 30, 180),
        hospital,
        BEDSIDE_SCAN,
        sim.staff("nurse", hospital),
        patient_id=second.patient_id,
        bedside_check_passed=True,
    )


def _cold_chain(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """Red cells back from the ward after 40-75 minutes out, then dispensed and used."""
    patient = recipient(sim, hospital, unit)
    minutes = sim.rng.randint(40, 75)
    crossmatched_transfusion(sim, unit, patient, used_at, excursion_minutes=minutes)


def _unreleased_use(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """Red cells shipped before release and used at the hospital all the same."""
    crossmatched_transfusion(sim, unit, recipient(sim, hospital, unit), used_at)


def _autologous_mismatch(sim: Sim, unit: Unit, hospital: str, used_at: datetime) -> None:
    """An autologous unit crossmatched and transfused to a patient other than its donor."""
    donor = intended(unit)
    other = recipient(
        sim,
        hospital,
        unit,
        accepts=lambda p: p.abo == donor.abo and p.rhd == donor.rhd,
        exclude=(donor,),
    )
    crossmatched_transfusion(sim, unit, other, used_at)


_BREACHES: Mapping[str, Callable[[Sim, Unit, str, datetime], None]] = MappingProxyType(
    {
        Flag.EXPIRED_USE.value: _expired_use,
        Flag.NO_VALID_CROSSMATCH.value: _no_valid_crossmatch,
        Flag.ABO_INCOMPATIBLE.value: _abo_incompatible,
        Flag.NO_BEDSIDE_CHECK.value: _no_bedside_check,
        Flag.DOUBLE_USE.value: _double_use,
        Flag.COLD_CHAIN.value: _cold_chain,
        Flag.UNRELEASED_USE.value: _unreleased_use,
        Flag.AUTOLOGOUS_MISMATCH.value: _autologous_mismatch,
    }
)
