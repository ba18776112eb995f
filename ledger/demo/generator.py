"""A seeded, realistic stream of contract facts: vein to vein, one centre, N hospitals.

The stream follows ``shared/contract/events-v1.md`` and the domain brief
(``shared/domain.md``): donations are collected and tested at the blood centre,
split into components with Chinese 单位 and shelf lives, released, shipped to
hospitals that keep a FEFO stock sized to their demand, crossmatched (red cells and
whole blood, 3-day sample rule), dispensed, transfused, sometimes returned,
reacted to, evaluated, expired or discarded.

Everything ordinary is kept inside the rules, so that the only safety flags the
ledger may raise are the ones deliberately injected and listed in
:attr:`DemoStream.injected`: each breach rides on a unit of its own and produces
exactly one flag. Publication order then imitates real integrations: facts are
sorted by ``occurred_at``, a few hospital facts arrive late and a few are sent twice.

No DIRECTED donations are made: China ended mutual-aid (directed) donation in
2018 (``shared/domain.md`` section 8). Identifiers are synthetic: FINs ``S31nn``
(the shape of ISBT 128, not registered), pseudonymous donors ``Dnnnnnn`` and
patients ``Pnnnnnn``, staff ``role-nnnn``. The product description codes are
illustrative, not taken from the licensed ICCBBA database. The stream is a pure
function of :class:`DemoConfig`; nothing here does I/O.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from ledger.domain.facts import ReportedFact
from ledger.domain.vocabulary import (
    ABO,
    Component,
    CrossmatchMethod,
    CrossmatchResult,
    DiscardReason,
    DonationType,
    EventType,
    Flag,
    Imputability,
    Procedure,
    ReactionCategory,
    RhD,
    Severity,
    Test,
    TestResult,
    TransfusionOutcome,
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

# -- the simulated world ------------------------------------------------------------

_Key = tuple[str, str, str]  # (component, ABO, RhD): one shelf of a stock


@dataclass(frozen=True)
class _Patient:
    patient_id: str
    hospital: str
    abo: str
    rhd: str


@dataclass(frozen=True)
class _Sample:
    """A patient's pre-transfusion sample; crossmatches are valid 3 days from it."""

    sample_id: str
    collected_at: datetime


@dataclass
class _Donation:
    collected_at: datetime
    donation_type: str = DonationType.VOLUNTARY.value
    procedure: str = Procedure.WHOLE_BLOOD.value
    reactive_test: str | None = None
    post_donation_info: bool = False
    breach: str | None = None
    din: str = ""
    donor_id: str = ""
    volume_ml: int = 0
    abo: str = ABO.O.value
    rhd: str = RhD.POS.value
    intended_patient: _Patient | None = None


@dataclass(eq=False)
class _Unit:
    """One bag: the DIN plus its product code, and where it is in its life."""

    serial: int
    donation: _Donation
    spec: ComponentSpec
    product_code: str
    volume_ml: int
    units: float
    expires_at: datetime
    last_at: datetime
    released_at: datetime | None = None

    @property
    def din(self) -> str:
        return self.donation.din

    @property
    def component(self) -> str:
        return self.spec.component

    @property
    def key(self) -> _Key:
        return (self.spec.component, self.donation.abo, self.donation.rhd)


@dataclass
class _Routes:
    """Where units go once the centre has settled their donation."""

    stock: list[_Unit] = field(default_factory=list)
    autologous: list[_Unit] = field(default_factory=list)
    breaches: list[tuple[str, _Unit]] = field(default_factory=list)


class _Stock:
    """Units on the shelves of one facility, first-expiry-first-out per shelf."""

    def __init__(self) -> None:
        self._shelves: dict[_Key, list[tuple[datetime, int, _Unit]]] = {}

    def put(self, unit: _Unit) -> None:
        shelf = self._shelves.setdefault(unit.key, [])
        heapq.heappush(shelf, (unit.expires_at, unit.serial, unit))

    def count(self, key: _Key) -> int:
        return len(self._shelves.get(key, ()))

    def take(self, key: _Key) -> _Unit | None:
        shelf = self._shelves.get(key)
        return heapq.heappop(shelf)[2] if shelf else None

    def expiring(self, before: datetime) -> list[_Unit]:
        """Take off the shelves every unit that expires before ``before``."""
        expired: list[_Unit] = []
        for shelf in self._shelves.values():
            while shelf and shelf[0][0] < before:
                expired.append(heapq.heappop(shelf)[2])
        return expired


