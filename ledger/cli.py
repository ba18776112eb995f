"""The ``bloodledger`` command line: the entrypoints, thin over the service layer."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ledger.adapters.kafka import DEFAULT_TOPIC, GroupTimeouts
from ledger.domain.inventory import AlertPolicy
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS

if TYPE_CHECKING:
    from ledger.readmodels import ReadModels

log = logging.getLogger("bloodledger")


def _stop_on_signals(command: str) -> threading.Event:
    """An event set by SIGTERM or SIGINT: long-running commands stop after their current batch."""
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("%s: signal %d, stopping after the current batch", command, signum)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stopping


def _timestamp(text: str) -> datetime:
    """ISO-8601 with a timezone, or a plain date (midnight UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        msg = f"not an ISO-8601 timestamp: {text!r}"
        raise argparse.ArgumentTypeError(msg) from e
    if len(text) == 10:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is None:
        msg = "give a timezone, e.g. 2026-09-01T08:00:00Z or +08:00"
        raise argparse.ArgumentTypeError(msg)
    return value


def _add_policy(parser: argparse.ArgumentParser) -> None:
    defaults = AlertPolicy()
    group = parser.add_argument_group("inventory alert thresholds (days of supply)")
    group.add_argument(
        "--window-days",
        type=int,
        default=defaults.window_days,
        help=f"trailing window of average daily use (default {defaults.window_days})",
    )
    group.add_argument("--yellow", type=float, default=defaults.hospital_yellow_days)
    group.add_argument("--orange", type=float, default=defaults.hospital_orange_days)
    group.add_argument("--red", type=float, default=defaults.hospital_red_days)
    group.add_argument(
        "--centre-emergency",
        type=float,
        default=defaults.centre_emergency_days,
        help="blood-centre (regional) emergency threshold",
    )


def _policy(args: argparse.Namespace) -> AlertPolicy:
    return AlertPolicy(
        window_days=args.window_days,
        hospital_yellow_days=args.yellow,
        hospital_orange_days=args.orange,
        hospital_red_days=args.red,
        centre_emergency_days=args.centre_emergency,
    )


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        help="event store URL: sqlite:///ledger.db (default, or $BLOODLEDGER_STORE) "
        "or postgresql://user@host:5432/db[?schema=name]",
    )


