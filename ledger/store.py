"""Store URLs: which event store the ledger uses, as one string.

``sqlite:///ledger.db`` (the embedded default),
``postgresql://user[:password]@host[:port]/dbname[?schema=name]``, or
``memory://`` (the library's in-memory recorder: nothing is kept; for tests). The URL
comes from ``--store`` or ``BLOODLEDGER_STORE`` and is translated into the
``eventsourcing`` library's environment variables, so the same application
code runs on either recorder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg import sql

DEFAULT_STORE = "sqlite:///bloodledger.db"
STORE_ENV_VAR = "BLOODLEDGER_STORE"
#: Advisory-lock key under which processes create tables (any fixed 64-bit number).
DDL_LOCK_KEY = 0x626C6F6F646C6467


class InvalidStoreURL(ValueError):
    """A store URL the ledger cannot use."""


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL."""

    url: str
    kind: str  # "sqlite", "postgresql" or "memory"
    path: str = ""
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = "public"

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        parts = urlsplit(url)
        if parts.scheme == "memory":
            return cls(url=url, kind="memory")
        if parts.scheme == "sqlite":
            path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            if not path:
                msg = "sqlite store URL needs a file path: sqlite:///ledger.db"
                raise InvalidStoreURL(msg)
            return cls(url=url, kind="sqlite", path=path)
        if parts.scheme in ("postgresql", "postgres"):
            dbname = parts.path.lstrip("/")
            if not dbname:
                msg = "postgresql store URL needs a database: postgresql://user@host:5432/dbname"
                raise InvalidStoreURL(msg)
            schema = parse_qs(parts.query).get("schema", ["public"])[0]
            return cls(
                url=url,
                kind="postgresql",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or ""),
                password=unquote(parts.password or ""),
                dbname=dbname,
                schema=schema,
            )
        msg = f"unsupported store URL scheme {parts.scheme!r}: use sqlite:///, postgresql:// or memory://"
        raise InvalidStoreURL(msg)

    def library_env(self) -> dict[str, str]:
        """The ``eventsourcing`` environment that selects and configures the recorder."""
        if self.kind == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "PROCESS_RECORDER_TOPIC": "ledger.adapters.recorders:SQLiteLedgerRecorder",
                "SQLITE_DBNAME": self.path,
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "PROCESS_RECORDER_TOPIC": "ledger.adapters.recorders:PostgresLedgerRecorder",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "2",
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_CONNECT_TIMEOUT": "5",
        }

    def conninfo(self) -> str:
        """libpq connection string (PostgreSQL only)."""
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user or None,
            password=self.password or None,
            dbname=self.dbname,
        )

    def prepare(self) -> None:
        """Create what the library does not: the PostgreSQL schema named in the URL."""
        if self.kind != "postgresql" or self.schema == "public":
            return
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )

    @contextmanager
    def ddl_lock(self) -> Iterator[None]:
        """Serialise table creation across processes starting at once.

        Two workers creating the library's tables in a fresh PostgreSQL
        schema at the same moment race in the catalog ("tuple concurrently
        updated"); a session advisory lock makes the second wait instead.
        """
        if self.kind != "postgresql":
            yield
            return
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK_KEY,))

    def redacted(self) -> str:
        """The URL without its password, for logs."""
        if self.kind != "postgresql":
            return self.url
        user = f"{self.user}@" if self.user else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.dbname}?schema={self.schema}"


def resolve_store(url: str | None) -> StoreURL:
    """The store named by ``--store``, else ``BLOODLEDGER_STORE``, else the SQLite default."""
    return StoreURL.parse(url or os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE)
