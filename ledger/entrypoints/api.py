"""The HTTP API: JSON under ``/api/v1/``, for hospitals, scanners, investigators, regulators.

Each route authenticates a bearer token, asks the access matrix
(:mod:`ledger.domain.access`) whether its role may, answers with the same document
the CLI prints with ``--json`` (:mod:`ledger.entrypoints.documents`), withholds donor
identifiers from clinicians, and records every answer that shows an identifier in
the access log. Errors are ``{"error": code, "message": text}`` with the status that
says what went wrong; no stack trace and no identifier ever reaches a response.

Routes are plain (synchronous) functions: FastAPI runs them on its thread pool, so a
slow store blocks one request, not the server.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.adapters.persistence.base import StoreError
from ledger.domain.access import Capability, Forbidden, Principal, Unauthenticated
from ledger.domain.din import InvalidDIN, validate_din
from ledger.domain.inventory import AlertPolicy
from ledger.entrypoints import answers, documents
from ledger.entrypoints.arguments import timestamp
from ledger.services.bedside import BadCheckRequest, CheckRequest, UnknownUnit
from ledger.services.ports import Unavailable
from ledger.services.submission import ForeignFacility, LedgerRecorded, Rejected

log = logging.getLogger("bloodledger.api")

API = "/api/v1"


class Refused(Exception):
    """An answer that is an error: its status, code and words (never an identifier)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _instant(value: Any) -> Any:
    """A date-time as the command line takes it: ISO 8601 text with its offset, or a
    plain date (midnight UTC). Never a number (pydantic would read ``0.5`` as seconds
    since 1970), never without an offset (it would not compare with the ledger's times)."""
    if isinstance(value, str):
        try:
            return timestamp(value)
        except argparse.ArgumentTypeError:
            pass
    elif isinstance(value, datetime):
        return value
    raise ValueError("not an ISO-8601 date-time with an offset, e.g. 2026-09-01T08:00:00Z")


#: A request's date-time: ``string``, ``format: date-time`` in the OpenAPI document.
Instant = Annotated[AwareDatetime, BeforeValidator(_instant)]


class ErrorDocument(BaseModel):
    error: str = Field(description="a stable code, e.g. not_found, forbidden, invalid_request")
    message: str


class LookbackRequest(BaseModel):
    donor_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)
    since: Instant | None = Field(default=None, description="start of the window (default 2 y)")


class CheckRequestBody(BaseModel):
    din: str = Field(min_length=1, max_length=64)
    product_code: str = Field(min_length=1, max_length=16)
    patient_id: str = Field(min_length=1, max_length=200)
    patient_abo: str = Field(min_length=1, max_length=4)
    patient_rhd: str = Field(min_length=1, max_length=4)
    facility: str = Field(min_length=1, max_length=16)
    at: Instant | None = Field(default=None, description="when the unit is to be hung (now)")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDocument} for status in (400, 401, 403, 404, 409, 422, 503)
}


@dataclass
class ApiServices:
    """What the routes use; made by :mod:`ledger.entrypoints.serve` through bootstrap."""

    models: Any  # ledger.bootstrap.ReadModels
    access: Any  # ledger.services.access.AccessControl
    checks: Any  # ledger.services.bedside.BedsideChecks
    submission: Any | None  # ledger.services.submission.EventSubmission, with --bootstrap
    fhir: Callable[..., dict[str, Any]]
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    max_lag: int = 10_000
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ingest_lag: Callable[[], float] | None = None
    #: The contract's Schema Registry (an ASGI app: ledger.entrypoints.registry), mounted
    #: at /registry outside the API's rules: Confluent's clients speak its own.
    registry: Any | None = None


class Metrics:
    """Request counts and latencies per route, and the lags, in one registry per app."""

    def __init__(self, services: ApiServices) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bloodledger_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bloodledger_http_request_duration_seconds",
            "time to answer an HTTP request",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        lag = Gauge(
            "bloodledger_projection_lag_events",
            "events recorded but not yet in the read models",
            registry=self.registry,
        )
        lag.set_function(lambda: float(services.models.projector.lag()))
        if services.ingest_lag is not None:
            ingest = Gauge(
                "bloodledger_ingest_lag_records",
                "records on the events topic not yet stored",
                registry=self.registry,
            )
            ingest.set_function(services.ingest_lag)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class Measured:
    """Counts and times every HTTP request into :class:`Metrics`, by route template.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``)
    runs each request through a task group and memory streams, a fifth of what
    ``/healthz`` costs the server. It also counts a request whose route raised, as
    the 500 the server then answers, and times each answer until its last byte is
    handed to the server."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


_bearer = HTTPBearer(auto_error=False, description="a token made by `bloodledger token create`")


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who is asking: the holder of the bearer token (401 without a valid one).

    A holder the access control remembers (``serve --token-cache``) is answered here,
    on the event loop; otherwise the store is asked on the thread pool — not every
    request pays a thread's hand-over for a lookup it does not make."""
    services: ApiServices = request.app.state.services
    token = credentials.credentials if credentials else None
    remembered: Principal | None = services.access.remembered(token)
    if remembered is not None:
        return remembered
    principal: Principal = await run_in_threadpool(services.access.authenticate, token)
    return principal


