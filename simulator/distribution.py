"""Distribution: the centre's stock, the morning runs and each hospital's shelves.

The fifth stage, as it happens day by day. Released units enter the centre's stock
once their release is recorded; every morning (06:00 local) units about to expire
are discarded, each hospital's shelves are topped up to targets sized to its demand
(days of cover per component, ABO and RhD, at least one unit a shelf so rare groups
are on hand) and shipped, with autologous units riding along to their patient's
operation; the shipments are issued and received, a few arriving warm or damaged
and discarded at receipt. Then the hospital serves the day's requests
(:mod:`simulator.hospitals`). Stocks are first-expiry-first-out, so the work stays
linear in the number of facts.
"""

from __future__ import annotations

from datetime import datetime

from ledger.domain.vocabulary import DiscardReason, DonationType, EventType, RhD
from simulator.config import (
    ABO_SHARES,
    CELLULAR,
    CENTRE_BMS,
    COMPONENTS,
    DAMAGED_SHARE,
    HOSPITAL_LIS,
    TEMPERATURE_FAILURE_SHARE,
)
from simulator.hospitals import autologous_surgery, discard_at_hospital, serve_day
from simulator.world import Key, Routes, Sim, Stock, Unit, intended


def distribute_and_transfuse(sim: Sim, routes: Routes) -> None:
    """Day by day: expire, restock each hospital by a morning run, serve its demand."""
    released = sorted(routes.stock, key=_release_order)
    autologous = sorted(routes.autologous, key=_release_order)
    centre = Stock()
    stocks = {hospital: Stock() for hospital in sim.hospitals}
    returned: dict[str, list[Unit]] = {hospital: [] for hospital in sim.hospitals}
    targets = {hospital: _targets(sim, weight) for hospital, weight in sim.shares()}
    next_released = next_autologous = 0
    for day in range(sim.config.days):
        run = sim.local(day, 6)
        while next_released < len(released) and _ready(released[next_released], run):
            centre.put(released[next_released])
            next_released += 1
        due: list[Unit] = []
        while next_autologous < len(autologous) and _ready(autologous[next_autologous], run):
            due.append(autologous[next_autologous])
            next_autologous += 1
        horizon = sim.local(day + 1, 12)
        _expire(sim, centre, sim.centre, CENTRE_BMS, horizon)
        for hospital in sim.hospitals:
            stock = stocks[hospital]
            for unit in returned[hospital]:
                stock.put(unit)
            returned[hospital] = []
            _expire(sim, stock, hospital, HOSPITAL_LIS, horizon)
            reserved = [u for u in due if intended(u).hospital == hospital]
            shipment = reserved + _replenishment(centre, stock, targets[hospital])
            if shipment:
                _restock(sim, stock, hospital, shipment, sim.after(run, 0, 60))
            serve_day(sim, hospital, stock, returned[hospital], day)


def _release_order(unit: Unit) -> tuple[datetime, int]:
    return (unit.released_at or unit.last_at, unit.serial)


def _ready(unit: Unit, run: datetime) -> bool:
    return unit.released_at is not None and unit.released_at <= run


def _expire(sim: Sim, stock: Stock, facility: str, system: str, horizon: datetime) -> None:
    """Discard the units that would expire before tomorrow's use (FEFO keeps it cheap)."""
    for unit in stock.expiring(horizon):
        discarded_at = sim.after(max(unit.expires_at, unit.last_at), 30, 240)
        role = "qa" if facility == sim.centre else "bb"
        sim.unit_event(
            unit,
            EventType.UnitDiscarded,
            discarded_at,
            facility,
            system,
            sim.staff(role, facility),
            reason=DiscardReason.EXPIRED.value,
        )


def _replenishment(centre: Stock, stock: Stock, targets: list[tuple[Key, int]]) -> list[Unit]:
    """Units from the centre that bring each shelf of a hospital back to its target."""
    shipment: list[Unit] = []
    for key, target in targets:
        for _ in range(target - stock.count(key)):
            unit = centre.take(key)
            if unit is None:
                break
            shipment.append(unit)
    return shipment


def _restock(sim: Sim, stock: Stock, hospital: str, shipment: list[Unit], at: datetime) -> None:
    """Ship the morning run; autologous units go on to their patient's operation."""
    for unit in ship(sim, shipment, hospital, at):
        if unit.donation.donation_type == DonationType.AUTOLOGOUS:
            autologous_surgery(sim, unit)
        else:
            stock.put(unit)


def _targets(sim: Sim, weight: float) -> list[tuple[Key, int]]:
    """Target stock per shelf: days of cover times a hospital's demand for that group.

    Every shelf holds at least one unit, so rare groups (RhD negative) are on hand;
    RhD-negative plasma and cryo only if :attr:`HospitalUse.rhd_negative_plasma` asks.
    """
    targets: list[tuple[Key, int]] = []
    negative = sim.config.rhd_negative_share
    for spec in COMPONENTS.values():
        use = sim.config.use.of(spec.component)
        if use is None or not use.cover_days:
            continue
        daily = use.per_donation * sim.config.donations_per_day * weight
        for abo, abo_share in ABO_SHARES.items():
            for rhd, rhd_share in ((RhD.POS.value, 1 - negative), (RhD.NEG.value, negative)):
                target = round(daily * use.cover_days * abo_share * rhd_share)
                if rhd == RhD.NEG and not _keeps_rhd_negative(sim, spec.component):
                    targets.append(((spec.component, abo, rhd), target))
                else:
                    targets.append(((spec.component, abo, rhd), max(1, target)))
    return targets


def _keeps_rhd_negative(sim: Sim, component: str) -> bool:
    """Whether a hospital keeps a RhD-negative shelf of ``component`` for its own sake."""
    return component in CELLULAR or sim.config.use.rhd_negative_plasma


def issue(sim: Sim, unit: Unit, hospital: str, at: datetime, shipment_id: str, issuer: str) -> None:
    """The centre sends the unit on its way to the hospital (``UnitIssued``)."""
    sim.unit_event(
        unit,
        EventType.UnitIssued,
        at,
        sim.centre,
        CENTRE_BMS,
        issuer,
        to_facility=hospital,
        shipment_id=shipment_id,
    )


def ship(
    sim: Sim, units: list[Unit], hospital: str, at: datetime, *, incidents: bool = True
) -> list[Unit]:
    """Issue a shipment from the centre and receive it at the hospital.

    Returns the units that arrived fit for use; a cold-chain failure or a damaged
    bag is discarded at receipt, never used.
    """
    shipment_id = sim.reference("SHP", 7)
    issuer = sim.staff("dsp", sim.centre)
    receiver = sim.staff("bb", hospital)
    received_at = sim.after(at, 40, 150)
    arrived: list[Unit] = []
    for unit in units:
        issue(sim, unit, hospital, at, shipment_id, issuer)
        warm = incidents and sim.chance(TEMPERATURE_FAILURE_SHARE)
        sim.unit_event(
            unit,
            EventType.UnitReceived,
            received_at,
            hospital,
            HOSPITAL_LIS,
            receiver,
            temperature_ok=not warm,
        )
        if warm or (incidents and sim.chance(DAMAGED_SHARE)):
            reason = DiscardReason.TEMPERATURE if warm else DiscardReason.DAMAGED
            discard_at_hospital(sim, unit, hospital, sim.after(received_at, 20, 90), reason)
        else:
            arrived.append(unit)
    return arrived
