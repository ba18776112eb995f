"""The HTTP API on SQLite and PostgreSQL, in process (FastAPI's test client, real stores).

Every role x every route x its own / another facility is asked and each answer's
status compared with the table below — written from the issue's words, not read
from the matrix in the code, so a change to either shows here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.contract_json import fact_to_json
from ledger.adapters.kafka import TopicReader
from ledger.adapters.persistence import store_for
from ledger.entrypoints.api import create_app
from ledger.entrypoints.serve import Served
from tests.builders import HOSPITAL, RBC, START, Timeline, at, din
from tests.integration.api_support import GIVEN, OTHER, ROLES, WAITING, serving
from tests.integration.support import run_ingest

pytestmark = pytest.mark.integration


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    served: Served
    case_id: str

    def ask(self, who: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture
def api(durable_store_url: str) -> Iterator[Api]:
    with (
        serving(durable_store_url) as (served, tokens),
        TestClient(create_app(served.services)) as client,
    ):
        api = Api(client, tokens, served, "")
        opened = api.ask(
            "investigator", "POST", "/api/v1/lookbacks",
            json={"donor_id": "D000001", "reason": "recipient seroconverted",
                  "since": START.isoformat()},
        )  # fmt: skip
        assert opened.status_code == 201, opened.text
        api.case_id = opened.json()["case_id"]
        yield api


def _check(facility: str) -> dict[str, Any]:
    return {
        "din": WAITING, "product_code": RBC, "patient_id": "P000001", "patient_abo": "A",
        "patient_rhd": "POS", "facility": facility, "at": at(21).isoformat(),
    }  # fmt: skip


#: route -> (method, path, body) ; ``{case}`` is the lookback opened by the fixture.
ROUTES: dict[str, tuple[str, str, Any]] = {
    "unit": ("GET", f"/api/v1/units/{GIVEN}", None),
    "trace": ("GET", f"/api/v1/trace?din={GIVEN}", None),
    "inventory": ("GET", "/api/v1/inventory", None),
    "inventory-other": ("GET", f"/api/v1/inventory?facility={OTHER}", None),
    "alerts": ("GET", "/api/v1/alerts", None),
    "lookback-open": ("POST", "/api/v1/lookbacks", {"donor_id": "D000002", "reason": "r"}),
    "lookback": ("GET", "/api/v1/lookbacks/{case}", None),
    "check": ("POST", "/api/v1/checks/transfusion", _check(HOSPITAL)),
    "check-other": ("POST", "/api/v1/checks/transfusion", _check(OTHER)),
    "events": ("POST", "/api/v1/events", []),
    "fhir": ("GET", f"/api/v1/fhir/BiologicallyDerivedProduct?identifier={GIVEN}", None),
    "access-log": ("GET", "/api/v1/access-log", None),
}

_ = 403  # forbidden
#: The expected status of each route for each token (the issue's roles, in words):
#: integrators only submit events (503 here: this server has no broker); clinicians
#: check, read units, inventory, alerts, FHIR of their own facility; investigators
#: trace, look back, read; regulators read everything and open nothing; admins read
#: the access log only.
EXPECTED: dict[str, dict[str, int]] = {
    #                  integ. integ-o clin. clin-o inv.  reg.  admin
    "unit":          dict(zip(ROLES, (_, _, 200, _, 200, 200, _), strict=True)),
    "trace":         dict(zip(ROLES, (_, _, _, _, 200, 200, _), strict=True)),
    "inventory":     dict(zip(ROLES, (_, _, 200, 200, 200, 200, _), strict=True)),
    "inventory-other": dict(zip(ROLES, (_, _, _, 200, 200, 200, _), strict=True)),
    "alerts":        dict(zip(ROLES, (_, _, 200, 200, 200, 200, _), strict=True)),
    "lookback-open": dict(zip(ROLES, (_, _, _, _, 201, _, _), strict=True)),
    "lookback":      dict(zip(ROLES, (_, _, _, _, 200, 200, _), strict=True)),
    "check":         dict(zip(ROLES, (_, _, 200, _, _, _, _), strict=True)),
    "check-other":   dict(zip(ROLES, (_, _, _, 200, _, _, _), strict=True)),
    "events":        dict(zip(ROLES, (503, 503, _, _, _, _, _), strict=True)),
    "fhir":          dict(zip(ROLES, (_, _, 200, _, 200, 200, _), strict=True)),
    "access-log":    dict(zip(ROLES, (_, _, _, _, _, _, 200), strict=True)),
}  # fmt: skip


def test_every_role_on_every_route_gets_what_the_issue_says(api: Api) -> None:
    answers: dict[str, dict[str, int]] = {}
    for route, (method, path, body) in ROUTES.items():
        path = path.replace("{case}", api.case_id)
        answers[route] = {}
        for who in ROLES:
            answer = api.ask(who, method, path, json=body)
            answers[route][who] = answer.status_code
            if answer.status_code >= 400:
                document = answer.json()
                assert set(document) >= {"error", "message"}, (route, who, document)
        anonymous = api.ask(None, method, path, json=body)
        assert anonymous.status_code == 401, (route, anonymous.text)
        assert anonymous.json()["error"] == "unauthenticated"
    assert answers == EXPECTED


def test_metrics_count_every_answer_even_a_route_that_raised(api: Api) -> None:
    """The metrics middleware sees each request through to its answer: a route that
    raised is counted as the 500 it answered, a refusal with its status, each under
    its route's template."""
    app = api.client.app

    def broken(part: str) -> None:
        raise RuntimeError(part)

    app.router.add_api_route("/broken/{part}", broken)  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/broken/W1234").status_code == 500
        assert client.get(f"/api/v1/units/{GIVEN}").status_code == 401
        metrics = client.get("/metrics").text
    counted = 'requests_total{method="GET",route="/broken/{part}",status="500"} 1.0'
    assert counted in metrics
    refused = 'route="/api/v1/units/{din}",status="401"} 1.0'
    assert refused in metrics
    assert "W1234" not in metrics