Caller = Annotated[Principal, Depends(_caller)]


async def _once_each(request: Request) -> None:
    """Every query parameter here takes one value: one given twice is refused, never
    read as its last (``?facility=A&facility=B`` would act for B and say nothing); and
    one the route does not take is refused, never ignored (a misspelt ``?facilty=`` would
    answer for every facility). Asynchronous, though it awaits nothing: FastAPI would
    hand a plain function to its thread pool, on every request."""
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) != len(set(names)):
        raise Refused(422, "invalid_request", "a query parameter is given more than once")
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and set(names) - _query_names(route.dependant):
        raise Refused(422, "invalid_request", "a query parameter this route does not take")


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def create_app(services: ApiServices) -> FastAPI:
    """The application; every route closes over ``services``."""
    app = FastAPI(
        title="bloodledger",
        version=version("bloodledger"),
        description="Vein-to-vein transfusion traceability ledger: the JSON API.",
        docs_url=None,
        redoc_url=None,
        responses=ERRORS,
        dependencies=[Depends(_once_each)],
    )
    app.state.services = services
    metrics = Metrics(services)
    _serve_docs(app)
    _handle_errors(app)
    if services.registry is not None:
        app.mount("/registry", services.registry)

    app.add_middleware(Measured, metrics=metrics)

    def allow(principal: Principal, capability: Capability, facility: str | None = None) -> None:
        services.access.authorize(principal, capability, facility)

    def acting_for(
        principal: Principal, capability: Capability, facility: str | None
    ) -> str | None:
        """The facility a request acts for: the one it names, else the caller's own."""
        scoped: str | None = services.access.facility_for(principal, capability, facility)
        return scoped

    def disclose(principal: Principal, route: str, document: Any) -> Any:
        """What ``principal`` may see of ``document``; recorded if it shows anyone."""
        return answers.disclosed(services.access, principal, route, document)

    # -- the process ------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up (it says nothing of the store)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"model": ErrorDocument}})
    def readyz() -> JSONResponse:
        """The store answers and the read models are less than ``max_lag`` events behind."""
        try:
            lag = services.models.projector.lag()
        except Exception as e:  # the store is down: not ready, and say so
            log.warning("readyz: store unreachable (%s)", type(e).__name__)
            raise Refused(503, "store_unavailable", "the store does not answer") from None
        document = {"projection_lag": lag, "max_lag": services.max_lag}
        if lag > services.max_lag:
            raise Refused(503, "lagging", f"the read models are {lag} events behind", **document)
        return JSONResponse({"status": "ready", **document})

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def prometheus() -> Response:
        """Prometheus text format: requests and latency per route, the lags."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- units, traces, inventory, alerts --------------------------------------

    @app.get(f"{API}/units/{{din}}", tags=["units"], response_model=dict[str, Any])
    def unit(
        din: str,
        principal: Caller,
        product: str | None = None,
        as_of: Instant | None = None,
        known_at: Instant | None = None,
    ) -> JSONResponse:
        """A donation's units: state, findings and every fact (``history --json``)."""
        route = "/units/{din}"
        return _answered(
            answers.unit_history(services, principal, route, din, product, as_of, known_at)
        )

    @app.get(f"{API}/trace", tags=["traceability"])
    def trace(
        principal: Caller,
        donor: str | None = None,
        patient: str | None = None,
        din: str | None = None,
    ) -> dict[str, Any]:
        """Donor → units → recipients, or back from a patient, or both ways from a DIN."""
        return answers.trace(services, principal, "/trace", donor=donor, patient=patient, din=din)

    @app.get(f"{API}/inventory", tags=["inventory"])
    def inventory(
        principal: Caller, facility: str | None = None, as_of: Instant | None = None
    ) -> list[dict[str, Any]]:
        """Stock by facility, component and group; days of supply; alert level."""
        return answers.inventory(services, principal, facility, as_of)

    @app.get(f"{API}/alerts", tags=["inventory"])
    def alerts(principal: Caller, since: Instant | None = None) -> list[dict[str, Any]]:
        """Safety flags and low-stock alerts, newest first (a clinician: its facility's)."""
        return answers.alerts(services, principal, "/alerts", since)

    # -- lookbacks ---------------------------------------------------------------

    @app.post(f"{API}/lookbacks", tags=["traceability"], status_code=201)
    def open_lookback(body: LookbackRequest, principal: Caller) -> dict[str, Any]:
        """Open (or find again: the same donor, window and reason are one case) a lookback."""
        allow(principal, Capability.LOOKBACK_OPEN)
        case_id, quarantined = documents.open_lookback(
            services.models, body.donor_id, body.reason, services.clock(),
            since=body.since, actor=principal.name,
        )  # fmt: skip
        report = documents.lookback(services.models, case_id, services.clock()) or {}
        document = {"case_id": case_id, "newly_quarantined": quarantined, "report": report}
        return disclose(principal, "/lookbacks", document)  # type: ignore[no-any-return]

    @app.get(f"{API}/lookbacks/{{case_id}}", tags=["traceability"])
    def lookback(case_id: str, principal: Caller) -> dict[str, Any]:
        """A lookback case: its donor, units, recipients and their notices."""
        return answers.lookback(services, principal, "/lookbacks/{case_id}", case_id)

    # -- the bedside ---------------------------------------------------------------

    @app.post(f"{API}/checks/transfusion", tags=["bedside"], response_model=dict[str, Any])
    def check_transfusion(body: CheckRequestBody, principal: Caller) -> JSONResponse:
        """May this unit be given to this patient now? Every reason that applies."""
        allow(principal, Capability.CHECK_TRANSFUSION, body.facility)
        request = CheckRequest(**body.model_dump())
        answer = services.checks.check(request, actor=principal.name)
        return _answered(disclose(principal, "/checks/transfusion", answer))

    # -- integrators ---------------------------------------------------------------

    @app.post(
        f"{API}/events",
        tags=["integration"],
        status_code=202,
        responses={415: {"model": ErrorDocument, "description": "neither JSON nor Avro"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": ["object", "array"]}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    async def submit_events(request: Request, principal: Caller) -> dict[str, Any]:
        """Contract JSON (one event or a list) or one Confluent-framed Avro message;
        202 once the broker has them, 422 with every problem and nothing accepted."""
        acting_for(principal, Capability.SUBMIT_EVENTS, None)
        if services.submission is None:
            raise Refused(
                503, "no_broker", "this server was started without --bootstrap: no HTTP ingest"
            )
        body = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        from starlette.concurrency import run_in_threadpool

        if kind == "application/json":
            submit = services.submission.submit_json
        elif kind == "application/octet-stream":
            submit = services.submission.submit_avro
        else:
            raise Refused(
                415, "unsupported_media_type", "send application/json or application/octet-stream"
            )
        ids = await run_in_threadpool(submit, body, facility=principal.facility)
        return {"accepted": len(ids), "event_ids": ids}

    # -- FHIR ------------------------------------------------------------------------

    @app.get(f"{API}/fhir/BiologicallyDerivedProduct", tags=["fhir"])
    def fhir_products(
        principal: Caller, identifier: Annotated[str, Query(min_length=1)]
    ) -> dict[str, Any]:
        """FHIR R5 searchset Bundle: the DIN's units and their dispenses."""
        allow(principal, Capability.FHIR_READ)
        from ledger.adapters.fhir import search_identifier

        facility = acting_for(principal, Capability.FHIR_READ, None)
        named = search_identifier(identifier)  # a token search: [system|]value
        if named is None:
            raise Refused(422, "invalid_request", "identifier: not a system this ledger issues")
        din, product = named
        validate_din(din)
        units = services.models.ledger.units_of(din, product)
        if facility is not None and units:
            units = [u for u in units if _unit_concerns(u, facility)]
            if not units:
                raise Refused(403, "forbidden", "these units never reached your facility")
        bundle = services.models.identities.revealed(services.fhir(units, bundle_type="searchset"))
        route = "/fhir/BiologicallyDerivedProduct"
        return disclose(principal, route, bundle)  # type: ignore[no-any-return]

    # -- the access log ----------------------------------------------------------------

    @app.get(f"{API}/access-log", tags=["operations"])
    def access_log(
        principal: Caller, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
    ) -> list[dict[str, Any]]:
        """Who was shown which identifiers, through which route, when (admin only)."""
        log_entries: list[dict[str, Any]] = services.access.read_log(
            principal, "/access-log", limit=limit
        )
        return log_entries

    # -- the pages (HTML for people, same answers; last: they wrap the error handlers) --
    from ledger.entrypoints.pages import install_pages

    install_pages(app, services)
    return app


def _unit_concerns(unit: Any, facility: str) -> bool:
    return any(
        f.facility == facility or f.payload.get("to_facility") == facility for f in unit.facts
    )


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI from files in the installed package (``fastapi-offline``): no CDN."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/docs", StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="bloodledger API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )


def _answered(document: Any) -> JSONResponse:
    """A busy route's document as its answer, rendered here on the route's thread: a
    plain route returning a dict has FastAPI validate it against the response model
    on its thread pool — a second hand-over to a thread for every request (the
    route's ``response_model`` still documents it)."""
    return JSONResponse(document)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "message": message, **extra}, status, headers=headers)


_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 415: "unsupported_media_type",
          422: "invalid_request", 503: "unavailable"}  # fmt: skip


