"""``bloodledger demo``: the real pipeline, end to end, on the embedded default.

Starts the bundled broker on a free port, publishes a generated stream (plus a
few malformed messages, to show dead-lettering), ingests it into SQLite with
the same :class:`~ledger.services.ingest.Ingestor` production uses, prints a summary
and a few example histories, and shuts the broker down.

The demo store is protected: its donor and patient identifiers are sealed
with ``BLOODLEDGER_CIPHER_KEY``, or — unset — with a key made for it and kept
beside it (``demo-output/cipher.key``), which the commands it suggests read.
What it prints shows the identifiers revealed, as the commands do.
"""

from __future__ import annotations

import collections
import os
import shlex
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from ledger.adapters.avro import AvroCodec
from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import DEFAULT_NOTICES_TOPIC, DEFAULT_TOPIC, dlq_topic, publish
from ledger.adapters.persistence import Store, store_for
from ledger.adapters.persistence.sqlite import SQLiteStore
from ledger.bootstrap import (
    KafkaSettings,
    ReadModels,
    ingestor,
    notice_relay,
    open_read_models_of,
)
from ledger.domain.din import check_character
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import IdentityKey, generate_master_key
from ledger.domain.instants import iso
from ledger.domain.inventory import AlertLevel, AlertPolicy
from ledger.domain.notice import RecallNotice
from ledger.domain.unit import UnitRecord
from ledger.domain.unit_state import Status, UnitState
from ledger.domain.vocabulary import BREACH_FLAGS, AckAction, EventType, Flag, NoticeAction
from ledger.entrypoints import documents
from ledger.entrypoints.notices import notice_line, notices_by_facility
from ledger.entrypoints.progress import ProgressBar
from ledger.entrypoints.reports import alerts_text, history_text, inventory_text, lookback_text
from ledger.entrypoints.runtime import CIPHER_KEY_ENV, cipher_key
from ledger.services.application import BloodLedger
from ledger.services.history import history_json
from ledger.services.ingest import IngestCounters, IngestSettings
from projections.queries import inventory
from simulator import DemoConfig, DemoStream, generate

PARTITIONS = 3
#: How long after its notice the answering hospital acknowledges.
ANSWER_DELAY = timedelta(hours=2)
#: How long after the last notice the demo asks which notices are still open: past both
#: limits (24 h; a recipient's notification 72 h).
LOOK_LATER = timedelta(days=4)
#: The source systems the acknowledgements come from.
HOSPITAL_SYSTEM = "hospital-lis"
CENTRE_SYSTEM = "centre-bms"


