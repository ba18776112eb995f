"""The tokens and the access log, the same SQL in every SQL backend.

``bl_tokens`` (one row per token ever made: name, role, facility, the
token's SHA-256, when it was made and revoked) and ``bl_access_log`` (one row
per response that revealed identifiers: when, which token as which role,
the route, the identifiers as JSON text). The log is append-only: no
statement here changes or removes one of its rows, and each backend adds a
trigger refusing ``UPDATE`` and ``DELETE`` on it. As for the audit tables,
statements are templates — ``{tokens}`` a table, ``{name}`` a parameter —
that each backend renders with its own quoting (:mod:`.sqlite`,
:mod:`.postgres`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.adapters.persistence.base import SQLStatements
from ledger.domain.instants import from_ms, ms
from ledger.services.ports import AccessEntry, AccessTables, TokenExists, TokenRecord

#: Table -> column definitions; ``{serial}`` is the backend's auto-numbered key.
TABLES: dict[str, str] = {
    "tokens": (
        "name TEXT PRIMARY KEY, role TEXT NOT NULL, facility TEXT, "
        "token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT"
    ),
    "access_log": (
        "id {serial}, at BIGINT NOT NULL, token_name TEXT NOT NULL, role TEXT NOT NULL, "
        "route TEXT NOT NULL, identifiers TEXT NOT NULL"
    ),
}
PREFIX = "bl_"
#: The trigger (each backend's own statement) keeping the access log append-only.
APPEND_ONLY_TRIGGER = "bl_access_log_append_only"
APPEND_ONLY_MESSAGE = "bl_access_log is append-only"

_TOKEN_COLUMNS = "name, role, facility, token_hash, created_at, revoked_at"
_INSERT_TOKEN = (
    f"INSERT INTO {{tokens}} ({_TOKEN_COLUMNS}) "
    "VALUES ({name}, {role}, {facility}, {token_hash}, {created_at}, NULL) RETURNING name"
)
_REVOKE = (
    "UPDATE {tokens} SET revoked_at = {at} WHERE name = {name} AND revoked_at IS NULL "
    "RETURNING name"
)
_TOKENS = f"SELECT {_TOKEN_COLUMNS} FROM {{tokens}} ORDER BY name"
_TOKEN_BY_HASH = f"SELECT {_TOKEN_COLUMNS} FROM {{tokens}} WHERE token_hash = {{token_hash}}"
_APPEND = (
    "INSERT INTO {access_log} (at, token_name, role, route, identifiers) "
    "VALUES ({at}, {token_name}, {role}, {route}, {identifiers}) RETURNING id"
)
_ENTRIES = (
    "SELECT id, at, token_name, role, route, identifiers FROM {access_log} {where} "
    "ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
)
_SINCE = "WHERE at >= {since}"


def table_name(table: str) -> str:
    return PREFIX + table


def _token(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        name=row[0],
        role=row[1],
        facility=row[2],
        token_hash=row[3],
        created_at=from_ms(int(row[4])),
        revoked_at=None if row[5] is None else from_ms(int(row[5])),
    )


def _entry(row: Sequence[Any]) -> AccessEntry:
    return AccessEntry(
        at=from_ms(int(row[1])),
        token_name=row[2],
        role=row[3],
        route=row[4],
        identifiers=tuple((str(kind), str(value)) for kind, value in json.loads(row[5])),
        id=int(row[0]),
    )


class SQLAccessTables(AccessTables, SQLStatements):
    """The portable half of every SQL backend's tokens and access log (every statement
    here returns rows)."""

    def add_token(
        self,
        name: str,
        role: str,
        facility: str | None,
        token_hash: str,
        created_at: datetime,
    ) -> None:
        params = {
            "name": name,
            "role": role,
            "facility": facility,
            "token_hash": token_hash,
            "created_at": ms(created_at),
        }
        try:
            self._run(_INSERT_TOKEN, params, commit=True)
        except IntegrityError:
            raise TokenExists(name) from None

    def revoke(self, name: str, at: datetime) -> bool:
        return bool(self._run(_REVOKE, {"name": name, "at": ms(at)}, commit=True))

    def tokens(self) -> list[TokenRecord]:
        return [_token(r) for r in self._run(_TOKENS, {}, commit=False)]

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        rows = self._run(_TOKEN_BY_HASH, {"token_hash": token_hash}, commit=False)
        return _token(rows[0]) if rows else None

    def append_access(self, entry: AccessEntry) -> int:
        params = {
            "at": ms(entry.at),
            "token_name": entry.token_name,
            "role": entry.role,
            "route": entry.route,
            "identifiers": json.dumps([list(pair) for pair in entry.identifiers]),
        }
        return int(self._run(_APPEND, params, commit=True)[0][0])

    def access_entries(
        self, *, limit: int = 100, offset: int = 0, since: datetime | None = None
    ) -> list[AccessEntry]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        where = ""
        if since is not None:
            where, params["since"] = _SINCE, ms(since)
        template = _ENTRIES.replace("{where}", where)
        return [_entry(r) for r in self._run(template, params, commit=False)]


def ddl(serial: str) -> list[tuple[str, str]]:
    """(statement template, table) of every table to create: ``{table}`` is for the
    backend to quote; ``serial`` is its auto-numbered primary key type."""
    return [
        (f"CREATE TABLE IF NOT EXISTS {{table}} ({columns.format(serial=serial)})", table)
        for table, columns in TABLES.items()
    ]