def _add_broker(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--bootstrap", required=required, metavar="HOST:PORT", help="Kafka bootstrap server"
    )
    parser.add_argument(
        "--topic", default=DEFAULT_TOPIC, help=f"events topic (default {DEFAULT_TOPIC})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bloodledger",
        description="Event-sourced vein-to-vein transfusion traceability ledger.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, help=help, parents=[common])

    ingest = command("ingest", help="consume Avro events from Kafka into the event store")
    _add_broker(ingest)
    _add_store(ingest)
    ingest.add_argument("--group", default="bloodledger-ingest", help="consumer group id")
    ingest.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="exit once caught up this long"
    )
    ingest.add_argument("--batch-size", type=int, default=2000, help="max records per poll")
    ingest.add_argument("--progress-every", type=float, default=5.0, metavar="SECONDS")
    ingest.add_argument(
        "--max-poll-interval-ms",
        type=int,
        default=GroupTimeouts.max_poll_interval_ms,
        help="consumer-group liveness; keep short for the embedded broker",
    )
    ingest.add_argument("--project", action="store_true", help="also keep the projections current")

    project = command("project", help="keep the projections current (poll the event store)")
    _add_store(project)
    project.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="exit once caught up this long"
    )
    project.add_argument("--lookback-window-days", type=int, default=DEFAULT_WINDOW_DAYS)

    projections = command("projections", help="rebuild the projections, or show their lag")
    projections.add_argument("action", choices=("rebuild", "status"))
    _add_store(projections)
    projections.add_argument("--lookback-window-days", type=int, default=DEFAULT_WINDOW_DAYS)

    inventory = command("inventory", help="stock per facility, component and group, with alerts")
    inventory.add_argument("--facility", metavar="FIN", help="one facility only")
    inventory.add_argument(
        "--as-of", type=_timestamp, metavar="ISO-8601", help="stock at a past moment"
    )
    inventory.add_argument("--json", action="store_true")
    _add_store(inventory)
    _add_policy(inventory)

    trace = command("trace", help="donor -> units -> recipients, and back")
    who = trace.add_mutually_exclusive_group(required=True)
    who.add_argument("--donor", metavar="ID", help="forward from a donor")
    who.add_argument("--patient", metavar="ID", help="backward from a patient")
    who.add_argument("--din", metavar="DIN", help="both ways from a donation")
    trace.add_argument("--json", action="store_true")
    _add_store(trace)

    lookback = command("lookback", help="open or show a lookback case")
    lookback.add_argument("action", choices=("open", "show"))
    lookback.add_argument("case", nargs="?", metavar="CASE", help="case id (for show)")
    lookback.add_argument("--donor", metavar="ID", help="donor to look back on (for open)")
    lookback.add_argument("--reason", help="why (for open)")
    lookback.add_argument(
        "--since",
        type=_timestamp,
        metavar="DATE",
        help=f"earliest collection (default {DEFAULT_WINDOW_DAYS} days ago)",
    )
    lookback.add_argument("--actor", default="investigator", help="pseudonymous id of who opens it")
    lookback.add_argument("--json", action="store_true")
    _add_store(lookback)

    reconcile = command(
        "reconcile", help="account for every record on the topic; non-zero exit if any is not"
    )
    _add_broker(reconcile)
    _add_store(reconcile)
    reconcile.add_argument("--json", action="store_true")

    alerts = command("alerts", help="units with safety flags and inventory alerts, newest first")
    alerts.add_argument("--since", type=_timestamp, metavar="ISO-8601")
    alerts.add_argument("--as-of", type=_timestamp, metavar="ISO-8601", help="inventory moment")
    alerts.add_argument("--json", action="store_true")
    _add_store(alerts)
    _add_policy(alerts)

    history = command("history", help="a unit's events in occurred order, and its state")
    history.add_argument("din", help="13-character DIN")
    history.add_argument(
        "--product", metavar="CODE", help="one unit's product code (default: all units)"
    )
    history.add_argument(
        "--as-of", type=_timestamp, metavar="ISO-8601", help="replay facts occurred by then"
    )
    history.add_argument("--json", action="store_true", help="print one JSON document")
    _add_store(history)

    encode = command("encode", help="encode contract JSON events as framed Avro messages")
    encode.add_argument("input", nargs="?", default="-", help="JSON-lines file (default stdin)")
    encode.add_argument("--schema-id", type=int, help="writer schema id (default: latest)")
    encode.add_argument(
        "--format",
        choices=("hex", "base64"),
        default="hex",
        help="output one line per message: DIN<TAB>value in this encoding",
    )

    publish = command("publish", help="encode contract JSON events and send them to Kafka")
    publish.add_argument("input", nargs="?", default="-", help="JSON-lines file (default stdin)")
    _add_broker(publish)

    demo = command("demo", help="run the whole pipeline on the embedded broker and SQLite")
    demo.add_argument(
        "--store", default="sqlite:///demo-output/demo.db", help="store (recreated if SQLite)"
    )
    demo.add_argument("--days", type=int, default=28)
    demo.add_argument("--hospitals", type=int, default=3)
    demo.add_argument("--donations-per-day", type=int, default=12)
    demo.add_argument("--seed", type=int, default=2026)

    broker = command("broker", help="run the embedded Kafka-compatible broker (Tansu)")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument(
        "--partitions", type=int, default=3, help="partitions of the topics it creates"
    )
    broker.add_argument("--topic", default=DEFAULT_TOPIC)

    topics = command("topics", help="create the events and dead-letter topics")
    _add_broker(topics)
    topics.add_argument("--partitions", type=int, default=3)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    from ledger.adapters.avro import AvroCodec
    from ledger.application import BloodLedger
    from ledger.ingest import Ingestor, IngestSettings
    from ledger.store import resolve_store

    store = resolve_store(args.store)
    settings = IngestSettings(
        bootstrap=args.bootstrap,
        topic=args.topic,
        group=args.group,
        max_records=args.batch_size,
        until_idle=args.until_idle,
        progress_every=args.progress_every,
        timeouts=GroupTimeouts(max_poll_interval_ms=args.max_poll_interval_ms),
    )
    stopping = _stop_on_signals("ingest")
    models = _read_models(args) if args.project else None
    ledger = models.ledger if models else BloodLedger.open(store)
    after_batch = models.projector.catch_up if models else None
    log.info("ingest %s -> %s (group %s)", args.topic, store.redacted(), args.group)
    try:
        Ingestor(ledger, AvroCodec(), settings, after_batch=after_batch).run(stop=stopping.is_set)
    finally:
        (models or ledger).close()
    return 0


def _history(args: argparse.Namespace) -> int:
    from ledger.application import BloodLedger
    from ledger.domain.din import InvalidDIN, validate_din
    from ledger.history import history_json, history_text
    from ledger.store import resolve_store

    try:
        validate_din(args.din)
    except InvalidDIN as e:
        print(f"bloodledger history: {e}", file=sys.stderr)
        return 2
    ledger = BloodLedger.open(resolve_store(args.store))
    try:
        document = history_json(ledger.units_of(args.din, args.product), args.as_of)
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
    from ledger.demo.generator import DemoConfig
    from ledger.demo.run import run_demo

    config = DemoConfig(
        seed=args.seed,
        days=args.days,
        hospitals=args.hospitals,
        donations_per_day=args.donations_per_day,
    )
    return run_demo(config, args.store)