def test_a_revoked_token_is_refused(api: Api) -> None:
    assert api.ask("regulator", "GET", f"/api/v1/units/{GIVEN}").status_code == 200
    api.served.access.control.revoke("regulator")
    refused = api.ask("regulator", "GET", f"/api/v1/units/{GIVEN}")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated"
    garbage = api.client.get(f"/api/v1/units/{GIVEN}", headers={"Authorization": "Bearer x"})
    assert garbage.status_code == 401


def test_answers_are_the_cli_documents_and_clinicians_never_see_donors(api: Api) -> None:
    from ledger.entrypoints import documents

    ledger = api.served.models.ledger
    as_cli = documents.history(ledger, GIVEN)
    investigator = api.ask("investigator", "GET", f"/api/v1/units/{GIVEN}").json()
    assert investigator == as_cli
    text = str(investigator)
    assert "D000002" in text and "P000002" in text
    clinician = api.ask("clinician", "GET", f"/api/v1/units/{GIVEN}").json()
    assert "D000002" not in str(clinician) and "P000002" in str(clinician)
    traced = api.ask("investigator", "GET", "/api/v1/trace?donor=D000002").json()
    assert traced["donors"] == ["D000002"] and traced["units"]


def test_every_answer_showing_an_identifier_is_in_the_access_log(api: Api) -> None:
    api.ask("investigator", "GET", "/api/v1/trace?donor=D000002")
    api.ask("clinician", "GET", f"/api/v1/units/{GIVEN}")
    api.ask("regulator", "GET", "/api/v1/inventory")  # shows nobody: not recorded
    entries = api.ask("admin", "GET", "/api/v1/access-log").json()
    by_route = {(e["token_name"], e["route"]): e for e in entries}
    trace = by_route[("investigator", "/trace")]
    assert {"kind": "donor", "value": "D000002"} in trace["identifiers"] or any(
        "D000002" in str(i) for i in trace["identifiers"]
    )
    assert trace["role"] == "investigator" and trace["at"]
    unit = by_route[("clinician", "/units/{din}")]
    assert "P000002" in str(unit["identifiers"]) and "D000002" not in str(unit["identifiers"])
    assert not any(route == "/inventory" for _, route in by_route)


