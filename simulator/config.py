"""What the simulation is asked for and what it returns, and the constants of its world.

:class:`DemoConfig` is the whole input (the stream is a pure function of it), with
:class:`HospitalUse` for what the hospitals ask for and keep; :data:`REGION_CONFIG` is
the demo's region, calibrated on the seed hospital's figures. :class:`DemoStream` is the
whole output, with the :class:`PlantedRecall` when one was asked for;
:data:`BREACH_FLAGS` and :data:`INJECTED_FLAGS` name what can be planted. Below them
sit the fixed facts of the simulated world that every stage draws on: the source
systems, the shares and rates that shape a month of a Chinese blood centre and its
hospitals (blood groups, procedures, returns, reactions, late publications), the
components with their codes and shelf lives, and the compatibility tables. Keeping
them in one place keeps the stages free of magic numbers and lets a reader see the
world's calibration at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from ledger.domain.facts import ReportedFact
from ledger.domain.vocabulary import (
    ABO,
    Component,
    CrossmatchMethod,
    Flag,
    Imputability,
    NoticeAction,
    Procedure,
    ReactionCategory,
    Severity,
    Test,
)

# -- how the hospitals use each component ------------------------------------------


@dataclass(frozen=True)
class ComponentUse:
    """How the hospitals use one component: what they ask for, and what they keep."""

    #: Transfusions the hospitals ask for per donation the centre collects (demand is
    #: sized against supply, so a larger region is a larger demand).
    per_donation: float
    #: Days of its demand a hospital tops each shelf of the component up to on the
    #: morning run (at least one unit a shelf, so rare groups are on hand).
    cover_days: float


@dataclass(frozen=True)
class HospitalUse:
    """Demand and stock, component by component; whole blood is never stocked (it is
    only autologous, reserved for its patient)."""

    red_cells: ComponentUse = ComponentUse(per_donation=0.70, cover_days=3)
    plasma: ComponentUse = ComponentUse(per_donation=0.48, cover_days=4)
    platelets: ComponentUse = ComponentUse(per_donation=0.075, cover_days=1.5)
    cryo: ComponentUse = ComponentUse(per_donation=0.11, cover_days=4)
    #: Keep a RhD-negative shelf of plasma and cryo too. RhD does not matter for them (a
    #: RhD-negative patient may have RhD-positive plasma), so a real hospital leaves its
    #: rare RhD-negative units at the centre; the small world keeps one of each on hand.
    rhd_negative_plasma: bool = True

    def transfusions_per_donation(self) -> float:
        """Transfusions a donation ends up feeding, summed over its components."""
        return sum(
            use.per_donation for use in (self.red_cells, self.plasma, self.platelets, self.cryo)
        )

    def of(self, component: str) -> ComponentUse | None:
        """The use of ``component``; ``None`` for one the hospitals neither ask for nor keep."""
        return {
            Component.RED_CELLS.value: self.red_cells,
            Component.PLASMA.value: self.plasma,
            Component.PLATELETS.value: self.platelets,
            Component.CRYO.value: self.cryo,
        }.get(component)


# -- configuration and result --------------------------------------------------------

_DEFAULT_START = datetime(2026, 9, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoConfig:
    """What to simulate; the same config always yields the same stream.

    The defaults are a small world (three hospitals, a dozen donations a day) that
    the tests replay quickly; :data:`REGION_CONFIG` is the demo's region.
    """

    seed: int = 2026
    start: datetime = _DEFAULT_START
    days: int = 28
    hospitals: int = 3
    donations_per_day: int = 12
    #: Share of transfusions that carry a deliberate rule breach (at least one of each kind).
    breach_rate: float = 0.03
    #: Share of voluntary donations with one REACTIVE infectious-marker result.
    reactive_rate: float = 0.02
    #: Chance that an eligible returning donor gives the next donation (more: fewer donors,
    #: each with more donations).
    repeat_donor_share: float = 0.3
    #: Days of collections before ``start``, tested and released by the first morning
    #: run: the centre opens the period with a reserve instead of empty shelves (the
    #: hospitals ask for nothing before ``start``).
    lead_in_days: int = 0
    #: Share of RhD-negative donors and patients: about 0.4 % of Han Chinese; the
    #: default is raised so that a few appear in a small month.
    rhd_negative_share: float = 0.015
    #: Share of donations that are pre-deposit autologous (whole blood, kept whole).
    autologous_share: float = 0.03
    #: Share of donations that are apheresis platelets.
    apheresis_share: float = 0.09
    #: What the hospitals ask for and keep, per component.
    use: HospitalUse = HospitalUse()
    #: Plant a recall that reaches several hospitals (:mod:`simulator.recall`).
    recall: bool = False


@dataclass(frozen=True)
class RecalledUnit:
    """A unit of the recalled donation, and the facility its recall notice goes to."""

    facility: str
    din: str
    product_code: str
    component: str


@dataclass(frozen=True)
class PlantedRecall:
    """The recall :mod:`simulator.recall` planted: a repeat donor whose earlier donation
    went out to hospitals months ago, and whose donation in the period tests REACTIVE,
    so that the ledger's automatic lookback (:attr:`case_id`) quarantines the earlier
    donation's units and sends a notice about each of them."""

    donor_id: str
    #: The earlier donation: every screening test NEGATIVE, given months before.
    earlier_din: str
    #: The donation of the period whose infectious marker :attr:`test` came back REACTIVE.
    reactive_din: str
    test: str
    #: When the REACTIVE result occurred: the moment of the lookback's quarantines and the
    #: ``issued_at`` of its notices.
    result_at: datetime
    #: The automatic lookback case the result opens (``LB-AUTO-<reactive DIN>``).
    case_id: str
    #: On a hospital's shelf when the result comes: a QUARANTINE notice to that hospital.
    on_shelf: RecalledUnit
    #: Transfused at a hospital months before: a NOTIFY_RECIPIENT notice to that hospital.
    transfused: RecalledUnit
    #: The patient who received :attr:`transfused`, named in its notice.
    recipient_id: str
    #: Issued by the centre shortly before the result and never received: a QUARANTINE
    #: notice to the hospital it was on its way to.
    in_transit: RecalledUnit

    def notices(self) -> frozenset[tuple[str, str, str, str, str | None]]:
        """The notices the case gives about the earlier donation's units, as
        ``(din, product_code, facility, action, patient_id)`` (the reactive donation's
        own units, never released, give theirs to the centre)."""
        quarantine, notify = NoticeAction.QUARANTINE.value, NoticeAction.NOTIFY_RECIPIENT.value
        given = self.transfused
        return frozenset(
            {
                (u.din, u.product_code, u.facility, quarantine, None)
                for u in (self.on_shelf, self.in_transit)
            }
            | {(given.din, given.product_code, given.facility, notify, self.recipient_id)}
        )


