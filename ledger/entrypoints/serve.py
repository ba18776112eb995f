"""``bloodledger serve``: the HTTP API on uvicorn, with the projector beside it.

One process answers the API and keeps the read models current (a projector
thread following the log, as ``bloodledger project`` does), so ``/readyz`` can say
how far behind they are. With ``--bootstrap`` it also takes events over HTTP and
produces them to the events topic, where the ingest picks them up: one ingest path.

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

if TYPE_CHECKING:
    from ledger.adapters.persistence import Store
    from ledger.bootstrap import ReadModels
    from ledger.domain.identity import IdentityKey

log = logging.getLogger("bloodledger.serve")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
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
    ) -> None:
        from ledger.adapters.fhir import fhir_bundle
        from ledger.bootstrap import access_beside, event_submission, open_read_models_of
        from ledger.entrypoints.api import ApiServices
        from ledger.services.bedside import BedsideChecks

        self.models = open_read_models_of(store, create=True, identity_key=identity_key)
        self.access = access_beside(self.models.ledger, store, clock=clock)
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


def run(args: argparse.Namespace) -> int:
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
