"""The contract's Schema Registry: the read side of Confluent's REST API, at ``/registry``.

Integrators whose producers serialize with Confluent's serializers (``AvroSerializer``
with a ``SchemaRegistryClient``, ``KafkaAvroSerializer`` in Java, their .NET and Go
kin) take schema ids from a registry. ``bloodledger serve`` answers as one for the
schemas of ``schemas/``, so ``http://HOST:PORT/registry`` is the URL they configure and
the ids their serializers write are the manifest's, with nothing registered by hand.

What it answers (Confluent's paths, bodies, content type
``application/vnd.schemaregistry.v1+json`` and error bodies ``{"error_code", "message"}``):
``GET /schemas/ids/{id}`` (and ``/schema``, ``/subjects``, ``/versions`` under it),
``GET /schemas/types``, ``GET /subjects``, ``GET /subjects/{s}/versions``,
``GET /subjects/{s}/versions/{v|latest}`` (and ``/schema``), ``POST /subjects/{s}`` (is
this schema registered, and under which id), ``POST /compatibility/subjects/{s}/versions
[/{v|latest}]`` (the contract's evolution rules, :mod:`ledger.adapters.avro_resolution`),
``GET /config`` and ``GET /mode``. Subjects and versions: :mod:`ledger.adapters.avro_catalogue`.

It is read-only, the way a Confluent registry in ``READONLY`` mode is: registering,
deleting and changing configuration or mode are refused with that registry's own answer
(422, error code 42205), since ids are assigned in ``schemas/manifest.json`` by review,
never at a producer's first send. It needs no token (schemas are public, like the
contract), and it is a small application of its own mounted into the API, so the API's
rules (one value per query parameter, none it does not know, ``{"error", "message"}``
errors) do not apply to it: Confluent's clients send ``?deleted=``, ``?normalize=``,
``?fetchMaxId=``, ``?subject=`` as they please.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledger.adapters.avro_catalogue import RegisteredVersion, SchemaCatalogue
from ledger.adapters.avro_resolution import InvalidSchema, compare, parsed

log = logging.getLogger("bloodledger.registry")

#: Where ``bloodledger serve`` mounts it (binding: integrators configure this URL).
PREFIX = "/registry"
MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
#: What a Confluent registry would need to be set to in order to accept the contract's
#: history: every version reads every older one (new event types and enum symbols are
#: not forward compatible in Avro's terms; the contract allows them with a note).
COMPATIBILITY_LEVEL = "BACKWARD_TRANSITIVE"
MODE = "READONLY"
_MAX_VERSION = 2**31 - 1

# Confluent's error codes (io.confluent.kafka.schemaregistry.rest.exceptions.Errors).
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
OPERATION_NOT_PERMITTED = 42205


class RegistryError(Exception):
    """An answer that is an error, as a Confluent registry gives it."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def answer(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode(), status, media_type=MEDIA_TYPE)


Endpoint = Callable[[Request], Awaitable[Response]]