def test_errors_are_json_with_the_right_status(api: Api) -> None:
    bad_din = api.ask("regulator", "GET", "/api/v1/units/NOT-A-DIN")
    assert bad_din.status_code == 422 and bad_din.json()["error"] == "invalid_din"
    unknown = api.ask("regulator", "GET", f"/api/v1/units/{din(99)}")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    no_case = api.ask("regulator", "GET", "/api/v1/lookbacks/nope")
    assert no_case.status_code == 404
    two = api.ask("regulator", "GET", f"/api/v1/trace?din={GIVEN}&donor=D1")
    assert two.status_code == 422
    bad_date = api.ask("regulator", "GET", "/api/v1/inventory?as_of=yesterday")
    assert bad_date.status_code == 422 and bad_date.json()["error"] == "invalid_request"
    missing = api.ask("investigator", "POST", "/api/v1/lookbacks", json={"reason": "x"})
    assert missing.status_code == 422
    nowhere = api.ask("regulator", "GET", "/api/v1/nothing-here")
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "not_found"
    for answer in (bad_din, unknown, two, bad_date, missing):
        assert "Traceback" not in answer.text


def test_operations_routes(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["projection_lag"] == 0
    api.served.models.ledger.record(Timeline(din=din(3)).transfused_cleanly().facts)
    api.served.services.max_lag = 0
    lagging = api.client.get("/readyz")
    assert lagging.status_code == 503 and lagging.json()["error"] == "lagging"
    api.ask("regulator", "GET", f"/api/v1/units/{GIVEN}")
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200
    assert 'route="/api/v1/units/{din}"' in metrics.text  # the template, never the DIN
    assert GIVEN not in metrics.text
    assert "bloodledger_projection_lag_events" in metrics.text
    schema = api.client.get("/openapi.json").json()
    assert "/api/v1/checks/transfusion" in schema["paths"]
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "/static/docs/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert api.client.get("/static/docs/swagger-ui-bundle.js").status_code == 200


def test_events_over_http_reach_the_topic_only_when_all_are_facts_and_ours(
    broker: EmbeddedBroker, topic: str, sqlite_url: str
) -> None:
    served = Served(store_for(sqlite_url), bootstrap=broker.bootstrap, topic=topic)
    try:
        control = served.access.control
        ours = control.create("lis", "integrator", HOSPITAL)
        anyone = control.create("hub", "integrator")
        with TestClient(create_app(served.services)) as client:

            def post(token: str, content: bytes, kind: str) -> Any:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": kind}
                return client.post("/api/v1/events", content=content, headers=headers)

            story = Timeline(din=din(7))
            received = story.received()  # reported by HOSPITAL
            issued = story.issued()  # reported by the centre
            one = json.dumps(fact_to_json(received)).encode()
            accepted = post(ours, one, "application/json")
            assert accepted.status_code == 202, accepted.text
            assert accepted.json()["event_ids"] == [received.event_id]
            foreign = post(ours, json.dumps(fact_to_json(issued)).encode(), "application/json")
            assert foreign.status_code == 403 and foreign.json()["error"] == "forbidden"
            broken = fact_to_json(issued) | {"din": "SHORT"}
            missing = {k: v for k, v in fact_to_json(issued).items() if k != "occurred_at"}
            both = json.dumps([fact_to_json(issued), broken, missing]).encode()
            rejected = post(anyone, both, "application/json")
            assert rejected.status_code == 422 and rejected.json()["error"] == "rejected"
            assert [p["index"] for p in rejected.json()["problems"]] == [1, 2]
            framed = AvroCodec().encode(issued)
            avro = post(anyone, framed, "application/octet-stream")
            assert avro.status_code == 202 and avro.json()["event_ids"] == [issued.event_id]
            odd = post(anyone, b"x", "text/plain")
            assert odd.status_code == 415
            before = _gauge(client.get("/metrics").text, "bloodledger_ingest_lag_records")
            assert before >= 1  # on the topic, not yet stored (the embedded broker's end
            # offset is the start of its last batch: it may read one short)
            ingested = run_ingest(broker.bootstrap, topic, sqlite_url)
            assert ingested.returncode == 0, ingested.stderr
            time.sleep(served.ends.ttl_s if served.ends else 0)
            after = _gauge(client.get("/metrics").text, "bloodledger_ingest_lag_records")
            assert after == 0
        records = list(TopicReader(broker.bootstrap, idle_s=2).records(topic))
        assert [r.key for r in records] == [din(7).encode()] * 2  # nothing of the 422 or 403
        assert [AvroCodec().decode(r.value).event_id for r in records] == [
            received.event_id,
            issued.event_id,
        ]
    finally:
        served.close()


def _gauge(metrics: str, name: str) -> float:
    [line] = [line for line in metrics.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])
