"""The audit log's tables, the same SQL in every SQL backend.

``bl_audit_entries`` (one row per sealed fact: index, notification id, leaf
hash, links, and what the fact is about, for trails and exports),
``bl_audit_nodes`` (every ``STRIDE``-th level of the tree above the leaves),
``bl_audit_heads`` (each chain's last index), ``bl_audit_checkpoints`` and
``bl_audit_cosignatures``. As for the read models, the statements are written
once here as templates — ``{entries}`` a table, ``{name}`` a parameter,
``{keys}`` the backend's "column is one of a list" — and each backend renders
them with its own quoting (:mod:`.sqlite`, :mod:`.postgres`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

from ledger.services.ports import AuditEntry, AuditStore, Cosignature, SealedCheckpoint

#: Table -> column definitions; ``{blob}`` is the backend's binary type.
TABLES: dict[str, str] = {
    "entries": (
        "tree_index BIGINT PRIMARY KEY, notification_id BIGINT NOT NULL, "
        "leaf_hash {blob} NOT NULL, links TEXT NOT NULL, stream TEXT NOT NULL, "
        "version BIGINT NOT NULL, topic TEXT NOT NULL, din TEXT, product_code TEXT, "
        "facility TEXT, actor TEXT, occurred_at BIGINT"
    ),
    "nodes": (
        "level INTEGER NOT NULL, node_index BIGINT NOT NULL, hash {blob} NOT NULL, "
        "PRIMARY KEY (level, node_index)"
    ),
    "heads": "chain TEXT PRIMARY KEY, last_index BIGINT NOT NULL",
    "checkpoints": (
        "tree_size BIGINT PRIMARY KEY, root {blob} NOT NULL, note {blob} NOT NULL, "
        "sealed_at BIGINT NOT NULL"
    ),
    "cosignatures": (
        "tree_size BIGINT NOT NULL, witness TEXT NOT NULL, key_id BIGINT NOT NULL, "
        "signed_at BIGINT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (tree_size, witness, key_id)"
    ),
}
#: (table, index name suffix, columns): what trails and exports look facts up by.
INDEXES: tuple[tuple[str, str, str], ...] = (
    ("entries", "din", "din"),
    ("entries", "facility", "facility, occurred_at"),
    ("entries", "actor", "actor, occurred_at"),
)
PREFIX = "bl_audit_"
ENTRY_COLUMNS = (
    "tree_index, notification_id, leaf_hash, links, stream, version, topic, din, "
    "product_code, facility, actor, occurred_at"
)

_LAST = "SELECT tree_index, notification_id FROM {entries} ORDER BY tree_index DESC LIMIT 1"
_HEADS = "SELECT chain, last_index FROM {heads} WHERE {keys}"
_LEAVES = "SELECT tree_index AS node_index, leaf_hash AS hash FROM {entries} WHERE {keys}"
_NODES = "SELECT node_index, hash FROM {nodes} WHERE level = {level} AND {keys}"
_INSERT_NODE = (
    "INSERT INTO {nodes} (level, node_index, hash) VALUES ({level}, {node_index}, {hash})"
)
_UPSERT_HEAD = (
    "INSERT INTO {heads} (chain, last_index) VALUES ({chain}, {last_index}) "
    "ON CONFLICT (chain) DO UPDATE SET last_index = excluded.last_index"
)
_INSERT_CHECKPOINT = (
    "INSERT INTO {checkpoints} (tree_size, root, note, sealed_at) "
    "VALUES ({tree_size}, {root}, {note}, {sealed_at})"
)
_CHECKPOINTS = "SELECT tree_size, root, note, sealed_at FROM {checkpoints} ORDER BY tree_size"
_ENTRIES = f"SELECT {ENTRY_COLUMNS} FROM {{entries}} WHERE {{keys}} ORDER BY tree_index"
_BETWEEN = (
    f"SELECT {ENTRY_COLUMNS} FROM {{entries}} WHERE tree_index >= {{start}} "
    "AND tree_index < {stop} ORDER BY tree_index"
)
_HASHES = (
    "SELECT notification_id, leaf_hash FROM {entries} WHERE tree_index >= {start} "
    "AND tree_index < {stop} ORDER BY tree_index"
)
_WHERE = f"SELECT {ENTRY_COLUMNS} FROM {{entries}} WHERE {{conditions}} ORDER BY tree_index"
_INSERT_COSIGNATURE = (
    "INSERT INTO {cosignatures} (tree_size, witness, key_id, signed_at, line) "
    "VALUES ({tree_size}, {witness}, {key_id}, {signed_at}, {line}) "
    "ON CONFLICT (tree_size, witness, key_id) DO NOTHING"
)
_COSIGNATURES = (
    "SELECT tree_size, witness, key_id, signed_at, line FROM {cosignatures} "
    "ORDER BY tree_size, witness"
)


def table_name(table: str) -> str:
    return PREFIX + table


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        index=int(row[0]),
        notification_id=int(row[1]),
        leaf_hash=bytes(row[2]),
        links=row[3],
        stream=UUID(row[4]),
        version=int(row[5]),
        topic=row[6],
        din=row[7],
        product_code=row[8],
        facility=row[9],
        actor=row[10],
        occurred_at=None if row[11] is None else int(row[11]),
    )


def entry_row(entry: AuditEntry) -> tuple[Any, ...]:
    return (
        entry.index,
        entry.notification_id,
        entry.leaf_hash,
        entry.links,
        str(entry.stream),
        entry.version,
        entry.topic,
        entry.din,
        entry.product_code,
        entry.facility,
        entry.actor,
        entry.occurred_at,
    )


class AuditTables(AuditStore):
    """The portable half of every SQL backend's audit tables."""

    @abstractmethod
    def _transaction(self, commit: bool) -> AbstractContextManager[Any]:
        """A cursor in a transaction (committed on leaving if ``commit``)."""

    @abstractmethod
    def _render(self, template: str, params: Mapping[str, Any], keys: str = "") -> Any:
        """The statement of a template, with this backend's names and placeholders."""

    @abstractmethod
    def _keys_value(self, values: Sequence[Any]) -> Any:
        """How a list is passed for ``{keys}`` (JSON text in SQLite, an array in PostgreSQL)."""

    @abstractmethod
    def _insert_entries(self, cursor: Any, entries: Sequence[AuditEntry]) -> None: ...

    def _rows(self, template: str, params: Mapping[str, Any], keys: str = "") -> list[Any]:
        values = dict(params)
        if keys:
            values["keys"] = self._keys_value(params["keys"])
        with self._transaction(commit=False) as cursor:
            cursor.execute(self._render(template, params, keys), values)
            return list(cursor.fetchall())

    def size_and_position(self) -> tuple[int, int]:
        rows = self._rows(_LAST, {})
        return (0, 0) if not rows else (int(rows[0][0]) + 1, int(rows[0][1]))

    def heads(self, chains: Sequence[str]) -> dict[str, int]:
        if not chains:
            return {}
        return {r[0]: int(r[1]) for r in self._rows(_HEADS, {"keys": list(chains)}, "chain")}

    def nodes(self, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        by_level: dict[int, list[int]] = {}
        for level, index in wanted:
            by_level.setdefault(level, []).append(index)
        found: dict[tuple[int, int], bytes] = {}
        for level, indexes in by_level.items():
            if level == 0:
                rows = self._rows(_LEAVES, {"keys": indexes}, "tree_index")
            else:
                rows = self._rows(_NODES, {"level": level, "keys": indexes}, "node_index")
            found.update({(level, int(r[0])): bytes(r[1]) for r in rows})
        return found

    def append(
        self,
        entries: Sequence[AuditEntry],
        nodes: Sequence[tuple[int, int, bytes]],
        heads: Mapping[str, int],
        checkpoint: SealedCheckpoint,
    ) -> None:
        with self._transaction(commit=True) as cursor:
            self._insert_entries(cursor, entries)
            if nodes:
                cursor.executemany(
                    self._render(_INSERT_NODE, {"level": 0, "node_index": 0, "hash": b""}),
                    [{"level": lv, "node_index": i, "hash": h} for lv, i, h in nodes],
                )
            if heads:
                cursor.executemany(
                    self._render(_UPSERT_HEAD, {"chain": "", "last_index": 0}),
                    [{"chain": k, "last_index": v} for k, v in heads.items()],
                )
            params = {
                "tree_size": checkpoint.size,
                "root": checkpoint.root,
                "note": checkpoint.note,
                "sealed_at": checkpoint.sealed_at,
            }
            cursor.execute(self._render(_INSERT_CHECKPOINT, params), params)

    def checkpoints(self) -> list[SealedCheckpoint]:
        return [
            SealedCheckpoint(int(r[0]), bytes(r[1]), bytes(r[2]), int(r[3]))
            for r in self._rows(_CHECKPOINTS, {})
        ]

    def entries(self, indexes: Sequence[int]) -> list[AuditEntry]:
        if not indexes:
            return []
        return [_entry(r) for r in self._rows(_ENTRIES, {"keys": list(indexes)}, "tree_index")]

    def entries_between(self, start: int, stop: int) -> list[AuditEntry]:
        return [_entry(r) for r in self._rows(_BETWEEN, {"start": start, "stop": stop})]

    def leaf_hashes(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        rows = self._rows(_HASHES, {"start": start, "stop": stop})
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def entries_where(
        self,
        *,
        din: str | None = None,
        facility: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[AuditEntry]:
        given = {"din": din, "facility": facility, "actor": actor}
        params: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if not params:
            raise ValueError("name a DIN, a facility or an actor")
        conditions = [f"{column} = {{{column}}}" for column in params]
        if since is not None:
            conditions.append("occurred_at >= {since}")
            params["since"] = since
        if until is not None:
            conditions.append("occurred_at <= {until}")
            params["until"] = until
        template = _WHERE.replace("{conditions}", " AND ".join(conditions))
        return [_entry(r) for r in self._rows(template, params)]

    def add_cosignatures(self, cosignatures: Sequence[Cosignature]) -> int:
        before = len(self.cosignatures())
        with self._transaction(commit=True) as cursor:
            for c in cosignatures:
                params = {
                    "tree_size": c.size,
                    "witness": c.witness,
                    "key_id": c.key_id,
                    "signed_at": c.signed_at,
                    "line": c.line,
                }
                cursor.execute(self._render(_INSERT_COSIGNATURE, params), params)
        return len(self.cosignatures()) - before

    def cosignatures(self) -> list[Cosignature]:
        return [
            Cosignature(int(r[0]), r[1], int(r[2]), int(r[3]), r[4])
            for r in self._rows(_COSIGNATURES, {})
        ]


def ddl(blob: str) -> list[tuple[str, str, str]]:
    """(statement template, table, index name) of every table and index to create:
    ``{table}`` and ``{index}`` are for the backend to quote; ``blob`` is its binary type."""
    statements = [
        (f"CREATE TABLE IF NOT EXISTS {{table}} ({columns.format(blob=blob)})", table, "")
        for table, columns in TABLES.items()
    ]
    statements += [
        (
            f"CREATE INDEX IF NOT EXISTS {{index}} ON {{table}} ({columns})",
            table,
            f"{PREFIX}{table}_{suffix}",
        )
        for table, suffix, columns in INDEXES
    ]
    return statements
