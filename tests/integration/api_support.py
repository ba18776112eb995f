"""The HTTP API's test setting, shared by its tests: a store holding a small story
(two donations at one hospital: one waiting at the bedside, one transfused) and a
token for each role (and for the two facility-bound roles, one at another hospital)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ledger.adapters.persistence import store_for
from ledger.entrypoints.serve import Served
from tests.builders import HOSPITAL, Timeline, din

OTHER = "S3199"  # another hospital
WAITING = din(1)  # received at HOSPITAL, crossmatched for P000001: ready for the bedside
GIVEN = din(2)  # transfused to P000002

#: token name -> (role, facility)
ROLES: dict[str, tuple[str, str | None]] = {
    "integrator": ("integrator", HOSPITAL),
    "integrator-other": ("integrator", OTHER),
    "clinician": ("clinician", HOSPITAL),
    "clinician-other": ("clinician", OTHER),
    "investigator": ("investigator", None),
    "regulator": ("regulator", None),
    "admin": ("admin", None),
}


def story() -> list[Any]:
    waiting = Timeline(din=WAITING)
    waiting.collected(donor="D000001")
    waiting.tested()
    waiting.grouped()
    waiting.produced()
    waiting.released()
    waiting.issued()
    waiting.received()
    waiting.crossmatched(hour=20, patient="P000001")
    given = Timeline(din=GIVEN)
    given.collected(donor="D000002")
    given.tested()
    given.grouped()
    given.produced()
    given.released()
    given.issued()
    given.received()
    patient = "P000002"
    given.crossmatched(patient=patient)
    given.dispensed(patient=patient)
    given.started(patient=patient)
    given.completed(patient=patient)
    return waiting.facts + given.facts


@contextmanager
def serving(
    url: str, roles: dict[str, tuple[str, str | None]] = ROLES, **options: Any
) -> Iterator[tuple[Served, dict[str, str]]]:
    """The API's services (``Served(store, **options)``) on the store at ``url``
    holding :func:`story`, and a token (by name) for each of ``roles``; closed afterwards."""
    served = Served(store_for(url), **options)
    try:
        served.models.ledger.record(story())
        served.models.projector.catch_up()
        tokens = {
            name: served.access.control.create(name, role, facility)
            for name, (role, facility) in roles.items()
        }
        yield served, tokens
    finally:
        served.close()
