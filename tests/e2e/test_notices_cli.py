"""A hospital's side of the recall notices, as processes against the embedded broker.

``bloodledger notices --facility FIN`` reads the notices topic as a hospital's LIS
integration would: only the records keyed by its FIN, each notice once (a relay may
send one again), as lines or JSON lines, until idle or — with ``--follow`` — until
stopped. A record that is not a notice is said by its place, never its content. The
hospital then acknowledges with a ``NoticeAcknowledged`` event on the events topic,
and ``lookback show`` and ``alerts`` say the notice is closed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.adapters.broker import EmbeddedBroker, ensure_topics
from ledger.adapters.kafka import publish
from ledger.adapters.notice_avro import NoticeCodec
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_read_models_of
from ledger.domain.notice import RecallNotice
from ledger.domain.vocabulary import NoticeAction
from tests.builders import HOSPITAL
from tests.integration.support import cli, run_cli, run_ingest
from tests.notice_story import ISSUED_AT, SECOND_HOSPITAL, RecallStory, recall_story


@pytest.fixture
def notices(broker: EmbeddedBroker) -> str:
    name = f"notices-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker.bootstrap, {name: 3})
    return name


def relayed(broker: EmbeddedBroker, notices: str, url: str, story: RecallStory) -> None:
    """The story recorded (its case's six notices in the outbox), then relayed."""
    with open_read_models_of(store_for(url)) as models:
        models.ledger.record(story.facts)
        models.projector.catch_up()
    relay = run_cli(
        "notices", "relay", "--bootstrap", broker.bootstrap, "--topic", notices,
        "--store", url, "--until-idle", "1",
    )  # fmt: skip
    assert relay.returncode == 0, relay.stderr


def read(broker: EmbeddedBroker, notices: str, facility: str, *extra: str) -> Any:
    return run_cli(
        "notices", "--bootstrap", broker.bootstrap, "--topic", notices,
        "--facility", facility, "--until-idle", "2", *extra,
    )  # fmt: skip


def test_a_hospital_reads_its_notices_once_each_and_acknowledges_them(
    broker: EmbeddedBroker, notices: str, topic: str, sqlite_url: str
) -> None:
    story = recall_story()
    relayed(broker, notices, sqlite_url, story)
    shown = read(broker, notices, HOSPITAL, "--json")
    assert shown.returncode == 0, shown.stderr
    first = [json.loads(line) for line in shown.stdout.splitlines()]
    expected = {(d, p, a, who) for d, p, f, a, who in story.expected() if f == HOSPITAL}
    assert {(n["din"], n["product_code"], n["action"], n["patient_id"]) for n in first} == expected
    assert all(n["facility"] == HOSPITAL and n["case_id"] == story.case_id for n in first)

    # The relay sends one again (killed between publishing and marking): not shown twice.
    publish(broker.bootstrap, notices, [(HOSPITAL, NoticeCodec().encode(_notice(first[0])))])
    text = read(broker, notices, HOSPITAL)
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == len(first)
    assert all(n["notice_id"] in text.stdout for n in first)
    other = read(broker, notices, SECOND_HOSPITAL, "--json")
    assert [json.loads(line)["facility"] for line in other.stdout.splitlines()] == [SECOND_HOSPITAL]

    # The hospital answers each notice with a contract event, through Kafka.
    answers = [_acknowledgement(n, "PATIENT_NOTIFIED" if n["patient_id"] else "QUARANTINED")
               for n in first]  # fmt: skip
    sent = subprocess.run(
        cli("publish", "--bootstrap", broker.bootstrap, "--topic", topic),
        input="\n".join(json.dumps(a) for a in answers), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    ingested = run_ingest(broker.bootstrap, topic, sqlite_url, "--project",
                          "--notices-topic", notices)  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    moment = (ISSUED_AT + timedelta(hours=30)).isoformat()
    report = json.loads(
        run_cli("lookback", "show", story.case_id, "--json", "--as-of", moment,
                "--store", sqlite_url).stdout
    )  # fmt: skip
    answered = {n["notice_id"]: n["acknowledged"] for n in report["notices"]}
    assert {answered[n["notice_id"]]["facility"] for n in first} == {HOSPITAL}
    assert all(n["sent_at"] for n in report["notices"])  # the relay had sent every one
    still_open = {(n["facility"], n["action"]) for n in report["open_notices"]}
    assert HOSPITAL not in {facility for facility, _ in still_open}
    alerts = json.loads(
        run_cli("alerts", "--json", "--as-of", moment, "--store", sqlite_url).stdout
    )
    late = {a["facility"] for a in alerts if a["kind"] == "OPEN_NOTICE"}
    assert late and HOSPITAL not in late  # the others' quarantine notices are past 24 h
    shown_text = run_cli("lookback", "show", story.case_id, "--as-of", moment,
                         "--store", sqlite_url).stdout  # fmt: skip
    assert "Open notices (" in shown_text and "OVERDUE" in shown_text
    assert "acknowledged" in shown_text and "by S3102" in shown_text


def test_follow_prints_each_new_notice_until_stopped(
    broker: EmbeddedBroker, notices: str, sqlite_url: str
) -> None:
    story = recall_story()
    relayed(broker, notices, sqlite_url, story)
    reader = subprocess.Popen(
        cli("notices", "--bootstrap", broker.bootstrap, "--topic", notices,
            "--facility", SECOND_HOSPITAL, "--json", "--follow"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert reader.stdout is not None
        existing = json.loads(reader.stdout.readline())
        codec = NoticeCodec()
        later = replace(_notice(existing), notice_id=str(uuid.uuid4()), case_id="LB-LATER")
        publish(broker.bootstrap, notices, [(SECOND_HOSPITAL, codec.encode(later))])
        arrived = json.loads(reader.stdout.readline())
        assert (arrived["notice_id"], arrived["case_id"]) == (later.notice_id, "LB-LATER")
    finally:
        reader.send_signal(signal.SIGTERM)
        _, stderr = reader.communicate(timeout=30)
    assert reader.returncode == 0, stderr


def test_a_record_that_is_not_a_notice_is_said_by_its_place(
    broker: EmbeddedBroker, notices: str
) -> None:
    publish(broker.bootstrap, notices, [(HOSPITAL, b"\x00\x00\x00\x00\x03not-avro P-SECRET")])
    shown = read(broker, notices, HOSPITAL)
    assert shown.returncode == 1
    assert f"{notices}[" in shown.stderr and "@0" in shown.stderr
    assert "P-SECRET" not in shown.stderr + shown.stdout
    assert run_cli("notices", "--bootstrap", broker.bootstrap).returncode == 2  # no --facility


def _notice(document: dict[str, Any]) -> RecallNotice:
    """A reader's JSON line back into a notice (to publish it again)."""
    action, issued_at = (
        NoticeAction(document["action"]),
        datetime.fromisoformat(document["issued_at"]),
    )
    return RecallNotice(**{**document, "action": action, "issued_at": issued_at})


def _acknowledgement(notice: dict[str, Any], action: str) -> dict[str, Any]:
    """The contract JSON of a NoticeAcknowledged, as the README shows it."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "NoticeAcknowledged",
        "occurred_at": (ISSUED_AT + timedelta(hours=6)).isoformat(),
        "source": {"system": "hospital-lis", "facility": notice["facility"], "actor": "bb-tech-7"},
        "din": notice["din"],
        "product_code": notice["product_code"],
        "payload": {"notice_id": notice["notice_id"], "action_taken": action},
    }