class _Sim:
    """The seeded world: random source, facilities, people, counters and the facts so far."""

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.rng = random.Random(f"bloodledger-demo:{config.seed}")
        self._event_ids = random.Random(f"bloodledger-demo-event-ids:{config.seed}")
        self.start = config.start.astimezone(UTC)
        self.end = self.start + timedelta(days=config.days)
        self.centre = _fin(0)
        self.hospitals = tuple(_fin(n) for n in range(1, config.hospitals + 1))
        raw = [1 / (n + 1) ** 0.7 for n in range(config.hospitals)]
        self.weights = tuple(w / sum(raw) for w in raw)
        self.weight = dict(zip(self.hospitals, self.weights, strict=True))
        self.facts: list[ReportedFact] = []
        self.injected: dict[str, list[tuple[str, str]]] = {flag: [] for flag in INJECTED_FLAGS}
        self.samples: dict[str, _Sample] = {}
        self._counters: dict[str, int] = {}
        self._serial = 0
        self.donors: dict[str, list[tuple[datetime, int, tuple[str, str, str]]]] = {
            procedure: [] for procedure in DONATION_INTERVAL
        }
        self.patients = {hospital: self._patient_pool(hospital, w) for hospital, w in self.shares()}

    # identifiers

    def shares(self) -> list[tuple[str, float]]:
        return list(zip(self.hospitals, self.weights, strict=True))

    def _patient_pool(self, hospital: str, weight: float) -> list[_Patient]:
        total = max(40 * len(self.hospitals), self.config.donations_per_day * self.config.days // 2)
        return [self.new_patient(hospital) for _ in range(max(25, round(total * weight)))]

    def new_patient(self, hospital: str, group: tuple[str, str] | None = None) -> _Patient:
        abo, rhd = group or self.blood_group()
        return _Patient(self.pseudonym("P"), hospital, abo, rhd)

    def blood_group(self) -> tuple[str, str]:
        abo = self.choose(tuple(ABO_SHARES.items()))
        rhd = RhD.NEG.value if self.rng.random() < RHD_NEG_SHARE else RhD.POS.value
        return abo, rhd

    def pseudonym(self, prefix: str) -> str:
        """A donor or patient pseudonym: the prefix and 6 digits, in random strides."""
        if prefix not in self._counters:
            self._counters[prefix] = 100_000 + self.rng.randrange(100_000)
        number = self._counters[prefix] + self.rng.randint(1, 5)
        return f"{prefix}{self._count(prefix, number):06d}"

    def reference(self, prefix: str, width: int) -> str:
        """A sequential business reference: sample, shipment, case."""
        number = self._counters.get(prefix, 10 ** (width - 1)) + 1
        self._counters[prefix] = number
        return f"{prefix}{number:0{width}d}"

    def din(self, collected_at: datetime) -> str:
        """The next DIN of the centre: FIN + nominal year + 6-digit sequence."""
        year = (collected_at + LOCAL_OFFSET).year % 100
        prefix = f"{self.centre}{year:02d}"
        if prefix not in self._counters:
            self._counters[prefix] = self.rng.randrange(1_000, 20_000)
        sequence = self._counters[prefix] + 1
        return f"{prefix}{self._count(prefix, sequence):06d}"

    def _count(self, prefix: str, number: int) -> int:
        if number > 999_999:
            msg = f"the demo ran out of 6-digit numbers for {prefix!r}; use a smaller config"
            raise ValueError(msg)
        self._counters[prefix] = number
        return number

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def staff(self, role: str, facility: str) -> str:
        """A pseudonymous staff id of one of a dozen people in that role at that facility."""
        return f"{role}-{facility[-2:]}{self.rng.randint(1, 12):02d}"

    # randomness

    def choose(self, weighted: tuple[tuple[str, float], ...]) -> str:
        values = [value for value, _ in weighted]
        return self.rng.choices(values, weights=[w for _, w in weighted])[0]

    def chance(self, share: float) -> bool:
        return self.rng.random() < share

    def hospital(self) -> str:
        return self.rng.choices(self.hospitals, weights=self.weights)[0]

    # time

    def local(self, day: int, hour: float) -> datetime:
        """An instant at ``hour`` local time on simulation ``day``."""
        return self.start + timedelta(days=day, hours=hour) - LOCAL_OFFSET

    def at(self, day: int, first_hour: float, last_hour: float) -> datetime:
        """A random whole second between two local hours of a day."""
        seconds = self.rng.randint(round(first_hour * 3600), round(last_hour * 3600))
        return self.local(day, 0) + timedelta(seconds=seconds)

    def after(self, moment: datetime, least_minutes: float, most_minutes: float) -> datetime:
        """A random whole second in a range of minutes after ``moment``."""
        seconds = self.rng.randint(round(least_minutes * 60), round(most_minutes * 60))
        return moment + timedelta(seconds=seconds)

    def day_of(self, moment: datetime) -> int:
        return (moment + LOCAL_OFFSET - self.start).days

    def next_shipping(self, ready_at: datetime) -> datetime:
        """The morning run (06:00 local) that can first carry a unit ready at ``ready_at``."""
        day = self.day_of(ready_at)
        run = self.local(day, 6)
        return run if run > ready_at + timedelta(minutes=30) else self.local(day + 1, 6)

    # facts

    def emit(
        self,
        event_type: EventType,
        at: datetime,
        facility: str,
        system: str,
        actor: str | None,
        din: str,
        product_code: str | None,
        **payload: Any,
    ) -> None:
        """Record one fact, with a seeded UUID4 as its idempotency key.

        Payload values are plain Python values: ``str`` for enum symbols (callers
        pass ``.value``), ``datetime`` for timestamps, as :class:`ReportedFact` wants.
        """
        event_id = uuid.UUID(int=self._event_ids.getrandbits(128), version=4)
        self.facts.append(
            ReportedFact(
                event_id=str(event_id),
                event_type=event_type.value,
                occurred_at=at,
                source_system=system,
                facility=facility,
                actor=actor,
                din=din,
                product_code=product_code,
                payload=payload,
            )
        )

    def unit_event(
        self,
        unit: _Unit,
        event_type: EventType,
        at: datetime,
        facility: str,
        system: str,
        actor: str | None,
        **payload: Any,
    ) -> None:
        """Record a fact about one unit, strictly after the unit's previous fact.

        The ledger evaluates a unit in ``occurred_at`` order, so two facts of one
        unit must never share an instant; the stages are written to keep that, and
        this nudge (one second) is only a safety net.
        """
        if at <= unit.last_at and event_type is not EventType.ComponentProduced:
            at = unit.last_at + timedelta(seconds=1)
        unit.last_at = at
        self.emit(event_type, at, facility, system, actor, unit.din, unit.product_code, **payload)

    def inject(self, flag: str, unit: _Unit) -> None:
        self.injected[flag].append((unit.din, unit.product_code))


def _fin(index: int) -> str:
    """FIN of facility ``index`` (0 = the centre): ``S3101``, ``S3102``, ..."""
    number = index + 1
    if number > 899:
        msg = "the demo supports at most 898 hospitals"
        raise ValueError(msg)
    return f"S3{1 + number // 100}{number % 100:02d}"


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation for large ones)."""
    if mean <= 0:
        return 0
    if mean >= 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


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


def _compatible(unit: _Unit, patient: _Patient) -> bool:
    return unit.donation.abo in _abo_choices(unit.component, patient.abo) and (
        unit.donation.rhd in _rhd_choices(unit.component, patient.rhd)
    )


def _recipient(
    sim: _Sim,
    hospital: str,
    unit: _Unit,
    *,
    accepts: Callable[[_Patient], bool] | None = None,
    fallback: tuple[str, str] | None = None,
    exclude: tuple[_Patient, ...] = (),
) -> _Patient:
    """A patient of the hospital who may receive ``unit`` (or a new one of group ``fallback``)."""
    test = accepts or (lambda patient: _compatible(unit, patient))
    pool = sim.patients[hospital]
    candidates = [p for p in pool if test(p) and p not in exclude]
    if candidates:
        return sim.rng.choice(candidates)
    patient = sim.new_patient(hospital, fallback or (unit.donation.abo, unit.donation.rhd))
    pool.append(patient)
    return patient


# -- stage 1: plan and collect donations ---------------------------------------------


def _plan_donations(sim: _Sim) -> list[_Donation]:
    """Collection times and, for each donation, its type, procedure and planted events."""
    donations = [_Donation(collected_at=at) for at in _collection_times(sim)]
    order = list(range(len(donations)))
    sim.rng.shuffle(order)
    n_autologous = round(len(order) * AUTOLOGOUS_SHARE)
    n_apheresis = round(len(order) * APHERESIS_SHARE)
    for i in order[:n_autologous]:
        donations[i].donation_type = DonationType.AUTOLOGOUS.value
    for i in order[n_autologous : n_autologous + n_apheresis]:
        donations[i].procedure = Procedure.APHERESIS.value
    voluntary = order[n_autologous:]
    n_reactive = _share_of(sim.config.reactive_rate, len(voluntary))
    n_recalled = _share_of(POST_DONATION_INFO_SHARE, len(voluntary) - n_reactive)
    for i in voluntary[:n_reactive]:
        donations[i].reactive_test = sim.choose(INFECTIOUS_MARKERS)
    for i in voluntary[n_reactive : n_reactive + n_recalled]:
        donations[i].post_donation_info = True
    _plan_breaches(sim, [donations[i] for i in voluntary[n_reactive + n_recalled :]])
    return donations


def _collection_times(sim: _Sim) -> list[datetime]:
    """Donations come in through the day (08:00-17:00 local), a Poisson number a day."""
    times: list[datetime] = []
    for day in range(sim.config.days):
        count = _poisson(sim.rng, sim.config.donations_per_day)
        times.extend(sorted(sim.at(day, 8, 17) for _ in range(count)))
    return times


def _share_of(rate: float, population: int) -> int:
    """An exact share of a population, at least one when the rate is not zero."""
    if rate <= 0 or population == 0:
        return 0
    return min(population, max(1, round(rate * population)))


def _plan_breaches(sim: _Sim, candidates: list[_Donation]) -> None:
    """Pick carrier donations for the breaches: every kind once, more with the rate.

    Carriers are collected a week or more before the end, so each breach plays out
    within the simulated period. Each carrier's procedure and type are set to fit
    the breach (platelets expire within days; autologous blood has its own patient).
    """
    if sim.config.breach_rate <= 0:
        return
    last_day = max(0, sim.config.days - 8)
    eligible = [d for d in candidates if sim.day_of(d.collected_at) <= last_day]
    estimate = sim.config.breach_rate * TRANSFUSIONS_PER_DONATION * (len(candidates) + 1)
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


def _collect(sim: _Sim, donation: _Donation) -> None:
    """Give the donation its DIN, donor and volume; report ``DonationCollected``."""
    donation.din = sim.din(donation.collected_at)
    if donation.donation_type == DonationType.AUTOLOGOUS:
        _collect_autologous(sim, donation)
    else:
        group = (ABO.A.value, RhD.POS.value) if donation.breach == Flag.ABO_INCOMPATIBLE else None
        donation.donor_id, donation.abo, donation.rhd = _donor(sim, donation, group)
        donation.volume_ml = _volume(sim, donation.procedure)
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


def _collect_autologous(sim: _Sim, donation: _Donation) -> None:
    """Pre-deposit autologous blood: the patient donates for their own surgery."""
    hospital = sim.hospital()
    patient = sim.rng.choice(sim.patients[hospital])
    donation.intended_patient = patient
    donation.donor_id = sim.pseudonym("D")
    donation.abo, donation.rhd = patient.abo, patient.rhd
    donation.volume_ml = 400 if sim.chance(0.8) else 300


def _donor(sim: _Sim, donation: _Donation, group: tuple[str, str] | None) -> tuple[str, str, str]:
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


def _volume(sim: _Sim, procedure: str) -> int:
    if procedure == Procedure.APHERESIS:
        return APHERESIS_VOLUME_ML
    return sim.rng.choices(
        [volume for volume, _ in WHOLE_BLOOD_VOLUMES], [w for _, w in WHOLE_BLOOD_VOLUMES]
    )[0]


# -- stage 2: test ------------------------------------------------------------------


def _test(sim: _Sim, donation: _Donation) -> datetime:
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
    sim: _Sim,
    donation: _Donation,
    test: str,
    at: datetime,
    *,
    abo: str | None = None,
    rhd: str | None = None,
) -> None:
    reactive = test == donation.reactive_test
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


# -- stage 3: produce components --------------------------------------------------


def _produce(sim: _Sim, donation: _Donation) -> list[_Unit]:
    """Split the donation into labelled components (``ComponentProduced``).

    Units are counted in Chinese 单位: 200 mL of whole blood make 1 U of red cells
    (and of cryo); plasma counts 100 mL as 1 U; an apheresis platelet dose is 1 U.
    """
    made_at = sim.after(donation.collected_at, 90, 300)
    units: list[_Unit] = []
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


def _components(sim: _Sim, donation: _Donation) -> list[tuple[str, int, float]]:
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
    if sim.chance(CRYO_SHARE):
        made.append((Component.CRYO.value, round(25 * whole_blood_units), whole_blood_units))
    return made


def _label(
    sim: _Sim,
    donation: _Donation,
    spec: ComponentSpec,
    volume_ml: int,
    count: float,
    made_at: datetime,
) -> _Unit:
    """A unit with its ISBT-shaped product code (PDC + collection type + undivided)."""
    collection_type = "1" if donation.donation_type == DonationType.AUTOLOGOUS else "V"
    return _Unit(
        serial=sim.serial(),
        donation=donation,
        spec=spec,
        product_code=f"{spec.pdc}{collection_type}00",
        volume_ml=round(volume_ml * sim.rng.uniform(0.96, 1.04)),
        units=count,
        expires_at=donation.collected_at + spec.shelf_life,
        last_at=made_at,
    )


# -- stage 4: release, or quarantine and discard ---------------------------------------


def _settle(
    sim: _Sim, donation: _Donation, units: list[_Unit], tested_at: datetime, routes: _Routes
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
        if donation.breach is not None and unit.component == _breach_component(donation.breach):
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


def _discard_reactive(sim: _Sim, units: list[_Unit], tested_at: datetime) -> None:
    discarded_at = sim.after(tested_at, 24 * 60, 4 * 24 * 60)
    for unit in units:
        sim.unit_event(
            unit,
            EventType.UnitDiscarded,
            discarded_at,
            sim.centre,
            CENTRE_BMS,
            sim.staff("qa", sim.centre),
            reason=DiscardReason.REACTIVE_TEST.value,
        )
        sim.inject(Flag.REACTIVE_DONATION.value, unit)


def _release(sim: _Sim, unit: _Unit, tested_at: datetime) -> None:
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


def _recall(sim: _Sim, unit: _Unit) -> None:
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
    sim.unit_event(
        unit,
        EventType.UnitDiscarded,
        discarded_at,
        sim.centre,
        CENTRE_BMS,
        actor,
        reason=DiscardReason.RECALLED.value,
    )


# -- stage 5: distribute and transfuse ------------------------------------------------


def _distribute_and_transfuse(sim: _Sim, routes: _Routes) -> None:
    """Day by day: expire, restock each hospital by a morning run, serve its demand."""
    released = sorted(routes.stock, key=_release_order)
    autologous = sorted(routes.autologous, key=_release_order)
    centre = _Stock()
    stocks = {hospital: _Stock() for hospital in sim.hospitals}
    returned: dict[str, list[_Unit]] = {hospital: [] for hospital in sim.hospitals}
    targets = {hospital: _targets(sim, weight) for hospital, weight in sim.shares()}
    next_released = next_autologous = 0
    for day in range(sim.config.days):
        run = sim.local(day, 6)
        while next_released < len(released) and _ready(released[next_released], run):
            centre.put(released[next_released])
            next_released += 1
        due: list[_Unit] = []
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
            reserved = [u for u in due if _intended(u).hospital == hospital]
            shipment = reserved + _replenishment(centre, stock, targets[hospital])
            if shipment:
                _restock(sim, stock, hospital, shipment, sim.after(run, 0, 60))
            _serve_day(sim, hospital, stock, returned[hospital], day)


def _release_order(unit: _Unit) -> tuple[datetime, int]:
    return (unit.released_at or unit.last_at, unit.serial)


def _ready(unit: _Unit, run: datetime) -> bool:
    return unit.released_at is not None and unit.released_at <= run


def _intended(unit: _Unit) -> _Patient:
    patient = unit.donation.intended_patient
    if patient is None:
        msg = "an autologous unit without its intended patient"
        raise AssertionError(msg)
    return patient


def _expire(sim: _Sim, stock: _Stock, facility: str, system: str, horizon: datetime) -> None:
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


def _replenishment(centre: _Stock, stock: _Stock, targets: list[tuple[_Key, int]]) -> list[_Unit]:
    """Units from the centre that bring each shelf of a hospital back to its target."""
    shipment: list[_Unit] = []
    for key, target in targets:
        for _ in range(target - stock.count(key)):
            unit = centre.take(key)
            if unit is None:
                break
            shipment.append(unit)
    return shipment


def _restock(sim: _Sim, stock: _Stock, hospital: str, shipment: list[_Unit], at: datetime) -> None:
    """Ship the morning run; autologous units go on to their patient's operation."""
    for unit in _ship(sim, shipment, hospital, at):
        if unit.donation.donation_type == DonationType.AUTOLOGOUS:
            _autologous_surgery(sim, unit)
        else:
            stock.put(unit)


