"""The JSON form of a contract event, as an integrator writes it for ``bloodledger encode``.

One JSON object per fact::

    {"event_id": "…", "event_type": "UnitIssued",
     "occurred_at": "2026-03-01T08:00:00Z",
     "source": {"system": "…", "facility": "A9999", "actor": null},
     "din": "A999926123456", "product_code": "E0791V00",
     "payload": {"to_facility": "B1234", "shipment_id": null}}

Instants are ISO-8601 with a UTC offset (or epoch milliseconds). ``din_check``
may be given and must then match; the codec always writes the right one.
``actor`` and ``product_code`` may be left out (null); a payload field with a
default may be left out too. Errors name the field, never its value, because
the values include donor and patient pseudonyms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from ledger.adapters.avro import AvroCodec, RecordShape, SchemaManifest
from ledger.domain.din import InvalidDIN, validate_din
from ledger.domain.facts import ErrorClass, NotAFact, ReportedFact

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ENVELOPE_KEYS = frozenset(
    {
        "event_id",
        "event_type",
        "occurred_at",
        "source",
        "din",
        "din_check",
        "product_code",
        "payload",
    }
)
_SOURCE_KEYS = frozenset({"system", "facility", "actor"})


class NotContractJson(ValueError):
    """A JSON document that is not a contract event. The message starts with the field
    and says the rule, never the value; ``error_class`` is the reason the dead-letter
    path gives the same mistake on the wire."""

    def __init__(self, message: str, error_class: ErrorClass = ErrorClass.UNENCODABLE) -> None:
        super().__init__(message)
        self.error_class = error_class


@cache
def _default_manifest() -> SchemaManifest:
    return SchemaManifest()


def fact_from_json(
    obj: object,
    *,
    manifest: SchemaManifest | None = None,
    schema_id: int | None = None,
) -> ReportedFact:
    """Build a fact from its JSON form; raise :class:`NotContractJson` (a ``ValueError``)
    naming the bad field.

    The payload is checked against the payload record of ``schema_id`` (default:
    the manifest's latest), which also says which fields are instants.
    """
    if not isinstance(obj, Mapping):
        msg = "a fact must be a JSON object"
        raise NotContractJson(msg)
    _reject_unknown(obj, _ENVELOPE_KEYS, "")
    manifest = manifest if manifest is not None else _default_manifest()
    shapes = manifest.payload_shapes(schema_id if schema_id is not None else manifest.latest_id)
    event_type = _string(obj, "event_type")
    shape = shapes.get(event_type)
    if shape is None:
        msg = "event_type: not an event type of the contract"
        raise NotContractJson(msg, ErrorClass.UNKNOWN_EVENT_TYPE)
    source = obj.get("source")
    if not isinstance(source, Mapping):
        msg = "source: must be an object"
        raise NotContractJson(msg, _missing_or_wrong(source))
    _reject_unknown(source, _SOURCE_KEYS, "source.")
    din = _string(obj, "din")
    _check_din_check(din, obj.get("din_check"))
    return ReportedFact(
        event_id=_string(obj, "event_id"),
        event_type=event_type,
        occurred_at=_instant(obj.get("occurred_at"), "occurred_at"),
        source_system=_string(source, "system", "source."),
        facility=_string(source, "facility", "source."),
        actor=_optional_string(source, "actor", "source."),
        din=din,
        product_code=_optional_string(obj, "product_code"),
        payload=_payload(obj.get("payload", {}), shape),
    )


def fact_to_json(fact: ReportedFact) -> dict[str, Any]:
    """The JSON form of a fact; :func:`fact_from_json` turns it back into an equal fact."""
    return {
        "event_id": fact.event_id,
        "event_type": fact.event_type,
        "occurred_at": _iso(fact.occurred_at),
        "source": {"system": fact.source_system, "facility": fact.facility, "actor": fact.actor},
        "din": fact.din,
        "product_code": fact.product_code,
        "payload": {name: _json_value(value) for name, value in fact.payload.items()},
    }


class ContractCodec:
    """Contract JSON in, framed Avro out, and read back as the ingest reads it: the
    HTTP submission's :class:`~ledger.services.ports.SubmissionCodec`."""

    def __init__(self, codec: AvroCodec | None = None) -> None:
        self.codec = codec if codec is not None else AvroCodec()

    def encode_json(self, document: object) -> bytes:
        """One parsed JSON event as the value :meth:`decode` reads, or :class:`NotAFact`
        with the reason the dead-letter path gives the same mistake."""
        codec = self.codec
        try:
            fact = fact_from_json(
                document, manifest=codec.manifest, schema_id=codec.writer_schema_id
            )
        except NotContractJson as error:
            raise NotAFact(error.error_class, str(error)) from None
        return codec.encode(fact)

    def decode(self, value: bytes | None) -> ReportedFact:
        return self.codec.decode(value)


def encode_json_lines(lines: Iterable[str], codec: AvroCodec) -> Iterator[tuple[str, bytes]]:
    """Encode JSON lines into ``(key, value)`` Kafka records: the DIN and the framed Avro.

    Blank lines are skipped. A bad line raises ``ValueError`` starting with
    ``line N:`` and the reason, so the integrator can fix the file.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            msg = f"line {number}: not valid JSON ({error.msg} at column {error.colno})"
            raise ValueError(msg) from None
        try:
            fact = fact_from_json(obj, manifest=codec.manifest, schema_id=codec.writer_schema_id)
            value = codec.encode(fact)
        except NotAFact as error:
            msg = f"line {number}: {error.error_class}: {error.message}"
            raise ValueError(msg) from None
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
        yield fact.din, value


def _reject_unknown(obj: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    for key in obj:
        if key not in known:
            msg = f"{prefix}{key}: not a field of the contract"
            raise NotContractJson(msg)


def _string(obj: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        msg = f"{prefix}{key}: required, must be a non-empty string"
        raise NotContractJson(msg, _missing_or_wrong(value))
    return value


def _optional_string(obj: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        msg = f"{prefix}{key}: must be a string or null"
        raise NotContractJson(msg)
    return value


def _check_din_check(din: str, din_check: Any) -> None:
    if din_check is None:
        return
    if not isinstance(din_check, str):
        msg = "din_check: must be a one-character string or null"
        raise NotContractJson(msg)
    try:
        validate_din(din, din_check)
    except InvalidDIN as error:
        raise NotContractJson(f"din: {error}", ErrorClass.BAD_DIN) from None


def _payload(obj: Any, shape: RecordShape) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        msg = "payload: must be an object"
        raise NotContractJson(msg)
    _reject_unknown(obj, frozenset(shape.fields), "payload.")
    missing = shape.required - obj.keys()
    if missing:
        msg = f"payload.{min(missing)}: required for {shape.name}"
        raise NotContractJson(msg, ErrorClass.MISSING_FIELD)
    payload = dict(obj)
    for name in shape.timestamps:
        if payload.get(name) is not None:
            payload[name] = _instant(payload[name], f"payload.{name}")
    for name in shape.arrays:
        if name in payload and not isinstance(payload[name], list):
            raise NotContractJson(f"payload.{name}: must be an array")
    return payload


def _instant(value: Any, field: str) -> datetime:
    """An ISO-8601 string with offset, or epoch milliseconds, as an aware UTC datetime."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise _bad_instant(f"{field}: epoch milliseconds out of range") from None
    if not isinstance(value, str):
        msg = f"{field}: must be an ISO-8601 string with offset or epoch milliseconds"
        raise NotContractJson(msg, _missing_or_wrong(value, ErrorClass.BAD_TIMESTAMP))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_instant(f"{field}: not an ISO-8601 date-time") from None
    if parsed.utcoffset() is None:
        msg = f"{field}: must include a UTC offset (e.g. Z or +08:00)"
        raise _bad_instant(msg)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _bad_instant(f"{field}: out of range") from None


def _bad_instant(message: str) -> NotContractJson:
    return NotContractJson(message, ErrorClass.BAD_TIMESTAMP)


def _missing_or_wrong(value: Any, wrong: ErrorClass = ErrorClass.UNENCODABLE) -> ErrorClass:
    """A required value left out (or empty) is missing; one of another kind, ``wrong``."""
    return ErrorClass.MISSING_FIELD if value is None or value == "" else wrong


def _iso(value: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, as precise as the value (seconds, ms or µs)."""
    if value.microsecond == 0:
        timespec = "seconds"
    elif value.microsecond % 1000 == 0:
        timespec = "milliseconds"
    else:
        timespec = "microseconds"
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value
