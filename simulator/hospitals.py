"""The hospitals' transfusion services: matching, crossmatch, dispense, transfusion, aftercare.

The hospital half of the fifth stage. Each day a hospital gets a Poisson number of
requests per component; a patient is picked from its pool and served the first
compatible unit on its shelves, identical group first (red cells need donor cells
without the patient's antigens, plasma and cryo the reverse, whole blood and
platelets the identical group, RhD-negative patients RhD-negative cellular units).
Red cells and whole blood are crossmatched on a sample under three days old, some
reservations lapse, some units come back from the ward (in time, or too late and
discarded), the rest are transfused after a bedside check, a few with an adverse
reaction and its hemovigilance report, about half with an evaluation on the next
ward round. Autologous units are crossmatched and given at their patient's
operation. The same steps serve :mod:`simulator.breaches`, which bends one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ledger.domain.vocabulary import (
    Component,
    CrossmatchResult,
    DiscardReason,
    EventType,
    RhD,
    TransfusionOutcome,
)
from simulator.config import (
    BEDSIDE_SCAN,
    CELLULAR,
    COMPONENTS,
    CROSSMATCH_METHODS,
    CROSSMATCHED,
    EFFECTIVE_SHARE,
    EVALUATION_NOTES,
    EVALUATION_SHARE,
    HEMOVIGILANCE,
    HOSPITAL_EMR,
    HOSPITAL_LIS,
    IMPUTABILITIES,
    LATE_RETURN_SHARE,
    PLASMA_DONORS,
    REACTION_SHARE,
    REACTIONS,
    RED_CELL_DONORS,
    RETURN_SHARE,
    SAMPLE_REUSE,
    SEVERITIES,
    STOPPED_OTHER_SHARE,
    UNUSED_CROSSMATCH_SHARE,
)
from simulator.world import Patient, Sample, Sim, Stock, Unit, intended, poisson


def _abo_choices(component: str, patient_abo: str) -> tuple[str, ...]:
    """Donor ABO groups a patient may receive, in order of preference (domain 3.1)."""
    if component == Component.RED_CELLS:
        return RED_CELL_DONORS[patient_abo]
    if component in (Component.PLASMA, Component.CRYO):
        return PLASMA_DONORS[patient_abo]
    return (patient_abo,)  # whole blood and (China, art. 16) apheresis platelets: identical


def _rhd_choices(component: str, patient_rhd: str) -> tuple[str, ...]:
    if component in CELLULAR and patient_rhd == RhD.NEG:
        return (RhD.NEG.value,)
    other = RhD.NEG.value if patient_rhd == RhD.POS else RhD.POS.value
    return (patient_rhd, other)


def _compatible(unit: Unit, patient: Patient) -> bool:
    return unit.donation.abo in _abo_choices(unit.component, patient.abo) and (
        unit.donation.rhd in _rhd_choices(unit.component, patient.rhd)
    )


def recipient(
    sim: Sim,
    hospital: str,
    unit: Unit,
    *,
    accepts: Callable[[Patient], bool] | None = None,
    fallback: tuple[str, str] | None = None,
    exclude: tuple[Patient, ...] = (),
) -> Patient:
    """A patient of the hospital who may receive ``unit`` (or a new one of group ``fallback``)."""
    test = accepts or (lambda patient: _compatible(unit, patient))
    pool = sim.patients[hospital]
    candidates = [p for p in pool if test(p) and p not in exclude]
    if candidates:
        return sim.rng.choice(candidates)
    patient = sim.new_patient(hospital, fallback or (unit.donation.abo, unit.donation.rhd))
    pool.append(patient)
    return patient


def discard_at_hospital(
    sim: Sim, unit: Unit, hospital: str, at: datetime, reason: DiscardReason
) -> None:
    sim.unit_event(
        unit,
        EventType.UnitDiscarded,
        at,
        hospital,
        HOSPITAL_LIS,
        sim.staff("bb", hospital),
        reason=reason.value,
    )


def serve_day(sim: Sim, hospital: str, stock: Stock, returned: list[Unit], day: int) -> None:
    """The day's requests (10:00-22:00 local), each served from stock if a match is there."""
    weight = sim.weight[hospital]
    requests: list[tuple[datetime, str]] = []
    for spec in COMPONENTS.values():
        use = sim.config.use.of(spec.component)
        if use is None:
            continue
        mean = use.per_donation * sim.config.donations_per_day * weight
        requests.extend(
            (sim.at(day, 10, 22), spec.component) for _ in range(poisson(sim.rng, mean))
        )
    requests.sort()
    pool = sim.patients[hospital]
    for at, component in requests:
        patient = sim.rng.choice(pool)
        unit = _allocate(stock, component, patient)
        if unit is not None:
            _serve(sim, unit, patient, at, returned)


