"""What every backend of the ledger's store shares: the seams, the portable SQL.

A backend module (:mod:`.sqlite`, :mod:`.postgres`, :mod:`.memory`) defines,
on top of the ``eventsourcing`` library's recorders for that database:

- a :class:`Store` — where the store is (parsed from its URL), the library
  environment that reaches it, and how its tables are prepared;
- a :class:`~ledger.services.ports.LedgerRecorder` — the library's process
  recorder, extended so one transaction takes a whole Kafka poll: several
  ``Tracking`` records (one per partition, each under the library's own
  uniqueness rule) and a :class:`~ledger.services.ports.Checkpoint` per
  partition; plus a read of several streams at once, optionally as they stood
  at a notification;
- a :class:`ReadModelTables` (SQL backends only) — the read models' tables,
  written with the projector's tracking record in one transaction.

The read models' queries are the same SQL in every SQL backend; they are
written once here as templates whose table names and parameters each backend
renders with its own quoting (``psycopg.sql`` for PostgreSQL), so no
identifier is ever pasted into SQL unquoted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Tracking, TrackingRecorder

from ledger.domain.notice import RecallNotice
from ledger.services.ports import (
    AccessTables,
    AuditStore,
    Checkpoint,
    FactId,
    LedgerRecorder,
    NoticeOutbox,
    first_line,
)
from projections.rows import Changes, Row, UnitRows

__all__ = [
    "Checkpoint",
    "FactId",
    "LedgerRecorder",
    "ReadModelTables",
    "Store",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
]


def trackings_of(kwargs: Mapping[str, Any]) -> list[Tracking]:
    """The positions an ``insert_events`` call records.

    The library's own keyword ``tracking=`` (one position) and the ledger's
    ``trackings=`` (one per partition of a poll) are both honoured, so every
    caller of the library's API keeps its promise.
    """
    trackings = list(kwargs.get("trackings", ()))
    single: Tracking | None = kwargs.get("tracking")
    if single is not None:
        trackings.insert(0, single)
    return trackings


def checkpoints_of(kwargs: Mapping[str, Any]) -> list[Checkpoint]:
    return list(kwargs.get("checkpoints", ()))


def fact_ids_of(kwargs: Mapping[str, Any]) -> list[FactId]:
    return list(kwargs.get("fact_ids", ()))


def notices_of(kwargs: Mapping[str, Any]) -> list[RecallNotice]:
    """The recall notices an ``insert_events`` call records in the outbox."""
    return list(kwargs.get("notices", ()))


class SQLStatements(ABC):
    """What an SQL backend supplies to run a set of tables' portable statements (the
    tokens and access log's, the notice outbox's): its transactions, its rendering of a
    template (``{table}`` names, ``{name}`` parameters), its rows."""

    @abstractmethod
    def _transaction(self, commit: bool) -> AbstractContextManager[Any]:
        """A cursor in a transaction (committed on leaving if ``commit``)."""

    @abstractmethod
    def _render(self, template: str, params: Mapping[str, Any]) -> Any:
        """The statement of a template, with this backend's names and placeholders."""

    @abstractmethod
    def _tuples(self, rows: Sequence[Any]) -> list[Sequence[Any]]:
        """Fetched rows as sequences of column values."""

    def _run(self, template: str, params: Mapping[str, Any], *, commit: bool) -> list[Any]:
        """The rows a statement returns (one that returns some)."""
        with self._transaction(commit=commit) as cursor:
            cursor.execute(self._render(template, params), dict(params))
            return self._tuples(cursor.fetchall())


class StoreError(Exception):
    """The store named cannot be used; the message names it (without a password)."""


class StoreMissing(StoreError):
    """A command that only reads was pointed at a store that does not exist."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened (folder, server, credentials, database)."""


