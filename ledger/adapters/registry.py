"""A Confluent Schema Registry, asked over HTTP for the writer schema of an id.

The ingest asks only ``GET /schemas/ids/{id}``, the one call every registry speaking
Confluent's REST API answers alike (Confluent Schema Registry, Karapace, Redpanda,
Apicurio's ``/apis/ccompat/v7``, and the ledger's own ``/registry``), and asks it once per
id: the codec keeps every answer (:class:`~ledger.adapters.avro.AvroCodec`).

What an answer means is kept strict, because the two mistakes cost differently: saying
"no such schema" dead-letters every message of the id; saying "cannot tell" makes them
wait. So only a 404 carrying the registry's own error code 40403 (schema not found) is
"no such schema"; every other failure — refused, timed out, a 5xx, a 401, or a 404 from
something that is not a registry (a URL missing its ``/registry``) — is
:class:`~ledger.services.ports.SchemaRegistryUnavailable`, and the message says which.

Credentials may be given in the URL (``https://key:secret@host``): they are sent as HTTP
basic authentication, as Confluent's clients send them, and never written to a log.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ledger.services.ports import RegisteredSchema, SchemaRegistryUnavailable, first_line

#: The media types Confluent's clients accept, in their order of preference.
ACCEPT = (
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"
)
#: Confluent's error code for "schema not found".
SCHEMA_NOT_FOUND = 40403


class HttpSchemaRegistry:
    """The schema registry at ``url`` (its base: ``http://host:8081``, or the ledger's
    ``http://host:8080/registry``); each request waits at most ``timeout_s``."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = "the schema registry URL must be http(s)://[key:secret@]host[:port][/path]"
            raise ValueError(msg)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        host += f":{parts.port}" if parts.port else ""
        self.base = urllib.parse.urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        self._headers = {"Accept": ACCEPT}
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            secret = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"HttpSchemaRegistry({self.base!r})"

    def schema(self, schema_id: int) -> RegisteredSchema | None:
        where = f"{self.base}/schemas/ids/{schema_id}"
        request = urllib.request.Request(where, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                document = _json(response.read())
        except urllib.error.HTTPError as error:
            body = _json(error.read())
            code = body.get("error_code") if isinstance(body, dict) else None
            if error.code == 404 and code == SCHEMA_NOT_FOUND:
                return None
            said = f", error code {code}" if code is not None else " (not a registry's error)"
            raise SchemaRegistryUnavailable(f"{where}: HTTP {error.code}{said}") from None
        except (OSError, ValueError, http.client.HTTPException) as error:
            # Refused, reset, timed out, TLS, a garbled answer: nothing known of the id.
            reason = getattr(error, "reason", error)
            raise SchemaRegistryUnavailable(f"{where}: {first_line(reason)}") from None
        return _registered(document, where)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _registered(document: Any, where: str) -> RegisteredSchema:
    """The answer to ``GET /schemas/ids/{id}`` (``{"schema": …, "schemaType"?: …,
    "references"?: […]}``)."""
    if not isinstance(document, dict) or not isinstance(document.get("schema"), str):
        raise SchemaRegistryUnavailable(f"{where}: the answer is not a registry's schema")
    references = document.get("references") or []
    return RegisteredSchema(
        text=document["schema"],
        schema_type=str(document.get("schemaType") or "AVRO"),
        references=tuple(
            str(r.get("subject", "?")) if isinstance(r, dict) else "?" for r in references
        ),
    )
