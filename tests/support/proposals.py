"""Proposed ``schemas/`` directories, as a contract maintainer would make them: a copy of
the repository's schemas with a new version directory (a copy of the latest, changed)
registered under a new id, or with the manifest itself changed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
#: The repository's latest event schema directory, and the id a proposal adds.
LATEST_DIR = "v3"
NEW_ID = 5

Document = dict[str, Any]


def copy_of_schemas(into: Path) -> Path:
    """The repository's schemas, copied to ``into/schemas``."""
    target = into / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def edit_json(path: Path, change: Callable[[Document], object]) -> None:
    """Change one ``.avsc`` (or the manifest) in place."""
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def proposal(
    into: Path,
    changes: dict[str, Callable[[Document], object]],
    *,
    new_id: int = NEW_ID,
    directory: str = "v4",
) -> Path:
    """The schemas with ``directory`` (a copy of the latest) registered as ``new_id``, its
    files changed by ``changes`` (file name -> change)."""
    schemas = copy_of_schemas(into)
    shutil.copytree(schemas / LATEST_DIR, schemas / directory)
    for name, change in changes.items():
        edit_json(schemas / directory / name, change)
    register(schemas, new_id, f"{directory}/bloodledger.Event.avsc")
    return schemas


def register(schemas: Path, schema_id: int, envelope: str) -> None:
    """Add ``schema_id -> envelope`` to the events' section of the manifest."""
    edit_json(
        schemas / "manifest.json", lambda m: m["schemas"].__setitem__(str(schema_id), envelope)
    )


def field_named(record: Document, name: str) -> Document:
    field: Document = next(f for f in record["fields"] if f["name"] == name)
    return field


# -- the changes the tests propose ----------------------------------------------------


def add_optional_site(source: Document) -> None:
    """``Source`` gains an optional ``site`` (the ward or room): what the contract allows."""
    source["fields"].append(
        {"name": "site", "type": ["null", "string"], "default": None, "doc": "Ward or room."}
    )


def drop_to_facility(issued: Document) -> None:
    """``UnitIssued`` loses ``to_facility``, a field without default: older readers need it."""
    issued["fields"] = [f for f in issued["fields"] if f["name"] != "to_facility"]


def volume_as_string(collected: Document) -> None:
    """``DonationCollected.volume_ml`` becomes a string: a changed type."""
    field_named(collected, "volume_ml")["type"] = "string"


def add_granulocytes(component: Document) -> None:
    """``Component`` gains a symbol: older readers have no default symbol for it."""
    component["symbols"].append("GRANULOCYTES")