class Store(ABC):
    """One store of the ledger, as its URL names it."""

    #: The URL schemes that name this backend.
    SCHEMES: tuple[str, ...] = ()
    #: Whether another process can open the same store by its URL (not memory://).
    SHARED: bool = True

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def library_env(self) -> dict[str, str]:
        """The complete ``eventsourcing`` environment of this store.

        Complete on purpose: the application does not read the process
        environment, so an operator's stray variable (``PERSISTENCE_MODULE``,
        ``CIPHER_TOPIC``, ``POSTGRES_ENABLE_DB_FUNCTIONS``...) cannot change
        where or how facts are recorded.
        """

    def prepare(self) -> None:  # noqa: B027 (most backends have nothing to prepare)
        """Create what the library does not (e.g. a PostgreSQL schema)."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether a ledger is stored here (raises :class:`StoreUnavailable` if it
        cannot tell: the server cannot be reached, the credentials are refused...)."""

    @abstractmethod
    def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` unless a ledger can be opened (or created)
        here: the folder exists, the server answers, the database exists."""

    def unavailable(self, error: BaseException) -> StoreUnavailable:
        """A one-line error naming the store (without its password) and the cause."""
        reason = first_line(error)
        for secret in self.secrets():
            reason = reason.replace(secret, "***")
        return StoreUnavailable(f"{self.redacted()}: {reason}")

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a message (a password)."""
        return ()

    @contextmanager
    def ddl_lock(self) -> Iterator[None]:
        """Serialise table creation across processes starting at once (if needed)."""
        yield

    def redacted(self) -> str:
        """The URL without its password, for logs and errors."""
        return self.url

    @property
    def has_read_models(self) -> bool:
        return True

    def audit_tables(self) -> AuditStore:
        """The audit log's tables of this store (created if missing)."""
        msg = f"{self.redacted()}: the audit log needs a database: use sqlite:/// or postgresql://"
        raise StoreError(msg)

    def access_tables(self) -> AccessTables:
        """The tokens and the access log of this store (created if missing)."""
        msg = f"{self.redacted()}: tokens need a store: use sqlite:///, postgresql:// or memory://"
        raise StoreError(msg)

    def notice_outbox(self) -> NoticeOutbox:
        """The notice outbox of this store, on connections of its own (created if
        missing). A ledger open on the store has its recorder's
        (:meth:`~ledger.services.ports.LedgerRecorder.notice_outbox`)."""
        msg = (
            f"{self.redacted()}: the notice outbox needs a database: "
            "use sqlite:/// or postgresql://"
        )
        raise StoreError(msg)


# -- the read models ---------------------------------------------------------------

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
        "units DOUBLE PRECISION, expires_at BIGINT, valid_from BIGINT NOT NULL, valid_to BIGINT, "
        "autologous INTEGER NOT NULL"
    ),
    "uses": (
        "unit_id TEXT NOT NULL, facility TEXT NOT NULL, component TEXT, abo TEXT, rhd TEXT, "
        "used_at BIGINT NOT NULL, kind TEXT NOT NULL, autologous INTEGER NOT NULL"
    ),
    "transfusions": (
        "event_id TEXT NOT NULL, unit_id TEXT NOT NULL, din TEXT NOT NULL, "
        "product_code TEXT NOT NULL, patient_id TEXT NOT NULL, facility TEXT NOT NULL, "
        "transfused_at BIGINT NOT NULL"
    ),
    "findings": (
        "unit_id TEXT NOT NULL, din TEXT NOT NULL, product_code TEXT NOT NULL, flag TEXT NOT NULL, "
        "event_id TEXT NOT NULL, occurred_at BIGINT NOT NULL, detail TEXT NOT NULL, "
        "detail_code TEXT NOT NULL, detail_fields TEXT NOT NULL"
    ),
    "donations": (
        "din TEXT PRIMARY KEY, donor_id TEXT, donation_type TEXT, collected_at BIGINT, "
        "facility TEXT, reactive_at BIGINT, reactive_tests TEXT NOT NULL"
    ),
    "reactive_results": (
        "din TEXT NOT NULL, event_id TEXT NOT NULL, test TEXT NOT NULL, occurred_at BIGINT NOT NULL"
    ),
    "cases": (
        "case_id TEXT PRIMARY KEY, donor_id TEXT NOT NULL, reason TEXT NOT NULL, "
        "since BIGINT NOT NULL, until BIGINT NOT NULL, trigger_din TEXT, actor TEXT NOT NULL, "
        "opened_at BIGINT NOT NULL"
    ),
    # not "notices": bl_notices is the outbox (.notices), the notices as recorded to send
    "unit_notices": (
        "unit_id TEXT NOT NULL, notice_id TEXT NOT NULL, case_id TEXT NOT NULL, "
        "din TEXT NOT NULL, product_code TEXT NOT NULL, facility TEXT NOT NULL, "
        "action TEXT NOT NULL, issued_at BIGINT NOT NULL, acknowledged_at BIGINT, "
        "action_taken TEXT, acknowledged_by TEXT, acknowledgement_id TEXT"
    ),
    "unmatched_acknowledgements": (
        "unit_id TEXT NOT NULL, din TEXT NOT NULL, product_code TEXT NOT NULL, "
        "notice_id TEXT NOT NULL, action_taken TEXT NOT NULL, facility TEXT NOT NULL, "
        "event_id TEXT NOT NULL, occurred_at BIGINT NOT NULL, why TEXT NOT NULL, "
        "why_code TEXT NOT NULL, why_fields TEXT NOT NULL"
    ),
    "reactions": (
        "event_id TEXT NOT NULL, unit_id TEXT NOT NULL, din TEXT NOT NULL, "
        "product_code TEXT NOT NULL, patient_id TEXT NOT NULL, facility TEXT NOT NULL, "
        "component TEXT, category TEXT NOT NULL, severity TEXT NOT NULL, "
        "imputability TEXT NOT NULL, onset_at BIGINT NOT NULL, reported_at BIGINT NOT NULL"
    ),
    "evaluations": (
        "event_id TEXT NOT NULL, unit_id TEXT NOT NULL, din TEXT NOT NULL, "
        "product_code TEXT NOT NULL, patient_id TEXT NOT NULL, facility TEXT NOT NULL, "
        "effective INTEGER NOT NULL, evaluated_at BIGINT NOT NULL"
    ),
}

#: Indexes: (table, column). Every query of a read path uses one of these.
INDEXES: tuple[tuple[str, str], ...] = (
    ("units", "din"),
    ("units", "production_facility"),  # the centres, one probe each; is_centre
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
    ("reactive_results", "din"),
    ("cases", "donor_id"),
    ("cases", "trigger_din"),
    ("unit_notices", "unit_id"),
    ("unit_notices", "case_id"),
    ("unit_notices", "issued_at"),
    ("unmatched_acknowledgements", "unit_id"),
    ("unmatched_acknowledgements", "occurred_at"),
    ("transfusions", "transfused_at"),
    ("reactions", "unit_id"),
    ("reactions", "reported_at"),
    ("evaluations", "unit_id"),
)

#: Covering indexes: (name, table, columns). The dashboard's aggregates read thousands
#: of rows — every unit on a shelf, every use in a fortnight — and a unit's rows lie
#: apart in their table (they are replaced whenever the unit changes): read from the
#: index alone (PostgreSQL's index-only scan, SQLite's covering index), such a query
#: touches a few index pages in order instead of a table page a row. Each holds every
#: column its query reads (a column added there and not here still answers, slower).
COVERING_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # _STOCK: the spells open at a moment, as two ranges (open now, or ended after it).
    ("shelf", "available", ("valid_to", "valid_from", "expires_at", "facility", "component",
                            "abo", "rhd", "autologous", "units")),
    # _USES: the units used in a window.
    ("demand", "uses", ("used_at", "facility", "component", "abo", "rhd", "autologous")),
)  # fmt: skip

#: The read models' version: a store whose tables are of an older version is rebuilt,
#: the tables made anew (an older version's may lack columns). 5: the codes of the
#: findings' details and of the unmatched acknowledgements' whys, with their fields.
#: 6: shelf intervals and uses mark autologous units (the inventory counts them apart).
VERSION = 6

#: Tables holding rows of one unit each, keyed by ``unit_id``.
UNIT_TABLES = (
    "units", "available", "uses", "transfusions", "findings", "unit_notices",
    "unmatched_acknowledgements", "reactions", "evaluations",
)  # fmt: skip
#: The prefix of every read-model table's name.
PREFIX = "bl_"

# Read queries: ``{table}`` names a read-model table, ``{name}`` a parameter, and
# ``{keys}`` (where present) the backend's "column is one of a list" test.
# Stock is issuable units: an autologous unit is reserved for its donor-patient, counted
# apart, and neither its shelf spell nor its use enters days of supply. The spells on a
# shelf at {t} are read as two ranges of one index — open ones begun by then, and ended
# ones ended after it — not as every spell begun by then, most of them long over — from
# the "shelf" covering index.
_STOCK = (
    "SELECT facility, component, abo, rhd, SUM(1 - autologous) AS available, "
    "SUM(CASE WHEN autologous = 0 THEN units END) AS units, "
    "SUM(CASE WHEN autologous = 0 AND expires_at <= {in24} THEN 1 ELSE 0 END) AS expiring_24h, "
    "SUM(CASE WHEN autologous = 0 AND expires_at <= {in72} THEN 1 ELSE 0 END) AS expiring_72h, "
    "SUM(autologous) AS reserved_autologous "
    "FROM ("
    "SELECT * FROM {available} WHERE valid_to IS NULL AND valid_from <= {t} {only} UNION ALL "
    "SELECT * FROM {available} WHERE valid_to > {t} AND valid_from <= {t} {only}"
    ") AS shelf WHERE expires_at IS NULL OR expires_at > {t} "
    "GROUP BY facility, component, abo, rhd"
)
_USES = (
    "SELECT facility, component, abo, rhd, COUNT(*) AS used FROM {uses} "
    "WHERE used_at > {window_start} AND used_at <= {t} AND autologous = 0 {only} "
    "GROUP BY facility, component, abo, rhd"
)
_ONE_FACILITY = "AND facility = {facility}"
# The distinct producers, one index probe each (a loose index scan: SELECT DISTINCT
# would read every unit's row).
_CENTRES = (
    "WITH RECURSIVE centre(fin) AS ("
    "SELECT MIN(production_facility) FROM {units} UNION ALL "
    "SELECT (SELECT MIN(production_facility) FROM {units} WHERE production_facility > fin) "
    "FROM centre WHERE fin IS NOT NULL) "
    "SELECT fin AS production_facility FROM centre WHERE fin IS NOT NULL"
)
_DONATIONS_BY_DIN = "SELECT * FROM {donations} WHERE {keys} ORDER BY collected_at, din"
_UNITS_BY_DIN = "SELECT * FROM {units} WHERE {keys} ORDER BY din, product_code"
_TRANSFUSIONS_BY_DIN = "SELECT * FROM {transfusions} WHERE {keys} ORDER BY transfused_at, din"
_TRANSFUSIONS_BY_UNIT = "SELECT * FROM {transfusions} WHERE {keys} ORDER BY transfused_at"
_DONATIONS_OF_DONOR = "SELECT * FROM {donations} WHERE donor_id = {donor} ORDER BY collected_at"
_DONATIONS_OF_DONORS = "SELECT * FROM {donations} WHERE {keys} ORDER BY collected_at, din"
_DONATIONS_OF_DONOR_BETWEEN = (
    "SELECT * FROM {donations} WHERE donor_id = {donor} "
    "AND collected_at >= {since} AND collected_at <= {until} ORDER BY collected_at"
)
_TRANSFUSIONS_OF_PATIENT = (
    "SELECT * FROM {transfusions} WHERE patient_id = {patient} ORDER BY transfused_at"
)
# Newest first, and in one order every time (so that the newest N are those a whole
# list starts with).
_FINDINGS_BETWEEN = (
    "SELECT * FROM {findings} WHERE occurred_at >= {since} AND occurred_at <= {at} "
    "ORDER BY occurred_at DESC, event_id, unit_id, flag"
)
_COUNT_FINDINGS_BETWEEN = (
    "SELECT COUNT(*) AS found FROM {findings} WHERE occurred_at >= {since} AND occurred_at <= {at}"
)
_REACTIVE_DONATIONS = (
    "SELECT * FROM {donations} WHERE reactive_at IS NOT NULL AND donor_id IS NOT NULL "
    "{of_donors} ORDER BY din"
)
_DONORS_OF = "SELECT DISTINCT donor_id FROM {donations} WHERE {keys} AND donor_id IS NOT NULL"
_CASES = "SELECT * FROM {cases} {where_donors} ORDER BY case_id"
_REACTIVE_RESULTS = (
    "SELECT * FROM {reactive_results} WHERE {keys} ORDER BY din, occurred_at, event_id"
)
_CASE = "SELECT * FROM {cases} WHERE case_id = {case}"
_CASE_IDS = "SELECT case_id FROM {cases} ORDER BY case_id"
_NOTICES_OF_CASE = (
    "SELECT * FROM {unit_notices} WHERE case_id = {case} ORDER BY din, product_code, issued_at"
)
_OPEN_NOTICES = (
    "SELECT * FROM {unit_notices} WHERE issued_at <= {at} "
    "AND (acknowledged_at IS NULL OR acknowledged_at > {at}) ORDER BY issued_at, din, product_code"
)
_UNMATCHED_OF_UNITS = (
    "SELECT * FROM {unmatched_acknowledgements} WHERE {keys} "
    "ORDER BY din, product_code, occurred_at"
)
# The reports' queries: one facility, a window of epoch milliseconds.
_TRANSFUSIONS_AT = (
    "SELECT t.unit_id, t.patient_id, t.facility, t.transfused_at, u.component, u.units, "
    "d.donation_type FROM {transfusions} t LEFT JOIN {units} u ON u.unit_id = t.unit_id "
    "LEFT JOIN {donations} d ON d.din = t.din WHERE t.facility = {facility} "
    "AND t.transfused_at >= {since} AND t.transfused_at < {until} "
    "ORDER BY t.transfused_at, t.unit_id"
)
_REACTIONS_AT = (
    "SELECT * FROM {reactions} WHERE facility = {facility} "
    "AND reported_at >= {since} AND reported_at < {until} ORDER BY reported_at, event_id"
)
_EVALUATIONS_OF_UNITS = "SELECT * FROM {evaluations} WHERE {keys} ORDER BY evaluated_at, event_id"
_SHELF_AT = (
    "SELECT component, abo, rhd, valid_from, valid_to, expires_at FROM {available} "
    "WHERE facility = {facility} AND autologous = 0 AND valid_from <= {until} "
    "AND (valid_to IS NULL OR valid_to > {since}) AND (expires_at IS NULL OR expires_at > {since})"
)
_USES_AT = (
    "SELECT component, abo, rhd, used_at FROM {uses} WHERE facility = {facility} "
    "AND autologous = 0 AND used_at > {since} AND used_at <= {until}"
)
_IS_CENTRE = "SELECT 1 AS found FROM {units} WHERE production_facility = {facility} LIMIT 1"
_UNMATCHED_BETWEEN = (
    "SELECT * FROM {unmatched_acknowledgements} WHERE occurred_at >= {since} "
    "AND occurred_at <= {at} ORDER BY occurred_at DESC"
)


class ReadModelTables(TrackingRecorder, ABC):
    """The read models of one SQL store: pages of changes in, answers out.

    A tracking recorder of the library with tables of its own: the rows a
    page of notifications changes and the tracking record of that page's last
    notification are written in one transaction, so a crash never applies a
    notification twice or skips one.
    """

    # -- what each backend supplies --

    @abstractmethod
    def _select(self, template: str, params: Mapping[str, Any], keys: str = "") -> list[Row]:
        """Rows of a read query template; ``keys`` names the column that
        ``params["keys"]`` (a list) constrains."""

    @abstractmethod
    def _ddl(self) -> list[Any]:
        """Statements creating the read-model tables and indexes."""

    @abstractmethod
    def _transaction(self) -> Any:
        """A write transaction's context manager, yielding a cursor."""

    @abstractmethod
    def _delete(self, cursor: Any, table: str, key: str, values: Sequence[str]) -> None:
        """Delete the rows of ``table`` whose ``key`` is one of ``values``."""

    @abstractmethod
    def _insert(self, cursor: Any, table: str, rows: Sequence[Row]) -> None:
        """Insert rows (all with the same columns) into ``table``."""

    @abstractmethod
    def _empty(self, cursor: Any, upstream: str) -> None:
        """Delete every read-model row, and the tracking records of ``upstream``."""

    @abstractmethod
    def _drop(self, cursor: Any) -> None:
        """Drop every read-model table (with its indexes)."""

    # What the library's tracking recorder of each backend has (declared for the checker).
    datastore: Any
    if TYPE_CHECKING:

        def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None: ...

    def close(self) -> None:
        """Close the tables' connections."""
        self.datastore.close()

    # -- writing --

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        """Replace the changed aggregates' rows and record the position, atomically."""
        with self._transaction() as cursor:
            self._insert_tracking(cursor, tracking)  # the library's rule, in our transaction
            self._replace_units(cursor, changes.units)
            self._upsert(cursor, "donations", "din", changes.donations)
            self._delete(cursor, "reactive_results", "din", [r["din"] for r in changes.donations])
            self._insert(cursor, "reactive_results", changes.reactive_results)
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
        self._insert(cursor, "unit_notices", [r for rows in units for r in rows.notices])
        unmatched = [r for rows in units for r in rows.unmatched_acknowledgements]
        self._insert(cursor, "unmatched_acknowledgements", unmatched)
        self._insert(cursor, "reactions", [r for rows in units for r in rows.reactions])
        self._insert(cursor, "evaluations", [r for rows in units for r in rows.evaluations])

    def _upsert(self, cursor: Any, table: str, key: str, rows: Sequence[Row]) -> None:
        if rows:
            self._delete(cursor, table, key, [row[key] for row in rows])
            self._insert(cursor, table, rows)

    def reset(self, upstream: str) -> None:
        """Empty every table and forget the position: the start of a rebuild."""
        with self._transaction() as cursor:
            self._empty(cursor, upstream)

    def ensure_version(self, upstream: str) -> bool:
        """If the tables were built by an older version of the read models, make them
        anew, empty, in this version's shape (the projector then builds them again);
        whether it did."""
        marker = f"{PREFIX}version-{VERSION}"
        if self.max_tracking_id(marker) is not None:
            return False
        with self._transaction() as cursor:
            self._drop(cursor)
            for statement in self._ddl():
                cursor.execute(statement)
            self._empty(cursor, upstream)
            self._insert_tracking(cursor, Tracking(marker, 1))
        return True

    # -- reading (one method per question the projections ask) --

    def stock(self, t: int, in24: int, in72: int, facility: str | None) -> list[Row]:
        """Units on a shelf at ``t`` per facility x component x group (epoch ms): the
        issuable ones, and those reserved for their autologous donor-patient apart."""
        only = _ONE_FACILITY if facility else ""
        template = _STOCK.replace("{only}", only)
        return self._select(template, {"t": t, "in24": in24, "in72": in72, "facility": facility})

    def uses(self, window_start: int, t: int, facility: str | None) -> list[Row]:
        """Units used in (window_start, t] per facility x component x group (not
        counting autologous units: their use drew on no shelf)."""
        only = _ONE_FACILITY if facility else ""
        template = _USES.replace("{only}", only)
        return self._select(template, {"window_start": window_start, "t": t, "facility": facility})

    def centres(self) -> set[str]:
        """Facilities that produce components (blood centres)."""
        return {r["production_facility"] for r in self._select(_CENTRES, {})}

    def donations_by_din(self, dins: Sequence[str]) -> list[Row]:
        return self._select(_DONATIONS_BY_DIN, {"keys": list(dins)}, keys="din")

    def units_by_din(self, dins: Sequence[str]) -> list[Row]:
        return self._select(_UNITS_BY_DIN, {"keys": list(dins)}, keys="din")

    def transfusions_by_din(self, dins: Sequence[str]) -> list[Row]:
        return self._select(_TRANSFUSIONS_BY_DIN, {"keys": list(dins)}, keys="din")

    def transfusions_of_units(self, unit_ids: Sequence[str]) -> list[Row]:
        return self._select(_TRANSFUSIONS_BY_UNIT, {"keys": list(unit_ids)}, keys="unit_id")

    def transfusions_of_patient(self, patient_id: str) -> list[Row]:
        return self._select(_TRANSFUSIONS_OF_PATIENT, {"patient": patient_id})

    def donations_of_donor(
        self, donor_id: str, since: int | None = None, until: int | None = None
    ) -> list[Row]:
        """A donor's donations, optionally only those collected in [since, until]."""
        if since is None or until is None:
            return self._select(_DONATIONS_OF_DONOR, {"donor": donor_id})
        params = {"donor": donor_id, "since": since, "until": until}
        return self._select(_DONATIONS_OF_DONOR_BETWEEN, params)

    def donations_of_donors(self, donors: Sequence[str]) -> list[Row]:
        """Every donation of these donors."""
        return self._select(_DONATIONS_OF_DONORS, {"keys": list(donors)}, keys="donor_id")

    def findings_between(self, since: int, at: int, most: int | None = None) -> list[Row]:
        """Safety findings that occurred in [since, at], newest first (the ``most``
        newest, if given)."""
        if most is None:
            return self._select(_FINDINGS_BETWEEN, {"since": since, "at": at})
        template = _FINDINGS_BETWEEN + " LIMIT {most}"
        return self._select(template, {"since": since, "at": at, "most": most})

    def count_findings_between(self, since: int, at: int) -> int:
        """How many safety findings occurred in [since, at]."""
        [row] = self._select(_COUNT_FINDINGS_BETWEEN, {"since": since, "at": at})
        return int(row["found"])

    def donors_of(self, dins: Sequence[str]) -> set[str]:
        """The known donors of these donations."""
        rows = self._select(_DONORS_OF, {"keys": list(dins)}, keys="din")
        return {r["donor_id"] for r in rows}

    def reactive_donations(self, donors: Sequence[str] | None = None) -> list[Row]:
        """Donations with a reactive result and a known donor (of these donors, if given)."""
        if donors is None:
            return self._select(_REACTIVE_DONATIONS.replace("{of_donors}", ""), {})
        template = _REACTIVE_DONATIONS.replace("{of_donors}", "AND {keys}")
        return self._select(template, {"keys": list(donors)}, keys="donor_id")

    def cases(self, donors: Sequence[str] | None = None) -> list[Row]:
        """Every lookback case (of these donors, if given)."""
        if donors is None:
            return self._select(_CASES.replace("{where_donors}", ""), {})
        template = _CASES.replace("{where_donors}", "WHERE {keys}")
        return self._select(template, {"keys": list(donors)}, keys="donor_id")

    def reactive_results(self, dins: Sequence[str]) -> list[Row]:
        """The reactive infectious-marker results of these donations."""
        return self._select(_REACTIVE_RESULTS, {"keys": list(dins)}, keys="din")

    def case(self, case_id: str) -> Row | None:
        rows = self._select(_CASE, {"case": case_id})
        return rows[0] if rows else None

    def case_ids(self) -> list[str]:
        return [r["case_id"] for r in self._select(_CASE_IDS, {})]

    def notices_of_case(self, case_id: str) -> list[Row]:
        """A case's recall notices, each with the answer that closed it (if one has)."""
        return self._select(_NOTICES_OF_CASE, {"case": case_id})

    def open_notices(self, at: int) -> list[Row]:
        """Notices issued by ``at`` and not answered by then, oldest first."""
        return self._select(_OPEN_NOTICES, {"at": at})

    def unmatched_acknowledgements(self, unit_ids: Sequence[str]) -> list[Row]:
        """These units' acknowledgements that close no notice, with why."""
        return self._select(_UNMATCHED_OF_UNITS, {"keys": list(unit_ids)}, keys="unit_id")

    def unmatched_between(self, since: int, at: int) -> list[Row]:
        """Acknowledgements closing no notice that occurred in [since, at], newest first."""
        return self._select(_UNMATCHED_BETWEEN, {"since": since, "at": at})

    # -- the reports' questions (one facility, windows in epoch ms) --

    def transfusions_at(self, facility: str, since: int, until: int) -> list[Row]:
        """Units started at the facility in [since, until), with the unit's component
        and 单位 and its donation's type."""
        params = {"facility": facility, "since": since, "until": until}
        return self._select(_TRANSFUSIONS_AT, params)

    def reactions_at(self, facility: str, since: int, until: int) -> list[Row]:
        """Reactions the facility reported in [since, until)."""
        params = {"facility": facility, "since": since, "until": until}
        return self._select(_REACTIONS_AT, params)

    def evaluations_of_units(self, unit_ids: Sequence[str]) -> list[Row]:
        """Every post-transfusion evaluation of these units."""
        return self._select(_EVALUATIONS_OF_UNITS, {"keys": list(unit_ids)}, keys="unit_id")

    def shelf_at(self, facility: str, since: int, until: int) -> list[Row]:
        """The facility's shelf spells overlapping [since, until] (issuable units: not
        autologous, as :meth:`stock` counts them)."""
        return self._select(_SHELF_AT, {"facility": facility, "since": since, "until": until})

    def uses_at(self, facility: str, since: int, until: int) -> list[Row]:
        """The facility's uses in (since, until], one row each (of units not
        autologous, as :meth:`uses` counts them)."""
        return self._select(_USES_AT, {"facility": facility, "since": since, "until": until})

    def is_centre(self, facility: str) -> bool:
        """The facility produced a component the ledger knows of."""
        return bool(self._select(_IS_CENTRE, {"facility": facility}))

    def table_rows(self, table: str) -> list[Row]:
        """Every row of one read-model table (to compare two builds of the tables)."""
        if table not in TABLES:
            raise KeyError(table)
        return self._select(f"SELECT * FROM {{{table}}}", {})


def table_name(table: str) -> str:
    """The stored name of a read-model table."""
    return PREFIX + table


def index_name(table: str, column: str) -> str:
    return f"{PREFIX}{table}_{column}_idx"


def covering_index_name(name: str, table: str) -> str:
    return f"{PREFIX}{table}_{name}_idx"
