"""A ``schemas/`` directory as a Schema Registry sees it: subjects, versions, ids, texts.

The manifest (``schemas/manifest.json``) assigns the contract's schema ids; a registry
adds two things to them, which this module derives and nothing else decides:

- **subjects**: the manifest's own (``bloodledger.events-value``, and the notices'
  ``bloodledger.notices-value``: the topic name strategy for the default topics), the
  record name strategy's (``bloodledger.Event``, ``bloodledger.RecallNotice``: the same
  versions under the top record's full name, for any topic), and any alias a caller
  names (``<topic>-value`` for a deployment whose events topic is not the default);
- **versions**: a subject's ids in ascending order are its versions 1, 2, 3…
  (events: ids 1, 2, 4 are versions 1, 2, 3, as the directories ``v1`` to ``v3`` say).

A schema's text is its envelope with every named type inlined where first used (what
``fastavro.schema.load_schema`` makes of the files, as compact JSON): one document a
client can parse on its own, with no references to other subjects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fastavro.schema import load_schema

from ledger.adapters.avro import MANIFEST_FILE, SchemaManifest, default_schema_dir, read_manifest
from ledger.adapters.avro_resolution import InvalidSchema, canonical_form, without_markers

#: The manifest's section naming the recall notice's ids (as :mod:`.notice_avro` reads it).
NOTICES_SECTION = "notices"


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a subject: its number, schema id, file and definition."""

    subject: str
    version: int
    schema_id: int
    path: Path
    #: Plain Avro JSON: full names, named types inlined where first used, docs kept.
    definition: Any

    @cached_property
    def text(self) -> str:
        """The schema as a registry serves it: compact JSON."""
        return json.dumps(self.definition, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def canonical(self) -> str:
        """Avro's Parsing Canonical Form: equal exactly when the two write the same bytes."""
        return canonical_form(self.definition)


class SchemaCatalogue:
    """The subjects and versions of a schema directory (``schema_dir``: the ledger's by
    default); ``aliases`` maps further subject names to the manifest's subjects."""

    def __init__(
        self, schema_dir: Path | str | None = None, *, aliases: Mapping[str, str] | None = None
    ) -> None:
        self.schema_dir = Path(schema_dir) if schema_dir is not None else default_schema_dir()
        manifest = SchemaManifest(self.schema_dir)
        self.events_subject = manifest.subject
        self._subjects: dict[str, list[RegisteredVersion]] = {
            manifest.subject: _versions(
                manifest.subject,
                {
                    sid: (manifest.path(sid), manifest.definition(sid))
                    for sid in manifest.schema_ids
                },
            )
        }
        self.notices_subject = self._read_notices(manifest)
        for subject in list(self._subjects):
            top = self._subjects[subject][-1].definition
            if isinstance(top, dict) and isinstance(top.get("name"), str):
                self._subjects.setdefault(top["name"], self._subjects[subject])
        for alias, subject in (aliases or {}).items():
            if subject not in self._subjects:
                msg = f"alias {alias!r}: no subject {subject!r} in {self.schema_dir}"
                raise ValueError(msg)
            self._subjects.setdefault(alias, self._subjects[subject])
        self._by_id = {
            v.schema_id: v
            for subject in (self.events_subject, self.notices_subject)
            if subject is not None
            for v in self._subjects[subject]
        }

    def _read_notices(self, manifest: SchemaManifest) -> str | None:
        where = self.schema_dir / MANIFEST_FILE
        document = json.loads(where.read_text(encoding="utf-8"))
        if NOTICES_SECTION not in document:
            return None
        subject, files = read_manifest(document[NOTICES_SECTION], where)
        shared = set(files) & set(manifest.schema_ids)
        if shared:
            msg = f"{where}: schema ids {sorted(shared)} are both an event's and a notice's"
            raise ValueError(msg)
        found = {}
        for sid, name in files.items():
            path = self.schema_dir / name
            found[sid] = (path, without_markers(load_schema(str(path))))
        self._subjects[subject] = _versions(subject, found)
        return subject

    @property
    def subjects(self) -> list[str]:
        """Every subject, aliases included, sorted."""
        return sorted(self._subjects)

    @property
    def schema_ids(self) -> list[int]:
        return sorted(self._by_id)

    def versions(self, subject: str) -> list[RegisteredVersion]:
        """A subject's versions, oldest first (``KeyError`` if there is no such subject)."""
        return list(self._subjects[subject])

    def by_id(self, schema_id: int) -> RegisteredVersion | None:
        """The version registered under an id (under its manifest subject), if any."""
        return self._by_id.get(schema_id)

    def subjects_of(self, schema_id: int) -> list[str]:
        """Every subject (aliases included) with a version of that id."""
        return sorted(
            s for s, vs in self._subjects.items() if any(v.schema_id == schema_id for v in vs)
        )

    def lookup(self, subject: str, schema: Any) -> RegisteredVersion | None:
        """The version of ``subject`` that writes as ``schema`` does (same canonical form:
        docs, defaults and spelling of names aside), if any. Raises ``KeyError`` for an
        unknown subject and :class:`InvalidSchema` for a schema that is not one."""
        versions = self._subjects[subject]
        wanted = canonical_form(schema)
        return next((v for v in versions if v.canonical == wanted), None)


def _versions(subject: str, found: Mapping[int, tuple[Path, Any]]) -> list[RegisteredVersion]:
    return [
        RegisteredVersion(subject, number, sid, *found[sid])
        for number, sid in enumerate(sorted(found), start=1)
    ]


__all__ = ["InvalidSchema", "RegisteredVersion", "SchemaCatalogue", "canonical_form"]