def _allocate(stock: Stock, component: str, patient: Patient) -> Unit | None:
    """The first compatible unit in order of preference: identical group first."""
    for abo in _abo_choices(component, patient.abo):
        for rhd in _rhd_choices(component, patient.rhd):
            unit = stock.take((component, abo, rhd))
            if unit is not None:
                return unit
    return None


def _serve(sim: Sim, unit: Unit, patient: Patient, at: datetime, returned: list[Unit]) -> None:
    """Crossmatch if needed, dispense, then transfuse or take the unit back."""
    if unit.component in CROSSMATCHED:
        _crossmatch(sim, unit, patient, at, _current_sample(sim, patient, at))
        if sim.chance(UNUSED_CROSSMATCH_SHARE):
            returned.append(unit)  # reservation lapsed: back on the shelf tomorrow
            return
        at = sim.after(at, 15, 120)
    dispense(sim, unit, patient, at)
    roll = sim.rng.random()
    if roll < LATE_RETURN_SHARE:
        minutes = sim.rng.randint(35, 120)
        returned_at = _return(sim, unit, patient, at, minutes)
        discard_at_hospital(
            sim, unit, patient.hospital, sim.after(returned_at, 5, 60), DiscardReason.RETURNED_LATE
        )
    elif roll < LATE_RETURN_SHARE + RETURN_SHARE:
        _return(sim, unit, patient, at, sim.rng.randint(5, 29))
        returned.append(unit)
    else:
        transfuse(sim, unit, patient, at)


def _current_sample(sim: Sim, patient: Patient, at: datetime) -> Sample:
    """The patient's sample in use, or a new one drawn shortly before the crossmatch."""
    sample = sim.samples.get(patient.patient_id)
    if sample is None or not at - SAMPLE_REUSE <= sample.collected_at < at:
        sample = Sample(sim.reference("SMP", 8), sim.after(at, -300, -30))
        sim.samples[patient.patient_id] = sample
    return sample


def _crossmatch(sim: Sim, unit: Unit, patient: Patient, at: datetime, sample: Sample) -> None:
    sim.unit_event(
        unit,
        EventType.CrossmatchPerformed,
        at,
        patient.hospital,
        HOSPITAL_LIS,
        sim.staff("bb", patient.hospital),
        patient_id=patient.patient_id,
        patient_abo=patient.abo,
        patient_rhd=patient.rhd,
        sample_id=sample.sample_id,
        sample_collected_at=sample.collected_at,
        method=sim.choose(CROSSMATCH_METHODS),
        result=CrossmatchResult.COMPATIBLE.value,
    )


def dispense(sim: Sim, unit: Unit, patient: Patient, at: datetime) -> None:
    sim.unit_event(
        unit,
        EventType.UnitDispensed,
        at,
        patient.hospital,
        HOSPITAL_LIS,
        sim.staff("bb", patient.hospital),
        patient_id=patient.patient_id,
    )


def _return(
    sim: Sim, unit: Unit, patient: Patient, dispensed_at: datetime, minutes: int
) -> datetime:
    returned_at = dispensed_at + timedelta(minutes=minutes)
    sim.unit_event(
        unit,
        EventType.UnitReturned,
        returned_at,
        patient.hospital,
        HOSPITAL_LIS,
        sim.staff("bb", patient.hospital),
        minutes_out_of_storage=minutes,
    )
    return returned_at


def transfuse(
    sim: Sim,
    unit: Unit,
    patient: Patient,
    dispensed_at: datetime,
    *,
    bedside_ok: bool = True,
    evaluate: bool = True,
) -> None:
    """Bedside check and start within 30 minutes of dispensing, then the outcome."""
    hospital = patient.hospital
    nurse = sim.staff("nurse", hospital)
    started_at = sim.after(dispensed_at, 5, 25)
    sim.unit_event(
        unit,
        EventType.TransfusionStarted,
        started_at,
        hospital,
        BEDSIDE_SCAN,
        nurse,
        patient_id=patient.patient_id,
        bedside_check_passed=bedside_ok,
    )
    roll = sim.rng.random()
    if roll < REACTION_SHARE:
        ended_at = _react(sim, unit, patient, started_at)
    else:
        stopped = roll < REACTION_SHARE + STOPPED_OTHER_SHARE
        ended_at = sim.after(started_at, *unit.spec.infusion_minutes)
        volume = round(unit.volume_ml * sim.rng.uniform(0.2, 0.8)) if stopped else unit.volume_ml
        outcome = TransfusionOutcome.STOPPED_OTHER if stopped else TransfusionOutcome.COMPLETED
        _complete(sim, unit, patient, ended_at, volume, outcome, nurse)
    if evaluate and sim.chance(EVALUATION_SHARE):
        _evaluate(sim, unit, patient, ended_at)


