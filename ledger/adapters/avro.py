"""The v1 event contract on the wire: Confluent-framed Avro <-> :class:`ReportedFact`.

A Kafka value is ``0x00``, a 4-byte big-endian schema id, then the Avro binary
``Event`` written with that schema (see ``schemas/README.md``). Schema ids map
to ``.avsc`` files through ``schemas/manifest.json``, so neither producers nor
the ledger need a registry server.

Decoding is on the ledger's hot path, so every schema is parsed once, when a
:class:`SchemaManifest` or :class:`AvroCodec` is made, and a message costs one
``fastavro`` read plus a few checks. Timestamps are read as plain longs (the
codec strips ``timestamp-millis`` from its private copy of each schema) and
turned into datetimes only after a range check: a wild value is then a
``BAD_TIMESTAMP`` instead of an overflow deep inside ``fastavro``.

With a schema registry (``ingest --schema-registry URL``), a writer schema id that is
not in the manifest is asked of the registry, once: the schema it gives is checked with
Avro's resolution rules (:mod:`.avro_resolution`) against the reader schema before any
message is read with it, and kept, resolved or refused, for the codec's lifetime. A
registry that cannot answer raises
:class:`~ledger.services.ports.SchemaRegistryUnavailable`: the message waits (the ingest
retries), it is not dead-lettered.

Anything that is not a fact raises :class:`NotAFact`, whose ``error_class`` is a
stable code for the dead-letter headers. Its message names the field and the
rule, never the value: donor and patient ids are personal data, and
``fastavro``'s own exception texts (which quote values) are never passed on.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import load_schema
from fastavro.validation import ValidationError, validate

from ledger.adapters.avro_resolution import InvalidSchema, canonical_form, parsed, resolve
from ledger.domain.din import InvalidDIN, check_character, is_fin, validate_din
from ledger.domain.facts import ErrorClass, NotAFact, ReportedFact
from ledger.domain.vocabulary import DONATION_LEVEL, EventType
from ledger.services.ports import RegisteredSchema, SchemaRegistry, SchemaRegistryUnavailable

log = logging.getLogger("bloodledger.avro")

#: Environment variable naming a schema directory to use instead of the repo's.
SCHEMAS_ENV = "BLOODLEDGER_SCHEMAS"
MANIFEST_FILE = "manifest.json"
MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">BI")
_MAX_SCHEMA_ID = 2**32 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
#: Earliest instant a fact may carry (1900-01-01T00:00Z), in epoch millis.
MIN_TIMESTAMP_MS = -2_208_988_800_000
#: Latest instant a ``datetime`` can hold (9999-12-31T23:59:59.999Z), in epoch millis.
MAX_TIMESTAMP_MS = 253_402_300_799_999
#: How far in the future ``occurred_at`` may lie (clock skew between systems).
FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000

#: ISBT 128 product code: product description (5), donation type (1), divisions (2).
_PRODUCT_CODE = re.compile(r"[A-Za-z0-9]{8}")
#: A UUID as ``str(uuid)`` spells it (what producers send; ``UUID()`` judges other spellings).
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
#: Payload fields that name a facility and so must be FIN-shaped, by event type.
_FACILITY_FIELDS: Mapping[str, tuple[str, ...]] = {EventType.UnitIssued: ("to_facility",)}
#: Zero bytes appended to a failing body to tell "ended early" from "corrupt".
_TRUNCATION_PROBE = bytes(256)


# --- Confluent framing ------------------------------------------------------


def frame(schema_id: int, avro_body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header (magic byte, schema id)."""
    if not 0 <= schema_id <= _MAX_SCHEMA_ID:
        msg = "schema id must fit in 4 unsigned bytes"
        raise ValueError(msg)
    return _HEADER.pack(MAGIC_BYTE, schema_id) + avro_body


def unframe(value: bytes) -> tuple[int, bytes]:
    """Split a Confluent-framed value into its schema id and Avro body."""
    return _schema_id_of(value), value[HEADER_SIZE:]