def malformed_messages(codec: AvroCodec, fact: ReportedFact) -> list[tuple[str, bytes]]:
    """Messages that are not facts (spoilt copies of ``fact``): each must be dead-lettered."""
    good = codec.encode(fact)
    check = check_character(fact.din)
    wrong = next(c for c in "0123456789" if c != check)
    wrong_check = good.replace(_din_field(fact.din, check), _din_field(fact.din, wrong), 1)
    return [
        (fact.din, good[: len(good) // 2]),  # truncated Avro
        (fact.din, b"\x01" + good[1:]),  # wrong magic byte
        (fact.din, b"\x00\x00\x00\x03\xe7" + good[5:]),  # unknown schema id 999
        (fact.din, wrong_check),  # DIN check character that does not match
    ]


def _din_field(din: str, check: str) -> bytes:
    """Avro bytes of ``din`` then ``din_check`` (union branch 1: a 1-character string)."""
    return din.encode() + b"\x02\x02" + check.encode()


def _fresh_store(url: str) -> Store:
    store = store_for(url)
    if isinstance(store, SQLiteStore):
        store.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    return store


def _demo_key(store: Store) -> tuple[IdentityKey, str]:
    """The key the demo seals identifiers with, and the shell prefix its suggested
    commands need: ``BLOODLEDGER_CIPHER_KEY``'s, or one made for this demo store and
    kept in a file beside it (a store that is not recreated keeps its file's key)."""
    given = cipher_key()
    if given is not None:
        print(f"Identifiers sealed with the key in {CIPHER_KEY_ENV}")
        return given, ""
    folder = store.path.parent if isinstance(store, SQLiteStore) else Path("demo-output")
    path = folder / "cipher.key"
    if isinstance(store, SQLiteStore) or not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(generate_master_key() + "\n")
    shown = shlex.quote(str(path))
    print(
        f"Identifiers sealed with a new key kept in {path} ({CIPHER_KEY_ENV} unset); "
        f"the commands below read it from there"
    )
    return IdentityKey(path.read_text("ascii")), f"{CIPHER_KEY_ENV}=$(cat {shown}) "


def _summary(ledger: BloodLedger, stream: DemoStream) -> list[UnitRecord]:
    dins = list(dict.fromkeys(f.din for f in stream.facts))
    units = [unit for din in dins for unit in ledger.units_of(din)]
    statuses = collections.Counter(unit.state().status for unit in units)
    flags = collections.Counter(flag for unit in units for flag in unit.state().flags)
    print(f"\nLedger: {len(dins)} donations, {len(units)} units")
    print("  by status: " + ", ".join(f"{s} {n}" for s, n in statuses.most_common()))
    print("  safety flags: " + (", ".join(f"{f} {n}" for f, n in flags.most_common()) or "none"))
    return units


def _is_reactive(state: UnitState) -> bool:
    return Flag.REACTIVE_DONATION in state.flags


def _has_breach(state: UnitState) -> bool:
    return bool(BREACH_FLAGS.intersection(state.flags))


def _transfused_cleanly(state: UnitState) -> bool:
    return state.status == Status.TRANSFUSED and not state.flags


def _examples(units: list[UnitRecord]) -> list[UnitRecord]:
    """One reactive unit, one with a rule breach, one transfused cleanly."""
    picks: list[UnitRecord] = []
    for wanted in (_is_reactive, _has_breach, _transfused_cleanly):
        found = next((u for u in units if wanted(u.state()) and u not in picks), None)
        if found is not None:
            picks.append(found)
    return picks


def _ingest(ledger: BloodLedger, bootstrap: str, what: str) -> IngestCounters:
    kafka = KafkaSettings(bootstrap=bootstrap, topic=DEFAULT_TOPIC, group="bloodledger-demo")
    settings = IngestSettings(topic=DEFAULT_TOPIC, until_idle=3.0)
    started = time.monotonic()
    counters = ingestor(ledger, kafka, settings).run()
    print(
        f"Ingested {what} in {time.monotonic() - started:.1f} s: "
        f"{counters.stored} facts stored, {counters.duplicates} duplicates ignored, "
        f"{counters.dead_lettered} dead-lettered to {dlq_topic(DEFAULT_TOPIC)}"
    )
    return counters


def _read_model_summary(models: ReadModels, last: datetime) -> None:
    """Projections: stock alerts at the end of the stream and the lookbacks the ledger opened."""
    bar = ProgressBar("projections")
    models.projector.catch_up(bar)
    bar.finish()
    rows = [r.to_json() for r in inventory(models.view, last, AlertPolicy())]
    in_alert = (r for r in rows if r["alert"] != AlertLevel.GREEN)
    worst = sorted(in_alert, key=lambda r: r["days_of_supply"])
    print(f"\n{len(worst)} of {len(rows)} stock groups in alert; the ten shortest:")
    print(inventory_text(worst[:10], as_of=last.isoformat(), colour=sys.stdout.isatty()))
    found = (models.lookbacks.report(c, last) for c in models.view.case_ids())
    reports = [r for r in found if r]
    print(f"\n{len(reports)} lookback cases opened by the ledger")


# -- the recall round: notices out, one hospital answers, the other's stays open --------


def _relay_notices(
    models: ReadModels, bootstrap: str, centre: str
) -> dict[str, list[RecallNotice]]:
    """The ledger's outbox published (what ``ingest`` does after each batch), then read
    back from the topic as each hospital's integration would: by facility."""
    relay = notice_relay(models.ledger, bootstrap, DEFAULT_NOTICES_TOPIC)
    try:
        sent = relay.tick_or_wait(max_batches=None)
    finally:
        relay.close()
    found = notices_by_facility(bootstrap, DEFAULT_NOTICES_TOPIC)
    print(
        f"\nRecall notices: {sent} relayed to {DEFAULT_NOTICES_TOPIC}, keyed by the facility "
        f"that must act; {sum(map(len, found.values()))} on the topic for {len(found)} facilities"
    )
    for facility in sorted(found):
        print(f"  {facility}: {len(found[facility])}")
        if facility != centre:
            for notice in found[facility]:
                print(f"    {notice_line(notice)}")
    return found


def _answering_hospitals(
    found: dict[str, list[RecallNotice]], stream: DemoStream
) -> tuple[str, list[str]] | None:
    """The hospital that acknowledges, and those that stay silent: with the planted
    recall, the hospital holding the plasma answers, the one whose patient had the red
    cells and the one the cryo is on its way to do not; otherwise the first hospital
    with notices answers."""
    recall = stream.recall
    if recall is not None and recall.on_shelf.facility in found:
        answering = recall.on_shelf.facility
    else:
        answering = next((f for f in stream.hospitals if f in found), "")
    silent = [f for f in stream.hospitals if f in found and f != answering]
    return (answering, silent) if answering and silent else None


def acknowledgement(notice: RecallNotice, source_system: str, action: AckAction) -> ReportedFact:
    """What a facility's system sends back: a ``NoticeAcknowledged`` on the notice's unit,
    two hours after the notice, its event id derived from the notice (sent twice, it is
    one fact)."""
    return ReportedFact(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bloodledger-demo:ack:{notice.notice_id}")),
        event_type=EventType.NoticeAcknowledged,
        occurred_at=notice.issued_at + ANSWER_DELAY,
        source_system=source_system,
        facility=notice.facility,
        actor="role-9001",
        din=notice.din,
        product_code=notice.product_code,
        payload={"notice_id": notice.notice_id, "action_taken": action},
    )


def _what_was_done(ledger: BloodLedger, notice: RecallNotice) -> AckAction:
    """The answer a facility gives, from what the ledger knows of the unit: discarded
    already, its recipient told, or put aside."""
    if notice.action == NoticeAction.NOTIFY_RECIPIENT:
        return AckAction.PATIENT_NOTIFIED
    units = ledger.units_of(notice.din, notice.product_code)
    discarded = bool(units) and units[0].state().status == Status.DISCARDED
    return AckAction.DISCARDED if discarded else AckAction.QUARANTINED


def _recall_round(
    models: ReadModels, bootstrap: str, stream: DemoStream
) -> tuple[int, IngestCounters | None]:
    """Notices to the hospitals; one acknowledges every notice it got, the other none;
    the case report and the alerts then show which are still open. Returns the messages
    published and how the ingest accounted for them."""
    found = _relay_notices(models, bootstrap, stream.centre)
    pair = _answering_hospitals(found, stream)
    if pair is None:
        print("  (fewer than two hospitals got a notice in this stream: no acknowledgements)")
        return 0, None
    answering, silent = pair
    answered = [*found.get(stream.centre, []), *found[answering]]
    answers = [
        acknowledgement(n, CENTRE_SYSTEM if n.facility == stream.centre else HOSPITAL_SYSTEM,
                        _what_was_done(models.ledger, n))
        for n in answered
    ]  # fmt: skip
    codec = AvroCodec()
    sent = publish(bootstrap, DEFAULT_TOPIC, [(a.din, codec.encode(a)) for a in answers])
    print(
        f"\nThe centre {stream.centre} and the hospital {answering} acknowledge their "
        f"{len(answers)} notices (NoticeAcknowledged on {DEFAULT_TOPIC}); "
        f"{', '.join(silent)} do not answer"
    )
    counters = _ingest(models.ledger, bootstrap, "the acknowledgements")
    models.projector.catch_up()
    later = max(n.issued_at for notices in found.values() for n in notices) + LOOK_LATER
    involved = [n for f in (answering, *silent) for n in found[f]]
    cases = [stream.recall.case_id] if stream.recall else sorted({n.case_id for n in involved})
    for case_id in cases:
        report = documents.lookback(models, case_id, later)
        if report is not None:
            print(lookback_text(report))
    overdue = [
        a
        for a in documents.alerts(models.view, models.identities, later, AlertPolicy())
        if a["kind"] == "OPEN_NOTICE"
    ]
    print(f"\nAlerts as of {iso(later)}: {len(overdue)} recall notices open past their limit")
    print(alerts_text(overdue))
    return sent, counters


def _explore(store: Store, with_key: str, din: str, last: datetime) -> None:
    """The commands that read what the demo left, the pages' server among them."""
    at, url = last.isoformat(), store.url
    print(
        f"\nBroker stopped. Explore:\n"
        f"  {with_key}bloodledger history {din} --store {url}\n"
        f"  {with_key}bloodledger inventory --as-of {at} --store {url}\n"
        f"  {with_key}bloodledger alerts --as-of {at} --store {url}\n"
        f"Serve the pages and the API (a token first; sign in at http://127.0.0.1:8080/login):\n"
        f"  {with_key}bloodledger token create --role investigator --name demo --store {url}\n"
        f"  {with_key}bloodledger serve --store {url}"
    )


def run_demo(config: DemoConfig, store_url: str) -> int:
    """Run the demo; exit status 0 if every published message was accounted for."""
    store = _fresh_store(store_url)
    stream = generate(config)
    codec = AvroCodec()
    messages = [(fact.din, codec.encode(fact)) for fact in stream.facts]
    bad = malformed_messages(codec, stream.facts[0])
    print(
        f"Generated {len(stream.facts)} facts: 1 blood centre, {len(stream.hospitals)} hospitals, "
        f"{config.days} days ({stream.late} arriving late, {stream.resent} re-sent), "
        f"plus {len(bad)} malformed messages"
    )
    key, with_key = _demo_key(store)
    last = stream.end
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, {
            DEFAULT_TOPIC: PARTITIONS, dlq_topic(DEFAULT_TOPIC): 1,
            DEFAULT_NOTICES_TOPIC: PARTITIONS,
        })  # fmt: skip
        started = time.monotonic()
        sent = publish(broker.bootstrap, DEFAULT_TOPIC, messages + bad)
        print(f"Published {sent} messages in {time.monotonic() - started:.1f} s")
        with open_read_models_of(store, identity_key=key) as models:
            print(f"Ingesting into {store.redacted()}")
            counters = [_ingest(models.ledger, broker.bootstrap, "the stream")]
            units = _summary(models.ledger, stream)
            for unit in _examples(units):
                print(history_text(models.identities.revealed(history_json([unit]))))
            _read_model_summary(models, last)
            answers, answered = _recall_round(models, broker.bootstrap, stream)
    sent += answers
    counters += [answered] if answered else []
    _explore(store, with_key, units[0].din, last)
    accounted = sum(c.stored + c.duplicates + c.dead_lettered for c in counters)
    return 0 if accounted == sent else 1