def _broker(args: argparse.Namespace) -> int:
    import time

    from ledger.adapters.broker import EmbeddedBroker, ensure_topics
    from ledger.adapters.kafka import dlq_topic

    with EmbeddedBroker(port=args.port) as broker:
        ensure_topics(broker.bootstrap, {args.topic: args.partitions, dlq_topic(args.topic): 1})
        print(f"broker listening on {broker.bootstrap} (memory only); Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _topics(args: argparse.Namespace) -> int:
    from ledger.adapters.broker import ensure_topics
    from ledger.adapters.kafka import dlq_topic

    ensure_topics(args.bootstrap, {args.topic: args.partitions, dlq_topic(args.topic): 1})
    print(f"topics ready: {args.topic} ({args.partitions} partitions), {dlq_topic(args.topic)}")
    return 0


def _read_models(args: argparse.Namespace) -> ReadModels:
    from ledger.readmodels import ReadModels
    from ledger.store import resolve_store

    window = getattr(args, "lookback_window_days", DEFAULT_WINDOW_DAYS)
    return ReadModels(resolve_store(args.store), lookback_window_days=window)


def _print_json(document: object) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))


def _project(args: argparse.Namespace) -> int:
    stopping = _stop_on_signals("project")
    with _read_models(args) as models:
        log.info(
            "projecting; position %d, lag %d", models.projector.position(), models.projector.lag()
        )
        models.projector.run(until_idle=args.until_idle, stop=stopping.is_set)
        log.info(
            "stopped at position %d, lag %d", models.projector.position(), models.projector.lag()
        )
    return 0


def _projections(args: argparse.Namespace) -> int:
    from ledger.progress import ProgressBar

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
    from ledger.reports import inventory_text
    from projections.queries import inventory

    at = args.as_of or datetime.now(UTC)
    with _read_models(args) as models:
        models.projector.catch_up()
        rows = [row.to_json() for row in inventory(models.view, at, _policy(args), args.facility)]
    if args.json:
        _print_json(rows)
    else:
        print(inventory_text(rows, as_of=at.isoformat(), colour=sys.stdout.isatty()))
    return 0


def _trace(args: argparse.Namespace) -> int:
    from ledger.reports import trace_text
    from projections import queries

    with _read_models(args) as models:
        models.projector.catch_up()
        if args.donor:
            document = queries.trace_donor(models.view, args.donor)
        elif args.patient:
            document = queries.trace_patient(models.view, args.patient)
        else:
            document = queries.trace_din(models.view, args.din)
    _print_json(document) if args.json else print(trace_text(document))
    return 0 if document["units"] or document["donations"] else 1


def _lookback(args: argparse.Namespace) -> int:
    from ledger.domain.lookback import manual_case_id
    from ledger.lookback import CaseRequest
    from ledger.reports import lookback_text

    with _read_models(args) as models:
        if args.action == "open":
            if not args.donor or not args.reason:
                print(
                    "bloodledger lookback open: --donor and --reason are required", file=sys.stderr
                )
                return 2
            now = models.lookbacks.clock()
            since = args.since or now - timedelta(days=DEFAULT_WINDOW_DAYS)
            case_id = args.case or manual_case_id(args.donor, since, args.reason)
            request = CaseRequest(case_id, args.donor, args.reason, since, now, None, args.actor)
            quarantined = models.lookbacks.open(request)
            log.info("lookback %s: %d units newly quarantined", case_id, quarantined)
        elif not args.case:
            print("bloodledger lookback show: give the CASE id", file=sys.stderr)
            return 2
        report = models.lookbacks.report(args.case or case_id)
    if report is None:
        print(f"bloodledger lookback: no case {args.case!r}", file=sys.stderr)
        return 1
    _print_json(report) if args.json else print(lookback_text(report))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from ledger.reports import alerts_text
    from projections.queries import alerts

    at = args.as_of or datetime.now(UTC)
    with _read_models(args) as models:
        models.projector.catch_up()
        entries = alerts(models.view, at, _policy(args), args.since)
    _print_json(entries) if args.json else print(alerts_text(entries))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from ledger.adapters.avro import AvroCodec
    from ledger.application import BloodLedger
    from ledger.reconcile import reconcile
    from ledger.store import resolve_store

    ledger = BloodLedger.open(resolve_store(args.store))
    try:
        result = reconcile(ledger, args.bootstrap, args.topic, AvroCodec())
    finally:
        ledger.close()
    _print_json(result.to_json()) if args.json else print(result.text())
    return 0 if result.ok else 1


COMMANDS = {
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except ValueError as e:
        print(f"bloodledger {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