def _schema_id_of(value: bytes) -> int:
    if not value:
        raise NotAFact(ErrorClass.EMPTY, "message has no value")
    if value[0] != MAGIC_BYTE:
        raise NotAFact(ErrorClass.BAD_MAGIC, "first byte is not the Confluent magic byte 0x00")
    if len(value) < HEADER_SIZE:
        raise NotAFact(ErrorClass.TRUNCATED, "message is shorter than the 5-byte header")
    schema_id: int = _HEADER.unpack_from(value)[1]
    return schema_id


# --- The schema manifest ----------------------------------------------------


def default_schema_dir() -> Path:
    """The repository's ``schemas/`` directory, unless ``$BLOODLEDGER_SCHEMAS`` says otherwise."""
    override = os.environ.get(SCHEMAS_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True, slots=True)
class RecordShape:
    """What the adapters need to know about one payload record of a schema version."""

    name: str
    full_name: str
    fields: tuple[str, ...]
    #: Fields without a default: a writer must supply them.
    required: frozenset[str]
    #: Non-nullable string fields: an empty string counts as missing.
    required_strings: tuple[str, ...]
    #: ``timestamp-millis`` fields, nullable or not.
    timestamps: tuple[str, ...]
    #: Array fields (a list in a fact's payload, e.g. a bedside check's ``reasons``).
    arrays: tuple[str, ...] = ()


class SchemaManifest:
    """The schema ids of ``schemas/manifest.json`` and their parsed schemas.

    Every schema is loaded and parsed once, here; lookups afterwards are dict
    reads. Ids are never reused, so a parsed schema never goes stale.
    """

    def __init__(self, schema_dir: Path | str | None = None) -> None:
        self.schema_dir = Path(schema_dir) if schema_dir is not None else default_schema_dir()
        manifest_path = self.schema_dir / MANIFEST_FILE
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
        self.subject, files = read_manifest(document, manifest_path)
        self._files = {sid: self.schema_dir / name for sid, name in files.items()}
        self._parsed = {sid: _as_dict(load_schema(str(p))) for sid, p in self._files.items()}
        self._definitions = {sid: _definition(s) for sid, s in self._parsed.items()}
        self._shapes = {sid: _payload_shapes(d) for sid, d in self._definitions.items()}
        self.latest_id = max(self._files)

    @property
    def schema_ids(self) -> tuple[int, ...]:
        """Every registered id, oldest first."""
        return tuple(sorted(self._files))

    def __contains__(self, schema_id: object) -> bool:
        return schema_id in self._files

    def path(self, schema_id: int) -> Path:
        """The ``.avsc`` file of the envelope registered under ``schema_id``."""
        return self._files[schema_id]

    def parsed(self, schema_id: int) -> dict[str, Any]:
        """The ``fastavro``-parsed envelope schema (raises ``KeyError`` if unknown)."""
        return self._parsed[schema_id]

    def definition(self, schema_id: int) -> dict[str, Any]:
        """The envelope schema as plain Avro JSON, named types inlined (a fresh copy)."""
        copy: dict[str, Any] = json.loads(json.dumps(self._definitions[schema_id]))
        return copy

    def payload_shapes(self, schema_id: int) -> Mapping[str, RecordShape]:
        """The payload records of a schema version, by event type (short record name)."""
        return self._shapes[schema_id]


