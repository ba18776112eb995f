"""The read-model tables, in the same database as the event store.

A view is an ``eventsourcing`` tracking recorder with tables of its own
(``shared/notes/eventsourcing-library.md`` §1.10): the rows that a page of
notifications changes and the tracking record of that page's last
notification are written in one transaction, so a crash never applies a
notification twice or skips one. One SQL text serves both databases:
statements use ``:name`` parameters (SQLite's style) and ``{table}``
names, adapted for PostgreSQL (``%(name)s``, schema-qualified tables).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment
from psycopg import sql

from ledger.store import StoreURL
from projections.rows import Row, UnitRows

#: Table name -> column definitions (portable SQL types).
TABLES: dict[str, str] = {
    "units": (
        "unit_id TEXT PRIMARY KEY, din TEXT NOT NULL, product_code TEXT NOT NULL, "
        "status TEXT NOT NULL, facility TEXT, in_transit_to TEXT, component TEXT, abo TEXT, "
        "rhd TEXT, units DOUBLE PRECISION, expires_at BIGINT, flags TEXT NOT NULL, "
        "case_ids TEXT NOT NULL, production_facility TEXT"
    ),
    "available": (
        "unit_id TEXT NOT NULL, facility TEXT NOT NULL, component TEXT, abo TEXT, rhd TEXT, "
        "units DOUBLE PRECISION, expires_at BIGINT, valid_from BIGINT NOT NULL, valid_to BIGINT"
    ),
    "uses": (
        "unit_id TEXT NOT NULL, facility TEXT NOT NULL, component TEXT, abo TEXT, rhd TEXT, "
        "used_at BIGINT NOT NULL, kind TEXT NOT NULL"
    ),
    "transfusions": (
        "event_id TEXT NOT NULL, unit_id TEXT NOT NULL, din TEXT NOT NULL, "
        "product_code TEXT NOT NULL, patient_id TEXT NOT NULL, facility TEXT NOT NULL, "
        "transfused_at BIGINT NOT NULL"
    ),
    "findings": (
        "unit_id TEXT NOT NULL, din TEXT NOT NULL, product_code TEXT NOT NULL, flag TEXT NOT NULL, "
        "event_id TEXT NOT NULL, occurred_at BIGINT NOT NULL, detail TEXT NOT NULL"
    ),
    "donations": (
        "din TEXT PRIMARY KEY, donor_id TEXT, donation_type TEXT, collected_at BIGINT, "
        "facility TEXT, reactive_at BIGINT, reactive_tests TEXT NOT NULL"
    ),
    "cases": (
        "case_id TEXT PRIMARY KEY, donor_id TEXT NOT NULL, reason TEXT NOT NULL, "
        "since BIGINT NOT NULL, until BIGINT NOT NULL, trigger_din TEXT, actor TEXT NOT NULL, "
        "opened_at BIGINT NOT NULL"
    ),
}

#: Indexes: (table, columns). Every query of a read path uses one of these.
INDEXES: tuple[tuple[str, str], ...] = (
    ("units", "din"),
    ("available", "unit_id"),
    ("available", "valid_from"),
    ("uses", "unit_id"),
    ("uses", "used_at"),
    ("transfusions", "unit_id"),
    ("transfusions", "patient_id"),
    ("transfusions", "din"),
    ("findings", "unit_id"),
    ("findings", "occurred_at"),
    ("donations", "donor_id"),
    ("donations", "reactive_at"),
    ("cases", "donor_id"),
    ("cases", "trigger_din"),
)

#: Tables holding rows of one unit each, keyed by ``unit_id``.
UNIT_TABLES = ("units", "available", "uses", "transfusions", "findings")

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


@dataclass
class Changes:
    """Rows that replace the rows of the aggregates a page touched."""

    units: list[UnitRows] = field(default_factory=list)
    donations: list[Row] = field(default_factory=list)
    cases: list[Row] = field(default_factory=list)


class LedgerView(TrackingRecorder):
    """The read models: apply pages of changes, answer queries."""

    PREFIX = "bl_"

    @abstractmethod
    def _table(self, name: str) -> str:
        """The table's name as SQL (schema-qualified where needed)."""

    @abstractmethod
    def _params(self, statement: str) -> str:
        """A ``:name`` statement in this driver's parameter style."""

    @abstractmethod
    def _delete_tracking(self, cursor: Any, upstream: str) -> None: ...

    def sql(self, template: str) -> str:
        """Fill in table names (``{units}``...) and adapt the parameter style."""
        names = {name: self._table(name) for name in TABLES}
        return self._params(template.format(**names))

    def view_ddl(self) -> list[str]:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self._table(t)} ({cols})" for t, cols in TABLES.items()
        ]
        for table, column in INDEXES:
            index = f"{self.PREFIX}{table}_{column}_idx"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index} ON {self._table(table)} ({column})"
            )
        return statements

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        """Replace the changed aggregates' rows and record the position, atomically."""
        with self.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            self._insert_tracking(cursor, tracking)  # type: ignore[attr-defined]
            self._replace_units(cursor, changes.units)
            self._upsert(cursor, "donations", "din", changes.donations)
            self._upsert(cursor, "cases", "case_id", changes.cases)

    def _replace_units(self, cursor: Any, units: Sequence[UnitRows]) -> None:
        if not units:
            return
        ids = [rows.unit_id for rows in units]
        for table in UNIT_TABLES:
            self._delete(cursor, table, "unit_id", ids)
        self._insert(cursor, "units", [rows.unit for rows in units])
        self._insert(cursor, "available", [r for rows in units for r in rows.available])
        self._insert(cursor, "uses", [r for rows in units for r in rows.uses])
        self._insert(cursor, "transfusions", [r for rows in units for r in rows.transfusions])
        self._insert(cursor, "findings", [r for rows in units for r in rows.findings])

    def _delete(self, cursor: Any, table: str, key: str, values: Sequence[str]) -> None:
        """Delete the rows whose ``key`` is one of ``values``."""
        statement = self.sql(f"DELETE FROM {{{table}}} WHERE {key} = :value")
        cursor.executemany(statement, [{"value": value} for value in values])

    def _insert(self, cursor: Any, table: str, rows: Sequence[Row]) -> None:
        if rows:
            columns = list(rows[0])
            names = ", ".join(columns)
            values = ", ".join(f":{c}" for c in columns)
            cursor.executemany(
                self.sql(f"INSERT INTO {{{table}}} ({names}) VALUES ({values})"), rows
            )

    def _upsert(self, cursor: Any, table: str, key: str, rows: Sequence[Row]) -> None:
        if rows:
            self._delete(cursor, table, key, [row[key] for row in rows])
            self._insert(cursor, table, rows)

    def select(self, template: str, params: dict[str, Any] | None = None) -> list[Row]:
        """Rows of a read query (``{table}`` names, ``:name`` parameters)."""
        with self.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute(self.sql(template), params or {})
            return [dict(row) for row in cursor.fetchall()]

    def reset(self, upstream: str) -> None:
        """Empty every table and forget the position: the start of a rebuild."""
        with self.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            for table in TABLES:
                cursor.execute(f"DELETE FROM {self._table(table)}")
            self._delete_tracking(cursor, upstream)


