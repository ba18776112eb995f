"""Recall notices on the wire: :class:`RecallNotice` <-> Confluent-framed Avro.

A ``bloodledger.notices`` value is ``0x00``, the 4-byte big-endian schema id,
then the Avro binary ``RecallNotice`` (``schemas/notices/``). Its ids live in
the ``notices`` section of ``schemas/manifest.json`` — a subject of its own
(``bloodledger.notices-value``) — and never collide with an event schema's, so
an event framed with a notice's id is not read as an event
(``UNKNOWN_SCHEMA_ID``: :class:`~ledger.adapters.avro.SchemaManifest` reads only
the events' section), and a notice is never taken for one.

Encoding writes what it is given: the relay reveals the recipient's identifier
first (:mod:`ledger.services.relay`). Errors name the field, never its value.
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import load_schema

from ledger.adapters.avro import (
    MANIFEST_FILE,
    SchemaManifest,
    default_schema_dir,
    frame,
    read_manifest,
    unframe,
)
from ledger.domain.facts import NotAFact
from ledger.domain.notice import RecallNotice, notice_fields
from ledger.domain.vocabulary import NoticeAction

#: The manifest's section naming the notices' schema ids.
SECTION = "notices"


class NotANotice(ValueError):
    """A value that is not a recall notice this ledger's schemas can read (the message
    says why, never what it held)."""


class NoticeSchemas:
    """The notices' schema ids of ``schemas/manifest.json`` and their parsed schemas."""

    def __init__(self, schema_dir: Path | str | None = None) -> None:
        self.schema_dir = Path(schema_dir) if schema_dir is not None else default_schema_dir()
        where = self.schema_dir / MANIFEST_FILE
        document = json.loads(where.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or SECTION not in document:
            msg = f"{where}: no '{SECTION}' section names the recall notice's schema"
            raise ValueError(msg)
        self.subject, files = read_manifest(document[SECTION], where)
        shared = set(files) & set(SchemaManifest(self.schema_dir).schema_ids)
        if shared:
            msg = f"{where}: schema ids {sorted(shared)} are both an event's and a notice's"
            raise ValueError(msg)
        self._parsed = {
            sid: cast(dict[str, Any], load_schema(str(self.schema_dir / name)))
            for sid, name in files.items()
        }
        self.latest_id = max(self._parsed)

    @property
    def schema_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._parsed))

    def parsed(self, schema_id: int) -> dict[str, Any]:
        """The parsed ``RecallNotice`` schema of an id (``KeyError`` if not a notice's)."""
        return self._parsed[schema_id]


class NoticeCodec:
    """Writes notices with the latest notice schema id; reads any notice id (for the
    hospitals' reader, and tests reading what the relay published)."""

    def __init__(self, schemas: NoticeSchemas | None = None) -> None:
        self.schemas = schemas if schemas is not None else NoticeSchemas()
        self.schema_id = self.schemas.latest_id
        self._writer = parse_schema(self.schemas.parsed(self.schema_id))
        self._readers = {
            sid: parse_schema(self.schemas.parsed(sid)) for sid in self.schemas.schema_ids
        }

    def encode(self, notice: RecallNotice) -> bytes:
        body = BytesIO()
        try:
            schemaless_writer(body, self._writer, notice_fields(notice))
        except Exception:  # fastavro's texts quote values
            msg = f"notice {notice.notice_id} does not match the RecallNotice schema"
            raise NotANotice(msg) from None
        return frame(self.schema_id, body.getvalue())

    def decode(self, value: bytes | None) -> RecallNotice:
        try:
            schema_id, body = unframe(value or b"")
        except NotAFact as error:
            raise NotANotice(error.message) from None
        writer = self._readers.get(schema_id)
        if writer is None:
            raise NotANotice(f"schema id {schema_id} is not a recall notice's")
        stream = BytesIO(body)
        try:
            record = cast(dict[str, Any], schemaless_reader(stream, writer, self._writer))
        except Exception:
            raise NotANotice("the Avro body is not a RecallNotice") from None
        if stream.tell() != len(body):
            raise NotANotice("bytes left over after the Avro body")
        return RecallNotice(
            notice_id=record["notice_id"],
            case_id=record["case_id"],
            din=record["din"],
            product_code=record["product_code"],
            facility=record["facility"],
            action=NoticeAction(record["action"]),
            reason=record["reason"],
            patient_id=record["patient_id"],
            issued_at=record["issued_at"],
        )