@dataclass(frozen=True)
class DemoStream:
    """The generated facts in publication order, and what was planted in them."""

    facts: tuple[ReportedFact, ...]
    centre: str
    hospitals: tuple[str, ...]
    #: Flag name -> the units ``(din, product_code)`` where that breach was injected.
    injected: Mapping[str, tuple[tuple[str, str], ...]]
    #: Facts published after a fact that happened later (late arrivals).
    late: int = 0
    #: Exact re-sends: a fact published a second time with the same ``event_id``.
    resent: int = 0
    #: The end of the simulated period (``start + days``): no request is served after it,
    #: only what follows the last ones (evaluations, reports, discards). The moment to
    #: ask the ledger for its inventory "at the end".
    end: datetime = _DEFAULT_START
    #: The recall planted when :attr:`DemoConfig.recall` asks for it.
    recall: PlantedRecall | None = None


DEFAULT_CONFIG = DemoConfig()

#: The demo's region: a blood centre and five hospitals, 150 donations a day, calibrated
#: on the seed hospital's 2025 figures (``shared/seeds``): each hospital restocks to about
#: four and a half days of red cells by group (its routine reserve is 3 days; the ledger
#: warns below 3), component shares by 单位 near its red cells 78.6 %, plasma 15.3 %,
#: platelets 5.7 %, cryo 0.4 %, and whole blood (pre-deposit autologous only) about 1 % of
#: transfusions (its component transfusion rate is 99.1 %). A week of collections before
#: the period gives the centre its reserve (the emergency plan starts below 5 days);
#: RhD-negative donors and patients are 0.4 %, as among Han Chinese. Platelets keep 5 days,
#: so hospitals hold two or three days of them and the centre hardly any: their groups are
#: the ones most often short, as in life. Breaches and reactive results are rarer than in
#: the small world, and a recall reaches three hospitals.
REGION_CONFIG = DemoConfig(
    days=28,
    hospitals=5,
    donations_per_day=150,
    breach_rate=0.005,
    reactive_rate=0.004,
    lead_in_days=7,
    rhd_negative_share=0.004,
    autologous_share=0.009,
    apheresis_share=0.13,
    use=HospitalUse(
        red_cells=ComponentUse(per_donation=0.76, cover_days=4.5),
        plasma=ComponentUse(per_donation=0.136, cover_days=6),
        platelets=ComponentUse(per_donation=0.1, cover_days=2.5),
        cryo=ComponentUse(per_donation=0.005, cover_days=6),
        rhd_negative_plasma=False,
    ),
    recall=True,
)

