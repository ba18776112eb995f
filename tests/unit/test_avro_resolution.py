"""Avro schema resolution, checked beforehand: every rule against ``fastavro`` reading.

Each rule of the specification's "Schema Resolution" is shown twice: what the checker
says of a writer/reader pair, and what ``fastavro`` does when it reads a datum written
with the writer through the reader. The checker must never call readable what
``fastavro`` refuses, nor refuse what it reads (except where it refuses only some data:
a finding that narrows).
"""

from __future__ import annotations

import itertools
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from ledger.adapters.avro import SchemaManifest
from ledger.adapters.avro_resolution import (
    InvalidSchema,
    Problem,
    canonical_form,
    compare,
    parsed,
    resolve,
)

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
SAMPLES: dict[str, Any] = {
    "null": None, "boolean": True, "int": 7, "long": 7, "float": 1.5, "double": 1.5,
    "bytes": b"x", "string": "x",
}  # fmt: skip


def reads(writer: Any, reader: Any, datum: Any) -> bool:
    """Whether ``fastavro`` reads ``datum``, written with ``writer``, through ``reader``."""
    body = BytesIO()
    schemaless_writer(body, parse_schema(writer), datum)
    try:
        schemaless_reader(BytesIO(body.getvalue()), parse_schema(writer), parse_schema(reader))
    except Exception:
        return False
    return True


def findings(writer: Any, reader: Any) -> list[tuple[Problem, str, bool]]:
    return [(f.problem, f.path, f.narrows) for f in resolve(parsed(writer), parsed(reader))]


def record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields), **extra}


@pytest.mark.parametrize(("writer", "reader"), list(itertools.product(PRIMITIVES, PRIMITIVES)))
def test_primitives_resolve_exactly_when_fastavro_reads_them(writer: str, reader: str) -> None:
    """Equal types, and the promotions int -> long/float/double, long -> float/double,
    float -> double, string <-> bytes: all 64 pairs, as fastavro decides them."""
    said = not findings(writer, reader)
    assert said == reads(writer, reader, SAMPLES[writer])
    if not said:
        assert findings(writer, reader) == [(Problem.TYPE_MISMATCH, writer, False)]


def test_an_added_optional_field_reads_both_ways() -> None:
    old = record("R", {"name": "a", "type": "int"})
    new = record("R", {"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"],
                                                     "default": None})  # fmt: skip
    assert findings(old, new) == findings(new, old) == []
    assert reads(old, new, {"a": 1}) and reads(new, old, {"a": 1, "b": "x"})


def test_a_reader_field_the_writer_lacks_needs_a_default() -> None:
    writer = record("R", {"name": "a", "type": "int"})
    reader = record("R", {"name": "a", "type": "int"}, {"name": "b", "type": "string"})
    assert findings(writer, reader) == [(Problem.READER_FIELD_MISSING_DEFAULT_VALUE, "R.b", False)]
    assert not reads(writer, reader, {"a": 1})
    assert findings(reader, writer) == []  # the writer's extra field is skipped
    assert reads(reader, writer, {"a": 1, "b": "x"})


def test_fields_match_by_name_or_a_reader_alias_never_by_position() -> None:
    writer = record("R", {"name": "old", "type": "int"}, {"name": "x", "type": "string"})
    renamed = record("R", {"name": "x", "type": "string"},
                     {"name": "new", "type": "int", "aliases": ["old"]})  # fmt: skip
    assert findings(writer, renamed) == []
    unaliased = record("R", {"name": "x", "type": "string"}, {"name": "new", "type": "int"})
    assert findings(writer, unaliased) == [
        (Problem.READER_FIELD_MISSING_DEFAULT_VALUE, "R.new", False)
    ]


def test_records_match_by_unqualified_name_or_alias() -> None:
    writer = {"type": "record", "name": "acme.R", "fields": [{"name": "a", "type": "int"}]}
    same_short = {"type": "record", "name": "other.R", "fields": [{"name": "a", "type": "int"}]}
    assert findings(writer, same_short) == [] and reads(writer, same_short, {"a": 1})
    one_int = [{"name": "a", "type": "int"}]
    renamed = {"type": "record", "name": "S", "aliases": ["R"], "fields": one_int}
    assert findings(writer, renamed) == [] and reads(writer, renamed, {"a": 1})
    other = {"type": "record", "name": "S", "fields": [{"name": "a", "type": "int"}]}
    assert findings(writer, other) == [(Problem.NAME_MISMATCH, "R", False)]
    assert not reads(writer, other, {"a": 1})


def test_an_enum_symbol_the_reader_lacks_narrows_unless_the_reader_has_a_default() -> None:
    writer = {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}
    reader = {"type": "enum", "name": "E", "symbols": ["A", "B"]}
    [finding] = resolve(parsed(writer), parsed(reader))
    assert (finding.problem, finding.narrows) == (Problem.MISSING_ENUM_SYMBOLS, True)
    assert "C" in finding.message
    assert reads(writer, reader, "A") and not reads(writer, reader, "C")  # only C fails
    defaulted = {**reader, "default": "A"}
    assert findings(writer, defaulted) == []
    assert reads(writer, defaulted, "C")  # read as the reader's default symbol


