"""``bloodledger notices ...``: the recall notices' commands (parser and handlers).

One command, ``notices``, with an optional ACTION first:

- ``bloodledger notices relay --bootstrap HOST:PORT [--topic bloodledger.notices]
  [--until-idle S] [--store URL]``: the relay alone, publishing the store's pending
  notices (``bloodledger ingest`` runs the same relay after each batch);
- ``bloodledger notices --bootstrap HOST:PORT --facility FIN [--json] [--follow]``
  (no ACTION): one facility's notices, as a hospital's integrator reads them.

Each handler is one entry of :data:`ACTIONS`, keyed by its ACTION (``None``: the
reader); the work is in :mod:`ledger.services.relay`, wired by
:mod:`ledger.bootstrap`. Exit status: 0 done; 2 the command could not run (one
line).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from ledger.adapters.kafka import DEFAULT_NOTICES_TOPIC
from ledger.domain.instants import iso
from ledger.services.relay import BATCH_SIZE as RELAY_BATCH_SIZE

if TYPE_CHECKING:
    from ledger.domain.notice import RecallNotice

log = logging.getLogger("bloodledger")

#: Partitions of a notices topic the relay creates (the key, a facility, picks one).
PARTITIONS = 3
#: How long the reader waits for one more record before it is done (without --follow).
READER_IDLE_S = 3.0


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    notices = subparsers.add_parser(
        "notices",
        help="recall notices: relay the store's to the hospitals' topic, or read one facility's",
        parents=[common],
    )
    notices.add_argument(
        "action",
        nargs="?",
        choices=sorted(action for action in ACTIONS if action is not None),
        metavar="ACTION",
        help="relay: publish the store's pending notices; none: read one facility's notices",
    )
    notices.add_argument(
        "--bootstrap", required=True, metavar="HOST:PORT", help="Kafka bootstrap server"
    )
    notices.add_argument(
        "--topic",
        default=DEFAULT_NOTICES_TOPIC,
        help=f"notices topic (default {DEFAULT_NOTICES_TOPIC})",
    )
    notices.add_argument(
        "--store",
        help="relay: event store URL (default $BLOODLEDGER_STORE or sqlite:///bloodledger.db)",
    )
    notices.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="relay: exit once nothing has been pending this long; reader: once no record "
        f"has arrived this long (default {READER_IDLE_S:g}, unless --follow)",
    )
    notices.add_argument(
        "--batch-size",
        type=int,
        default=RELAY_BATCH_SIZE,
        help="relay: notices per publish, each acknowledged before it is marked sent "
        f"(default {RELAY_BATCH_SIZE})",
    )
    notices.add_argument("--facility", metavar="FIN", help="reader: the facility whose notices")
    notices.add_argument("--json", action="store_true", help="reader: one JSON object a line")
    notices.add_argument(
        "--follow", action="store_true", help="reader: keep reading new notices until stopped"
    )


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.action](args)


def ensure_notices_topic(bootstrap: str, topic: str) -> None:
    """Create the notices topic unless it exists; a broker that does not answer now only
    delays the notices (the relay waits for it), so it is said and not fatal."""
    from kafka.errors import KafkaError

    from ledger.adapters.broker import ensure_topics

    try:
        ensure_topics(bootstrap, {topic: PARTITIONS})
    except KafkaError as error:
        log.warning("could not make sure %s exists (%s): notices wait", topic, type(error).__name__)


def _relay(args: argparse.Namespace) -> int:
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import notice_relay, open_ledger
    from ledger.entrypoints.runtime import cipher_key, stop_on_signals

    stopping = stop_on_signals("notices relay")
    store = resolve_store(args.store)
    ledger = open_ledger(store, create=False, identity_key=cipher_key())
    try:
        ensure_notices_topic(args.bootstrap, args.topic)
        relay = notice_relay(ledger, args.bootstrap, args.topic, batch_size=args.batch_size)
        log.info("relaying notices %s -> %s", store.redacted(), args.topic)
        try:
            published = relay.run(stop=stopping.is_set, until_idle=args.until_idle)
        finally:
            relay.close()
    finally:
        ledger.close()
    log.info("relayed %d notices to %s", published, args.topic)
    return 0


def _read(args: argparse.Namespace) -> int:
    """One facility's notices, as a hospital's integration reads them: the records keyed
    by its FIN, from the beginning of the topic, each notice once (repeats dropped by
    ``notice_id``: a relay may send one again). A record that is not a notice is said on
    stderr by its place, never its content, and the exit status is then 1."""
    from ledger.adapters.kafka import TopicReader
    from ledger.adapters.notice_avro import NotANotice, NoticeCodec
    from ledger.domain.din import is_fin
    from ledger.entrypoints.runtime import stop_on_signals

    if not args.facility or not is_fin(args.facility):
        print("bloodledger notices: give --facility FIN (or an ACTION: relay)", file=sys.stderr)
        return 2
    stopping = stop_on_signals("notices")
    reader = TopicReader(args.bootstrap, idle_s=args.until_idle or READER_IDLE_S)
    codec, key, seen, unreadable = NoticeCodec(), args.facility.encode(), set(), 0
    for record in reader.tail(args.topic, stopping.is_set, follow=args.follow):
        if record.key != key:
            continue
        try:
            notice = codec.decode(record.value)
        except NotANotice as error:
            where = f"{record.topic}[{record.partition}]@{record.offset}"
            print(f"bloodledger notices: {where}: {error}", file=sys.stderr)
            unreadable += 1
            continue
        if notice.notice_id not in seen:
            seen.add(notice.notice_id)
            print(_notice_json(notice) if args.json else notice_line(notice), flush=True)
    log.info("%d notices for %s", len(seen), args.facility)
    return 1 if unreadable else 0


def notices_by_facility(
    bootstrap: str, topic: str, idle_s: float = 1.0
) -> dict[str, list[RecallNotice]]:
    """Every notice on ``topic`` so far, by the facility it is keyed to, each once (what
    every hospital's integration would read, all at once: the demo shows it). Records
    that are not notices are skipped here; the per-facility reader reports them."""
    from ledger.adapters.kafka import TopicReader
    from ledger.adapters.notice_avro import NotANotice, NoticeCodec

    codec = NoticeCodec()
    found: dict[str, list[RecallNotice]] = {}
    seen: set[str] = set()
    for record in TopicReader(bootstrap, idle_s=idle_s).records(topic):
        try:
            notice = codec.decode(record.value)
        except NotANotice:
            continue
        if notice.notice_id not in seen:
            seen.add(notice.notice_id)
            found.setdefault(notice.facility, []).append(notice)
    return found


def notice_line(notice: RecallNotice) -> str:
    recipient = f"  recipient {notice.patient_id}" if notice.patient_id else ""
    return (
        f"{iso(notice.issued_at)}  {notice.action:<16} {notice.din} {notice.product_code}  "
        f"notice {notice.notice_id}  {notice.case_id}: {notice.reason}{recipient}"
    )


def _notice_json(notice: RecallNotice) -> str:
    document = {**asdict(notice), "action": str(notice.action), "issued_at": iso(notice.issued_at)}
    return json.dumps(document, ensure_ascii=False)


#: ACTION -> handler (``None``: no ACTION given, the reader).
ACTIONS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    "relay": _relay,
    None: _read,
}
