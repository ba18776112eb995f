"""Who may ask the ledger what: roles, capabilities, principals and bearer tokens.

The HTTP API (issue 12) is reached with a bearer token; each token has a name,
a role and, for the roles that act at one place, a facility (an ISBT 128 FIN).
What a role may do is data (:data:`MATRIX`), read by one function, so the
rules can be read, reviewed and tested as a table:

- ``integrator`` submits events (``POST /events``), nothing else; with a
  facility, only events whose ``source.facility`` is that facility. A
  hospital's or blood centre's interface engine reports what happened there.
- ``clinician`` checks a transfusion at the bedside, reads unit histories,
  inventory and alerts, and the FHIR resources of those — of its own
  facility only, and never with donor identifiers in them (a ward needs to
  know whether a unit is safe for this patient, not who gave it).
- ``investigator`` (haemovigilance) traces donors to recipients and back,
  reads and opens lookbacks, and sees identities: the only role that acts on
  people across facilities.
- ``regulator`` reads everything (units, inventory, alerts, traces,
  lookbacks, FHIR) and exports the audit log; it opens nothing.
- ``admin`` manages tokens and reads the access log; it reads no clinical
  data at all, so the person who hands out access is not the one using it.

Facility scoping: a capability is *facility-scoped* for a role when the
role's holders act for one place (:data:`FACILITY_SCOPED`); a principal with
a facility may use a scoped capability only for that facility: a request
naming another is refused, and the answer to one naming none (a unit's
history, whose unit may have been at several places) must be limited to the
principal's own (:meth:`Principal.scope`: the caller filters by it).
Capabilities that cross facilities by nature (traces, lookbacks, exports)
belong only to roles that have no facility.

Tokens: ``blt_`` + 32 random bytes in URL-safe base64. Only the SHA-256 of a
token is stored (:func:`token_hash`): a stolen copy of the store grants no
access, and a token is looked up by its hash, so no comparison of secrets
depends on how much of a guess was right. The token itself is shown once,
when it is made.

The exceptions (:class:`Unauthenticated` -> HTTP 401, :class:`Forbidden` ->
403) say why in words that never include a token, a token's hash or a
person's identifier: they end up in responses and logs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ledger.domain.din import is_fin

TOKEN_PREFIX = "blt_"
#: Random bytes in a token.
TOKEN_BYTES = 32
_TOKEN = re.compile(r"blt_[A-Za-z0-9_-]{43}")
#: A token's name: what the access log and the token list show (not a secret).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class Role(StrEnum):
    INTEGRATOR = "integrator"
    CLINICIAN = "clinician"
    INVESTIGATOR = "investigator"
    REGULATOR = "regulator"
    ADMIN = "admin"


class Capability(StrEnum):
    SUBMIT_EVENTS = "submit_events"
    CHECK_TRANSFUSION = "check_transfusion"
    READ_UNIT = "read_unit"
    READ_INVENTORY = "read_inventory"
    READ_ALERTS = "read_alerts"
    TRACE = "trace"
    LOOKBACK_READ = "lookback_read"
    LOOKBACK_OPEN = "lookback_open"
    FHIR_READ = "fhir_read"
    AUDIT_EXPORT = "audit_export"
    READ_ACCESS_LOG = "read_access_log"
    MANAGE_TOKENS = "manage_tokens"


C = Capability
#: Role -> what its tokens may do. Nothing else is allowed.
MATRIX: Mapping[Role, frozenset[Capability]] = {
    Role.INTEGRATOR: frozenset({C.SUBMIT_EVENTS}),
    Role.CLINICIAN: frozenset(
        {C.CHECK_TRANSFUSION, C.READ_UNIT, C.READ_INVENTORY, C.READ_ALERTS, C.FHIR_READ}
    ),
    Role.INVESTIGATOR: frozenset(
        {
            C.READ_UNIT,
            C.TRACE,
            C.LOOKBACK_READ,
            C.LOOKBACK_OPEN,
            C.FHIR_READ,
            C.READ_INVENTORY,
            C.READ_ALERTS,
        }
    ),
    Role.REGULATOR: frozenset(
        {
            C.READ_UNIT,
            C.READ_INVENTORY,
            C.READ_ALERTS,
            C.TRACE,
            C.LOOKBACK_READ,
            C.FHIR_READ,
            C.AUDIT_EXPORT,
        }
    ),
    Role.ADMIN: frozenset({C.READ_ACCESS_LOG, C.MANAGE_TOKENS}),
}
#: Role -> its capabilities that act for one facility, when the token has one.
FACILITY_SCOPED: Mapping[Role, frozenset[Capability]] = {
    Role.INTEGRATOR: frozenset({C.SUBMIT_EVENTS}),
    Role.CLINICIAN: frozenset(
        {C.CHECK_TRANSFUSION, C.READ_UNIT, C.READ_INVENTORY, C.READ_ALERTS, C.FHIR_READ}
    ),
}
#: Roles whose tokens must name a facility, and those that may.
FACILITY_REQUIRED = frozenset({Role.CLINICIAN})
FACILITY_ALLOWED = frozenset(FACILITY_SCOPED)
#: Roles shown donor identifiers (the admin sees those recorded in the access log).
DONOR_VIEWERS = frozenset({Role.INVESTIGATOR, Role.REGULATOR, Role.ADMIN})
del C


class Denied(Exception):
    """A request refused; the message says why without naming a secret or a person."""


class Unauthenticated(Denied):
    """No token, an unknown one or a revoked one (HTTP 401)."""


class Forbidden(Denied):
    """A known token whose role or facility does not allow the request (HTTP 403)."""


def parse_role(text: str) -> Role:
    """The role named ``text`` (raises ``ValueError`` naming the roles there are)."""
    try:
        return Role(text)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {text!r}: one of {roles}") from None


def check_token_name(name: str) -> str:
    """``name`` if it can name a token (letters, digits, ``. _ @ -``; at most 64)."""
    if not _NAME.fullmatch(name):
        msg = "a token name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting alnum"
        raise ValueError(msg)
    return name


def check_facility(role: Role, facility: str | None) -> str | None:
    """The facility a token of ``role`` may have: required for a clinician, allowed
    for an integrator, refused for the roles it would not restrict (so no one
    believes an investigator's token limited to a place when it is not)."""
    if facility is None:
        if role in FACILITY_REQUIRED:
            raise ValueError(f"a {role} token acts for one facility: give --facility FIN")
        return None
    if role not in FACILITY_ALLOWED:
        allowed = " and ".join(sorted(FACILITY_ALLOWED))
        raise ValueError(f"a {role} token has no facility: only {allowed} tokens have one")
    if not is_fin(facility):
        raise ValueError("the facility is not an ISBT 128 FIN (5 characters, e.g. S3101)")
    return facility


def new_token() -> str:
    """A new bearer token: shown once, stored only as :func:`token_hash`."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    return bool(_TOKEN.fullmatch(text))


def token_hash(token: str) -> str:
    """What the store keeps of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a token's name, role and facility."""

    name: str
    role: Role
    facility: str | None = None

    def may(self, capability: Capability) -> bool:
        """Whether the role has the capability (anywhere, facility aside)."""
        return capability in MATRIX[self.role]

    def scope(self, capability: Capability) -> str | None:
        """The one facility this principal may use ``capability`` for (``None``: any)."""
        if self.facility is not None and capability in FACILITY_SCOPED.get(self.role, ()):
            return self.facility
        return None

    def may_act_for(self, capability: Capability, facility: str | None) -> bool:
        """Whether the principal may use ``capability`` for ``facility`` (``None``: a
        request naming no facility, whose answer the caller limits to :meth:`scope`)."""
        scope = self.scope(capability)
        return self.may(capability) and (scope is None or facility in (None, scope))

    def restricted_to(self, facility: str) -> bool:
        """Whether this principal acts for ``facility`` only (its scoped capabilities
        are limited to it)."""
        return self.facility is not None and self.facility == facility

    @property
    def sees_donors(self) -> bool:
        """Whether responses to this principal may show donor identifiers."""
        return self.role in DONOR_VIEWERS

    def check(self, capability: Capability, facility: str | None = None) -> None:
        """Raise :class:`Forbidden` unless :meth:`may_act_for` (the message names the
        role and capability, never the token or a person)."""
        if not self.may(capability):
            raise Forbidden(f"a {self.role} token may not {capability.replace('_', ' ')}")
        if not self.may_act_for(capability, facility):
            raise Forbidden(f"this {self.role} token acts for its own facility only")
