"""What each ``bloodledger`` command does: thin handlers over the service layer.

Each handler takes the parsed arguments and returns the exit status; the
parser lives in :mod:`ledger.entrypoints.cli`, the wiring in
:mod:`ledger.bootstrap`. Imports are local to each handler so that a command
loads only what it uses (``bloodledger --help`` stays fast).

Identifiers: every handler that opens the store hands it the key from
``BLOODLEDGER_CIPHER_KEY`` (:func:`~ledger.entrypoints.runtime.cipher_key`); a
donor or patient id typed on the command line is sealed before it is looked
up or recorded, and every output that can name one is revealed just before
it is printed (text and ``--json`` alike).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.adapters.kafka import GroupTimeouts
from ledger.domain.acknowledgement import NoticeLimits
from ledger.domain.inventory import AlertPolicy
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS
from ledger.entrypoints.runtime import stop_on_signals

if TYPE_CHECKING:
    from ledger.adapters.persistence import Store
    from ledger.bootstrap import ReadModels
    from ledger.domain.identity import Identities
    from ledger.entrypoints.companion import CompanionSealer
    from ledger.services.application import BloodLedger
    from projections.ports import ReadModelStore

log = logging.getLogger("bloodledger")

#: ``ingest``'s status when it ended with a partition held at an undecodable batch.
EXIT_HELD = 3


def _policy(args: argparse.Namespace) -> AlertPolicy:
    """The thresholds given: the flags' defaults, each ``--component-threshold`` in
    place of its component's own."""
    policy = AlertPolicy(
        window_days=args.window_days,
        hospital_yellow_days=args.yellow,
        hospital_orange_days=args.orange,
        hospital_red_days=args.red,
        centre_emergency_days=args.centre_emergency,
    )
    return policy.overriding(args.component_thresholds)


def _limits(args: argparse.Namespace) -> NoticeLimits:
    hour = timedelta(hours=1)
    return NoticeLimits(args.notice_limit_hours * hour, args.recipient_limit_hours * hour)


def _ingest(args: argparse.Namespace) -> int:
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import (
        KafkaSettings,
        event_decoder,
        ingestor,
        notice_relay,
        open_ledger,
    )
    from ledger.entrypoints.notices import ensure_notices_topic
    from ledger.entrypoints.runtime import cipher_key
    from ledger.services.ingest import IngestSettings

    decoder = event_decoder(args.schema_registry)  # a registry that disagrees: before any work
    store = resolve_store(args.store)
    kafka = KafkaSettings(
        bootstrap=args.bootstrap,
        topic=args.topic,
        group=args.group,
        timeouts=GroupTimeouts(max_poll_interval_ms=args.max_poll_interval_ms),
    )
    settings = IngestSettings(
        topic=args.topic,
        max_records=args.batch_size,
        until_idle=args.until_idle,
        progress_every=args.progress_every,
    )
    stopping = stop_on_signals("ingest")
    models = _read_models(args, store) if args.project else None
    ledger = models.ledger if models else open_ledger(store, identity_key=cipher_key())
    try:
        sealer = _sealer_beside(args, ledger, store)
    except BaseException:
        (models or ledger).close()
        raise
    ensure_notices_topic(args.bootstrap, args.notices_topic)
    # A third of the group's poll interval at most: the relay runs inside the poll loop.
    wait_s = args.max_poll_interval_ms / 3000
    relay = notice_relay(ledger, args.bootstrap, args.notices_topic, timeout_s=wait_s)
    hooks: list[Callable[[], object]] = [models.projector.catch_up] if models else []
    hooks += [sealer.check] if sealer else []
    hooks.append(relay.tick_or_wait)  # last: the lookbacks' notices go out in the same round
    log.info("ingest %s -> %s (group %s)", args.topic, store.redacted(), args.group)
    worker = ingestor(
        ledger, kafka, settings, after_batch=_each(hooks), when_idle=relay.tick_or_wait,
        decoder=decoder,
    )  # fmt: skip
    try:
        relay.tick_or_wait(max_batches=None)  # what an earlier run did not get to send
        worker.run(stop=stopping.is_set)
        relay.tick_or_wait(max_batches=None)
    finally:
        relay.close()
        if sealer is not None:
            _stop_sealer(sealer, args, ledger, store)
        (models or ledger).close()
    for held in worker.held.values():
        print(f"bloodledger ingest: {held}; the partition is held there", file=sys.stderr)
    return EXIT_HELD if worker.held else 0