class SQLiteLedgerView(LedgerView, SQLiteTrackingRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.view_ddl()]

    def _table(self, name: str) -> str:
        return f"{self.PREFIX}{name}"

    def _params(self, statement: str) -> str:
        return statement

    def _delete_tracking(self, cursor: Any, upstream: str) -> None:
        cursor.execute("DELETE FROM tracking WHERE application_name = ?", (upstream,))


class PostgresLedgerView(LedgerView, PostgresTrackingRecorder):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(sql.Composed([sql.SQL(s)]) for s in self.view_ddl())

    def _table(self, name: str) -> str:
        schema = self.datastore.schema
        return f'"{schema}".{self.PREFIX}{name}'

    def _params(self, statement: str) -> str:
        return _PARAM.sub(r"%(\1)s", statement)

    def _delete(self, cursor: Any, table: str, key: str, values: Sequence[str]) -> None:
        """One statement for a whole page (SQLite has no arrays: one per key there)."""
        cursor.execute(f"DELETE FROM {self._table(table)} WHERE {key} = ANY(%s)", (list(values),))

    def _insert(self, cursor: Any, table: str, rows: Sequence[Row]) -> None:
        """One ``COPY`` per table and page, not a statement per row."""
        if rows:
            columns = list(rows[0])
            statement = f"COPY {self._table(table)} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])

    def _delete_tracking(self, cursor: Any, upstream: str) -> None:
        table = sql.Identifier(self.datastore.schema, self.tracking_table_name)
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE application_name = %s").format(table), (upstream,)
        )


def open_view(store: StoreURL) -> LedgerView:
    """The read models of a store (tables are created if missing)."""
    if store.kind == "memory":
        msg = "projections need a database: use a sqlite:/// or postgresql:// store"
        raise ValueError(msg)
    env = Environment("projections", store.library_env())
    view_class: type[Any] = SQLiteLedgerView if store.kind == "sqlite" else PostgresLedgerView
    with store.ddl_lock():
        store.prepare()
        view = InfrastructureFactory.construct(env).tracking_recorder(view_class)
    assert isinstance(view, LedgerView)
    return view
