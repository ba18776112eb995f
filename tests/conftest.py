"""Shared fixtures: the ledger on each store, PostgreSQL schemas, the real broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic
from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import open_ledger
from ledger.services.application import BloodLedger

PG_URL = os.environ.get("BLOODLEDGER_TEST_PG", "postgresql://root@127.0.0.1:5432/test")


#: Variables an operator may have exported that would change what the tests' commands do.
OPERATOR_ENVIRONMENT = (
    "BLOODLEDGER_STORE",
    "BLOODLEDGER_CIPHER_KEY",
    "BLOODLEDGER_AUDIT_KEY",
    "BLOODLEDGER_CHECKPOINTS",
    "BLOODLEDGER_WITNESSES",
    "BLOODLEDGER_SESSION_KEY",
)


@pytest.fixture(autouse=True)
def _no_operator_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from none of the ledger's variables set (a test sets its own)."""
    for name in OPERATOR_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def pg_store_url() -> str:
    """A PostgreSQL store URL in a fresh schema of its own."""
    return f"{PG_URL}?schema=t_{uuid.uuid4().hex[:12]}"


def drop_schema(url: str) -> None:
    store = PostgresStore(url)
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(store.schema))
        )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = pg_store_url()
    yield url
    drop_schema(url)


def _store(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh store of one kind; a PostgreSQL schema is dropped afterwards."""
    if kind == "memory":
        yield "memory://"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = pg_store_url()
        yield url
        drop_schema(url)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs on the in-memory recorder, SQLite and PostgreSQL."""
    yield from _store(request.param, tmp_path)


@pytest.fixture
def ledger(store_url: str) -> Iterator[BloodLedger]:
    app = open_ledger(store_for(store_url))
    yield app
    app.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def durable_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    yield from _store(request.param, tmp_path)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The real (embedded) Kafka-compatible broker, one for the whole session."""
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log_path) as running:
        yield running


@pytest.fixture
def topic(broker: EmbeddedBroker) -> str:
    """A fresh events topic (3 partitions) and its dead-letter topic."""
    name = f"events-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {name: 3, dlq_topic(name): 1})
    return name
