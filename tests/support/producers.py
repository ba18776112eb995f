"""What an integrator's own producer holds and writes: the contract's ``Event`` record
(fastavro's form), and a value framed and written with a schema of some directory."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_writer

from ledger.adapters.avro import frame
from ledger.adapters.avro_catalogue import SchemaCatalogue
from ledger.domain.facts import ReportedFact


def contract_record(fact: ReportedFact, **source: Any) -> dict[str, Any]:
    """A fact as a producer holds it: the ``Event`` record, the payload in fastavro's
    tuple notation (the union branch named, never guessed); ``source``: further fields of
    ``Source`` (a newer schema's)."""
    return {
        "event_id": fact.event_id,
        "occurred_at": fact.occurred_at,
        "source": {
            "system": fact.source_system,
            "facility": fact.facility,
            "actor": fact.actor,
            **source,
        },
        "din": fact.din,
        "din_check": None,
        "product_code": fact.product_code,
        "payload": (f"bloodledger.{fact.event_type}", dict(fact.payload)),
    }


def framed_with(schemas: Path, schema_id: int, record: dict[str, Any]) -> bytes:
    """``record`` written with the schema ``schemas`` registers as ``schema_id``, framed
    with that id (what a producer serializing through a registry of them sends)."""
    version = SchemaCatalogue(schemas).by_id(schema_id)
    assert version is not None, f"no schema id {schema_id} in {schemas}"
    body = BytesIO()
    schemaless_writer(body, parse_schema(version.definition), record)
    return frame(schema_id, body.getvalue())