class ContractRegistry:
    """The registry's answers over one catalogue (the routes close over it)."""

    def __init__(self, catalogue: SchemaCatalogue) -> None:
        self.catalogue = catalogue

    # -- lookups -----------------------------------------------------------------

    def _versions(self, subject: str) -> list[RegisteredVersion]:
        try:
            return self.catalogue.versions(subject)
        except KeyError:
            raise RegistryError(404, SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.") from None

    def _version(self, subject: str, version: str) -> RegisteredVersion:
        versions = self._versions(subject)
        if version in ("latest", "-1"):
            return versions[-1]
        if not version.isdigit() or not 1 <= int(version) <= _MAX_VERSION:
            message = (
                f"The specified version '{version}' is not a valid version id. Allowed "
                f'values are between [1, {_MAX_VERSION}] and the string "latest"'
            )
            raise RegistryError(422, INVALID_VERSION, message)
        number = int(version)
        if number > len(versions):
            raise RegistryError(404, VERSION_NOT_FOUND, f"Version {number} not found.")
        return versions[number - 1]

    def _by_id(self, request: Request) -> RegisteredVersion:
        schema_id = request.path_params["schema_id"]
        found = self.catalogue.by_id(schema_id)
        if found is None:
            raise RegistryError(404, SCHEMA_NOT_FOUND, f"Schema {schema_id} not found")
        return found

    # -- schemas by id -------------------------------------------------------------

    async def schema_by_id(self, request: Request) -> Response:
        found = self._by_id(request)
        document: dict[str, Any] = {"schema": found.text}
        if request.query_params.get("fetchMaxId", "").lower() == "true":
            document["maxId"] = max(self.catalogue.schema_ids)
        return answer(document)

    async def raw_schema_by_id(self, request: Request) -> Response:
        return answer(self._by_id(request).definition)

    async def subjects_by_id(self, request: Request) -> Response:
        found = self._by_id(request)
        return answer(self.catalogue.subjects_of(found.schema_id))

    async def versions_by_id(self, request: Request) -> Response:
        found = self._by_id(request)
        pairs = [
            {"subject": subject, "version": version.version}
            for subject in self.catalogue.subjects_of(found.schema_id)
            for version in self.catalogue.versions(subject)
            if version.schema_id == found.schema_id
        ]
        return answer(pairs)

    async def schema_types(self, request: Request) -> Response:
        return answer(["AVRO"])

    # -- subjects ----------------------------------------------------------------

    async def subjects(self, request: Request) -> Response:
        prefix = request.query_params.get("subjectPrefix", "")
        return answer([s for s in self.catalogue.subjects if s.startswith(prefix)])

    async def subject_versions(self, request: Request) -> Response:
        return answer([v.version for v in self._versions(request.path_params["subject"])])

    async def subject_version(self, request: Request) -> Response:
        subject = request.path_params["subject"]
        found = self._version(subject, request.path_params["version"])
        return answer(_registered(subject, found))

    async def raw_subject_version(self, request: Request) -> Response:
        found = self._version(request.path_params["subject"], request.path_params["version"])
        return answer(found.definition)

    async def referenced_by(self, request: Request) -> Response:
        self._version(request.path_params["subject"], request.path_params["version"])
        return answer([])

    async def lookup(self, request: Request) -> Response:
        """``POST /subjects/{subject}``: the version of this schema under the subject."""
        subject = request.path_params["subject"]
        self._versions(subject)
        schema = await _candidate(request)
        try:
            found = self.catalogue.lookup(subject, schema)
        except InvalidSchema as error:
            raise RegistryError(422, INVALID_SCHEMA, f"Invalid schema: {error}") from None
        if found is None:
            raise RegistryError(404, SCHEMA_NOT_FOUND, "Schema not found")
        return answer(_registered(subject, found))

    # -- compatibility -----------------------------------------------------------

    async def compatibility(self, request: Request) -> Response:
        """``POST /compatibility/subjects/{s}/versions/{v}`` (or ``…/versions``: against
        every version): compatible if the contract's rules allow the candidate after it —
        it reads the version's messages, and the version reads its messages but for new
        event types and enum symbols (``bloodledger schemas check`` notes those)."""
        subject = request.path_params["subject"]
        version = request.path_params.get("version")
        against = self._versions(subject) if version is None else [self._version(subject, version)]
        try:
            candidate = parsed(await _candidate(request))
        except InvalidSchema as error:
            raise RegistryError(422, INVALID_SCHEMA, f"Invalid schema: {error}") from None
        messages: list[str] = []
        compatible = True
        for registered in against:
            verdict = compare(parsed(registered.definition), candidate)
            compatible = compatible and verdict.compatible
            messages += [
                f"version {registered.version} (id {registered.schema_id}): {finding}"
                for finding in verdict.breaking
            ]  # what merely narrows (a new event type, a new symbol) is allowed: unsaid
        document: dict[str, Any] = {"is_compatible": compatible}
        if request.query_params.get("verbose", "").lower() == "true":
            document["messages"] = messages
        return answer(document)

    # -- configuration, mode, refusals ---------------------------------------------

    async def config(self, request: Request) -> Response:
        subject = request.path_params.get("subject")
        if subject is not None:
            self._versions(subject)
        return answer({"compatibilityLevel": COMPATIBILITY_LEVEL})

    async def mode(self, request: Request) -> Response:
        subject = request.path_params.get("subject")
        if subject is not None:
            self._versions(subject)
        return answer({"mode": MODE})

    async def refuse(self, request: Request) -> Response:
        """Every write: the answer of a Confluent registry in ``READONLY`` mode."""
        subject = request.path_params.get("subject")
        what = f"Subject {subject}" if subject else "This schema registry"
        message = (
            f"{what} is in read-only mode: the ledger's contract schemas are assigned their "
            "ids in schemas/manifest.json, never registered by a client"
        )
        raise RegistryError(422, OPERATION_NOT_PERMITTED, message)

    def routes(self) -> list[Route]:
        read, write = ["GET"], ["POST", "PUT", "DELETE"]
        ids, subject = "/schemas/ids/{schema_id:int}", "/subjects/{subject}"
        version = subject + "/versions/{version}"
        return [
            Route("/", _root, methods=read),
            Route("/schemas/types", self.schema_types, methods=read),
            Route(ids, self.schema_by_id, methods=read),
            Route(ids + "/schema", self.raw_schema_by_id, methods=read),
            Route(ids + "/subjects", self.subjects_by_id, methods=read),
            Route(ids + "/versions", self.versions_by_id, methods=read),
            Route("/subjects", self.subjects, methods=read),
            Route(subject, self.lookup, methods=["POST"]),
            Route(subject, self.refuse, methods=["DELETE"]),
            Route(subject + "/versions", self.subject_versions, methods=read),
            Route(subject + "/versions", self.refuse, methods=["POST"]),
            Route(version, self.subject_version, methods=read),
            Route(version, self.refuse, methods=["DELETE"]),
            Route(version + "/schema", self.raw_subject_version, methods=read),
            Route(version + "/referencedby", self.referenced_by, methods=read),
            Route("/compatibility" + subject + "/versions", self.compatibility, methods=["POST"]),
            Route("/compatibility" + version, self.compatibility, methods=["POST"]),
            Route("/config", self.config, methods=read),
            Route("/config", self.refuse, methods=write),
            Route("/config/{subject}", self.config, methods=read),
            Route("/config/{subject}", self.refuse, methods=write),
            Route("/mode", self.mode, methods=read),
            Route("/mode", self.refuse, methods=write),
            Route("/mode/{subject}", self.mode, methods=read),
            Route("/mode/{subject}", self.refuse, methods=write),
        ]


async def _root(request: Request) -> Response:
    return answer({})


def _registered(subject: str, found: RegisteredVersion) -> dict[str, Any]:
    """A subject's version as ``GET /subjects/{s}/versions/{v}`` answers it."""
    return {
        "subject": subject,
        "version": found.version,
        "id": found.schema_id,
        "schema": found.text,
    }


async def _candidate(request: Request) -> Any:
    """The schema a client sends (``{"schema": "...", "schemaType"?, "references"?}``), as
    parsed JSON."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise RegistryError(400, 400, "the request body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise RegistryError(422, INVALID_SCHEMA, 'Invalid schema: expected {"schema": "..."}')
    kind = body.get("schemaType") or "AVRO"
    if kind != "AVRO":
        raise RegistryError(
            422, INVALID_SCHEMA, f"Invalid schema: {kind} schemas are not held here"
        )
    if body.get("references"):
        message = "Invalid schema: the contract's schemas reference no other subject"
        raise RegistryError(422, INVALID_SCHEMA, message)
    try:
        return json.loads(body["schema"])
    except ValueError:
        raise RegistryError(422, INVALID_SCHEMA, "Invalid schema: the schema is not JSON") from None


async def _registry_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RegistryError)
    return answer({"error_code": error.error_code, "message": error.message}, error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    """An unknown path (404) or method (405), the way Confluent's server words them."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    words = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
    headers = dict(error.headers or {})
    response = answer({"error_code": status, "message": f"HTTP {status} {words}"}, status)
    response.headers.update(headers)
    return response


async def _unexpected(request: Request, error: Exception) -> Response:
    log.error("registry %s %s failed: %s", request.method, request.url.path, type(error).__name__)
    return answer({"error_code": 50001, "message": "the registry could not answer"}, 500)


def contract_registry(schema_dir: Path | None = None, topic: str | None = None) -> Starlette:
    """The registry ``bloodledger serve`` mounts: the schemas of ``schema_dir`` (the
    ledger's by default), and when the events topic is not the manifest's, its
    topic-name-strategy subject ``<topic>-value`` too (what a default serializer asks)."""
    catalogue = SchemaCatalogue(schema_dir)
    subject = f"{topic}-value"
    if topic is not None and subject not in catalogue.subjects:
        catalogue = SchemaCatalogue(schema_dir, aliases={subject: catalogue.events_subject})
    return registry_app(catalogue)


def registry_app(catalogue: SchemaCatalogue | None = None) -> Starlette:
    """The registry over ``catalogue`` (the ledger's schemas by default), an ASGI app to
    mount at :data:`PREFIX`."""
    registry = ContractRegistry(catalogue if catalogue is not None else SchemaCatalogue())
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        RegistryError: _registry_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    return Starlette(routes=registry.routes(), exception_handlers=handlers)
