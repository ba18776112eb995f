"""Access control: bearer tokens, who may do what, and the access log.

:class:`AccessControl` makes and revokes tokens (the token shown once, only
its SHA-256 stored), turns a request's token into a
:class:`~ledger.domain.access.Principal` (:meth:`~AccessControl.authenticate`,
401 otherwise), checks a capability for a facility
(:meth:`~AccessControl.authorize`, 403 otherwise), and records every
response that revealed donor or patient identifiers
(:meth:`~AccessControl.record_reveal`): token name, role, route, the
identifiers — sealed, on a protected ledger, as everything else at rest —
and the time, in an append-only log that an admin reads back
(:meth:`~AccessControl.entries`, identifiers revealed). The rules are the
domain's (:mod:`ledger.domain.access`); the tables are a port
(:class:`~ledger.services.ports.AccessTables`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ledger.domain.access import (
    Capability,
    Denied,
    Forbidden,
    Principal,
    Role,
    Unauthenticated,
    check_facility,
    check_token_name,
    looks_like_token,
    new_token,
    parse_role,
    token_hash,
)
from ledger.domain.identity import IDENTITY_FIELDS, Identities
from ledger.domain.instants import iso
from ledger.services.ports import AccessEntry, AccessTables, TokenExists, TokenRecord

__all__ = [
    "AccessControl",
    "Denied",
    "Forbidden",
    "RecentHolders",
    "TokenExists",
    "Unauthenticated",
    "UnknownToken",
]

#: The kinds of person an identifier may name (as :mod:`ledger.domain.identity` seals them).
KINDS = frozenset(IDENTITY_FIELDS.values())
#: Hex characters of a token's hash shown in the token list (to tell tokens apart).
FINGERPRINT = 12


class UnknownToken(ValueError):
    """No token of that name that is not already revoked."""


class RecentHolders:
    """Who held the tokens authenticated in the last ``seconds`` (at most ``size`` of
    them, least recently used dropped first): a busy server asks the store once per
    token every ``seconds``, not once per request. The price: a token revoked from
    another process is still honoured for up to ``seconds`` (one revoked through the
    same :class:`AccessControl` is refused at once). ``seconds`` 0 keeps nothing."""

    def __init__(
        self, seconds: float, size: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._held: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, hashed: str) -> Principal | None:
        """The holder of the token of hash ``hashed``, if authenticated recently enough."""
        with self._lock:
            found = self._held.get(hashed)
            if found is None:
                return None
            if self.clock() - found[0] >= self.seconds:
                del self._held[hashed]
                return None
            self._held.move_to_end(hashed)
            return found[1]

    def keep(self, hashed: str, principal: Principal) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._held[hashed] = (self.clock(), principal)
            self._held.move_to_end(hashed)
            while len(self._held) > self.size:
                self._held.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._held.clear()


class AccessControl:
    """Tokens, authentication, authorization and the access log of one store.

    ``remember_tokens_s`` > 0 lets :meth:`authenticate` answer from
    :class:`RecentHolders` for that long (the HTTP server's bearer tokens)."""

    def __init__(
        self,
        tables: AccessTables,
        identities: Identities,
        clock: Callable[[], datetime],
        *,
        remember_tokens_s: float = 0.0,
    ) -> None:
        self.tables = tables
        self.identities = identities
        self.clock = clock
        self.recent = RecentHolders(remember_tokens_s)

    # -- tokens --

    def create(self, name: str, role: Role | str, facility: str | None = None) -> str:
        """A new token (shown once: only its hash is kept); raises ``ValueError`` for a
        bad name, role or facility and :class:`TokenExists` for a name taken."""
        chosen = role if isinstance(role, Role) else parse_role(role)
        place = check_facility(chosen, facility)
        token = new_token()
        self.tables.add_token(
            check_token_name(name), chosen.value, place, token_hash(token), self.clock()
        )
        return token

    def revoke(self, name: str) -> None:
        """Revoke a token: from now on it is refused (401)."""
        self.recent.forget()
        if not self.tables.revoke(name, self.clock()):
            raise UnknownToken(f"no token named {name!r} that is not already revoked")

    def tokens(self) -> list[dict[str, Any]]:
        """Every token made, revoked ones too: never the token, a prefix of its hash."""
        return [_token_document(t) for t in self.tables.tokens()]

    # -- requests --

    def authenticate(self, token: str | None) -> Principal:
        """Who holds ``token`` (raises :class:`Unauthenticated` if there is none, or it
        is unknown or revoked). The store is searched by the token's hash, so no
        secret is compared character by character. A holder found within the last
        ``remember_tokens_s`` seconds is not looked up again."""
        if not token:
            raise Unauthenticated("a bearer token is required")
        if not looks_like_token(token):
            raise Unauthenticated("not a bloodledger token")
        hashed = token_hash(token)
        principal = self.recent.get(hashed)
        if principal is None:
            principal = self.holder_of(hashed)
            self.recent.keep(hashed, principal)
        return principal

    def remembered(self, token: str | None) -> Principal | None:
        """The holder of ``token`` if :meth:`authenticate` found it within the last
        ``remember_tokens_s`` seconds, without asking the store; else ``None``."""
        if not token or not looks_like_token(token):
            return None
        return self.recent.get(token_hash(token))

    def holder_of(self, hashed: str) -> Principal:
        """Who holds the token whose :func:`~ledger.domain.access.token_hash` is
        ``hashed`` (raises :class:`Unauthenticated` if none does, or it is revoked): a
        signed-in page's session keeps the hash, never the token, and is asked again
        on every request, so a revoked token ends its sessions at once."""
        found = self.tables.token_by_hash(hashed)
        if found is None:
            raise Unauthenticated("unknown token")
        if found.revoked_at is not None:
            raise Unauthenticated("this token is revoked")
        try:
            role = Role(found.role)
        except ValueError:
            raise Unauthenticated("this token's role is unknown") from None
        return Principal(found.name, role, found.facility)

    def authorize(
        self, principal: Principal, capability: Capability, facility: str | None = None
    ) -> None:
        """Raise :class:`Forbidden` unless ``principal`` may use ``capability`` for
        ``facility``. ``None``: a request naming none, allowed if the role may — and
        then its answer must be limited to ``principal.scope(capability)`` where that is
        a facility (or use :meth:`facility_for`, which says which)."""
        principal.check(capability, facility)

    def facility_for(
        self, principal: Principal, capability: Capability, requested: str | None = None
    ) -> str | None:
        """The facility a request acts for, authorized: the one it names, else the
        principal's own where the capability is scoped to it (``None``: every facility).
        Raises :class:`Forbidden` as :meth:`authorize` does."""
        facility = requested if requested is not None else principal.scope(capability)
        principal.check(capability, facility)
        return facility

    # -- the access log --

    def record_reveal(
        self, principal: Principal, route: str, identifiers: Iterable[tuple[str, str]]
    ) -> None:
        """Record that a response to ``principal`` on ``route`` showed these (kind,
        value) identifiers, kinds ``donor`` or ``patient``; values plain or sealed,
        stored sealed on a protected ledger. Nothing is recorded for none."""
        sealed: dict[tuple[str, str], None] = {}
        for kind, value in identifiers:
            if kind not in KINDS:
                raise ValueError(f"an identifier's kind is one of {', '.join(sorted(KINDS))}")
            sealed[(kind, self.identities.seal(kind, value))] = None
        if sealed:
            entry = AccessEntry(
                self.clock(), principal.name, principal.role.value, route, tuple(sealed)
            )
            self.tables.append_access(entry)

    def entries(
        self, *, limit: int = 100, offset: int = 0, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The access log, newest first, with the identifiers revealed (for an admin)."""
        found = self.tables.access_entries(limit=limit, offset=offset, since=since)
        return [self._entry_document(e) for e in found]

    def read_log(
        self,
        principal: Principal,
        route: str,
        *,
        limit: int = 100,
        offset: int = 0,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The access log as ``GET /api/v1/access-log`` answers an admin: authorized
        (``READ_ACCESS_LOG``), and itself recorded, since it shows identifiers."""
        self.authorize(principal, Capability.READ_ACCESS_LOG)
        found = self.tables.access_entries(limit=limit, offset=offset, since=since)
        self.record_reveal(principal, route, (pair for e in found for pair in e.identifiers))
        return [self._entry_document(e) for e in found]

    def _entry_document(self, entry: AccessEntry) -> dict[str, Any]:
        return {
            "id": entry.id,
            "at": iso(entry.at),
            "token_name": entry.token_name,
            "role": entry.role,
            "route": entry.route,
            "identifiers": [
                {"kind": kind, "id": self.identities.revealed(value)}
                for kind, value in entry.identifiers
            ],
        }


def _token_document(token: TokenRecord) -> dict[str, Any]:
    return {
        "name": token.name,
        "role": token.role,
        "facility": token.facility,
        "created_at": iso(token.created_at),
        "revoked_at": None if token.revoked_at is None else iso(token.revoked_at),
        "active": token.revoked_at is None,
        "fingerprint": token.token_hash[:FINGERPRINT],
    }