def test_a_record_the_readers_union_lacks_narrows_any_other_branch_breaks() -> None:
    a = record("A", {"name": "x", "type": "int"})
    b = record("B", {"name": "y", "type": "string"})
    writer = record("E", {"name": "p", "type": [a, b]})
    reader = record("E", {"name": "p", "type": [a]})
    assert findings(writer, reader) == [(Problem.MISSING_UNION_BRANCH, "E.p.B", True)]
    assert reads(writer, reader, {"p": ("t.A", {"x": 1})})
    assert not reads(writer, reader, {"p": ("t.B", {"y": "?"})})
    wider = record("E", {"name": "v", "type": ["null", "string", "long"]})
    narrower = record("E", {"name": "v", "type": ["null", "string"]})
    assert findings(wider, narrower) == [(Problem.MISSING_UNION_BRANCH, "E.v", False)]


def test_an_optional_field_made_required_breaks_on_null() -> None:
    optional = record("R", {"name": "v", "type": ["null", "string"], "default": None})
    required = record("R", {"name": "v", "type": "string"})
    assert findings(optional, required) == [(Problem.TYPE_MISMATCH, "R.v", False)]
    assert reads(optional, required, {"v": "x"}) and not reads(optional, required, {"v": None})
    assert findings(required, optional) == []  # a writer's string goes to the union's branch


def test_a_field_inside_a_union_branch_is_named_by_its_record() -> None:
    old = record("E", {"name": "p", "type": [record("A", {"name": "x", "type": "int"})]})
    new = record("E", {"name": "p", "type": [record("A", {"name": "x", "type": "string"})]})
    assert findings(old, new) == [(Problem.TYPE_MISMATCH, "E.p.A.x", False)]
    assert not reads(old, new, {"p": ("t.A", {"x": 1})})


def test_fixed_arrays_and_maps() -> None:
    four = {"type": "fixed", "name": "F", "size": 4}
    assert findings(four, {**four, "size": 8}) == [(Problem.FIXED_SIZE_MISMATCH, "F", False)]
    assert findings({"type": "array", "items": "int"}, {"type": "array", "items": "long"}) == []
    assert findings({"type": "map", "values": "long"}, {"type": "map", "values": "int"}) == [
        (Problem.TYPE_MISMATCH, "map{}", False)
    ]
    assert findings({"type": "array", "items": "int"}, {"type": "map", "values": "int"}) == [
        (Problem.TYPE_MISMATCH, "array", False)
    ]


def test_a_recursive_record_is_resolved_once() -> None:
    node = record("Node", {"name": "v", "type": "int"},
                  {"name": "next", "type": ["null", "t.Node"], "default": None})  # fmt: skip
    grown = record("Node", {"name": "v", "type": "long"},
                   {"name": "next", "type": ["null", "t.Node"], "default": None})  # fmt: skip
    assert findings(node, grown) == []
    assert findings(grown, node) == [(Problem.TYPE_MISMATCH, "Node.v", False)]


def test_the_contracts_history_reads_backward_and_narrows_forward() -> None:
    """Ids 1, 2 and 4: each newer version reads every older one's messages; an older one
    lacks only the newer's event types (the payload union's new records)."""
    manifest = SchemaManifest()
    versions = {sid: parsed(manifest.definition(sid)) for sid in manifest.schema_ids}
    for older, newer in itertools.combinations(sorted(versions), 2):
        both = compare(versions[older], versions[newer])
        assert both.backward == () and both.compatible
        assert both.forward and all(f.narrows for f in both.forward)
        assert {f.problem for f in both.forward} == {Problem.MISSING_UNION_BRANCH}
    assert [f.path for f in compare(versions[2], versions[4]).narrowing] == [
        "Event.payload.NoticeAcknowledged"
    ]


def test_what_is_not_a_schema_is_refused_in_one_line() -> None:
    for text in ("{not json", '{"type": "recrod", "name": "R"}', '"bloodledger.Nowhere"'):
        with pytest.raises(InvalidSchema) as caught:
            parsed(text)
        assert "\n" not in str(caught.value)


def test_the_canonical_form_ignores_docs_and_namespace_spelling() -> None:
    spelt = {"type": "record", "name": "R", "namespace": "t", "doc": "one",
             "fields": [{"name": "a", "type": "int", "doc": "x"}]}  # fmt: skip
    full = {"type": "record", "name": "t.R", "fields": [{"name": "a", "type": "int"}]}
    assert canonical_form(spelt) == canonical_form(full)
    assert canonical_form(full) != canonical_form({**full, "name": "t.S"})
