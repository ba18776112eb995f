"""The JSON documents the ledger answers with: the CLI's ``--json`` and the HTTP API alike.

One function per question, so ``bloodledger history --json`` and
``GET /api/v1/units/{din}`` cannot drift apart: each entrypoint only parses its
own arguments and renders what these return. Identifiers come back revealed
(with the ledger's key; sealed tokens without it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger.domain.din import validate_din
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS, CaseRequest, manual_case_id
from ledger.services.history import history_json
from projections import queries

if TYPE_CHECKING:
    from ledger.bootstrap import ReadModels
    from ledger.domain.acknowledgement import NoticeLimits
    from ledger.domain.identity import Identities
    from ledger.domain.inventory import AlertPolicy
    from ledger.services.application import BloodLedger
    from projections.ports import ReadModelStore


def history(
    ledger: BloodLedger,
    din: str,
    product: str | None = None,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """A donation's units, their states and histories (:class:`InvalidDIN` for a bad DIN)."""
    validate_din(din)
    units = ledger.units_of(din, product, known_at=known_at)
    document: dict[str, Any] = ledger.identities.revealed(history_json(units, as_of, known_at))
    return document


def trace(
    view: ReadModelStore,
    identities: Identities,
    *,
    donor: str | None = None,
    patient: str | None = None,
    din: str | None = None,
) -> dict[str, Any]:
    """Donor → units → recipients, or back from a patient, or around one DIN."""
    if donor is not None:
        document = queries.trace_donor(view, identities.seal("donor", donor))
    elif patient is not None:
        document = queries.trace_patient(view, identities.seal("patient", patient))
    elif din is not None:
        validate_din(din)
        document = queries.trace_din(view, din)
    else:
        raise ValueError("trace needs a donor, a patient or a DIN")
    document = dict(identities.revealed(document))
    document["donors"] = sorted(document["donors"])  # sorted as shown, not as sealed
    return document


def inventory(
    view: ReadModelStore, at: datetime, policy: AlertPolicy, facility: str | None = None
) -> list[dict[str, Any]]:
    """Each facility's stock by component and group, days of supply and alert level."""
    return [row.to_json() for row in queries.inventory(view, at, policy, facility)]


def alerts(
    view: ReadModelStore,
    identities: Identities,
    at: datetime,
    policy: AlertPolicy,
    since: datetime | None = None,
    limits: NoticeLimits | None = None,
) -> list[dict[str, Any]]:
    """Safety flags, recall notices open past their limits (default 24 h, a recipient's
    72 h) at ``at``, acknowledgements that closed no notice, and low-stock alerts,
    newest first."""
    found = queries.alerts(view, at, policy, since, limits)
    entries: list[dict[str, Any]] = identities.revealed(found)
    return entries


def open_lookback(
    models: ReadModels,
    donor: str,
    reason: str,
    at: datetime,
    *,
    since: datetime | None = None,
    case: str | None = None,
    actor: str = "investigator",
) -> tuple[str, int]:
    """Open (or find again) a manual lookback; its case id and the units newly quarantined.

    ``at`` is when the investigator opens it, an input like any fact's time; the case id
    is derived from the sealed donor, the window and the reason, so opening it twice is
    one case.
    """
    since = since or at - timedelta(days=DEFAULT_WINDOW_DAYS)
    sealed = models.identities.seal("donor", donor)
    case_id = case or manual_case_id(sealed, since, reason)
    request = CaseRequest(case_id, sealed, reason, since, at, None, actor)
    return case_id, models.lookbacks.open(request)


def lookback(
    models: ReadModels,
    case_id: str,
    at: datetime | None = None,
    limits: NoticeLimits | None = None,
) -> dict[str, Any] | None:
    """A lookback case's report (``None``: no such case), its recall notices as of ``at``
    — the moment of the question, by default now: open notices age with it."""
    moment = at or datetime.now(UTC)
    report = models.lookbacks.report(case_id, moment, limits)
    revealed: dict[str, Any] | None = models.identities.revealed(report)
    return revealed
