"""The ``bloodledger`` command line: parser and entrypoint (handlers in :mod:`.commands`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta

from ledger.adapters.kafka import DEFAULT_NOTICES_TOPIC, DEFAULT_TOPIC, GroupTimeouts
from ledger.adapters.persistence.base import StoreError
from ledger.domain.acknowledgement import NoticeLimits
from ledger.domain.inventory import AlertPolicy, Thresholds
from ledger.domain.lookback import DEFAULT_WINDOW_DAYS
from ledger.entrypoints import audit, exports, notices, reporting, schemas, serve, tokens
from ledger.entrypoints.arguments import component_thresholds, timestamp
from ledger.entrypoints.commands import COMMANDS
from ledger.entrypoints.runtime import configure_logging, tune_garbage_collector
from simulator import REGION_CONFIG

log = logging.getLogger("bloodledger")


def _add_policy(parser: argparse.ArgumentParser) -> None:
    defaults = AlertPolicy()
    own = ", ".join(f"{c}={_numbers(t)}" for c, t in defaults.components)
    group = parser.add_argument_group(
        "inventory alert thresholds (days of supply)",
        "--yellow, --orange, --red and --centre-emergency judge every component without "
        f"thresholds of its own (by default {own}: platelets keep 5 days)",
    )
    group.add_argument(
        "--window-days",
        type=int,
        default=defaults.window_days,
        help=f"trailing window of average daily use (default {defaults.window_days})",
    )
    for flag, days, what in (
        ("--yellow", defaults.hospital_yellow_days, "a hospital's yellow"),
        ("--orange", defaults.hospital_orange_days, "a hospital's orange"),
        ("--red", defaults.hospital_red_days, "a hospital's red"),
        ("--centre-emergency", defaults.centre_emergency_days, "a blood centre's emergency"),
    ):
        help_text = f"{what} threshold (default %(default)g)"
        group.add_argument(flag, type=float, default=days, metavar="DAYS", help=help_text)
    group.add_argument(
        "--component-threshold",
        type=component_thresholds,
        action="append",
        default=[],
        dest="component_thresholds",
        metavar="COMPONENT=YELLOW,ORANGE,RED,EMERGENCY",
        help="one component's own thresholds, in place of its default "
        "(repeatable), e.g. PLATELETS=1.5,1,0.5,2",
    )


def _numbers(thresholds: Thresholds) -> str:
    return ",".join(
        f"{days:g}"
        for days in (thresholds.yellow, thresholds.orange, thresholds.red, thresholds.emergency)
    )


def _add_notice_limits(parser: argparse.ArgumentParser) -> None:
    limits = NoticeLimits()
    group = parser.add_argument_group("recall notices: open longer than this is overdue")
    group.add_argument(
        "--notice-limit-hours",
        type=float,
        default=limits.quarantine / timedelta(hours=1),
        metavar="HOURS",
        help="a QUARANTINE notice (default %(default)g)",
    )
    group.add_argument(
        "--recipient-limit-hours",
        type=float,
        default=limits.notify_recipient / timedelta(hours=1),
        metavar="HOURS",
        help="a NOTIFY_RECIPIENT notice (default %(default)g: 3 calendar days, 21 CFR 610.46)",
    )


def _add_known_at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--known-at",
        type=timestamp,
        metavar="ISO-8601",
        help="what the ledger knew then: only facts it had recorded by that moment",
    )


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        help="event store URL: sqlite:///ledger.db (default, or $BLOODLEDGER_STORE) "
        "or postgresql://user@host:5432/db[?schema=name]",
    )


def _add_schema_registry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--schema-registry",
        metavar="URL",
        help="a Confluent-compatible schema registry (http(s)://[key:secret@]host:port[/path]) "
        "asked for writer schema ids the manifest does not have",
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
    _add_schema_registry(ingest)
    ingest.add_argument(
        "--notices-topic",
        default=DEFAULT_NOTICES_TOPIC,
        help=f"where the recall notices go, after each batch (default {DEFAULT_NOTICES_TOPIC})",
    )
    audit.add_seal_arguments(ingest, inside=True)

    project = command("project", help="keep the projections current (poll the event store)")
    _add_store(project)
    project.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="exit once caught up this long"
    )
    project.add_argument("--lookback-window-days", type=int, default=DEFAULT_WINDOW_DAYS)
    audit.add_seal_arguments(project, inside=True)

    projections = command("projections", help="rebuild the projections, or show their lag")
    projections.add_argument("action", choices=("rebuild", "status"))
    _add_store(projections)
    projections.add_argument("--lookback-window-days", type=int, default=DEFAULT_WINDOW_DAYS)

    inventory = command("inventory", help="stock per facility, component and group, with alerts")
    inventory.add_argument("--facility", metavar="FIN", help="one facility only")
    inventory.add_argument(
        "--as-of", type=timestamp, metavar="ISO-8601", help="stock at a past moment"
    )
    _add_known_at(inventory)
    inventory.add_argument("--json", action="store_true")
    _add_store(inventory)
    _add_policy(inventory)

    trace = command("trace", help="donor -> units -> recipients, and back")
    who = trace.add_mutually_exclusive_group(required=True)
    who.add_argument("--donor", metavar="ID", help="forward from a donor")
    who.add_argument("--patient", metavar="ID", help="backward from a patient")
    who.add_argument("--din", metavar="DIN", help="both ways from a donation")
    _add_known_at(trace)
    trace.add_argument("--json", action="store_true")
    _add_store(trace)

    lookback = command("lookback", help="open or show a lookback case")
    lookback.add_argument("action", choices=("open", "show"))
    lookback.add_argument("case", nargs="?", metavar="CASE", help="case id (for show)")
    lookback.add_argument("--donor", metavar="ID", help="donor to look back on (for open)")
    lookback.add_argument("--reason", help="why (for open)")
    lookback.add_argument(
        "--since",
        type=timestamp,
        metavar="DATE",
        help=f"earliest collection (default {DEFAULT_WINDOW_DAYS} days ago)",
    )
    lookback.add_argument(
        "--at",
        type=timestamp,
        metavar="ISO-8601",
        help="when the case is opened: the end of its window and the time of its quarantines "
        "(default now)",
    )
    lookback.add_argument("--actor", default="investigator", help="pseudonymous id of who opens it")
    lookback.add_argument(
        "--as-of",
        type=timestamp,
        metavar="ISO-8601",
        help="the moment the report ages open notices at (default now)",
    )
    lookback.add_argument("--json", action="store_true")
    _add_store(lookback)
    _add_notice_limits(lookback)

    reconcile = command(
        "reconcile", help="account for every record on the topic; non-zero exit if any is not"
    )
    _add_broker(reconcile)
    _add_store(reconcile)
    _add_schema_registry(reconcile)
    reconcile.add_argument("--json", action="store_true")

    alerts = command("alerts", help="units with safety flags and inventory alerts, newest first")
    alerts.add_argument("--since", type=timestamp, metavar="ISO-8601")
    alerts.add_argument(
        "--as-of", type=timestamp, metavar="ISO-8601", help="inventory and open-notice moment"
    )
    _add_known_at(alerts)
    alerts.add_argument("--json", action="store_true")
    _add_store(alerts)
    _add_policy(alerts)
    _add_notice_limits(alerts)

    history = command("history", help="a unit's events in occurred order, and its state")
    history.add_argument("din", help="13-character DIN")
    history.add_argument(
        "--product", metavar="CODE", help="one unit's product code (default: all units)"
    )
    history.add_argument(
        "--as-of", type=timestamp, metavar="ISO-8601", help="replay facts occurred by then"
    )
    _add_known_at(history)
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
    region = "(default: the demo region's %(default)s)"
    demo.add_argument("--days", type=int, default=REGION_CONFIG.days, help=region)
    demo.add_argument("--hospitals", type=int, default=REGION_CONFIG.hospitals, help=region)
    demo.add_argument(
        "--donations-per-day", type=int, default=REGION_CONFIG.donations_per_day, help=region
    )
    demo.add_argument("--seed", type=int, default=REGION_CONFIG.seed)

    broker = command("broker", help="run the embedded Kafka-compatible broker (Tansu)")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument(
        "--partitions", type=int, default=3, help="partitions of the topics it creates"
    )
    broker.add_argument("--topic", default=DEFAULT_TOPIC)

    topics = command("topics", help="create the events and dead-letter topics")
    _add_broker(topics)
    topics.add_argument("--partitions", type=int, default=3)

    audit.add_parser(subparsers, common)
    exports.add_parser(subparsers, common)
    tokens.add_parser(subparsers, common)
    _add_policy(serve.add_parser(subparsers, common))
    notices.add_parser(subparsers, common)
    schemas.add_parser(subparsers, common)
    _add_policy(reporting.add_parser(subparsers, common))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tune_garbage_collector()
    configure_logging(verbose=args.verbose)
    try:
        return COMMANDS[args.command](args)
    except (StoreError, ValueError) as e:
        print(f"bloodledger {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