def _sealer_beside(
    args: argparse.Namespace, ledger: BloodLedger, store: Store
) -> CompanionSealer | None:
    """With ``--seal``: the sealer in a companion process (:mod:`.companion`), after
    the same refusals ``audit seal`` makes — no key, no publication — before any work;
    the last checkpoint is published again first."""
    if not args.seal:
        return None
    from ledger.bootstrap import audit_beside
    from ledger.entrypoints.audit import seal_settings
    from ledger.entrypoints.companion import CompanionSealer, sealer_command

    if not store.SHARED:
        raise ValueError("--seal needs a store another process can open (SQLite or PostgreSQL)")
    with audit_beside(ledger, store, seal_settings(args)) as audit:
        audit.sealer_now().republish()
    sealer = CompanionSealer(sealer_command(args))
    sealer.start()
    return sealer


def _stop_sealer(
    sealer: CompanionSealer, args: argparse.Namespace, ledger: BloodLedger, store: Store
) -> None:
    """Stop the companion (it seals what is left), then seal here whatever it did not
    get to — a sealer stopped before it was up seals nothing: the published
    checkpoint covers every fact the command stored either way."""
    from ledger.bootstrap import audit_beside
    from ledger.entrypoints.audit import seal_settings

    sealer.stop()
    with audit_beside(ledger, store, seal_settings(args)) as audit:
        sealed = audit.sealer_now().seal()
    log.info("sealed; the tree has %d facts", sealed.size)


def _each(hooks: Sequence[Callable[[], object]]) -> Callable[[], object] | None:
    """One hook running each of ``hooks`` in turn (none: no hook)."""
    if not hooks:
        return None

    def run() -> None:
        for hook in hooks:
            hook()

    return run


def _history(args: argparse.Namespace) -> int:
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_ledger
    from ledger.domain.din import InvalidDIN, validate_din
    from ledger.entrypoints import documents
    from ledger.entrypoints.reports import history_text
    from ledger.entrypoints.runtime import cipher_key

    try:
        validate_din(args.din)  # before the store: a typo needs no ledger to be told
    except InvalidDIN as e:
        print(f"bloodledger history: {e}", file=sys.stderr)
        return 2
    ledger = open_ledger(resolve_store(args.store), create=False, identity_key=cipher_key())
    try:
        document = documents.history(ledger, args.din, args.product, args.as_of, args.known_at)
    finally:
        ledger.close()
    print(
        json.dumps(document, ensure_ascii=False, indent=2) if args.json else history_text(document)
    )
    return 0 if document["units"] else 1


def _read_lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    return Path(path).read_text(encoding="utf-8").splitlines()


