"""Read models of an older version are made anew, in this version's shape, and rebuilt.

Version 5 gave two tables columns (the codes of the findings' details and of the
unmatched acknowledgements' whys): a store whose tables an older version made has
no such columns, and emptying them is not enough. On both backends: a store
projected, its tables then put back as version 4 left them (those columns dropped,
this version's marker gone), opened again — the tables are made anew and rebuilt.
"""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import sql

from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.base import PREFIX, VERSION
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.adapters.persistence.sqlite import SQLiteStore
from ledger.bootstrap import open_read_models_of
from ledger.domain.inventory import AlertPolicy
from projections import queries
from tests.builders import Timeline, at

pytestmark = pytest.mark.integration

#: What version 4's tables lacked, and the marker of this version gone.
AS_VERSION_4 = (
    "ALTER TABLE bl_findings DROP COLUMN detail_code",
    "ALTER TABLE bl_findings DROP COLUMN detail_fields",
    "ALTER TABLE bl_unmatched_acknowledgements DROP COLUMN why_code",
    "ALTER TABLE bl_unmatched_acknowledgements DROP COLUMN why_fields",
    f"DELETE FROM {{tracking}} WHERE application_name = '{PREFIX}version-{VERSION}'",
)


def _as_version_4(url: str) -> None:
    store = store_for(url)
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(store.schema)))
            for statement in AS_VERSION_4:
                conn.execute(statement.format(tracking="projections_tracking").encode())
    else:
        assert isinstance(store, SQLiteStore)
        with sqlite3.connect(store.path) as conn:
            for statement in AS_VERSION_4:
                conn.execute(statement.format(tracking="tracking"))


def _columns(url: str, table: str) -> set[str]:
    store = store_for(url)
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.conninfo()) as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (store.schema, table),
            ).fetchall()
    else:
        assert isinstance(store, SQLiteStore)
        with sqlite3.connect(store.path) as conn:
            rows = conn.execute(f"SELECT name FROM pragma_table_info('{table}')").fetchall()
    return {row[0] for row in rows}


def _flagged() -> Timeline:
    story = Timeline()
    story.collected()
    story.produced()
    story.released()
    story.crossmatched()
    story.started(bedside=False)
    story.acknowledged("no-such-notice", hour=30)
    return story


def test_tables_of_an_older_version_are_made_anew_and_built_again(durable_store_url: str) -> None:
    with open_read_models_of(store_for(durable_store_url), create=True) as models:
        models.ledger.record(_flagged().facts)
        models.projector.catch_up()
    _as_version_4(durable_store_url)
    assert "detail_code" not in _columns(durable_store_url, "bl_findings")

    with open_read_models_of(store_for(durable_store_url)) as models:
        models.projector.catch_up()
        alerts = queries.alerts(models.view, at(100), AlertPolicy())
    assert {"detail_code", "detail_fields"} <= _columns(durable_store_url, "bl_findings")
    flags = [
        (a["flag"], a["detail"], a["detail_code"]) for a in alerts if a["kind"] == "SAFETY_FLAG"
    ]
    assert ("NO_BEDSIDE_CHECK", "bedside check not passed", "BEDSIDE_CHECK_NOT_PASSED") in flags
    [unmatched] = [a for a in alerts if a["kind"] == "UNMATCHED_ACKNOWLEDGEMENT"]
    assert (unmatched["why_code"], unmatched["why_fields"]) == ("NO_SUCH_NOTICE", {})
