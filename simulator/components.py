"""Components at the centre: splitting, labelling, release, recall and reactive discards.

The third and fourth stages. Each donation is split into its components (red cells,
plasma and sometimes cryo from whole blood; a platelet dose from apheresis; whole
blood kept whole when autologous), each labelled with an ISBT-shaped product code,
a volume in Chinese 单位 and an expiry, and reported as ``ComponentProduced``. Once
testing is done each unit's road is settled: released into stock, reserved for its
autologous patient, set aside to carry a planted breach, recalled on post-donation
information, or, for a reactive donation, never released and discarded.
"""

from __future__ import annotations

from datetime import datetime

from ledger.domain.vocabulary import (
    Component,
    DiscardReason,
    DonationType,
    EventType,
    Flag,
    Procedure,
)
from simulator.breaches import breach_component
from simulator.config import CENTRE_BMS, COMPONENTS, CRYO_SHARE, ComponentSpec
from simulator.world import Donation, Routes, Sim, Unit

# -- split and label --------------------------------------------------------------


def produce(sim: Sim, donation: Donation) -> list[Unit]:
    """Split the donation into labelled components (``ComponentProduced``).

    Units are counted in Chinese 单位: 200 mL of whole blood make 1 U of red cells
    (and of cryo); plasma counts 100 mL as 1 U; an apheresis platelet dose is 1 U.
    """
    made_at = sim.after(donation.collected_at, 90, 300)
    units: list[Unit] = []
    for component, volume_ml, count in _components(sim, donation):
        unit = _label(sim, donation, COMPONENTS[component], volume_ml, count, made_at)
        sim.unit_event(
            unit,
            EventType.ComponentProduced,
            made_at,
            sim.centre,
            CENTRE_BMS,
            sim.staff("prc", sim.centre),
            component=component,
            volume_ml=unit.volume_ml,
            units=unit.units,
            abo=donation.abo,
            rhd=donation.rhd,
            expires_at=unit.expires_at,
        )
        units.append(unit)
        made_at = sim.after(made_at, 2, 10)
    return units


def _components(sim: Sim, donation: Donation) -> list[tuple[str, int, float]]:
    """(component, nominal volume in mL, 单位) made from one donation."""
    whole_blood_units = donation.volume_ml / 200
    if donation.procedure == Procedure.APHERESIS:
        return [(Component.PLATELETS.value, donation.volume_ml, 1.0)]
    if donation.donation_type == DonationType.AUTOLOGOUS:
        return [(Component.WHOLE_BLOOD.value, donation.volume_ml, whole_blood_units)]
    made = [
        (Component.RED_CELLS.value, round(donation.volume_ml * 0.72), whole_blood_units),
        (Component.PLASMA.value, donation.volume_ml // 2, donation.volume_ml / 200),
    ]
    if donation.makes_cryo or (donation.makes_cryo is None and sim.chance(CRYO_SHARE)):
        made.append((Component.CRYO.value, round(25 * whole_blood_units), whole_blood_units))
    return made


def _label(
    sim: Sim,
    donation: Donation,
    spec: ComponentSpec,
    volume_ml: int,
    count: float,
    made_at: datetime,
) -> Unit:
    """A unit with its ISBT-shaped product code (PDC + collection type + undivided)."""
    collection_type = "1" if donation.donation_type == DonationType.AUTOLOGOUS else "V"
    return Unit(
        serial=sim.serial(),
        donation=donation,
        spec=spec,
        product_code=f"{spec.pdc}{collection_type}00",
        volume_ml=round(volume_ml * sim.rng.uniform(0.96, 1.04)),
        units=count,
        expires_at=donation.collected_at + spec.shelf_life,
        last_at=made_at,
    )


# -- release, or quarantine and discard ----------------------------------------------


def settle(
    sim: Sim, donation: Donation, units: list[Unit], tested_at: datetime, routes: Routes
) -> None:
    """Decide each unit's road once testing is done.

    A reactive donation's units are never released: the centre discards them a few
    days later (the ledger quarantines them itself). A unit whose donor calls back
    after release is quarantined and recalled. The rest is released into stock,
    reserved for its autologous patient, or set aside to carry a planted breach.
    """
    if donation.reactive_test is not None:
        _discard_reactive(sim, units, tested_at)
        return
    for unit in units:
        if donation.breach is not None and unit.component == breach_component(donation.breach):
            if donation.breach != Flag.UNRELEASED_USE:
                _release(sim, unit, tested_at)
            routes.breaches.append((donation.breach, unit))
            continue
        _release(sim, unit, tested_at)
        if donation.post_donation_info:
            _recall(sim, unit)
        elif donation.donation_type == DonationType.AUTOLOGOUS:
            routes.autologous.append(unit)
        else:
            routes.stock.append(unit)


def _discard_reactive(sim: Sim, units: list[Unit], tested_at: datetime) -> None:
    discarded_at = sim.after(tested_at, 24 * 60, 4 * 24 * 60)
    for unit in units:
        actor = sim.staff("qa", sim.centre)
        _discard_at_centre(sim, unit, discarded_at, DiscardReason.REACTIVE_TEST, actor)
        sim.inject(Flag.REACTIVE_DONATION.value, unit)


def _release(sim: Sim, unit: Unit, tested_at: datetime) -> None:
    released_at = sim.after(max(tested_at, unit.last_at), 30, 180)
    sim.unit_event(
        unit,
        EventType.UnitReleased,
        released_at,
        sim.centre,
        CENTRE_BMS,
        sim.staff("qa", sim.centre),
    )
    unit.released_at = released_at


def _recall(sim: Sim, unit: Unit) -> None:
    """Post-donation information: quarantine the released unit, then recall it."""
    actor = sim.staff("qa", sim.centre)
    case_id = sim.reference("PDI-", 5)
    quarantined_at = sim.after(unit.last_at, 120, 1200)
    sim.unit_event(
        unit,
        EventType.UnitQuarantined,
        quarantined_at,
        sim.centre,
        CENTRE_BMS,
        actor,
        reason="post-donation information from the donor",
        case_id=case_id,
    )
    discarded_at = sim.after(quarantined_at, 24 * 60, 3 * 24 * 60)
    _discard_at_centre(sim, unit, discarded_at, DiscardReason.RECALLED, actor)


def _discard_at_centre(
    sim: Sim, unit: Unit, at: datetime, reason: DiscardReason, actor: str
) -> None:
    sim.unit_event(
        unit,
        EventType.UnitDiscarded,
        at,
        sim.centre,
        CENTRE_BMS,
        actor,
        reason=reason.value,
    )
