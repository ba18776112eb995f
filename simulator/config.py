"""What the simulation is asked for and what it returns, and the constants of its world.

:class:`DemoConfig` is the whole input (the stream is a pure function of it) and
:class:`DemoStream` the whole output; :data:`BREACH_FLAGS` and :data:`INJECTED_FLAGS`
name what can be planted. Below them sit the fixed facts of the simulated world that
every stage draws on: the source systems, the shares and rates that shape a month of
a Chinese blood centre and its hospitals (blood groups, procedures, returns,
reactions, late publications), the components with their codes and shelf lives, and
the compatibility tables. Keeping them in one place keeps the stages free of magic
numbers and lets a reader see the world's calibration at a glance.
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
    Procedure,
    ReactionCategory,
    Severity,
    Test,
)

# -- configuration and result --------------------------------------------------------

_DEFAULT_START = datetime(2026, 9, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoConfig:
    """What to simulate; the same config always yields the same stream."""

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


DEFAULT_CONFIG = DemoConfig()

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
#: About 0.4 % of Han Chinese are RhD negative; raised so that a few appear in a month.
RHD_NEG_SHARE = 0.015

AUTOLOGOUS_SHARE = 0.03
APHERESIS_SHARE = 0.09
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

#: Transfusions a donation ends up feeding, summed over its components (for the breach count).
TRANSFUSIONS_PER_DONATION = 1.36

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
    #: Days of demand each hospital tries to hold in stock.
    days_of_cover: float
    #: Transfusions per donation the hospitals ask for (sized against supply).
    demand_per_donation: float


COMPONENTS: Mapping[str, ComponentSpec] = MappingProxyType(
    {
        spec.component: spec
        for spec in (
            ComponentSpec(
                Component.RED_CELLS.value, "E0791", timedelta(days=35), (90, 240), 3, 0.70
            ),
            ComponentSpec(
                Component.WHOLE_BLOOD.value, "E0001", timedelta(days=35), (120, 240), 0, 0
            ),
            ComponentSpec(Component.PLASMA.value, "E2702", timedelta(days=365), (30, 90), 4, 0.48),
            ComponentSpec(
                Component.PLATELETS.value, "E3090", timedelta(days=5), (20, 60), 1.5, 0.075
            ),
            ComponentSpec(Component.CRYO.value, "E5165", timedelta(days=365), (10, 30), 4, 0.11),
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