def _complete(
    sim: Sim,
    unit: Unit,
    patient: Patient,
    at: datetime,
    volume_ml: int,
    outcome: TransfusionOutcome,
    nurse: str,
) -> None:
    sim.unit_event(
        unit,
        EventType.TransfusionCompleted,
        at,
        patient.hospital,
        BEDSIDE_SCAN,
        nurse,
        patient_id=patient.patient_id,
        volume_ml=volume_ml,
        outcome=outcome.value,
    )


def _react(sim: Sim, unit: Unit, patient: Patient, started_at: datetime) -> datetime:
    """A reaction stops the transfusion; the hemovigilance report follows within hours."""
    onset_at = sim.after(started_at, 10, 60)
    stopped_at = sim.after(onset_at, 3, 10)
    volume = round(unit.volume_ml * sim.rng.uniform(0.1, 0.6))
    nurse = sim.staff("nurse", patient.hospital)
    _complete(sim, unit, patient, stopped_at, volume, TransfusionOutcome.STOPPED_REACTION, nurse)
    sim.unit_event(
        unit,
        EventType.AdverseReactionReported,
        sim.after(onset_at, 60, 480),
        patient.hospital,
        HEMOVIGILANCE,
        sim.staff("dr", patient.hospital),
        patient_id=patient.patient_id,
        category=sim.choose(REACTIONS),
        severity=sim.choose(SEVERITIES),
        imputability=sim.choose(IMPUTABILITIES),
        onset_at=onset_at,
    )
    return stopped_at


def _evaluate(sim: Sim, unit: Unit, patient: Patient, ended_at: datetime) -> None:
    """The post-transfusion evaluation, on the ward round the next day."""
    sim.unit_event(
        unit,
        EventType.TransfusionEvaluated,
        sim.after(ended_at, 16 * 60, 30 * 60),
        patient.hospital,
        HOSPITAL_EMR,
        sim.staff("dr", patient.hospital),
        patient_id=patient.patient_id,
        effective=sim.chance(EFFECTIVE_SHARE),
        note=sim.rng.choice(EVALUATION_NOTES) if sim.chance(0.3) else None,
    )


def autologous_surgery(sim: Sim, unit: Unit) -> None:
    """The intended patient's operation, 5-14 days after donation; some are cancelled."""
    patient = intended(unit)
    day = max(
        sim.day_of(unit.donation.collected_at) + sim.rng.randint(5, 14),
        sim.day_of(unit.last_at) + 1,
    )
    surgery_at = sim.at(day, 9, 15)
    if surgery_at >= sim.end:
        return  # still waiting for its operation when the period ends
    if sim.chance(0.1):
        discard_at_hospital(sim, unit, patient.hospital, surgery_at, DiscardReason.OTHER)
        return
    crossmatched_transfusion(sim, unit, patient, sim.after(surgery_at, -120, -30))


def crossmatched_transfusion(
    sim: Sim,
    unit: Unit,
    patient: Patient,
    at: datetime,
    *,
    sample: Sample | None = None,
    bedside_ok: bool = True,
    excursion_minutes: int | None = None,
) -> None:
    """Crossmatch at ``at`` with a fresh sample (unless given), dispense, transfuse.

    With ``excursion_minutes`` the unit first comes back from the ward after that
    long out of storage and is dispensed again later.
    """
    sample = sample or Sample(sim.reference("SMP", 8), sim.after(at, -20 * 60, -60))
    _crossmatch(sim, unit, patient, at, sample)
    dispensed_at = sim.after(at, 15, 90)
    dispense(sim, unit, patient, dispensed_at)
    if excursion_minutes is not None:
        returned_at = _return(sim, unit, patient, dispensed_at, excursion_minutes)
        dispensed_at = sim.after(returned_at, 60, 180)
        dispense(sim, unit, patient, dispensed_at)
    transfuse(sim, unit, patient, dispensed_at, bedside_ok=bedside_ok)