def _encoded(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    from ledger.adapters.avro import AvroCodec
    from ledger.adapters.contract_json import encode_json_lines

    codec = AvroCodec(writer_schema_id=getattr(args, "schema_id", None))
    return list(encode_json_lines(_read_lines(args.input), codec))


def _encode(args: argparse.Namespace) -> int:
    import base64

    for key, value in _encoded(args):
        text = value.hex() if args.format == "hex" else base64.b64encode(value).decode()
        print(f"{key}\t{text}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from ledger.adapters.kafka import publish

    messages = _encoded(args)
    sent = publish(args.bootstrap, args.topic, messages)
    print(f"published {sent} messages to {args.topic}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ledger.entrypoints.demo import run_demo
    from simulator import REGION_CONFIG

    config = replace(
        REGION_CONFIG,
        seed=args.seed,
        days=args.days,
        hospitals=args.hospitals,
        donations_per_day=args.donations_per_day,
    )
    return run_demo(config, args.store)


def _broker(args: argparse.Namespace) -> int:
    import contextlib
    import time

    from ledger.adapters.broker import EmbeddedBroker, ensure_topics
    from ledger.adapters.kafka import DEFAULT_NOTICES_TOPIC, dlq_topic

    with EmbeddedBroker(port=args.port) as broker:
        topics = {args.topic: args.partitions, dlq_topic(args.topic): 1}
        ensure_topics(broker.bootstrap, {**topics, DEFAULT_NOTICES_TOPIC: args.partitions})
        print(f"broker listening on {broker.bootstrap} (memory only); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it stops
            while True:
                time.sleep(3600)
    return 0


def _topics(args: argparse.Namespace) -> int:
    from ledger.adapters.broker import ensure_topics
    from ledger.adapters.kafka import DEFAULT_NOTICES_TOPIC, dlq_topic

    topics = {args.topic: args.partitions, dlq_topic(args.topic): 1}
    ensure_topics(args.bootstrap, {**topics, DEFAULT_NOTICES_TOPIC: args.partitions})
    print(
        f"topics ready: {args.topic} ({args.partitions} partitions), {dlq_topic(args.topic)}, "
        f"{DEFAULT_NOTICES_TOPIC} ({args.partitions} partitions)"
    )
    return 0


#: The commands that record facts, and so may create the store they are pointed at;
#: every other command needs a store that already holds a ledger.
WRITERS = frozenset({"ingest", "demo", "topics", "project", "lookback open"})


def _writes(args: argparse.Namespace) -> bool:
    action = getattr(args, "action", None)
    return args.command in WRITERS or f"{args.command} {action}" in WRITERS


def _read_models(args: argparse.Namespace, store: Store | None = None) -> ReadModels:
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_read_models_of
    from ledger.entrypoints.runtime import cipher_key

    window = getattr(args, "lookback_window_days", DEFAULT_WINDOW_DAYS)
    return open_read_models_of(
        store or resolve_store(args.store),
        create=_writes(args),
        lookback_window_days=window,
        identity_key=cipher_key(),
    )


@contextmanager
def _view(args: argparse.Namespace) -> Iterator[tuple[ReadModelStore, Identities]]:
    """The read models, current — or as the ledger knew them at ``--known-at`` — and
    how the ledger treats identifiers."""
    if args.known_at is None:
        with _read_models(args) as models:
            models.projector.catch_up()
            yield models.view, models.identities
        return
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import read_models_known_at
    from ledger.domain.identity import CLEAR, Identities
    from ledger.entrypoints.runtime import cipher_key

    key = cipher_key()
    with read_models_known_at(resolve_store(args.store), args.known_at, identity_key=key) as view:
        yield view, CLEAR if key is None else Identities(key)  # the store accepted the key


def _print_json(document: object) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))


def _project(args: argparse.Namespace) -> int:
    from ledger.adapters.persistence import resolve_store

    stopping = stop_on_signals("project")
    store = resolve_store(args.store)
    with _read_models(args, store) as models:
        log.info(
            "projecting; position %d, lag %d", models.projector.position(), models.projector.lag()
        )
        sealer = _sealer_beside(args, models.ledger, store)
        try:
            after = sealer.check if sealer else None
            models.projector.run(until_idle=args.until_idle, stop=stopping.is_set, after=after)
        finally:
            if sealer is not None:
                _stop_sealer(sealer, args, models.ledger, store)
        log.info(
            "stopped at position %d, lag %d", models.projector.position(), models.projector.lag()
        )
    return 0


def _projections(args: argparse.Namespace) -> int:
    from ledger.entrypoints.progress import ProgressBar

    with _read_models(args) as models:
        if args.action == "rebuild":
            bar = ProgressBar("rebuild")
            applied = models.projector.rebuild(bar)
            bar.finish()
            print(f"rebuilt from {applied} events")
        print(
            f"position {models.projector.position()}, head {models.projector.head()}, "
            f"lag {models.projector.lag()}"
        )
    return 0


def _inventory(args: argparse.Namespace) -> int:
    from ledger.entrypoints import documents
    from ledger.entrypoints.reports import inventory_text

    at = args.as_of or args.known_at or datetime.now(UTC)
    with _view(args) as (view, _):
        rows = documents.inventory(view, at, _policy(args), args.facility)
    if args.json:
        _print_json(rows)
    else:
        print(inventory_text(rows, as_of=at.isoformat(), colour=sys.stdout.isatty()))
    return 0


def _trace(args: argparse.Namespace) -> int:
    from ledger.entrypoints import documents
    from ledger.entrypoints.reports import trace_text

    with _view(args) as (view, identities):
        document = documents.trace(
            view, identities, donor=args.donor, patient=args.patient, din=args.din
        )
    _print_json(document) if args.json else print(trace_text(document))
    return 0 if document["units"] or document["donations"] else 1


def _lookback(args: argparse.Namespace) -> int:
    from ledger.entrypoints import documents
    from ledger.entrypoints.reports import lookback_text

    with _read_models(args) as models:
        if args.action == "open":
            if not args.donor or not args.reason:
                print(
                    "bloodledger lookback open: --donor and --reason are required", file=sys.stderr
                )
                return 2
            at = args.at or datetime.now(UTC)  # when the investigator opens it: an input
            case_id, quarantined = documents.open_lookback(
                models, args.donor, args.reason, at, since=args.since, case=args.case,
                actor=args.actor,
            )  # fmt: skip
            log.info("lookback %s: %d units newly quarantined", case_id, quarantined)
        elif not args.case:
            print("bloodledger lookback show: give the CASE id", file=sys.stderr)
            return 2
        else:
            case_id = args.case
        report = documents.lookback(models, case_id, args.as_of, _limits(args))
    if report is None:
        print(f"bloodledger lookback: no case {args.case!r}", file=sys.stderr)
        return 1
    _print_json(report) if args.json else print(lookback_text(report))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from ledger.entrypoints import documents
    from ledger.entrypoints.reports import alerts_text

    at = args.as_of or args.known_at or datetime.now(UTC)
    with _view(args) as (view, identities):
        entries = documents.alerts(view, identities, at, _policy(args), args.since, _limits(args))
    _print_json(entries) if args.json else print(alerts_text(entries))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_ledger, reconcile_topic
    from ledger.entrypoints.runtime import cipher_key
    from ledger.services.ports import SchemaRegistryUnavailable

    ledger = open_ledger(resolve_store(args.store), create=False, identity_key=cipher_key())
    try:
        result = reconcile_topic(
            ledger, args.bootstrap, args.topic, schema_registry=args.schema_registry
        )
    except SchemaRegistryUnavailable as e:
        print(f"bloodledger reconcile: schema registry unavailable: {e}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    _print_json(result.to_json()) if args.json else print(result.text())
    return 0 if result.ok else 1


def _serve(args: argparse.Namespace) -> int:
    from ledger.entrypoints.serve import run

    return run(args, _policy(args))


def _audit(args: argparse.Namespace) -> int:
    from ledger.entrypoints.audit import run

    return run(args)


def _export(args: argparse.Namespace) -> int:
    from ledger.entrypoints.exports import run

    return run(args)


def _tokens(args: argparse.Namespace) -> int:
    from ledger.entrypoints.tokens import run

    return run(args)


def _notices(args: argparse.Namespace) -> int:
    from ledger.entrypoints.notices import run

    return run(args)


def _schemas(args: argparse.Namespace) -> int:
    from ledger.entrypoints.schemas import run

    return run(args)


def _report(args: argparse.Namespace) -> int:
    from ledger.entrypoints.reporting import run

    return run(args, _policy(args))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "audit": _audit,
    "serve": _serve,
    "export": _export,
    "token": _tokens,
    "access-log": _tokens,
    "notices": _notices,
    "schemas": _schemas,
    "report": _report,
    "ingest": _ingest,
    "history": _history,
    "encode": _encode,
    "publish": _publish,
    "demo": _demo,
    "broker": _broker,
    "topics": _topics,
    "project": _project,
    "projections": _projections,
    "inventory": _inventory,
    "trace": _trace,
    "lookback": _lookback,
    "alerts": _alerts,
    "reconcile": _reconcile,
}