def _targets(sim: _Sim, weight: float) -> list[tuple[_Key, int]]:
    """Target stock per shelf: days of cover times a hospital's demand for that group.

    Every shelf holds at least one unit, so rare groups (RhD negative) are on hand.
    """
    targets: list[tuple[_Key, int]] = []
    for spec in COMPONENTS.values():
        if not spec.days_of_cover:
            continue
        daily = spec.demand_per_donation * sim.config.donations_per_day * weight
        for abo, abo_share in ABO_SHARES.items():
            for rhd, rhd_share in (
                (RhD.POS.value, 1 - RHD_NEG_SHARE),
                (RhD.NEG.value, RHD_NEG_SHARE),
            ):
                target = round(daily * spec.days_of_cover * abo_share * rhd_share)
                targets.append(((spec.component, abo, rhd), max(1, target)))
    return targets


def _ship(
    sim: _Sim, units: list[_Unit], hospital: str, at: datetime, *, incidents: bool = True
) -> list[_Unit]:
    """Issue a shipment from the centre and receive it at the hospital.

    Returns the units that arrived fit for use; a cold-chain failure or a damaged
    bag is discarded at receipt, never used.
    """
    shipment_id = sim.reference("SHP", 7)
    issuer = sim.staff("dsp", sim.centre)
    receiver = sim.staff("bb", hospital)
    received_at = sim.after(at, 40, 150)
    arrived: list[_Unit] = []
    for unit in units:
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
            _discard_at_hospital(sim, unit, hospital, sim.after(received_at, 20, 90), reason)
        else:
            arrived.append(unit)
    return arrived


