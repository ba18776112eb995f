"""What each reading question answers a principal: the HTTP API and the pages alike.

A question — a DIN's units, a trace, the inventory, the alerts, a lookback case —
is answered for a :class:`~ledger.domain.access.Principal` in four steps, always
the same: the access matrix is asked (:class:`~ledger.domain.access.Forbidden`
otherwise), the answer is the CLI's document (:mod:`ledger.entrypoints.documents`),
it is limited to the principal's facility where its role acts for one, and what it
may not show is withheld and what it shows is recorded (:func:`disclosed`). The
JSON API (:mod:`ledger.entrypoints.api`) and the pages
(:mod:`ledger.entrypoints.pages`) both call these functions, so a role cannot see
more on a page than through the API, or the other way round: only the rendering
differs, and the route written in the access log.

Errors are exceptions each entrypoint renders its own way (JSON or a page):
:class:`NotFound`, :class:`BadQuestion`, the domain's ``Forbidden`` and
``InvalidDIN``. Their messages never hold an identifier.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ledger.domain.access import Capability, Forbidden, Principal
from ledger.domain.disclosure import identifiers_in, withholding
from ledger.entrypoints import documents
from projections import queries
from projections.queries import AlertList, InventoryRow

if TYPE_CHECKING:
    from ledger.bootstrap import ReadModels
    from ledger.domain.inventory import AlertPolicy
    from ledger.services.access import AccessControl

__all__ = [
    "BadQuestion",
    "NotFound",
    "Services",
    "alerts",
    "concerns",
    "disclosed",
    "inventory",
    "inventory_rows",
    "lookback",
    "newest_alerts",
    "trace",
    "unit_history",
]


class NotFound(LookupError):
    """Nothing of that name is recorded (HTTP 404)."""


class BadQuestion(ValueError):
    """The question cannot be asked as put (HTTP 422)."""


class Services(Protocol):
    """What answering needs (``ApiServices`` has it)."""

    @property
    def models(self) -> ReadModels: ...
    @property
    def access(self) -> AccessControl: ...
    @property
    def policy(self) -> AlertPolicy: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


def disclosed(access: AccessControl, principal: Principal, route: str, document: Any) -> Any:
    """What ``principal`` may see of ``document`` — donor identifiers withheld from
    the roles not shown them — recorded in the access log if it shows anyone."""
    if not principal.sees_donors:
        document = withholding(document, "donor")
    access.record_reveal(principal, route, sorted(identifiers_in(document)))
    return document


def concerns(unit: dict[str, Any], facility: str) -> bool:
    """Whether a unit document shows the unit at ``facility``: reported there or sent there."""
    return any(
        e.get("facility") == facility or e.get("to_facility") == facility for e in unit["events"]
    )


def unit_history(
    services: Services,
    principal: Principal,
    route: str,
    din: str,
    product: str | None = None,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """A DIN's units with their states and histories (``history --json``); a principal
    acting for one facility sees only the units that were there."""
    facility = services.access.facility_for(principal, Capability.READ_UNIT, None)
    document = documents.history(services.models.ledger, din, product, as_of, known_at)
    if not document["units"]:
        raise NotFound(f"no units of DIN {din}")
    if facility is not None:
        document["units"] = [u for u in document["units"] if concerns(u, facility)]
        if not document["units"]:
            raise Forbidden("these units never reached your facility")
    answer: dict[str, Any] = disclosed(services.access, principal, route, document)
    return answer


def trace(
    services: Services,
    principal: Principal,
    route: str,
    *,
    donor: str | None = None,
    patient: str | None = None,
    din: str | None = None,
) -> dict[str, Any]:
    """Donor → units → recipients, or back from a patient, or both ways from a DIN."""
    services.access.authorize(principal, Capability.TRACE)
    if sum(x is not None for x in (donor, patient, din)) != 1:
        raise BadQuestion("give exactly one of donor, patient, din")
    models = services.models
    document = documents.trace(
        models.view, models.identities, donor=donor, patient=patient, din=din
    )
    answer: dict[str, Any] = disclosed(services.access, principal, route, document)
    return answer


def inventory_rows(
    services: Services,
    principal: Principal,
    facility: str | None = None,
    as_of: datetime | None = None,
) -> list[InventoryRow]:
    """Stock by facility, component and group at ``as_of`` (now); a principal acting
    for one facility asks for its own (another is ``Forbidden``)."""
    scoped = services.access.facility_for(principal, Capability.READ_INVENTORY, facility)
    at = as_of or services.clock()
    return queries.inventory(services.models.view, at, services.policy, scoped)


def inventory(
    services: Services,
    principal: Principal,
    facility: str | None = None,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """:func:`inventory_rows` as the ``inventory --json`` document."""
    return [row.to_json() for row in inventory_rows(services, principal, facility, as_of)]


def alerts(
    services: Services, principal: Principal, route: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Safety flags, overdue notices, unmatched acknowledgements and low stock, newest
    first; a principal acting for one facility sees the entries of its facility."""
    facility = services.access.facility_for(principal, Capability.READ_ALERTS, None)
    models = services.models
    entries = documents.alerts(
        models.view, models.identities, services.clock(), services.policy, since
    )
    if facility is not None:
        entries = [e for e in entries if e.get("facility") == facility]
    answer: list[dict[str, Any]] = disclosed(services.access, principal, route, entries)
    return answer


def newest_alerts(
    services: Services,
    principal: Principal,
    route: str,
    most: int,
    since: datetime | None = None,
) -> AlertList:
    """The first ``most`` entries :func:`alerts` answers, and how many it holds, made
    without the others (a page shows the newest and counts the rest); what they show
    is disclosed and recorded as :func:`alerts` would."""
    facility = services.access.facility_for(principal, Capability.READ_ALERTS, None)
    models = services.models
    found = queries.newest_alerts(
        models.view, services.clock(), services.policy, most, since, facility=facility
    )
    entries: list[dict[str, Any]] = models.identities.revealed(found.entries)
    shown: list[dict[str, Any]] = disclosed(services.access, principal, route, entries)
    return AlertList(shown, found.total)


def lookback(services: Services, principal: Principal, route: str, case_id: str) -> dict[str, Any]:
    """A lookback case's report: its donor, units, recipients and recall notices."""
    services.access.authorize(principal, Capability.LOOKBACK_READ)
    report = documents.lookback(services.models, case_id, services.clock())
    if report is None:
        raise NotFound("no such lookback case")
    answer: dict[str, Any] = disclosed(services.access, principal, route, report)
    return answer
