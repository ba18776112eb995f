"""The HTTP API against its own OpenAPI document: schemathesis over every operation.

Issue 12: "a ``schemathesis`` run against the OpenAPI document in the test suite
(bounded examples per route, authenticated with each role) finds no 5xx and no
response that breaks the schema". Every operation of ``/openapi.json`` is run with a
bearer token of each role (integrator, clinician, investigator, regulator, admin), on
SQLite and on PostgreSQL, with the server's broker (so ``POST /events`` reaches its
checks rather than answering 503 for want of one). Each case runs the examples,
coverage and (bounded) fuzzing phases, valid and invalid data alike.

Checks, all of them on every response:

* no 5xx (``not_a_server_error``);
* the status, the content type, the headers and the body are the ones the document
  declares for the operation (``status_code_conformance``, ``content_type_conformance``,
  ``response_headers_conformance``, ``response_schema_conformance``);
* data the document forbids is refused with a 4xx (``negative_data_rejection``);
  an undeclared method gets a 405 with its ``Allow`` (``unsupported_method``,
  ``allow_header_conformance``); no token, or a wrong one, gets a 401 wherever the
  document asks for one (``ignored_auth``); ``missing_required_header``;
* no error answer shows a donor or patient identifier, and a clinician is never shown
  a donor (the story's identifiers are fed in as parameter values half the time, so
  both are asked for, not only hoped for).

``positive_data_acceptance`` is left out on purpose: the ledger refuses, with a 422,
requests that no OpenAPI document can describe as wrong (exactly one of ``donor``,
``patient``, ``din`` for a trace; a DIN of the ISBT 128 shape; a blood group of its
vocabulary), so "schema-valid" is not "valid" here.

Deterministic: derandomized generation (a fixed seed besides), no example database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import Case, CheckContext, CheckFunction, Response
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import dlq_topic
from ledger.entrypoints.api import ApiServices, create_app
from tests.builders import HOSPITAL, RBC
from tests.conftest import _store
from tests.integration.api_support import GIVEN, OTHER, WAITING, serving

pytestmark = pytest.mark.integration

#: One token of each role (the facility-bound ones at HOSPITAL), by token name.
ROLES = ["integrator", "clinician", "investigator", "regulator", "admin"]
DONORS = ["D000001", "D000002"]
PATIENTS = ["P000001", "P000002"]

EXAMPLES = 25  # fuzzed cases per operation and role (coverage and examples come on top)


class Switch:
    """The ASGI application schemathesis calls: whichever app the fixture serves now.

    The OpenAPI document is read when this module is imported (``parametrize`` needs
    the operations before any fixture runs); it is the same for every store, so it is
    taken from an app whose services are never called."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


_unserved = ApiServices(models=None, access=None, checks=None, submission=None, fhir=dict)
SERVING = Switch(create_app(_unserved))


def _sometimes(dictionary: str) -> dict[str, Any]:
    return {"dictionary": dictionary, "probability": 0.5}


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260901,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        # Half the time a value of the story, so units, traces, checks are found too.
        "dictionaries": {
            "dins": {"values": [WAITING, GIVEN]},
            "donors": {"values": DONORS},
            "patients": {"values": PATIENTS},
            "facilities": {"values": [HOSPITAL, OTHER]},
            "products": {"values": [RBC]},
            "groups": {"values": ["A", "O"]},
            "rhd": {"values": ["POS", "NEG"]},
        },
        "parameters": {
            "path.din": _sometimes("dins"),
            "query.din": _sometimes("dins"),
            "query.identifier": _sometimes("dins"),
            "body.din": _sometimes("dins"),
            "query.donor": _sometimes("donors"),
            "body.donor_id": _sometimes("donors"),
            "query.patient": _sometimes("patients"),
            "body.patient_id": _sometimes("patients"),
            "query.facility": _sometimes("facilities"),
            "body.facility": _sometimes("facilities"),
            "query.product": _sometimes("products"),
            "body.product_code": _sometimes("products"),
            "body.patient_abo": _sometimes("groups"),
            "body.patient_rhd": _sometimes("rhd"),
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", SERVING, config=CONFIG)


def identifiers_stay_out_of_errors(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """No error answer names a donor or a patient (not even the one it was asked about)."""
    if response.status_code >= 400:
        shown = [i for i in DONORS + PATIENTS if i in response.text]
        assert not shown, f"a {response.status_code} answer shows identifiers {shown}"


def donors_withheld(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """A clinician's answers never show a donor."""
    shown = [i for i in DONORS if i in response.text]
    assert not shown, f"a clinician was shown donors {shown}"


CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
    identifiers_stay_out_of_errors,
]


@dataclass
class Serving:
    tokens: dict[str, str]

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    broker: EmbeddedBroker,
) -> Iterator[Serving]:
    """The story on a fresh store, served (with a broker) through :data:`SERVING`."""
    topic = f"events-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {topic: 3, dlq_topic(topic): 1})
    for url in _store(request.param, tmp_path_factory.mktemp("schema")):
        with serving(url, bootstrap=broker.bootstrap, topic=topic) as (services, tokens):
            unserved, SERVING.app = SERVING.app, create_app(services.services)
            try:
                yield Serving(tokens)
            finally:
                SERVING.app = unserved


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
def test_every_operation_answers_as_documented(case: Case[Any], role: str, served: Serving) -> None:
    checks = [*CHECKS, donors_withheld] if role == "clinician" else CHECKS
    case.call_and_validate(headers=served.bearer(role), checks=checks)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("as_of=2026-09-01T08:00:00Z", 200),
        ("as_of=2026-09-01T10:00:00%2B02:00", 200),
        ("as_of=2026-09-02", 200),  # a plain date: midnight UTC, as on the command line
        ("as_of=2026-09-01T08:00:00", 422),  # no offset: was a 500 (naive vs aware times)
        ("known_at=2026-09-01T08:00:00", 422),
        ("as_of=0.5", 422),  # was read as seconds since 1970
        ("as_of=1788249600", 422),
        ("as_of=2026-09-01T08:00:00Z&as_of=2026-09-02T08:00:00Z", 422),  # was: the last
    ],
)
def test_a_date_time_has_its_offset_is_never_a_number_and_is_given_once(
    served: Serving, query: str, status: int
) -> None:
    with TestClient(SERVING) as client:
        answer = client.get(f"/api/v1/units/{GIVEN}?{query}", headers=served.bearer("regulator"))
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["error"] == "invalid_request"


def test_a_date_time_in_a_body_is_never_a_number(served: Serving) -> None:
    body = {"donor_id": DONORS[0], "reason": "recipient seroconverted", "since": 0}
    with TestClient(SERVING) as client:
        opened = client.post("/api/v1/lookbacks", json=body, headers=served.bearer("investigator"))
    assert opened.status_code == 422, opened.text
    assert opened.json()["problems"][0]["field"] == "body.since"
    assert DONORS[0] not in opened.text
