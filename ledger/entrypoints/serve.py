"""``bloodledger serve``: the HTTP API on uvicorn, with the projector beside it.

One process answers the API and keeps the read models current (a projector
thread following the log, as ``bloodledger project`` does), so ``/readyz`` can say
how far behind they are. With ``--bootstrap`` it also takes events over HTTP and
produces them to the events topic, where the ingest picks them up: one ingest path.
At ``/registry`` it answers as a read-only Confluent Schema Registry for the contract's
schemas (``--schemas DIR``: another directory's), for integrators' serializers
(:mod:`ledger.entrypoints.registry`).

uvicorn's own access log is off: it would write query strings (``?donor=…``) to the
log, and identifiers never go there. Requests are counted on ``/metrics`` instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.adapters.kafka import DEFAULT_TOPIC, TopicEnds
from ledger.domain.inventory import AlertPolicy

if TYPE_CHECKING:
    from ledger.adapters.persistence import Store
    from ledger.bootstrap import ReadModels
    from ledger.domain.identity import IdentityKey

log = logging.getLogger("bloodledger.serve")

#: Seconds a bearer token's holder is kept by default (``--token-cache``): one token
#: lookup per token every 5 s instead of one per request, a revocation made from another
#: process (``bloodledger token revoke``) refused within 5 s.
TOKEN_CACHE_S = 5.0
#: Aggregates the server's ledger keeps as last written (bounded by their events too,
#: see :mod:`ledger.services.recent`): a unit checked again is read only for what was
#: stored since — as many as its projector keeps.
KEPT_AGGREGATES = 5000


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """The ``serve`` command's parser (returned: the CLI adds its inventory threshold
    arguments, which the dashboard and the API judge stock by)."""
    serve = subparsers.add_parser(
        "serve", help="the HTTP API (JSON, /docs, /metrics) with the projector", parents=[common]
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--store", help="event store URL (default sqlite:///ledger.db or $BLOODLEDGER_STORE)"
    )
    serve.add_argument(
        "--bootstrap", metavar="HOST:PORT", help="Kafka bootstrap server: enables POST /events"
    )
    serve.add_argument("--topic", default=DEFAULT_TOPIC, help="the events topic")
    serve.add_argument("--certfile", type=Path, help="TLS certificate (PEM): serve HTTPS")
    serve.add_argument("--keyfile", type=Path, help="TLS private key (PEM)")
    serve.add_argument(
        "--max-lag", type=int, default=10_000, help="events behind at which /readyz fails"
    )
    serve.add_argument(
        "--token-cache",
        type=float,
        default=TOKEN_CACHE_S,
        metavar="SECONDS",
        help="how long a bearer token's holder is kept before the store is asked again: "
        "a token revoked by `token revoke` is refused within this long (0: at once)",
    )
    serve.add_argument(
        "--schemas",
        type=Path,
        metavar="DIR",
        help="the schema directory the Schema Registry at /registry serves "
        "(default: the ledger's, or $BLOODLEDGER_SCHEMAS)",
    )
    return serve


def _now() -> datetime:
    return datetime.now(UTC)


class Served:
    """The API's services on one store, and what they hold open; close it once."""

    def __init__(
        self,
        store: Store,
        *,
        identity_key: IdentityKey | None = None,
        bootstrap: str | None = None,
        topic: str = DEFAULT_TOPIC,
        max_lag: int = 10_000,
        clock: Callable[[], datetime] = _now,
        schemas: Path | None = None,
        token_cache_s: float = 0.0,
        policy: AlertPolicy | None = None,
    ) -> None:
        from ledger.adapters.fhir import fhir_bundle
        from ledger.bootstrap import access_beside, event_submission, open_read_models_of
        from ledger.entrypoints.api import ApiServices
        from ledger.entrypoints.registry import contract_registry
        from ledger.services.bedside import BedsideChecks

        registry = contract_registry(schemas, topic)  # a bad --schemas: before the store
        self.models = open_read_models_of(
            store, create=True, identity_key=identity_key, cache_size=KEPT_AGGREGATES
        )
        self.access = access_beside(
            self.models.ledger, store, clock=clock, remember_tokens_s=token_cache_s
        )
        self.submission = event_submission(bootstrap, topic) if bootstrap else None
        self.ends = TopicEnds(bootstrap, topic) if bootstrap else None
        self.services = ApiServices(
            models=self.models,
            access=self.access.control,
            checks=BedsideChecks(self.models.ledger, clock),
            submission=self.submission,
            fhir=fhir_bundle,
            max_lag=max_lag,
            clock=clock,
            ingest_lag=self._ingest_lag if self.ends is not None else None,
            registry=registry,
            policy=policy or AlertPolicy(),
        )
        self.topic = topic

    def _ingest_lag(self) -> float:
        """Records on the events topic the ingest has not stored yet (for /metrics)."""
        from ledger.services.partitions import ingest_lag

        assert self.ends is not None
        return float(ingest_lag(self.topic, self.ends.ends(), self.models.ledger.position))

    def close(self) -> None:
        if self.ends is not None:
            self.ends.close()
        if self.submission is not None:
            self.submission.close()
        self.access.close()
        self.models.close()


def run(args: argparse.Namespace, policy: AlertPolicy | None = None) -> int:
    import uvicorn

    from ledger.adapters.persistence import resolve_store
    from ledger.entrypoints.api import create_app
    from ledger.entrypoints.runtime import cipher_key

    if (args.certfile is None) != (args.keyfile is None):
        print("bloodledger serve: give both --certfile and --keyfile for HTTPS", file=sys.stderr)
        return 2
    store = resolve_store(args.store)
    served = Served(
        store,
        identity_key=cipher_key(),
        bootstrap=args.bootstrap,
        topic=args.topic,
        max_lag=args.max_lag,
        schemas=args.schemas,
        token_cache_s=args.token_cache,
        policy=policy,
    )
    stopping = threading.Event()
    projector = threading.Thread(
        target=_follow, args=(served.models, stopping), name="projector", daemon=True
    )
    projector.start()
    scheme = "https" if args.certfile else "http"
    log.info("serving on %s://%s:%d (store %s)", scheme, args.host, args.port, store.redacted())
    try:
        uvicorn.run(
            create_app(served.services),
            host=args.host,
            port=args.port,
            ssl_certfile=str(args.certfile) if args.certfile else None,
            ssl_keyfile=str(args.keyfile) if args.keyfile else None,
            access_log=False,
            log_level="warning",
        )
    finally:
        stopping.set()
        projector.join(timeout=30)
        served.close()
    return 0


def _follow(models: ReadModels, stopping: threading.Event) -> None:
    """Keep the read models current until the server stops; a store that fails is
    waited out (logged by type only), never fatal to the API."""
    while not stopping.is_set():
        try:
            models.projector.run(stop=stopping.is_set)
        except Exception as e:
            log.warning("projector: %s; retrying in 1 s", type(e).__name__)
            time.sleep(1)