def _handle_errors(app: FastAPI) -> None:
    """Every failure as ``{"error", "message"}``; the unexpected as a bare 500, logged
    by exception type only (its text might hold a value from the request)."""

    @app.exception_handler(Refused)
    def refused(_: Request, e: Refused) -> JSONResponse:
        return _error(e.status, e.code, e.message, **e.extra)

    @app.exception_handler(Unauthenticated)
    def unauthenticated(_: Request, e: Unauthenticated) -> JSONResponse:
        return _error(401, "unauthenticated", str(e))

    @app.exception_handler(Forbidden)
    def forbidden(_: Request, e: Forbidden) -> JSONResponse:
        return _error(403, "forbidden", str(e))

    @app.exception_handler(answers.NotFound)
    def not_found(_: Request, e: answers.NotFound) -> JSONResponse:
        return _error(404, "not_found", str(e))

    @app.exception_handler(answers.BadQuestion)
    def bad_question(_: Request, e: answers.BadQuestion) -> JSONResponse:
        return _error(422, "invalid_request", str(e))

    @app.exception_handler(InvalidDIN)
    def invalid_din(_: Request, e: InvalidDIN) -> JSONResponse:
        return _error(422, "invalid_din", str(e))

    @app.exception_handler(UnknownUnit)
    def unknown_unit(_: Request, e: UnknownUnit) -> JSONResponse:
        return _error(404, "not_found", str(e))

    @app.exception_handler(BadCheckRequest)
    def bad_check(_: Request, e: BadCheckRequest) -> JSONResponse:
        return _error(422, "invalid_request", str(e))

    @app.exception_handler(Rejected)
    def rejected(_: Request, e: Rejected) -> JSONResponse:
        problems = [dataclasses.asdict(p) for p in e.problems]
        return _error(422, "rejected", "nothing was accepted: " + str(e), problems=problems)

    @app.exception_handler(LedgerRecorded)
    def ledger_recorded(_: Request, e: LedgerRecorded) -> JSONResponse:
        return _error(403, "forbidden", str(e), indexes=e.indexes)

    @app.exception_handler(ForeignFacility)
    def foreign(_: Request, e: ForeignFacility) -> JSONResponse:
        return _error(403, "forbidden", str(e), indexes=e.indexes)

    @app.exception_handler(Unavailable)
    def unavailable(_: Request, e: Unavailable) -> JSONResponse:
        return _error(503, "broker_unavailable", str(e))

    @app.exception_handler(StoreError)
    def store_down(_: Request, e: StoreError) -> JSONResponse:
        log.warning("the store failed: %s", type(e).__name__)
        return _error(503, "store_unavailable", "the store does not answer; try again")

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
            for err in e.errors()
        ]
        return _error(422, "invalid_request", "the request is not valid", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    def http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        answer = _error(e.status_code, _CODES.get(e.status_code, "error"), str(e.detail))
        answer.headers.update(e.headers or {})  # e.g. the 405's Allow
        return answer

    @app.exception_handler(Exception)
    def unexpected(request: Request, e: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(e).__name__)
        return _error(500, "internal", "the ledger could not answer; the error is logged")