def read_manifest(document: Any, where: Path) -> tuple[str, dict[int, str]]:
    """Check the shape of a manifest (or of one of its sections: the notices'); return
    its subject and ``{id: relative path}``."""
    if not isinstance(document, dict) or not isinstance(document.get("subject"), str):
        msg = f"{where}: expected an object with a string 'subject'"
        raise ValueError(msg)
    schemas = document.get("schemas")
    if not isinstance(schemas, dict) or not schemas:
        msg = f"{where}: 'schemas' must map schema ids to .avsc files"
        raise ValueError(msg)
    files: dict[int, str] = {}
    for key, name in schemas.items():
        if not (isinstance(key, str) and key.isdigit() and 0 < int(key) <= _MAX_SCHEMA_ID):
            msg = f"{where}: schema id {key!r} is not a positive 32-bit integer"
            raise ValueError(msg)
        if not isinstance(name, str) or not name.endswith(".avsc"):
            msg = f"{where}: schema id {key} must map to a .avsc path"
            raise ValueError(msg)
        files[int(key)] = name
    return document["subject"], files


def _as_dict(schema: Any) -> dict[str, Any]:
    """A parsed schema, typed: an envelope schema is always a record (a dict)."""
    if not isinstance(schema, dict):
        msg = "an envelope schema must be an Avro record"
        raise TypeError(msg)
    return schema


def _definition(parsed: dict[str, Any]) -> dict[str, Any]:
    """Plain Avro JSON of a parsed schema: without fastavro's private markers."""
    plain = {key: value for key, value in parsed.items() if not key.startswith("__")}
    copy: dict[str, Any] = json.loads(json.dumps(plain))
    return copy