#: The breaches the generator can inject, by the flag each one must raise.
BREACH_FLAGS: tuple[str, ...] = (
    Flag.EXPIRED_USE.value,
    Flag.NO_VALID_CROSSMATCH.value,
    Flag.ABO_INCOMPATIBLE.value,
    Flag.NO_BEDSIDE_CHECK.value,
    Flag.DOUBLE_USE.value,
    Flag.COLD_CHAIN.value,
    Flag.UNRELEASED_USE.value,
    Flag.AUTOLOGOUS_MISMATCH.value,
)

#: Every key of :attr:`DemoStream.injected`.
INJECTED_FLAGS: tuple[str, ...] = (Flag.REACTIVE_DONATION.value, *BREACH_FLAGS)

# -- the world's constants ----------------------------------------------------------

#: The stream is in UTC; working hours are those of China Standard Time.
LOCAL_OFFSET = timedelta(hours=8)

CENTRE_BMS = "centre-bms"
CENTRE_LIMS = "centre-lims"
HOSPITAL_LIS = "hospital-lis"
BEDSIDE_SCAN = "bedside-scan"
HEMOVIGILANCE = "hemovigilance"
HOSPITAL_EMR = "hospital-emr"

#: ABO shares among Chinese donors and patients.
ABO_SHARES: Mapping[str, float] = MappingProxyType(
    {ABO.O.value: 0.30, ABO.A.value: 0.28, ABO.B.value: 0.32, ABO.AB.value: 0.10}
)
CRYO_SHARE = 0.25
POST_DONATION_INFO_SHARE = 0.01
#: Minimum interval between donations (China: 6 months whole blood, 2 weeks apheresis).
DONATION_INTERVAL: Mapping[str, timedelta] = MappingProxyType(
    {
        Procedure.WHOLE_BLOOD.value: timedelta(days=180),
        Procedure.APHERESIS.value: timedelta(days=14),
    }
)
WHOLE_BLOOD_VOLUMES: tuple[tuple[int, float], ...] = ((400, 0.70), (300, 0.20), (200, 0.10))
APHERESIS_VOLUME_ML = 250

TEMPERATURE_FAILURE_SHARE = 0.004
DAMAGED_SHARE = 0.002
UNUSED_CROSSMATCH_SHARE = 0.05
RETURN_SHARE = 0.025
LATE_RETURN_SHARE = 0.004
REACTION_SHARE = 0.012
STOPPED_OTHER_SHARE = 0.003
EVALUATION_SHARE = 0.5
EFFECTIVE_SHARE = 0.92
LATE_SHARE = 0.02
RESEND_SHARE = 0.005

#: A crossmatch sample is kept in use for 2 days, well inside the 3-day rule.
SAMPLE_REUSE = timedelta(hours=48)


