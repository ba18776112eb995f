"""The audit log on SQLite and PostgreSQL: sealing, its crashes, and a tampered store.

The checkpoints are checked against a tree recomputed here from the store's
rows by the definition in ``docs/audit.md`` (written out again in this file,
not taken from the ledger's code), and the store is tampered with for real:
a changed byte, a deleted row, two rows swapped, a row slipped in.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from psycopg import sql

from ledger.adapters.broker import EmbeddedBroker
from ledger.adapters.checkpoints import CHECKPOINTS_TOPIC, CheckpointDirectory
from ledger.adapters.persistence import store_for
from ledger.adapters.persistence.postgres import PostgresStore
from ledger.bootstrap import open_ledger
from ledger.domain import merkle
from ledger.domain.note import SignedCheckpoint, SigningKey, parse_hash_lines
from ledger.services.audit import verify_store
from ledger.services.sealer import Sealer, SealSettings
from simulator import DemoConfig, generate

pytestmark = pytest.mark.integration

STREAM = DemoConfig(seed=7, days=8, hospitals=2, donations_per_day=12)
BIN = Path(sys.executable).parent / "bloodledger"


def _facts_into(url: str, days: int = STREAM.days) -> int:
    ledger = open_ledger(store_for(url))
    try:
        facts = generate(DemoConfig(seed=7, days=days, hospitals=2, donations_per_day=12)).facts
        for start in range(0, len(facts), 1000):
            ledger.record(facts[start : start + 1000])
        return ledger.event_log.head()
    finally:
        ledger.close()


def _seal(url: str, key: SigningKey, folder: Path, every: int = 300) -> None:
    ledger = open_ledger(store_for(url), create=False)
    tables = store_for(url).audit_tables()
    try:
        directory = CheckpointDirectory(folder, key.verifier)
        Sealer(ledger.event_log, tables, key, [directory], settings=SealSettings(every)).seal()
    finally:
        tables.close()
        ledger.close()


# -- the definition, written out independently of the ledger's modules -----------------


def _rows(url: str) -> list[tuple[int, str, int, str, bytes]]:
    """(notification id, stream, version, topic, state) of every stored event, in order."""
    store = store_for(url)
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                "FROM stored_events ORDER BY rowid"
            ).fetchall()
        return [(r[0], str(_uuid(r[1])), r[2], r[3], bytes(r[4])) for r in rows]
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.conninfo()) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {} ORDER BY notification_id"
            ).format(sql.Identifier(store.schema, "bloodledger_events"))
        ).fetchall()
    return [(r[0], str(r[1]), r[2], r[3], bytes(r[4])) for r in rows]


def _uuid(text: str) -> str:
    h = text.replace("-", "")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _keys(state: dict[str, object]) -> list[str]:
    keys = set()

    def enc(value: object) -> str:
        return quote(str(value), safe="")

    if isinstance(state.get("din"), str):
        keys.add(f"din:{enc(state['din'])}")
    occurred = state.get("occurred_at")
    if isinstance(state.get("facility"), str) and isinstance(occurred, dict):
        day = datetime.fromisoformat(occurred["_data_"]).astimezone(UTC).date().isoformat()
        keys.add(f"facility:{enc(state['facility'])}:{day}")
    for field, kind in (("donor_id", "donor"), ("patient_id", "patient")):
        value = state.get(field)
        if isinstance(value, str):
            token = value.split(":")[1] if value.startswith("bl1:") else value
            keys.add(f"{kind}:{enc(token)}")
    value = state.get("intended_patient_id")
    if isinstance(value, str):
        keys.add(f"patient:{enc(value.split(':')[1] if value.startswith('bl1:') else value)}")
    return sorted(keys)


def _leaf_hashes(url: str) -> list[bytes]:
    heads: dict[str, int] = {}
    hashes = []
    for index, (_, stream, version, topic, state) in enumerate(_rows(url)):
        lines = ["bloodledger/leaf/v1", f"stream {stream}", f"version {version}", f"topic {topic}"]
        for key in _keys(json.loads(state)):
            previous = heads.get(key)
            lines.append(f"key {key} {'-' if previous is None else previous}")
            heads[key] = index
        leaf = ("\n".join(lines) + "\n\n").encode() + state
        hashes.append(merkle.leaf_hash(leaf))
    return hashes


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture
def sealed(durable_store_url: str, tmp_path: Path) -> Iterator[tuple[str, SigningKey, Path]]:
    _facts_into(durable_store_url)
    key = SigningKey.generate("bloodledger/test")
    folder = tmp_path / "published"
    _seal(durable_store_url, key, folder)
    yield durable_store_url, key, folder


def test_every_published_checkpoint_is_the_tree_of_the_store_by_definition(
    sealed: tuple[str, SigningKey, Path],
) -> None:
    url, key, folder = sealed
    hashes = _leaf_hashes(url)
    directory = CheckpointDirectory(folder)
    sizes = directory.sizes()
    assert sizes[-1] == len(hashes) and len(sizes) == -(-len(hashes) // 300)
    for size, data in directory.all():
        checkpoint = SignedCheckpoint.open(data, [key.verifier]).checkpoint
        assert checkpoint.origin == "bloodledger/test"
        assert checkpoint.root == merkle.root_of(hashes[:size])
    for old, new in itertools.pairwise(sizes):
        proof = directory.consistency(old, new)
        assert proof is not None
        merkle.verify_consistency(
            old, new, merkle.root_of(hashes[:old]), merkle.root_of(hashes[:new]), proof
        )
    assert directory.latest() == directory.checkpoint(sizes[-1])
    assert (folder / "vkey").read_text().strip() == key.verifier.text()


def test_sealing_again_seals_only_new_facts_and_the_tree_grows_consistently(
    sealed: tuple[str, SigningKey, Path], tmp_path: Path
) -> None:
    url, key, folder = sealed
    before = CheckpointDirectory(folder).sizes()
    _seal(url, key, folder)
    assert CheckpointDirectory(folder).sizes() == before, "nothing new: no checkpoint"
    ledger = open_ledger(store_for(url))
    extra = generate(DemoConfig(seed=99, days=2, hospitals=1, donations_per_day=5)).facts
    ledger.record(extra)
    ledger.close()
    _seal(url, key, folder)
    after = CheckpointDirectory(folder).sizes()
    assert after[: len(before)] == before and after[-1] == len(_leaf_hashes(url))
    proof = parse_hash_lines((folder / "consistency" / f"{before[-1]}-{after[-1]}").read_bytes())
    hashes = _leaf_hashes(url)
    merkle.verify_consistency(
        before[-1],
        after[-1],
        merkle.root_of(hashes[: before[-1]]),
        merkle.root_of(hashes),
        proof,
    )


# -- tampering -----------------------------------------------------------------------


def _sqlite_tamper(path: str, how: str, at: int) -> None:
    with sqlite3.connect(path) as conn:
        if how == "byte":
            (state,) = conn.execute(
                "SELECT state FROM stored_events WHERE rowid = ?", (at,)
            ).fetchone()
            flipped = bytearray(state)
            flipped[len(flipped) // 2] ^= 0x01
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(flipped), at))
        elif how == "delete":
            conn.execute("DELETE FROM stored_events WHERE rowid = ?", (at,))
        elif how == "swap":
            columns = "originator_id, originator_version, topic, state"
            a = conn.execute(
                f"SELECT {columns} FROM stored_events WHERE rowid = ?", (at,)
            ).fetchone()
            b = conn.execute(
                f"SELECT {columns} FROM stored_events WHERE rowid = ?", (at + 1,)
            ).fetchone()
            conn.execute("DELETE FROM stored_events WHERE rowid IN (?, ?)", (at, at + 1))
            conn.execute(
                f"INSERT INTO stored_events (rowid, {columns}) VALUES (?, ?, ?, ?, ?)", (at, *b)
            )
            conn.execute(
                f"INSERT INTO stored_events (rowid, {columns}) VALUES (?, ?, ?, ?, ?)", (at + 1, *a)
            )
        else:  # insert a forged fact at ``at``: every later row moves up by one
            last = conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
            for rowid in range(last, at - 1, -1):
                conn.execute("UPDATE stored_events SET rowid = rowid + 1 WHERE rowid = ?", (rowid,))
            conn.execute(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, "
                "state) VALUES (?, ?, 1, 'bloodledger:UnitQuarantined', ?)",
                (at, "0" * 31 + "1", b'{"din": "FORGED"}'),
            )


def _pg_tamper(url: str, how: str, at: int) -> None:
    store = PostgresStore(url)
    events = sql.Identifier(store.schema, "bloodledger_events")
    with psycopg.connect(store.conninfo()) as conn:

        def run(query: str, *params: object) -> psycopg.Cursor[tuple[Any, ...]]:
            return conn.execute(sql.SQL(query).format(events), params)

        if how == "byte":
            (state,) = run("SELECT state FROM {} WHERE notification_id = %s", at).fetchone() or ()
            flipped = bytearray(state)
            flipped[len(flipped) // 2] ^= 0x01
            run("UPDATE {} SET state = %s WHERE notification_id = %s", bytes(flipped), at)
        elif how == "delete":
            run("DELETE FROM {} WHERE notification_id = %s", at)
        elif how == "swap":
            run("UPDATE {} SET notification_id = -1 WHERE notification_id = %s", at)
            run("UPDATE {} SET notification_id = %s WHERE notification_id = %s", at, at + 1)
            run("UPDATE {} SET notification_id = %s WHERE notification_id = -1", at + 1)
        else:
            run("UPDATE {} SET notification_id = -notification_id WHERE notification_id >= %s", at)
            run("UPDATE {} SET notification_id = 1 - notification_id WHERE notification_id < 0")
            run(
                "INSERT INTO {} (originator_id, originator_version, topic, state, notification_id) "
                "VALUES (%s, 1, 'bloodledger:UnitQuarantined', %s, %s)",
                "00000000-0000-0000-0000-000000000001",
                b'{"din": "FORGED"}',
                at,
            )


def _tamper(url: str, how: str, at: int) -> None:
    if url.startswith("sqlite"):
        _sqlite_tamper(url.removeprefix("sqlite:///"), how, at)
    else:
        _pg_tamper(url, how, at)


def _expected(how: str, at: int) -> str:
    """The first problem ``audit verify`` must report (a regular expression)."""
    leaf = re.escape(f"leaf {at - 1} (notification {at}, ") + r"[^)]*\)"
    return {
        "byte": leaf + re.escape(": its stored bytes changed"),
        "delete": leaf + re.escape(" is missing from the store: deleted"),
        "swap": leaf
        + re.escape(f" now holds the fact sealed at leaf {at}")
        + ".*the order changed",
        "insert": re.escape(f"notification {at} (bloodledger:UnitQuarantined, ")
        + ".*"
        + re.escape(f"was inserted before leaf {at - 1} "),
    }[how]


@pytest.mark.parametrize("how", ["byte", "delete", "swap", "insert"])
def test_a_tampered_store_is_detected_and_the_first_changed_fact_named(
    sealed: tuple[str, SigningKey, Path], how: str
) -> None:
    url, key, folder = sealed
    at = 417  # a notification id, inside the second checkpoint
    ledger = open_ledger(store_for(url), create=False)
    tables = store_for(url).audit_tables()
    try:
        published = list(CheckpointDirectory(folder).all())
        assert verify_store(ledger.event_log, tables, published, key.verifier).ok
        _tamper(url, how, at)
        report = verify_store(ledger.event_log, tables, published, key.verifier)
    finally:
        tables.close()
        ledger.close()
    assert not report.ok
    assert re.match(_expected(how, at), report.problems[0]), report.problems[0]
    assert report.checkpoints == [300], "the first checkpoint still holds; every later one fails"
    assert all("another root" in p or "holds only" in p for p in report.problems[1:])


def test_audit_verify_command_exits_1_naming_the_fact(sealed: tuple[str, SigningKey, Path]) -> None:
    url, _, folder = sealed
    ok = _cli("audit", "verify", "--store", url, "--checkpoints", str(folder))
    assert ok.returncode == 0, ok.stderr
    _tamper(url, "byte", 5)
    bad = _cli("audit", "verify", "--store", url, "--checkpoints", str(folder), "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_mismatch"].startswith("leaf 4 (notification 5,")
    assert bad.stderr.splitlines()[0].startswith("bloodledger audit verify: leaf 4 (notification 5")


def _sealed_size(url: str) -> int:
    tables = store_for(url).audit_tables()
    try:
        return tables.size_and_position()[0]
    finally:
        tables.close()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=120, env=env or dict(os.environ)
    )


# -- crashes -------------------------------------------------------------------------


def test_a_sealer_killed_at_random_moments_never_seals_a_fact_twice_or_skips_one(
    durable_store_url: str, tmp_path: Path
) -> None:
    url = durable_store_url
    _facts_into(url, days=40)
    keys = tmp_path / "key"
    assert (
        _cli("audit", "keygen", "--name", "bloodledger/crash", "--out", str(keys)).returncode == 0
    )
    folder = tmp_path / "published"
    command = [
        str(BIN), "audit", "seal", "--store", url, "--key", str(keys),
        "--checkpoints", str(folder), "--every", "23",
    ]  # fmt: skip
    rng = random.Random(11)
    kills = 0
    for _ in range(8):
        before = _sealed_size(url)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while process.poll() is None and _sealed_size(url) <= before:
            assert time.monotonic() < deadline, "the sealer made no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside a later seal
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3, "the sealer must have been killed mid-work a few times"
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hashes = _leaf_hashes(url)
    tables = store_for(url).audit_tables()
    try:
        size, position = tables.size_and_position()
        entries = tables.entries_between(0, size)
    finally:
        tables.close()
    notifications = [row[0] for row in _rows(url)]
    assert [e.index for e in entries] == list(range(len(hashes)))
    assert [e.notification_id for e in entries] == notifications, "each fact sealed once, in order"
    assert [e.leaf_hash for e in entries] == hashes
    assert position == notifications[-1]
    key = json.loads(json.dumps((keys / "vkey").read_text().strip()))
    from ledger.domain.note import VerifierKey

    for published_size, data in CheckpointDirectory(folder).all():
        checkpoint = SignedCheckpoint.open(data, [VerifierKey.parse(key)]).checkpoint
        assert checkpoint.root == merkle.root_of(hashes[:published_size])


# -- the topic ----------------------------------------------------------------------


def test_checkpoints_are_published_to_the_checkpoints_topic(
    broker: EmbeddedBroker, sqlite_url: str, tmp_path: Path
) -> None:
    _facts_into(sqlite_url)
    keys = tmp_path / "key"
    _cli("audit", "keygen", "--name", "bloodledger/topic", "--out", str(keys))
    sealed = _cli(
        "audit", "seal", "--store", sqlite_url, "--key", str(keys),
        "--checkpoints", str(tmp_path / "published"), "--every", "500",
        "--bootstrap", broker.bootstrap,
    )  # fmt: skip
    assert sealed.returncode == 0, sealed.stderr
    sizes = CheckpointDirectory(tmp_path / "published").sizes()
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "t", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(CHECKPOINTS_TOPIC, 0, OFFSET_BEGINNING)])
    seen: dict[int, bytes] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(seen) < len(sizes):
        message = consumer.poll(0.5)
        if message is None or message.error() or message.key() != b"bloodledger/topic":
            continue  # the broker is shared: other tests' logs publish there too
        size = dict(message.headers() or [])["tree_size"]
        seen[int(size or 0)] = message.value() or b""
    consumer.close()
    directory = CheckpointDirectory(tmp_path / "published")
    assert {size: directory.checkpoint(size) for size in sizes} == seen