def _named_types(node: Any, found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every named type defined in a schema, by full name (depth first, in order)."""
    if isinstance(node, list):
        for member in node:
            _named_types(member, found)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed"):
            found[node["name"]] = node
        for field in node.get("fields", ()):
            _named_types(field["type"], found)
        for key in ("items", "values"):
            if key in node:
                _named_types(node[key], found)
    return found


def _payload_shapes(definition: dict[str, Any]) -> dict[str, RecordShape]:
    """The payload union's records of an envelope definition, by short name."""
    named = _named_types(definition, {})
    payload_field = next(f for f in definition["fields"] if f["name"] == "payload")
    shapes: dict[str, RecordShape] = {}
    for member in payload_field["type"]:
        record = named[member] if isinstance(member, str) else member
        shape = _record_shape(record)
        shapes[shape.name] = shape
    return shapes


def _record_shape(record: dict[str, Any]) -> RecordShape:
    fields = record["fields"]
    return RecordShape(
        name=record["name"].rpartition(".")[2],
        full_name=record["name"],
        fields=tuple(f["name"] for f in fields),
        required=frozenset(f["name"] for f in fields if "default" not in f),
        required_strings=tuple(f["name"] for f in fields if f["type"] == "string"),
        timestamps=tuple(f["name"] for f in fields if _is_timestamp(f["type"])),
        arrays=tuple(f["name"] for f in fields if _is_array(f["type"])),
    )


def _is_array(avro_type: Any) -> bool:
    return isinstance(avro_type, dict) and avro_type.get("type") == "array"


def _is_timestamp(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_is_timestamp(member) for member in avro_type)
    return (
        isinstance(avro_type, dict)
        and avro_type.get("type") == "long"
        and avro_type.get("logicalType") == "timestamp-millis"
    )


# --- The codec's private schema forms --------------------------------------


def _wire_form(node: Any, enums: dict[str, frozenset[str]], *, enums_as_int: bool) -> Any:
    """A copy of a schema with timestamps as plain longs (and enums as ints if asked).

    The enum-less form reads the same bytes without checking enum indexes; the
    codec uses it only on the error path, to tell a bad enum from corrupt data.
    ``enums`` collects every enum's symbols by full name.
    """
    if isinstance(node, list):
        return [_wire_form(member, enums, enums_as_int=enums_as_int) for member in node]
    if isinstance(node, str):
        return "int" if enums_as_int and node in enums else node
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if _is_timestamp(node):
        return "long"
    if kind == "enum":
        enums[node["name"]] = frozenset(node["symbols"])
        return "int" if enums_as_int else node
    if kind == "record":
        fields = []
        for field in node["fields"]:
            wired = {**field, "type": _wire_form(field["type"], enums, enums_as_int=enums_as_int)}
            if enums_as_int:
                wired.pop("default", None)
            fields.append(wired)
        return {**node, "fields": fields}
    if kind == "array":
        return {**node, "items": _wire_form(node["items"], enums, enums_as_int=enums_as_int)}
    if kind == "map":
        return {**node, "values": _wire_form(node["values"], enums, enums_as_int=enums_as_int)}
    return node


@dataclass(frozen=True, slots=True)
class _Version:
    """One schema id as the codec uses it: parsed wire forms and payload shapes."""

    schema_id: int
    wire: dict[str, Any]
    enumless: dict[str, Any]
    by_event_type: Mapping[str, RecordShape]
    by_full_name: Mapping[str, RecordShape]
    enums: Mapping[str, frozenset[str]]

    @classmethod
    def build(cls, manifest: SchemaManifest, schema_id: int) -> _Version:
        return cls.of(schema_id, manifest.definition(schema_id), manifest.payload_shapes(schema_id))

    @classmethod
    def of(
        cls, schema_id: int, definition: dict[str, Any], shapes: Mapping[str, RecordShape]
    ) -> _Version:
        """A version from its definition (plain Avro JSON) and payload shapes (only a
        writer's are used: a version read from a registry needs none)."""
        enums: dict[str, frozenset[str]] = {}
        wire = _as_dict(parse_schema(_wire_form(definition, enums, enums_as_int=False)))
        enumless = _as_dict(parse_schema(_wire_form(definition, {}, enums_as_int=True)))
        return cls(
            schema_id=schema_id,
            wire=wire,
            enumless=enumless,
            by_event_type=shapes,
            by_full_name={shape.full_name: shape for shape in shapes.values()},
            enums=enums,
        )

    def drifts_from(self, reader: _Version) -> bool:
        """True if this writer has enum symbols the reader does not know."""
        return any(
            not symbols <= reader.enums.get(name, frozenset())
            for name, symbols in self.enums.items()
        )


# --- The codec ------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AvroCodec:
    """Encodes :class:`ReportedFact` to Confluent-framed Avro and decodes it back.

    Messages are written with ``writer_schema_id`` and read through
    ``reader_schema_id`` (both default to the manifest's latest id), so older
    and newer messages are read by Avro schema resolution. ``clock`` bounds how
    far in the future ``occurred_at`` may lie; it must return an aware datetime.
    ``registry``: where writer schema ids the manifest lacks are looked up (none: such
    an id is ``UNKNOWN_SCHEMA_ID``).
    """

    def __init__(
        self,
        manifest: SchemaManifest | None = None,
        *,
        writer_schema_id: int | None = None,
        reader_schema_id: int | None = None,
        max_bytes: int = 1_000_000,
        clock: Callable[[], datetime] = _utc_now,
        registry: SchemaRegistry | None = None,
    ) -> None:
        self.manifest = manifest if manifest is not None else SchemaManifest()
        self.writer_schema_id = _known(self.manifest, writer_schema_id)
        self.reader_schema_id = _known(self.manifest, reader_schema_id)
        self.max_bytes = max_bytes
        self._clock = clock
        self._versions = {
            sid: _Version.build(self.manifest, sid) for sid in self.manifest.schema_ids
        }
        self._writer = self._versions[self.writer_schema_id]
        reader = self._versions[self.reader_schema_id]
        self._reader = reader
        self._read_pairs = {
            sid: (version.wire, None if version is reader else reader.wire)
            for sid, version in self._versions.items()
        }
        self._enum_drift = frozenset(
            sid for sid, version in self._versions.items() if version.drifts_from(reader)
        )
        self._header = _HEADER.pack(MAGIC_BYTE, self.writer_schema_id)
        self.registry = registry
        #: The registry's answers, by id (``None``: it has no such schema): asked once.
        self._answers: dict[int, RegisteredSchema | None] = {}
        #: Ids the registry gave a schema for that cannot be read, with why.
        self._refused: dict[int, NotAFact] = {}
        self._registry_agrees = registry is None

    # -- decoding (the hot path) --

    def decode(self, value: bytes | None) -> ReportedFact:
        """Read one Kafka value into a fact, or raise :class:`NotAFact` saying why not."""
        if not value:
            raise NotAFact(ErrorClass.EMPTY, "message has no value")
        if len(value) > self.max_bytes:
            raise NotAFact(ErrorClass.TOO_LARGE, f"message is larger than {self.max_bytes} bytes")
        schema_id = _schema_id_of(value)
        pair = self._read_pairs.get(schema_id)
        if pair is None:
            pair = self._registered(schema_id)
        stream = BytesIO(value)
        stream.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(stream, pair[0], pair[1], return_record_name=True)
        except Exception:
            raise self._diagnose(schema_id, value[HEADER_SIZE:]) from None
        if stream.tell() != len(value):
            raise NotAFact(ErrorClass.UNDECODABLE, "bytes left over after the Avro body")
        return self._to_fact(cast(dict[str, Any], record))

    # -- writer schemas from a registry (the cold path: once per id) --

    def check_registry(self) -> None:
        """Make sure the registry's schemas under the manifest's ids are the manifest's
        (same canonical form): a producer serializing through that registry frames its
        messages with the registry's ids, and the ledger reads an id it has with its own
        schema. Raises :class:`RegistryDisagrees` (a ``ValueError``) if one is another
        schema, :class:`~ledger.services.ports.SchemaRegistryUnavailable` if the registry
        cannot answer (then it is asked again before the first id only it knows)."""
        if self._registry_agrees:
            return
        for schema_id in self.manifest.schema_ids:
            registered = self._ask(schema_id)
            if registered is None:
                continue
            try:
                agrees = canonical_form(registered.text) == canonical_form(
                    self.manifest.definition(schema_id)
                )
            except InvalidSchema:
                agrees = False
            if not agrees:
                raise RegistryDisagrees(schema_id)
        self._registry_agrees = True

    def _ask(self, schema_id: int) -> RegisteredSchema | None:
        """The registry's answer for an id, asked once (an unavailable registry is asked
        again next time: nothing was learnt)."""
        if schema_id not in self._answers:
            assert self.registry is not None
            self._answers[schema_id] = self.registry.schema(schema_id)
        return self._answers[schema_id]

    def _registered(self, schema_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The read pair of an id the manifest does not have, from the registry (raises
        :class:`NotAFact` if there is none or it cannot be read into the reader's)."""
        if self.registry is None:
            raise NotAFact(ErrorClass.UNKNOWN_SCHEMA_ID, "schema id is not in the manifest")
        refused = self._refused.get(schema_id)
        if refused is not None:
            raise NotAFact(refused.error_class, refused.message)
        try:
            self.check_registry()
            registered = self._ask(schema_id)
        except SchemaRegistryUnavailable as error:  # say which id waits, then why
            raise SchemaRegistryUnavailable(f"schema id {schema_id}: {error}") from None
        try:
            version = self._resolved(schema_id, registered)
        except NotAFact as reason:
            self._refused[schema_id] = reason
            log.warning("schema id %d of the schema registry is refused: %s", schema_id, reason)
            raise NotAFact(reason.error_class, reason.message) from None
        self._versions[schema_id] = version
        self._read_pairs[schema_id] = pair = (version.wire, self._reader.wire)
        if version.drifts_from(self._reader):
            self._enum_drift = self._enum_drift | {schema_id}
        log.info(
            "schema id %d read from the schema registry: resolves into the reader's (id %d)",
            schema_id, self.reader_schema_id,
        )  # fmt: skip
        return pair

    def _resolved(self, schema_id: int, registered: RegisteredSchema | None) -> _Version:
        """A registry's schema as a version the codec reads, once Avro resolution says
        its data can be read into the reader's: a finding that only narrows (an event
        type or enum symbol the reader lacks) leaves the rest readable, and the messages
        using it are dead-lettered one by one, as a manifest id's would be."""
        if registered is None:
            msg = "schema id is in neither the manifest nor the schema registry"
            raise NotAFact(ErrorClass.UNKNOWN_SCHEMA_ID, msg)
        if registered.schema_type.upper() != "AVRO":
            msg = f"the schema registry's schema of this id is {registered.schema_type}, not Avro"
            raise NotAFact(ErrorClass.INCOMPATIBLE_SCHEMA, msg)
        if registered.references:
            msg = "the schema registry's schema of this id references other subjects"
            raise NotAFact(ErrorClass.INCOMPATIBLE_SCHEMA, msg)
        try:
            writer = parsed(registered.text)
        except InvalidSchema as error:
            msg = f"the schema registry's schema of this id is {error}"
            raise NotAFact(ErrorClass.INCOMPATIBLE_SCHEMA, msg) from None
        blocking = [f for f in resolve(writer, self.manifest.definition(self.reader_schema_id))
                    if not f.narrows]  # fmt: skip
        if blocking:
            more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
            msg = (
                f"the schema registry's schema of this id cannot be read into the contract's "
                f"(id {self.reader_schema_id}): {blocking[0]}{more}"
            )
            raise NotAFact(ErrorClass.INCOMPATIBLE_SCHEMA, msg)
        try:
            return _Version.of(schema_id, _as_dict(writer), {})
        except Exception:  # resolved, yet not a form the codec reads: refused all the same
            msg = "the schema registry's schema of this id is not an envelope the codec reads"
            raise NotAFact(ErrorClass.INCOMPATIBLE_SCHEMA, msg) from None

    def _to_fact(self, record: dict[str, Any]) -> ReportedFact:
        full_name, payload = record["payload"]
        shape = self._reader.by_full_name[full_name]
        source = record["source"]
        self._check_envelope(record, source, shape)
        _check_payload(shape, payload)
        for name in shape.timestamps:
            millis = payload[name]
            if millis is not None:
                payload[name] = _EPOCH + timedelta(milliseconds=millis)
        return ReportedFact(
            event_id=record["event_id"],
            event_type=shape.name,
            occurred_at=_EPOCH + timedelta(milliseconds=record["occurred_at"]),
            source_system=source["system"],
            facility=source["facility"],
            actor=source["actor"],
            din=record["din"],
            product_code=record["product_code"],
            payload=payload,
        )

    def _check_envelope(
        self, record: dict[str, Any], source: dict[str, Any], shape: RecordShape
    ) -> None:
        """Envelope rules, on the wire form (timestamps in epoch millis)."""
        event_id = record["event_id"]
        if not event_id:
            raise _missing("event_id")
        if not _CANONICAL_UUID.fullmatch(event_id):  # fast path; other spellings, below
            try:
                UUID(event_id)
            except (ValueError, TypeError, AttributeError):
                raise NotAFact(ErrorClass.BAD_EVENT_ID, "event_id is not a UUID") from None
        occurred = record["occurred_at"]
        latest = int(self._clock().timestamp() * 1000) + FUTURE_TOLERANCE_MS
        if not MIN_TIMESTAMP_MS <= occurred <= latest:
            msg = "occurred_at is before 1900 or more than 24 h in the future"
            raise NotAFact(ErrorClass.BAD_TIMESTAMP, msg)
        if not source["system"]:
            raise _missing("source.system")
        _check_facility("source.facility", source["facility"])
        _check_din(record["din"], record["din_check"])
        _check_product_code(record["product_code"], shape.name)

    def _diagnose(self, schema_id: int, body: bytes) -> NotAFact:
        """Explain a failed read (the cold path: it may decode the body again).

        Read with enums as ints, the bytes either fit the writer's structure or
        not. If not, zero padding tells a body that ended early from corrupt
        data. If they fit, the failure was an enum: an index out of range, or a
        symbol the reader's schema does not know.
        """
        version = self._versions[schema_id]
        if not _reads_exactly(version.enumless, body):
            if _ends_early(version.enumless, body):
                return NotAFact(ErrorClass.TRUNCATED, "the Avro body ends before the Event does")
            return NotAFact(ErrorClass.UNDECODABLE, "the Avro body does not match its schema")
        if _payload_record(version.enumless, body) not in self._reader.by_full_name:
            msg = "the payload's event type is not a payload record of the reader schema"
            return NotAFact(ErrorClass.UNKNOWN_EVENT_TYPE, msg)
        if not _reads_exactly(version.wire, body) or schema_id in self._enum_drift:
            return NotAFact(ErrorClass.BAD_ENUM, "an enum value is not a symbol of its enum")
        return NotAFact(ErrorClass.UNDECODABLE, "the writer schema cannot be read as the reader's")

    # -- encoding --

    def encode(self, fact: ReportedFact) -> bytes:
        """Write a fact as a Confluent-framed ``Event``, with its DIN check character.

        Raises :class:`NotAFact` for a fact that :meth:`decode` would reject, so
        a producer using this codec never feeds the dead-letter topic.
        """
        shape = self._writer.by_event_type.get(fact.event_type)
        if shape is None:
            msg = "event_type is not a payload record of the writer schema"
            raise NotAFact(ErrorClass.UNKNOWN_EVENT_TYPE, msg)
        _check_din(fact.din, None)
        payload = _wire_payload(shape, fact.payload)
        source = {"system": fact.source_system, "facility": fact.facility, "actor": fact.actor}
        record = {
            "event_id": fact.event_id,
            "occurred_at": _to_millis(fact.occurred_at, "occurred_at"),
            "source": source,
            "din": fact.din,
            "din_check": check_character(fact.din),
            "product_code": fact.product_code,
            "payload": (shape.full_name, payload),
        }
        self._check_envelope(record, source, shape)
        _check_payload(shape, payload)
        stream = BytesIO()
        stream.write(self._header)
        try:
            schemaless_writer(stream, self._writer.wire, record)
        except Exception:
            raise _unencodable(self._writer, record) from None
        return stream.getvalue()


class RegistryDisagrees(ValueError):
    """The schema registry holds another schema under an id of the manifest."""

    def __init__(self, schema_id: int) -> None:
        super().__init__(
            f"the schema registry's schema id {schema_id} is not the manifest's schema "
            f"{schema_id}: messages its producers frame with that id would be misread. "
            "Register the contract's schemas there under the manifest's ids first "
            "(docs/integrators.md), or point --schema-registry at the ledger's own /registry"
        )
        self.schema_id = schema_id


def _known(manifest: SchemaManifest, schema_id: int | None) -> int:
    if schema_id is None:
        return manifest.latest_id
    if schema_id not in manifest:
        msg = f"schema id {schema_id} is not in the manifest"
        raise ValueError(msg)
    return schema_id


def _reads_exactly(schema: dict[str, Any], body: bytes) -> bool:
    """True if ``body`` is exactly one datum of ``schema`` (diagnosis only)."""
    stream = BytesIO(body)
    try:
        schemaless_reader(stream, schema, None)
    except Exception:
        return False
    return stream.tell() == len(body)


def _payload_record(schema: dict[str, Any], body: bytes) -> str:
    """The full name of the payload record of a body that reads (diagnosis only)."""
    record: Any = schemaless_reader(BytesIO(body), schema, None, return_record_name=True)
    name: str = record["payload"][0]
    return name


def _ends_early(schema: dict[str, Any], body: bytes) -> bool:
    """True if ``body`` is a datum of ``schema`` cut short (diagnosis only).

    Zero bytes complete any cut varint and read as empty strings, zeros,
    first union branches; if the datum then reads, it needed the padding.
    A cut inside a multi-byte character is forgiven by reading text leniently.
    """
    stream = BytesIO(body + _TRUNCATION_PROBE)
    try:
        schemaless_reader(stream, schema, None, handle_unicode_errors="replace")
    except Exception:
        return False
    return stream.tell() > len(body)


# --- Field rules shared by encode and decode ---------------------------------


def _missing(field: str) -> NotAFact:
    return NotAFact(ErrorClass.MISSING_FIELD, f"{field} is required and must not be empty")


def _check_facility(field: str, value: str) -> None:
    if not value:
        raise _missing(field)
    if not is_fin(value):
        msg = f"{field} is not an ISBT 128 Facility Identification Number"
        raise NotAFact(ErrorClass.BAD_FACILITY, msg)


def _check_din(din: str, din_check: str | None) -> None:
    if not din:
        raise _missing("din")
    try:
        validate_din(din, din_check)
    except InvalidDIN as error:
        raise NotAFact(ErrorClass.BAD_DIN, str(error)) from None


def _check_product_code(product_code: str | None, event_type: str) -> None:
    if event_type in DONATION_LEVEL:
        if product_code is not None:
            msg = f"product_code must be null for the donation-level event {event_type}"
            raise NotAFact(ErrorClass.BAD_PRODUCT_CODE, msg)
    elif product_code is None:
        raise _missing("product_code")
    elif not _PRODUCT_CODE.fullmatch(product_code):
        msg = "product_code is not 8 ISBT 128 alphanumeric characters"
        raise NotAFact(ErrorClass.BAD_PRODUCT_CODE, msg)


def _check_payload(shape: RecordShape, payload: dict[str, Any]) -> None:
    """Payload rules, on the wire form (timestamps in epoch millis)."""
    for name in shape.required_strings:
        if not payload[name]:
            raise _missing(f"payload.{name} of {shape.name}")
    for name in shape.timestamps:
        millis = payload[name]
        if millis is not None and not MIN_TIMESTAMP_MS <= millis <= MAX_TIMESTAMP_MS:
            msg = f"payload.{name} of {shape.name} is before 1900 or after 9999"
            raise NotAFact(ErrorClass.BAD_TIMESTAMP, msg)
    for name in shape.arrays:
        if not isinstance(payload.get(name, []), list):
            msg = f"payload.{name} of {shape.name} must be an array (a list)"
            raise NotAFact(ErrorClass.UNENCODABLE, msg)
    for name in _FACILITY_FIELDS.get(shape.name, ()):
        if name in payload:
            _check_facility(f"payload.{name} of {shape.name}", payload[name])


def _wire_payload(shape: RecordShape, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a fact's payload ready to write: required fields present, millis."""
    missing = shape.required - payload.keys()
    if missing:
        raise _missing(f"payload.{min(missing)} of {shape.name}")
    wire = dict(payload)
    for name in shape.timestamps:
        if wire.get(name) is not None:
            wire[name] = _to_millis(wire[name], f"payload.{name} of {shape.name}")
    return wire


def _to_millis(value: Any, field: str) -> int:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        msg = f"{field} must be a timezone-aware datetime"
        raise NotAFact(ErrorClass.BAD_TIMESTAMP, msg)
    return (value - _EPOCH) // _ONE_MS


def _unencodable(version: _Version, record: dict[str, Any]) -> NotAFact:
    """Name the field a fact got wrong (cold path: validates the whole record)."""
    try:
        validate(record, version.wire, raise_errors=True)
    except ValidationError as error:
        first = error.errors[0]
        schema = first.schema
        is_enum = (isinstance(schema, str) and schema in version.enums) or (
            isinstance(schema, dict) and schema.get("type") == "enum"
        )
        kind = ErrorClass.BAD_ENUM if is_enum else ErrorClass.UNENCODABLE
        return NotAFact(kind, f"{first.field} does not match its schema type")
    return NotAFact(ErrorClass.UNENCODABLE, "the fact does not match the writer schema")