@dataclass(frozen=True)
class ComponentSpec:
    """How the centre makes and labels one kind of component."""

    component: str
    #: Product description code (illustrative, in the shape of ISBT 128).
    pdc: str
    shelf_life: timedelta
    #: Range of infusion durations, minutes.
    infusion_minutes: tuple[int, int]


COMPONENTS: Mapping[str, ComponentSpec] = MappingProxyType(
    {
        spec.component: spec
        for spec in (
            ComponentSpec(Component.RED_CELLS.value, "E0791", timedelta(days=35), (90, 240)),
            ComponentSpec(Component.WHOLE_BLOOD.value, "E0001", timedelta(days=35), (120, 240)),
            ComponentSpec(Component.PLASMA.value, "E2702", timedelta(days=365), (30, 90)),
            ComponentSpec(Component.PLATELETS.value, "E3090", timedelta(days=5), (20, 60)),
            ComponentSpec(Component.CRYO.value, "E5165", timedelta(days=365), (10, 30)),
        )
    }
)

#: Components that need a crossmatch before transfusion (China 2000 规范 art. 16).
CROSSMATCHED = frozenset({Component.RED_CELLS.value, Component.WHOLE_BLOOD.value})
#: Components whose red cells carry RhD: RhD-negative patients get RhD-negative units.
CELLULAR = frozenset(
    {Component.RED_CELLS.value, Component.WHOLE_BLOOD.value, Component.PLATELETS.value}
)

#: Red cells: donor cells must lack the antigens the patient has antibodies to.
RED_CELL_DONORS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"O": ("O",), "A": ("A", "O"), "B": ("B", "O"), "AB": ("AB", "A", "B", "O")}
)
#: Plasma: donor plasma must lack antibodies to the patient's cells (the reverse).
PLASMA_DONORS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"O": ("O", "A", "B", "AB"), "A": ("A", "AB"), "B": ("B", "AB"), "AB": ("AB",)}
)

INFECTIOUS_MARKERS: tuple[tuple[str, float], ...] = (
    (Test.HBSAG.value, 0.35),
    (Test.SYPHILIS.value, 0.25),
    (Test.HCV_AB.value, 0.15),
    (Test.HBV_NAT.value, 0.10),
    (Test.HIV_AB.value, 0.05),
    (Test.HCV_NAT.value, 0.05),
    (Test.HIV_NAT.value, 0.05),
)
SCREENING_TESTS: tuple[str, ...] = (
    Test.HIV_NAT.value,
    Test.HBV_NAT.value,
    Test.HCV_NAT.value,
    Test.HBSAG.value,
    Test.HCV_AB.value,
    Test.HIV_AB.value,
    Test.SYPHILIS.value,
    Test.ALT.value,
)

REACTIONS: tuple[tuple[str, float], ...] = (
    (ReactionCategory.FNHTR.value, 0.45),
    (ReactionCategory.ALLERGIC.value, 0.40),
    (ReactionCategory.TACO.value, 0.05),
    (ReactionCategory.HYPOTENSIVE.value, 0.05),
    (ReactionCategory.ANAPHYLACTIC.value, 0.02),
    (ReactionCategory.OTHER.value, 0.03),
)
SEVERITIES: tuple[tuple[str, float], ...] = (
    (Severity.NON_SEVERE.value, 0.90),
    (Severity.SEVERE.value, 0.09),
    (Severity.LIFE_THREATENING.value, 0.01),
)
IMPUTABILITIES: tuple[tuple[str, float], ...] = (
    (Imputability.PROBABLE.value, 0.40),
    (Imputability.POSSIBLE.value, 0.40),
    (Imputability.DEFINITE.value, 0.10),
    (Imputability.UNLIKELY.value, 0.10),
)
CROSSMATCH_METHODS: tuple[tuple[str, float], ...] = (
    (CrossmatchMethod.IMMEDIATE_SPIN.value, 0.5),
    (CrossmatchMethod.AHG.value, 0.3),
    (CrossmatchMethod.ELECTRONIC.value, 0.2),
)
EVALUATION_NOTES: tuple[str, ...] = (
    "haemoglobin increment adequate",
    "symptoms improved",
    "further transfusion requested",
    "coagulation parameters corrected",
)
