"""Avro schema resolution, checked before any datum is read: can a writer's data be read
into a reader's schema?

``fastavro`` resolves a writer schema against a reader schema while it reads a datum,
and fails on the first datum that needs a rule it cannot apply; it has no checker that
says beforehand what will fail. This module is that checker, following the resolution
rules of the Avro specification ("Schema Resolution"), in the shape of the Java
library's ``SchemaCompatibility`` (its incompatibility types are the :class:`Problem`
names, so a report reads like a Schema Registry's): the ingest asks it before it reads
a message whose writer schema came from a registry, ``bloodledger schemas check`` and
the ledger's registry (``/registry/compatibility/...``) ask it of a proposed schema.

The rules, as the specification has them:

- primitives match when equal, or by promotion: ``int`` to ``long``, ``float`` or
  ``double``; ``long`` to ``float`` or ``double``; ``float`` to ``double``; ``string``
  to ``bytes`` and back. Logical types do not take part (their underlying type does);
- records, enums and fixed match by unqualified name (or a reader alias), fixed also by
  size; a reader field the writer lacks needs a default; a writer field the reader lacks
  is skipped; fields are matched by name (or a reader field alias), never by position;
- an enum symbol the writer has and the reader lacks reads as the reader's ``default``
  symbol if it has one, else it cannot be read;
- arrays and maps resolve their items and values;
- a writer union: each branch is resolved on its own; a reader union: the first branch
  that matches the writer's (shallowly, as above) is resolved against it.

Some findings stop every datum at their place (a changed type, a removed field without
default); others stop only the data that use what the reader lacks: a writer's enum
symbol, a writer's record in a union (an event type the reader does not know). The
latter are :attr:`Finding.narrows`: the contract's evolution rules allow them forward
(old readers lose only the new symbols and event types), never backward.

Pure: schemas in, findings out. A finding names places and types, never a datum.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

__all__ = [
    "Compatibility",
    "Finding",
    "InvalidSchema",
    "Problem",
    "canonical_form",
    "compare",
    "parsed",
    "resolve",
    "without_markers",
]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
#: Writer primitive -> the reader primitives it is promoted to.
PROMOTIONS: Mapping[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


class InvalidSchema(ValueError):
    """Text or JSON that is not an Avro schema (the message says why, in one line)."""


class Problem(StrEnum):
    """Why a writer's data cannot be read at one place (the Java library's names)."""

    TYPE_MISMATCH = "TYPE_MISMATCH"
    NAME_MISMATCH = "NAME_MISMATCH"
    FIXED_SIZE_MISMATCH = "FIXED_SIZE_MISMATCH"
    MISSING_ENUM_SYMBOLS = "MISSING_ENUM_SYMBOLS"
    READER_FIELD_MISSING_DEFAULT_VALUE = "READER_FIELD_MISSING_DEFAULT_VALUE"
    MISSING_UNION_BRANCH = "MISSING_UNION_BRANCH"


@dataclass(frozen=True)
class Finding:
    """One place where the writer's data cannot be read into the reader's schema."""

    problem: Problem
    #: Where, from the writer's top type: ``Event.payload.DonationCollected.volume_ml``.
    path: str
    message: str
    #: True if only data using something the reader lacks fails here (an enum symbol,
    #: a record in a union); False if every datum at this place fails.
    narrows: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.problem})"


@dataclass(frozen=True)
class Compatibility:
    """A proposed schema against a registered one, both ways.

    ``backward``: the proposal as reader, the registered schema's data (the new ledger
    reads every message already written). ``forward``: the registered schema as reader,
    the proposal's data (consumers not yet upgraded read what new producers write).
    """

    backward: tuple[Finding, ...]
    forward: tuple[Finding, ...]

    @property
    def breaking(self) -> tuple[Finding, ...]:
        """What the contract's rules refuse: anything backward, and forward whatever
        does not merely narrow."""
        return self.backward + tuple(f for f in self.forward if not f.narrows)

    @property
    def narrowing(self) -> tuple[Finding, ...]:
        """What they allow with a note: new enum symbols and event types, which a reader
        that does not know them yet dead-letters (``BAD_ENUM``, ``UNKNOWN_EVENT_TYPE``)."""
        return tuple(f for f in self.forward if f.narrows)

    @property
    def compatible(self) -> bool:
        return not self.breaking


def parsed(schema: str | Any) -> Any:
    """A schema (JSON text, or its parsed JSON, or a type's name) checked and normalised
    by ``fastavro``: every name a full name, every named type defined once and referenced
    after."""
    if isinstance(schema, str) and schema.strip()[:1] in ("{", "[", '"'):
        try:
            schema = json.loads(schema)
        except ValueError as error:
            msg = f"not JSON: {error}"
            raise InvalidSchema(msg) from None
    try:
        normalised = parse_schema(schema, _write_hint=False, _force=True)
    except Exception as error:  # fastavro raises several types; the text names no datum
        text = str(error).strip().splitlines()
        msg = f"not an Avro schema: {type(error).__name__}: {text[0][:200] if text else ''}"
        raise InvalidSchema(msg) from None
    return without_markers(normalised)


def canonical_form(schema: str | Any) -> str:
    """Avro's Parsing Canonical Form of a schema (text or parsed JSON): equal for two
    schemas exactly when they read and write the same bytes (docs, defaults, aliases
    and the spelling of names aside). Raises :class:`InvalidSchema`."""
    form: str = to_parsing_canonical_form(parsed(schema))
    return form


def resolve(writer: Any, reader: Any) -> tuple[Finding, ...]:
    """Every place where data written with ``writer`` cannot be read with ``reader``
    (both as :func:`parsed` returns them); empty if all of it can."""
    walk = _Walk(_named_types(writer), _named_types(reader))
    return tuple(walk.resolve(writer, reader, _top_name(writer)))


def compare(registered: Any, proposed: Any) -> Compatibility:
    """A proposed schema against a registered one, both ways (:class:`Compatibility`)."""
    return Compatibility(
        backward=resolve(registered, proposed), forward=resolve(proposed, registered)
    )


# --- the walk -------------------------------------------------------------------------


def without_markers(node: Any) -> Any:
    """A parsed schema without ``fastavro``'s private keys (``__fastavro_parsed``…), as
    plain JSON (a copy)."""
    if isinstance(node, list):
        return [without_markers(member) for member in node]
    if isinstance(node, dict):
        return {k: without_markers(v) for k, v in node.items() if not k.startswith("__")}
    return node


def _named_types(node: Any, found: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every named type a parsed schema defines, by full name."""
    found = {} if found is None else found
    if isinstance(node, list):
        for member in node:
            _named_types(member, found)
    elif isinstance(node, dict):
        if node.get("type") in NAMED:
            found[node["name"]] = node
        for item in node.get("fields", ()):
            _named_types(item["type"], found)
        for key in ("items", "values"):
            if key in node:
                _named_types(node[key], found)
        if isinstance(node.get("type"), dict | list):
            _named_types(node["type"], found)
    return found


def _top_name(schema: Any) -> str:
    if isinstance(schema, dict) and schema.get("type") in NAMED:
        return _short(schema["name"])
    return _kind(schema) if not isinstance(schema, list) else "union"


def _short(full_name: str) -> str:
    return full_name.rpartition(".")[2]


def _kind(schema: Any) -> str:
    """The type's kind: a primitive's name, record, enum, fixed, array, map or union."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        kind = schema["type"]
        return kind if isinstance(kind, str) else _kind(kind)
    return str(schema)


def _describe(schema: Any) -> str:
    """How a finding names a type: ``int``, ``record DonationCollected``, ``array``…"""
    if isinstance(schema, dict) and schema.get("type") in NAMED:
        return f"{_kind(schema)} {_short(schema['name'])}"
    return _kind(schema)


def _aliases(schema: Mapping[str, Any]) -> set[str]:
    """A named type's or field's aliases, each as written and unqualified."""
    aliases = set(schema.get("aliases", ()))
    return aliases | {_short(alias) for alias in aliases}


@dataclass
class _Walk:
    """One resolution: the two sides' named types, and the record pairs being resolved
    (a recursive record is resolved once)."""

    writer_names: dict[str, Any]
    reader_names: dict[str, Any]
    in_progress: set[tuple[str, str]] = field(default_factory=set)

    def _deref(self, schema: Any, names: Mapping[str, Any]) -> Any:
        """A type with a named reference replaced by its definition; a ``{"type": X}``
        wrapper of a primitive or reference unwrapped."""
        while True:
            if isinstance(schema, str) and schema not in PRIMITIVES and schema in names:
                schema = names[schema]
            elif isinstance(schema, dict) and _is_wrapper(schema):
                schema = schema["type"]
            else:
                return schema

    def matches(self, writer: Any, reader: Any) -> bool:
        """The specification's "match" (no recursion): which reader union branch a writer
        type goes to."""
        writer = self._deref(writer, self.writer_names)
        reader = self._deref(reader, self.reader_names)
        w_kind, r_kind = _kind(writer), _kind(reader)
        if w_kind in PRIMITIVES and r_kind in PRIMITIVES:
            return w_kind == r_kind or r_kind in PROMOTIONS.get(w_kind, frozenset())
        if w_kind != r_kind:
            return False
        if w_kind in ("array", "map", "union"):
            return True
        named = _short(writer["name"]) == _short(reader["name"]) or (
            _short(writer["name"]) in _aliases(reader) or writer["name"] in _aliases(reader)
        )
        return named and (w_kind != "fixed" or writer.get("size") == reader.get("size"))

    def resolve(
        self, writer: Any, reader: Any, path: str, *, branch: bool = False
    ) -> Iterator[Finding]:
        """The findings of one place (``branch``: a writer union's branch, whose name
        the path already has)."""
        writer = self._deref(writer, self.writer_names)
        reader = self._deref(reader, self.reader_names)
        if isinstance(writer, list):
            for member in writer:
                member = self._deref(member, self.writer_names)
                yield from self.resolve(member, reader, _within(path, member), branch=True)
            return
        if isinstance(reader, list):
            where = path if branch else _within(path, writer)
            chosen = next((b for b in reader if self.matches(writer, b)), None)
            if chosen is None:
                yield _missing_branch(writer, where)
            else:
                yield from self.resolve(writer, chosen, where, branch=True)
            return
        w_kind, r_kind = _kind(writer), _kind(reader)
        if w_kind in PRIMITIVES or r_kind in PRIMITIVES or w_kind != r_kind:
            if not self.matches(writer, reader):
                message = f"the writer's {_describe(writer)} cannot be read as {_describe(reader)}"
                yield Finding(Problem.TYPE_MISMATCH, path, message)
            return
        if w_kind == "array":
            yield from self.resolve(writer["items"], reader["items"], f"{path}[]")
        elif w_kind == "map":
            yield from self.resolve(writer["values"], reader["values"], f"{path}{{}}")
        elif not self.matches(writer, reader):
            yield _mismatch(writer, reader, path)
        elif w_kind == "enum":
            yield from _enum(writer, reader, path)
        elif w_kind in ("record", "error"):
            yield from self._record(writer, reader, path)

    def _record(self, writer: Any, reader: Any, path: str) -> Iterator[Finding]:
        pair = (writer["name"], reader["name"])
        if pair in self.in_progress:
            return
        self.in_progress.add(pair)
        try:
            by_name = {f["name"]: f for f in writer["fields"]}
            for wanted in reader["fields"]:
                where = f"{path}.{wanted['name']}"
                names = [wanted["name"], *wanted.get("aliases", ())]
                given = next((by_name[n] for n in names if n in by_name), None)
                if given is not None:
                    yield from self.resolve(given["type"], wanted["type"], where)
                elif "default" not in wanted:
                    message = "the reader's field has no default and the writer does not write it"
                    yield Finding(Problem.READER_FIELD_MISSING_DEFAULT_VALUE, where, message)
        finally:
            self.in_progress.discard(pair)


def _is_wrapper(schema: Mapping[str, Any]) -> bool:
    """``{"type": X}`` that only wraps X: a primitive (with a logical type, say), a
    reference, or a nested type."""
    kind = schema.get("type")
    return not isinstance(kind, str) or kind not in NAMED | {"array", "map"}


def _missing_branch(writer: Any, path: str) -> Finding:
    """A writer type no reader union branch takes: a record the reader does not know
    only narrows (its data alone fails), anything else is a changed type."""
    narrows = _kind(writer) in ("record", "error")
    message = f"the reader's union has no branch for the writer's {_describe(writer)}"
    return Finding(Problem.MISSING_UNION_BRANCH, path, message, narrows)


def _within(path: str, schema: Any) -> str:
    """The path into a union's branch: a named branch adds its name."""
    if isinstance(schema, dict) and schema.get("type") in NAMED:
        return f"{path}.{_short(schema['name'])}"
    return path


def _mismatch(writer: Any, reader: Any, path: str) -> Finding:
    if _kind(writer) == "fixed" and _short(writer["name"]) == _short(reader["name"]):
        message = f"fixed size {writer.get('size')} cannot be read as size {reader.get('size')}"
        return Finding(Problem.FIXED_SIZE_MISMATCH, path, message)
    message = f"the writer's {_describe(writer)} is not the reader's {_describe(reader)}"
    return Finding(Problem.NAME_MISMATCH, path, message)


def _enum(writer: Any, reader: Any, path: str) -> Iterator[Finding]:
    unknown = [s for s in writer["symbols"] if s not in reader["symbols"]]
    if unknown and reader.get("default") not in reader["symbols"]:
        message = (
            f"symbols {', '.join(unknown)} of the writer's enum {_short(writer['name'])} are "
            "not the reader's, which has no default symbol"
        )
        yield Finding(Problem.MISSING_ENUM_SYMBOLS, path, message, narrows=True)