def _discard_at_hospital(
    sim: _Sim, unit: _Unit, hospital: str, at: datetime, reason: DiscardReason
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


def _serve_day(sim: _Sim, hospital: str, stock: _Stock, returned: list[_Unit], day: int) -> None:
    """The day's requests (10:00-22:00 local), each served from stock if a match is there."""
    weight = sim.weight[hospital]
    requests: list[tuple[datetime, str]] = []
    for spec in COMPONENTS.values():
        mean = spec.demand_per_donation * sim.config.donations_per_day * weight
        requests.extend(
            (sim.at(day, 10, 22), spec.component) for _ in range(_poisson(sim.rng, mean))
        )
    requests.sort()
    pool = sim.patients[hospital]
    for at, component in requests:
        patient = sim.rng.choice(pool)
        unit = _allocate(stock, component, patient)
        if unit is not None:
            _serve(sim, unit, patient, at, returned)


def _allocate(stock: _Stock, component: str, patient: _Patient) -> _Unit | None:
    """The first compatible unit in order of preference: identical group first."""
    for abo in _abo_choices(component, patient.abo):
        for rhd in _rhd_choices(component, patient.rhd):
            unit = stock.take((component, abo, rhd))
            if unit is not None:
                return unit
    return None


def _serve(sim: _Sim, unit: _Unit, patient: _Patient, at: datetime, returned: list[_Unit]) -> None:
    """Crossmatch if needed, dispense, then transfuse or take the unit back."""
    if unit.component in CROSSMATCHED:
        _crossmatch(sim, unit, patient, at, _current_sample(sim, patient, at))
        if sim.chance(UNUSED_CROSSMATCH_SHARE):
            returned.append(unit)  # reservation lapsed: back on the shelf tomorrow
            return
        at = sim.after(at, 15, 120)
    _dispense(sim, unit, patient, at)
    roll = sim.rng.random()
    if roll < LATE_RETURN_SHARE:
        minutes = sim.rng.randint(35, 120)
        returned_at = _return(sim, unit, patient, at, minutes)
        _discard_at_hospital(
            sim, unit, patient.hospital, sim.after(returned_at, 5, 60), DiscardReason.RETURNED_LATE
        )
    elif roll < LATE_RETURN_SHARE + RETURN_SHARE:
        _return(sim, unit, patient, at, sim.rng.randint(5, 29))
        returned.append(unit)
    else:
        _transfuse(sim, unit, patient, at)


def _current_sample(sim: _Sim, patient: _Patient, at: datetime) -> _Sample:
    """The patient's sample in use, or a new one drawn shortly before the crossmatch."""
    sample = sim.samples.get(patient.patient_id)
    if sample is None or not at - SAMPLE_REUSE <= sample.collected_at < at:
        sample = _Sample(sim.reference("SMP", 8), sim.after(at, -300, -30))
        sim.samples[patient.patient_id] = sample
    return sample


def _crossmatch(sim: _Sim, unit: _Unit, patient: _Patient, at: datetime, sample: _Sample) -> None:
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


def _dispense(sim: _Sim, unit: _Unit, patient: _Patient, at: datetime) -> None:
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
    sim: _Sim, unit: _Unit, patient: _Patient, dispensed_at: datetime, minutes: int
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


def _transfuse(
    sim: _Sim,
    unit: _Unit,
    patient: _Patient,
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
    sim: _Sim,
    unit: _Unit,
    patient: _Patient,
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


def _react(sim: _Sim, unit: _Unit, patient: _Patient, started_at: datetime) -> datetime:
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


def _evaluate(sim: _Sim, unit: _Unit, patient: _Patient, ended_at: datetime) -> None:
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


def _autologous_surgery(sim: _Sim, unit: _Unit) -> None:
    """The intended patient's operation, 5-14 days after donation; some are cancelled."""
    patient = _intended(unit)
    day = max(
        sim.day_of(unit.donation.collected_at) + sim.rng.randint(5, 14),
        sim.day_of(unit.last_at) + 1,
    )
    surgery_at = sim.at(day, 9, 15)
    if surgery_at >= sim.end:
        return  # still waiting for its operation when the period ends
    if sim.chance(0.1):
        _discard_at_hospital(sim, unit, patient.hospital, surgery_at, DiscardReason.OTHER)
        return
    _crossmatched_transfusion(sim, unit, patient, sim.after(surgery_at, -120, -30))


def _crossmatched_transfusion(
    sim: _Sim,
    unit: _Unit,
    patient: _Patient,
    at: datetime,
    *,
    sample: _Sample | None = None,
    bedside_ok: bool = True,
    excursion_minutes: int | None = None,
) -> None:
    """Crossmatch at ``at`` with a fresh sample (unless given), dispense, transfuse.

    With ``excursion_minutes`` the unit first comes back from the ward after that
    long out of storage and is dispensed again later.
    """
    sample = sample or _Sample(sim.reference("SMP", 8), sim.after(at, -20 * 60, -60))
    _crossmatch(sim, unit, patient, at, sample)
    dispensed_at = sim.after(at, 15, 90)
    _dispense(sim, unit, patient, dispensed_at)
    if excursion_minutes is not None:
        returned_at = _return(sim, unit, patient, dispensed_at, excursion_minutes)
        dispensed_at = sim.after(returned_at, 60, 180)
        _dispense(sim, unit, patient, dispensed_at)
    _transfuse(sim, unit, patient, dispensed_at, bedside_ok=bedside_ok)


# -- stage 6: breaches --------------------------------------------------------------


def _breach_component(flag: str) -> str:
    """The component of a carrier donation that carries its breach."""
    return {
        Flag.EXPIRED_USE.value: Component.PLATELETS.value,
        Flag.DOUBLE_USE.value: Component.PLASMA.value,
        Flag.AUTOLOGOUS_MISMATCH.value: Component.WHOLE_BLOOD.value,
    }.get(flag, Component.RED_CELLS.value)


def _inject_breaches(sim: _Sim, breaches: list[tuple[str, _Unit]]) -> None:
    """Play each planted breach on its own unit, otherwise by the rules."""
    for flag, unit in breaches:
        intended = unit.donation.intended_patient
        hospital = intended.hospital if intended else sim.hospital()
        if flag == Flag.UNRELEASED_USE:
            shipped_at = sim.after(unit.last_at, 20, 90)  # before any release was recorded
        else:
            shipped_at = sim.after(sim.next_shipping(unit.last_at), 0, 60)
        _ship(sim, [unit], hospital, shipped_at, incidents=False)
        used_at = sim.at(sim.day_of(unit.last_at) + sim.rng.randint(1, 2), 10, 20)
        _BREACHES[flag](sim, unit, hospital, used_at)
        sim.inject(flag, unit)


def _expired_use(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """Platelets dispensed and transfused hours after their expiry."""
    patient = _recipient(sim, hospital, unit)
    dispensed_at = sim.after(max(used_at, unit.expires_at), 120, 600)
    _dispense(sim, unit, patient, dispensed_at)
    _transfuse(sim, unit, patient, dispensed_at)


def _no_valid_crossmatch(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """Red cells crossmatched on a sample drawn 5 days before the transfusion."""
    patient = _recipient(sim, hospital, unit)
    old = _Sample(sim.reference("SMP", 8), sim.after(used_at - timedelta(days=5), -120, 0))
    _crossmatched_transfusion(sim, unit, patient, used_at, sample=old)


def _abo_incompatible(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """Group A red cells to a group O patient, behind a recent crossmatch called compatible."""
    patient = _recipient(
        sim,
        hospital,
        unit,
        accepts=lambda p: p.abo == ABO.O and p.rhd == RhD.POS,
        fallback=(ABO.O.value, RhD.POS.value),
    )
    _crossmatched_transfusion(sim, unit, patient, used_at)


def _no_bedside_check(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """A properly crossmatched unit started without the bedside identity check."""
    _crossmatched_transfusion(sim, unit, _recipient(sim, hospital, unit), used_at, bedside_ok=False)


def _double_use(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """Plasma transfused to one patient, then scanned as started for a second one."""
    first = _recipient(sim, hospital, unit)
    second = _recipient(sim, hospital, unit, exclude=(first,))
    _dispense(sim, unit, first, used_at)
    _transfuse(sim, unit, first, used_at, evaluate=False)
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


def _cold_chain(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """Red cells back from the ward after 40-75 minutes out, then dispensed and used."""
    patient = _recipient(sim, hospital, unit)
    minutes = sim.rng.randint(40, 75)
    _crossmatched_transfusion(sim, unit, patient, used_at, excursion_minutes=minutes)


def _unreleased_use(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """Red cells shipped before release and used at the hospital all the same."""
    _crossmatched_transfusion(sim, unit, _recipient(sim, hospital, unit), used_at)


def _autologous_mismatch(sim: _Sim, unit: _Unit, hospital: str, used_at: datetime) -> None:
    """An autologous unit crossmatched and transfused to a patient other than its donor."""
    intended = _intended(unit)
    other = _recipient(
        sim,
        hospital,
        unit,
        accepts=lambda p: p.abo == intended.abo and p.rhd == intended.rhd,
        exclude=(intended,),
    )
    _crossmatched_transfusion(sim, unit, other, used_at)


_BREACHES: Mapping[str, Callable[[_Sim, _Unit, str, datetime], None]] = MappingProxyType(
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

# -- stage 7: publish ---------------------------------------------------------------


def _publish(sim: _Sim) -> tuple[tuple[ReportedFact, ...], int, int]:
    """Publication order: by ``occurred_at``, with late hospital facts and re-sends.

    Returns the facts, how many ended up after a fact that happened later than
    them (late arrivals), and how many were sent twice.
    """
    queue: list[tuple[datetime, int, ReportedFact]] = []
    for serial, fact in enumerate(sim.facts):
        published_at = fact.occurred_at
        if fact.facility != sim.centre and sim.chance(LATE_SHARE):
            published_at = sim.after(published_at, 60, 360)
        elif sim.chance(RESEND_SHARE):
            queue.append((sim.after(published_at, 5, 240), len(sim.facts) + serial, fact))
        queue.append((published_at, serial, fact))
    queue.sort(key=lambda entry: (entry[0], entry[1]))
    facts = tuple(fact for _, _, fact in queue)
    return facts, count_late(facts), len(queue) - len(sim.facts)


def count_late(facts: tuple[ReportedFact, ...]) -> int:
    """Facts published after one that happened later (re-sends not counted)."""
    seen: set[str] = set()
    latest: datetime | None = None
    late = 0
    for fact in facts:
        if fact.event_id in seen:
            continue
        seen.add(fact.event_id)
        if latest is not None and fact.occurred_at < latest:
            late += 1
        else:
            latest = fact.occurred_at
    return late


# -- the entry point ----------------------------------------------------------------


def _validate(config: DemoConfig) -> None:
    if config.start.tzinfo is None or config.start.utcoffset() is None:
        msg = "DemoConfig.start must be timezone-aware"
        raise ValueError(msg)
    if config.days < 1 or config.hospitals < 1 or config.donations_per_day < 0:
        msg = "DemoConfig needs days >= 1, hospitals >= 1 and donations_per_day >= 0"
        raise ValueError(msg)
    if not (0 <= config.breach_rate <= 1 and 0 <= config.reactive_rate <= 1):
        msg = "DemoConfig rates must be between 0 and 1"
        raise ValueError(msg)


def generate(config: DemoConfig = DEFAULT_CONFIG) -> DemoStream:
    """Simulate the period and return its facts in publication order.

    Stages: plan and collect donations, test, produce components, release (or
    quarantine and discard), distribute and transfuse day by day, then play the
    planted breaches and publish. The work is linear in the number of facts.
    """
    _validate(config)
    sim = _Sim(config)
    routes = _Routes()
    for donation in _plan_donations(sim):
        _collect(sim, donation)
        tested_at = _test(sim, donation)
        units = _produce(sim, donation)
        _settle(sim, donation, units, tested_at, routes)
    _distribute_and_transfuse(sim, routes)
    _inject_breaches(sim, routes.breaches)
    facts, late, resent = _publish(sim)
    injected = {flag: tuple(units) for flag, units in sim.injected.items()}
    return DemoStream(
        facts=facts,
        centre=sim.centre,
        hospitals=sim.hospitals,
        injected=MappingProxyType(injected),
        late=late,
        resent=resent,
    )
