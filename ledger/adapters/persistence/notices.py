"""The notice outbox's table, the same SQL in every SQL backend.

``bl_notices``: one row per recall notice the ledger must send — its position
(the order notices were recorded in), the notice's fields (``issued_at`` in
epoch milliseconds, ``patient_id`` as the facts hold it: sealed on a
protected ledger) and ``sent_at``, set by the relay once the broker has
acknowledged it. ``notice_id`` is unique, and the recorder inserts with ``ON
CONFLICT (notice_id) DO NOTHING``, in the transaction of the quarantines that
call for the notices: recording the same notice again is a no-op. As for the
audit and access tables, statements are templates — ``{notices}`` the table,
``{name}`` a parameter — that each backend renders with its own quoting
(:mod:`.sqlite`, :mod:`.postgres`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ledger.adapters.persistence.base import SQLStatements
from ledger.domain.instants import from_ms, ms
from ledger.domain.notice import RecallNotice, notice_fields
from ledger.domain.vocabulary import NoticeAction
from ledger.services.ports import NoticeOutbox, OutboxEntry

TABLE = "bl_notices"
#: The outbox's columns after its position; ``{serial}`` is the backend's auto-numbered key.
COLUMNS = (
    "position {serial}, notice_id TEXT NOT NULL UNIQUE, case_id TEXT NOT NULL, "
    "din TEXT NOT NULL, product_code TEXT NOT NULL, facility TEXT NOT NULL, "
    "action TEXT NOT NULL, reason TEXT NOT NULL, patient_id TEXT, issued_at BIGINT NOT NULL, "
    "sent_at BIGINT"
)
#: (index name, columns): the relay's "pending, in order", a case's and a facility's notices.
INDEXES: tuple[tuple[str, str], ...] = (
    ("bl_notices_pending_idx", "sent_at, position"),
    ("bl_notices_case_idx", "case_id"),
    ("bl_notices_facility_idx", "facility"),
)
FIELDS = (
    "notice_id", "case_id", "din", "product_code", "facility", "action", "reason",
    "patient_id", "issued_at",
)  # fmt: skip

INSERT = (
    f"INSERT INTO {{notices}} ({', '.join(FIELDS)}) "
    f"VALUES ({', '.join('{' + f + '}' for f in FIELDS)}) ON CONFLICT (notice_id) DO NOTHING"
)
_SELECT = f"SELECT position, {', '.join(FIELDS)}, sent_at FROM {{notices}}"
_PENDING = f"{_SELECT} WHERE sent_at IS NULL ORDER BY position LIMIT {{limit}}"
_MARK_SENT = "UPDATE {notices} SET sent_at = {at} WHERE position = {position} AND sent_at IS NULL"
_OF_CASE = f"{_SELECT} WHERE case_id = {{case_id}} ORDER BY position"
_ALL = f"{_SELECT} ORDER BY position"
_OF_FACILITY = f"{_SELECT} WHERE facility = {{facility}} ORDER BY position"


def ddl(serial: str) -> list[tuple[str, str]]:
    """(statement template, index name) of the table and each index: ``{notices}`` and
    ``{index}`` are for the backend to quote; ``serial`` is its auto-numbered key type."""
    return [
        (f"CREATE TABLE IF NOT EXISTS {{notices}} ({COLUMNS.format(serial=serial)})", ""),
        *((f"CREATE INDEX IF NOT EXISTS {{index}} ON {{notices}} ({cols})", name)
          for name, cols in INDEXES),
    ]  # fmt: skip


def notice_row(notice: RecallNotice) -> dict[str, Any]:
    """A notice as the insert's parameters (``issued_at`` in epoch milliseconds)."""
    return {**notice_fields(notice), "issued_at": ms(notice.issued_at)}


def outbox_entry(row: Sequence[Any]) -> OutboxEntry:
    """A selected row (position, the fields, sent_at) as an outbox entry."""
    notice = RecallNotice(
        notice_id=row[1],
        case_id=row[2],
        din=row[3],
        product_code=row[4],
        facility=row[5],
        action=NoticeAction(row[6]),
        reason=row[7],
        patient_id=row[8],
        issued_at=from_ms(int(row[9])),
    )
    return OutboxEntry(int(row[0]), notice, None if row[10] is None else from_ms(int(row[10])))


class SQLNoticeOutbox(NoticeOutbox, SQLStatements):
    """The portable half of every SQL backend's outbox (reads, and marking sent: the
    rows themselves are inserted by the backend's recorder, with the events)."""

    def _entries(self, template: str, params: Mapping[str, Any]) -> list[OutboxEntry]:
        return [outbox_entry(row) for row in self._run(template, params, commit=False)]

    def pending(self, limit: int) -> list[OutboxEntry]:
        return self._entries(_PENDING, {"limit": limit})

    def mark_sent(self, positions: Sequence[int], at: datetime) -> None:
        if not positions:
            return
        statement = self._render(_MARK_SENT, {"at": 0, "position": 0})
        with self._transaction(commit=True) as cursor:
            cursor.executemany(statement, [{"at": ms(at), "position": p} for p in positions])

    def of_case(self, case_id: str) -> list[OutboxEntry]:
        return self._entries(_OF_CASE, {"case_id": case_id})

    def entries(self, *, facility: str | None = None) -> list[OutboxEntry]:
        if facility is None:
            return self._entries(_ALL, {})
        return self._entries(_OF_FACILITY, {"facility": facility})
