"""Where the benchmarks run: the machine they describe, the stores they use, where results go."""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ledger.adapters.persistence.postgres import PostgresStore

PG = os.environ.get("BLOODLEDGER_BENCH_PG", "postgresql://root@127.0.0.1:5432/test")
RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def pg_stores(count: int) -> Iterator[list[PostgresStore]]:
    stores = [PostgresStore(f"{PG}?schema=bench_{uuid.uuid4().hex[:10]}") for _ in range(count)]
    try:
        yield stores
    finally:
        with psycopg.connect(stores[0].conninfo(), autocommit=True) as conn:
            for store in stores:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(store.schema))
                )


def machine() -> dict[str, Any]:
    with psycopg.connect(PostgresStore(PG).conninfo()) as conn:
        server = conn.execute("SHOW server_version").fetchone()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": server[0] if server else None,
        "note": "client, PostgreSQL and the broker share the machine",
    }
