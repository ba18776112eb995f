"""The contract's Schema Registry (``/registry``), called as Confluent's clients call it:
its paths, bodies, content type and error bodies, over the repository's schemas (the
app in process; over HTTP, with Confluent's own client, in
``tests/integration/test_schema_registry.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ledger.adapters.avro import SchemaManifest
from ledger.adapters.avro_catalogue import SchemaCatalogue
from ledger.entrypoints.registry import MEDIA_TYPE, contract_registry, registry_app
from tests.support.proposals import (
    SCHEMAS,
    add_optional_site,
    drop_to_facility,
    proposal,
)

EVENTS = "bloodledger.events-value"
MANIFEST = SchemaManifest(SCHEMAS)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(registry_app(SchemaCatalogue(SCHEMAS)))


def ok(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    return response.json()


def error(client: TestClient, method: str, path: str, status: int, code: int, **kw: Any) -> str:
    response = client.request(method, path, **kw)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code
    message: str = body["message"]
    return message


def schema_body(definition: Any) -> dict[str, str]:
    return {"schema": json.dumps(definition)}


def test_subjects_are_the_manifests_and_the_record_names(client: TestClient) -> None:
    assert ok(client, "GET", "/subjects") == [
        "bloodledger.Event", "bloodledger.RecallNotice", EVENTS, "bloodledger.notices-value",
    ]  # fmt: skip
    assert ok(client, "GET", "/subjects?subjectPrefix=bloodledger.e&deleted=true") == [EVENTS]
    assert ok(client, "GET", "/schemas/types") == ["AVRO"]


def test_versions_are_the_ids_in_order_and_each_is_the_manifests_schema(
    client: TestClient,
) -> None:
    assert ok(client, "GET", f"/subjects/{EVENTS}/versions") == [1, 2, 3]
    for version, schema_id in ((1, 1), (2, 2), (3, 4), ("latest", 4), (-1, 4)):
        document = ok(client, "GET", f"/subjects/{EVENTS}/versions/{version}?deleted=false")
        assert document["subject"] == EVENTS
        assert document["id"] == schema_id
        assert document["version"] == (3 if version in ("latest", -1) else version)
        assert json.loads(document["schema"]) == MANIFEST.definition(schema_id)
        raw = ok(client, "GET", f"/subjects/{EVENTS}/versions/{version}/schema")
        assert raw == MANIFEST.definition(schema_id)
    notice = ok(client, "GET", "/subjects/bloodledger.notices-value/versions/latest")
    assert (notice["id"], notice["version"]) == (3, 1)


def test_a_schema_by_id_is_the_manifests_and_says_where_it_is_registered(
    client: TestClient,
) -> None:
    for schema_id in MANIFEST.schema_ids:
        document = ok(client, "GET", f"/schemas/ids/{schema_id}?subject={EVENTS}&fetchMaxId=false")
        assert set(document) == {"schema"}
        assert json.loads(document["schema"]) == MANIFEST.definition(schema_id)
    assert ok(client, "GET", "/schemas/ids/2?fetchMaxId=true")["maxId"] == 4
    assert ok(client, "GET", "/schemas/ids/4/schema") == MANIFEST.definition(4)
    assert ok(client, "GET", "/schemas/ids/4/subjects") == ["bloodledger.Event", EVENTS]
    assert ok(client, "GET", "/schemas/ids/4/versions") == [
        {"subject": "bloodledger.Event", "version": 3}, {"subject": EVENTS, "version": 3},
    ]  # fmt: skip


def test_what_is_not_there_is_said_with_confluents_error_codes(client: TestClient) -> None:
    assert error(client, "GET", "/schemas/ids/99", 404, 40403) == "Schema 99 not found"
    assert (
        error(client, "GET", "/subjects/nope/versions", 404, 40401) == "Subject 'nope' not found."
    )
    error(client, "GET", f"/subjects/{EVENTS}/versions/4", 404, 40402)
    error(client, "GET", f"/subjects/{EVENTS}/versions/one", 422, 42202)
    error(client, "GET", "/associations/resources/-/bloodledger.events", 404, 404)
    error(client, "PATCH", "/subjects", 405, 405)


def test_a_registered_schema_is_found_under_its_id_docs_and_spelling_aside(
    client: TestClient,
) -> None:
    """``POST /subjects/{s}``: what a serializer that does not register asks (``lookup``)."""
    stripped = json.loads(json.dumps(MANIFEST.definition(2)).replace('"doc": ', '"_doc": '))
    found = ok(client, "POST", f"/subjects/{EVENTS}?normalize=False&deleted=False",
               json=schema_body(stripped))  # fmt: skip
    assert (found["id"], found["version"], found["subject"]) == (2, 2, EVENTS)
    other = json.loads(json.dumps(MANIFEST.definition(4)))
    other["fields"][0]["name"] = "eventid"
    error(client, "POST", f"/subjects/{EVENTS}", 404, 40403, json=schema_body(other))
    error(client, "POST", "/subjects/nope", 404, 40401, json=schema_body(other))
    error(client, "POST", f"/subjects/{EVENTS}", 422, 42201, json={"schema": '{"type": "rec"}'})
    error(client, "POST", f"/subjects/{EVENTS}", 422, 42201,
          json={"schema": "{}", "schemaType": "PROTOBUF"})  # fmt: skip


def test_compatibility_is_the_contracts_rules(client: TestClient, tmp_path: Path) -> None:
    optional = proposal(tmp_path / "a", {"bloodledger.Source.avsc": add_optional_site})
    dropped = proposal(tmp_path / "b", {"bloodledger.UnitIssued.avsc": drop_to_facility})
    good = SchemaManifest(optional).definition(5)
    bad = SchemaManifest(dropped).definition(5)
    path = f"/compatibility/subjects/{EVENTS}/versions"
    assert ok(client, "POST", f"{path}/latest", json=schema_body(good)) == {"is_compatible": True}
    assert ok(client, "POST", path, json=schema_body(good)) == {"is_compatible": True}
    verbose = ok(client, "POST", f"{path}/latest?verbose=true&normalize=false",
                 json=schema_body(bad))  # fmt: skip
    assert verbose["is_compatible"] is False
    [message] = verbose["messages"]
    assert "UnitIssued.to_facility" in message and "READER_FIELD_MISSING_DEFAULT_VALUE" in message
    against_all = ok(client, "POST", f"{path}?verbose=true", json=schema_body(bad))
    assert len(against_all["messages"]) == 3  # ids 1, 2 and 4 each read it
    error(client, "POST", f"{path}/9", 404, 40402, json=schema_body(good))


def test_it_is_read_only_as_a_confluent_registry_in_readonly_mode(client: TestClient) -> None:
    assert (
        ok(client, "GET", "/mode") == ok(client, "GET", f"/mode/{EVENTS}") == {"mode": "READONLY"}
    )
    assert ok(client, "GET", "/config")["compatibilityLevel"] == "BACKWARD_TRANSITIVE"
    latest = ok(client, "GET", f"/subjects/{EVENTS}/versions/latest")
    for method, path, body in [
        ("POST", f"/subjects/{EVENTS}/versions", {"schema": latest["schema"]}),
        ("POST", f"/subjects/{EVENTS}/versions?normalize=true", {"schema": "{}"}),
        ("DELETE", f"/subjects/{EVENTS}", None),
        ("DELETE", f"/subjects/{EVENTS}/versions/1?permanent=true", None),
        ("PUT", "/config", {"compatibility": "NONE"}),
        ("PUT", f"/config/{EVENTS}", {"compatibility": "NONE"}),
        ("DELETE", "/config", None),
        ("PUT", "/mode?force=true", {"mode": "READWRITE"}),
    ]:
        message = error(client, method, path, 422, 42205, json=body)
        assert "read-only mode" in message
    assert ok(client, "GET", f"/subjects/{EVENTS}/versions") == [1, 2, 3]  # nothing changed


def test_a_deployment_topic_has_its_topic_name_subject(tmp_path: Path) -> None:
    client = TestClient(contract_registry(SCHEMAS, "events-at-st-marys"))
    latest = ok(client, "GET", "/subjects/events-at-st-marys-value/versions/latest")
    assert latest["id"] == 4
    assert "events-at-st-marys-value" in ok(client, "GET", "/schemas/ids/1/subjects")
    default = TestClient(contract_registry(SCHEMAS, "bloodledger.events"))
    assert "bloodledger.events-value" in ok(default, "GET", "/subjects")


def test_an_extra_schemas_directory_serves_its_new_id(tmp_path: Path) -> None:
    newer = proposal(tmp_path, {"bloodledger.Source.avsc": add_optional_site})
    client = TestClient(contract_registry(newer))
    assert ok(client, "GET", f"/subjects/{EVENTS}/versions") == [1, 2, 3, 4]
    assert ok(client, "GET", f"/subjects/{EVENTS}/versions/latest")["id"] == 5
