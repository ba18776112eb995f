"""Tokens and the access log in every store: made, authenticated, revoked, kept across
reopening; the log read back newest first with identifiers revealed, kept sealed at rest
on a protected ledger, and refusing any change (UPDATE and DELETE) in the SQL stores."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import open_access
from ledger.domain.access import Principal, Role, Unauthenticated, token_hash
from ledger.domain.identity import IdentityKey, generate_master_key
from ledger.services.access import TokenExists, UnknownToken
from ledger.services.ports import AccessEntry

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
PEOPLE = [("donor", "D000731"), ("patient", "P-4471-X"), ("donor", "D000999")]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def test_tokens_are_made_authenticated_revoked_and_unique(store_url: str) -> None:
    store = store_for(store_url)
    with open_access(store, clock=Clock()) as access:
        control = access.control
        ward = control.create("ward-3", "clinician", "S3101")
        feed = control.create("feed", Role.INTEGRATOR)
        assert control.authenticate(ward) == Principal("ward-3", Role.CLINICIAN, "S3101")
        assert control.authenticate(feed) == Principal("feed", Role.INTEGRATOR, None)
        with pytest.raises(TokenExists, match="'ward-3' exists already"):
            control.create("ward-3", "investigator")
        with pytest.raises(Unauthenticated, match="unknown"):
            control.authenticate("blt_" + "x" * 43)
        control.revoke("ward-3")
        with pytest.raises(Unauthenticated, match="revoked"):
            control.authenticate(ward)
        with pytest.raises(UnknownToken):
            control.revoke("ward-3")
        with pytest.raises(UnknownToken):
            control.revoke("nobody")
        with pytest.raises(TokenExists):
            control.create("ward-3", "clinician", "S3101")  # revoked names stay taken
        assert control.authenticate(feed).name == "feed"
        listed = control.tokens()
    assert [(t["name"], t["active"]) for t in listed] == [("feed", True), ("ward-3", False)]
    assert listed[1]["created_at"] == "2026-09-01T08:01:00Z"
    assert listed[1]["revoked_at"] == "2026-09-01T08:04:00Z"  # the refused duplicate ticked too
    assert ward not in repr(listed) and token_hash(ward) not in repr(listed)


def test_access_entries_are_appended_and_read_back_newest_first(store_url: str) -> None:
    store = store_for(store_url)
    with open_access(store, clock=Clock()) as access:
        control = access.control
        hv = control.authenticate(control.create("hv", "investigator"))
        control.record_reveal(hv, "/trace", PEOPLE)
        control.record_reveal(hv, "/inventory", [])  # shows no one: not recorded
        control.record_reveal(hv, "/lookbacks/{case_id}", [("donor", "D000731")])
        entries = control.entries()
        assert [(e["id"], e["route"]) for e in entries] == [
            (2, "/lookbacks/{case_id}"),
            (1, "/trace"),
        ]
        assert entries[1] == {
            "id": 1,
            "at": "2026-09-01T08:02:00Z",
            "token_name": "hv",
            "role": "investigator",
            "route": "/trace",
            "identifiers": [{"kind": k, "id": v} for k, v in PEOPLE],
        }
        assert [e["id"] for e in control.entries(limit=1)] == [2]
        assert [e["id"] for e in control.entries(limit=5, offset=1)] == [1]
        since = datetime(2026, 9, 1, 8, 3, tzinfo=UTC)
        assert [e["id"] for e in control.entries(since=since)] == [2]
        assert (
            access.tables.append_access(
                AccessEntry(T0, "hv", "investigator", "/trace", (("patient", "P1"),))
            )
            == 3
        )


def test_tokens_and_entries_outlive_the_process(durable_store_url: str) -> None:
    with open_access(store_for(durable_store_url)) as access:
        token = access.control.create("root", "admin")
        access.control.record_reveal(access.control.authenticate(token), "/x", PEOPLE[:1])
    with open_access(store_for(durable_store_url), create=False) as again:
        assert again.control.authenticate(token).role is Role.ADMIN
        assert [e["route"] for e in again.control.entries()] == ["/x"]


def _stored(url: str) -> bytes:
    """Everything the store holds: the SQLite files, or every row of the PostgreSQL schema."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    store = PostgresStore(url)
    text: list[str] = []
    with psycopg.connect(store.conninfo()) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (store.schema,),
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(store.schema, table))
            text += [" ".join(map(str, row)) for row in conn.execute(query)]
    return "\n".join(text).encode()


def test_on_a_protected_ledger_the_log_keeps_identifiers_sealed_and_no_token_is_stored(
    durable_store_url: str,
) -> None:
    key = IdentityKey(generate_master_key())
    store = store_for(durable_store_url)
    with open_access(store, identity_key=key) as access:
        assert access.ledger.identities.protected
        token = access.control.create("hv", "investigator")
        hv = access.control.authenticate(token)
        access.control.record_reveal(hv, "/trace", PEOPLE)
        stored = access.tables.access_entries()[0].identifiers
        assert stored == tuple((k, key.seal(k, v)) for k, v in PEOPLE)
        revealed = access.control.entries()[0]["identifiers"]
        assert [(i["kind"], i["id"]) for i in revealed] == PEOPLE
    raw = _stored(durable_store_url)
    assert raw.count(b"bl1:") >= len(PEOPLE)
    for _, value in PEOPLE:
        assert value.encode() not in raw
    assert token.encode() not in raw and token_hash(token).encode() in raw


def test_the_sql_stores_refuse_to_change_or_remove_an_access_entry(durable_store_url: str) -> None:
    with open_access(store_for(durable_store_url)) as access:
        hv = access.control.authenticate(access.control.create("hv", "investigator"))
        access.control.record_reveal(hv, "/trace", PEOPLE)
    statements = ["UPDATE bl_access_log SET route = 'x'", "DELETE FROM bl_access_log"]
    if durable_store_url.startswith("sqlite"):
        path = durable_store_url.removeprefix("sqlite:///")
        for statement in statements:
            with sqlite3.connect(path) as conn, pytest.raises(sqlite3.Error, match="append-only"):
                conn.execute(statement)
    else:
        store = PostgresStore(durable_store_url)
        for statement in [*statements, "TRUNCATE bl_access_log"]:
            with psycopg.connect(store.conninfo()) as conn:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(store.schema)))
                with pytest.raises(psycopg.Error, match="append-only"):
                    conn.execute(statement)
    with open_access(store_for(durable_store_url), create=False) as again:
        assert [e["route"] for e in again.control.entries()] == ["/trace"]
