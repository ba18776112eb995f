"""The simulation state: the seeded random source, the people, the bags and the shelves.

:class:`Sim` is the one mutable object every stage works on: the facility codes,
the patient pools and returning donors, the counters behind every identifier, the
clock (the stream is in UTC, working hours are China Standard Time), the helpers
that emit facts, and the facts emitted so far. All of the world's randomness comes
from ``Sim.rng``, drawn in the order the stages call it; event ids come from a
generator of their own, so they depend only on the order of the facts. That is what
makes the stream a pure function of the seed. Next to it stand the plain records the
stages pass around (:class:`Patient`, :class:`Sample`, :class:`Donation`,
:class:`Unit`, :class:`Routes`) and :class:`Stock`, a first-expiry-first-out store.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain.facts import ReportedFact
from ledger.domain.vocabulary import ABO, DonationType, EventType, Procedure, RhD
from simulator.config import (
    ABO_SHARES,
    DONATION_INTERVAL,
    INJECTED_FLAGS,
    LOCAL_OFFSET,
    ComponentSpec,
    DemoConfig,
)

Key = tuple[str, str, str]  # (component, ABO, RhD): one shelf of a stock


@dataclass(frozen=True)
class Patient:
    patient_id: str
    hospital: str
    abo: str
    rhd: str


@dataclass(frozen=True)
class Sample:
    """A patient's pre-transfusion sample; crossmatches are valid 3 days from it."""

    sample_id: str
    collected_at: datetime


@dataclass
class Donation:
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
    intended_patient: Patient | None = None
    #: The donor ``(id, ABO, RhD)`` when known before collection (a planted repeat donor).
    known_donor: tuple[str, str, str] | None = None
    #: Whether cryo is made from it; ``None``: by chance, as for most donations.
    makes_cryo: bool | None = None
    #: When its REACTIVE result came back (set by testing).
    reactive_at: datetime | None = None


@dataclass(eq=False)
class Unit:
    """One bag: the DIN plus its product code, and where it is in its life."""

    serial: int
    donation: Donation
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
    def key(self) -> Key:
        return (self.spec.component, self.donation.abo, self.donation.rhd)


@dataclass
class Routes:
    """Where units go once the centre has settled their donation."""

    stock: list[Unit] = field(default_factory=list)
    autologous: list[Unit] = field(default_factory=list)
    breaches: list[tuple[str, Unit]] = field(default_factory=list)


class Stock:
    """Units on the shelves of one facility, first-expiry-first-out per shelf."""

    def __init__(self) -> None:
        self._shelves: dict[Key, list[tuple[datetime, int, Unit]]] = {}

    def put(self, unit: Unit) -> None:
        shelf = self._shelves.setdefault(unit.key, [])
        heapq.heappush(shelf, (unit.expires_at, unit.serial, unit))

    def count(self, key: Key) -> int:
        return len(self._shelves.get(key, ()))

    def take(self, key: Key) -> Unit | None:
        shelf = self._shelves.get(key)
        return heapq.heappop(shelf)[2] if shelf else None

    def expiring(self, before: datetime) -> list[Unit]:
        """Take off the shelves every unit that expires before ``before``."""
        expired: list[Unit] = []
        for shelf in self._shelves.values():
            while shelf and shelf[0][0] < before:
                expired.append(heapq.heappop(shelf)[2])
        return expired


class Sim:
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
        self.samples: dict[str, Sample] = {}
        self._counters: dict[str, int] = {}
        self._serial = 0
        self.donors: dict[str, list[tuple[datetime, int, tuple[str, str, str]]]] = {
            procedure: [] for procedure in DONATION_INTERVAL
        }
        self.patients = {hospital: self._patient_pool(hospital, w) for hospital, w in self.shares()}

    # identifiers

    def shares(self) -> list[tuple[str, float]]:
        return list(zip(self.hospitals, self.weights, strict=True))

    def _patient_pool(self, hospital: str, weight: float) -> list[Patient]:
        total = max(40 * len(self.hospitals), self.config.donations_per_day * self.config.days // 2)
        return [self.new_patient(hospital) for _ in range(max(25, round(total * weight)))]

    def new_patient(self, hospital: str, group: tuple[str, str] | None = None) -> Patient:
        abo, rhd = group or self.blood_group()
        return Patient(self.pseudonym("P"), hospital, abo, rhd)

    def blood_group(self) -> tuple[str, str]:
        abo = self.choose(tuple(ABO_SHARES.items()))
        rhd = RhD.NEG.value if self.rng.random() < self.config.rhd_negative_share else RhD.POS.value
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

    def skip_dins(self, collected_at: datetime, count: int) -> None:
        """Leave ``count`` DINs of the year of ``collected_at`` unused: the donations the
        centre collected between a planted one and the period."""
        prefix = f"{self.centre}{(collected_at + LOCAL_OFFSET).year % 100:02d}"
        if prefix in self._counters:
            self._count(prefix, self._counters[prefix] + count)

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
        unit: Unit,
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

    def inject(self, flag: str, unit: Unit) -> None:
        self.injected[flag].append((unit.din, unit.product_code))


def _fin(index: int) -> str:
    """FIN of facility ``index`` (0 = the centre): ``S3101``, ``S3102``, ..."""
    number = index + 1
    if number > 899:
        msg = "the demo supports at most 898 hospitals"
        raise ValueError(msg)
    return f"S3{1 + number // 100}{number % 100:02d}"


def poisson(rng: random.Random, mean: float) -> int:
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


def intended(unit: Unit) -> Patient:
    patient = unit.donation.intended_patient
    if patient is None:
        msg = "an autologous unit without its intended patient"
        raise AssertionError(msg)
    return patient
