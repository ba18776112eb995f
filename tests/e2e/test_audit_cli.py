"""The audit commands as an operator and a regulator run them, and Go's tools on the result.

A protected ledger (identifiers sealed) is filled with the demo stream and
sealed; bundles are exported for a DIN, a facility's period, a donor and a
patient, and checked with ``audit verify-bundle`` and with Go's
``sumdb/note`` and ``sumdb/tlog`` (``verifiers/go``); then edited, and every
edit is caught by both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.adapters.bundles import read_bundle
from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_ledger
from ledger.domain.facts import ReportedFact
from ledger.domain.identity import IdentityKey, generate_master_key
from ledger.domain.note import Note
from simulator import DemoConfig, generate
from tests.support.go_verifier import run_bundlecheck

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent / "bloodledger"
STREAM = DemoConfig(seed=21, days=10, hospitals=2, donations_per_day=10)


@dataclass
class Ledger:
    url: str
    key_dir: Path
    checkpoints: Path
    env: dict[str, str]
    facts: tuple[ReportedFact, ...]

    def run(self, *args: str, key: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if not key:
            env.pop("BLOODLEDGER_CIPHER_KEY")
        return subprocess.run(
            [str(BIN), *args], capture_output=True, text=True, timeout=120, env=env
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    from tests.conftest import _store

    for url in _store(request.param, tmp_path):
        cipher = generate_master_key()
        book = open_ledger(store_for(url), identity_key=IdentityKey(cipher))
        facts = generate(STREAM).facts
        for start in range(0, len(facts), 500):
            book.record(facts[start : start + 500])
        book.close()
        env = {
            **os.environ,
            "BLOODLEDGER_STORE": url,
            "BLOODLEDGER_CIPHER_KEY": cipher,
            "BLOODLEDGER_CHECKPOINTS": str(tmp_path / "published"),
        }
        made = Ledger(url, tmp_path / "key", tmp_path / "published", env, facts)
        assert (
            made.run(
                "audit", "keygen", "--name", "bloodledger/e2e", "--out", str(made.key_dir)
            ).returncode
            == 0
        )
        made.env["BLOODLEDGER_AUDIT_KEY"] = str(made.key_dir)
        sealed = made.run("audit", "seal", "--every", "400")
        assert sealed.returncode == 0, sealed.stderr
        yield made


def _bundle(ledger: Ledger, out: Path, *criteria: str, key: bool = True) -> Path:
    done = ledger.run("audit", "export", "--out", str(out), *criteria, key=key)
    assert done.returncode == 0, done.stderr
    return out


def _check(
    bundle: Path, *trusted: Path
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    args = [arg for t in trusted for arg in ("--trusted-checkpoint", str(t))]
    ours = subprocess.run(
        [str(BIN), "audit", "verify-bundle", str(bundle), *args], capture_output=True, text=True
    )
    theirs = run_bundlecheck(bundle, trusted=list(trusted))
    return ours, theirs


def test_a_din_bundle_verifies_with_ours_and_with_gos_tools_and_every_edit_fails_both(
    ledger: Ledger, tmp_path: Path
) -> None:
    din = ledger.facts[40].din
    bundle = _bundle(ledger, tmp_path / "b", "--din", din)
    earlier = ledger.checkpoints / "checkpoints" / "400"
    ours, theirs = _check(bundle, earlier)
    assert ours.returncode == 0 and ours.stdout.startswith("OK: "), ours.stderr
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    pinned = subprocess.run(
        [str(BIN), "audit", "verify-bundle", str(bundle), "--vkey", str(ledger.key_dir / "vkey")],
        capture_output=True,
        text=True,
    )
    assert pinned.returncode == 0, pinned.stderr
    stranger = tmp_path / "stranger"
    ledger.run("audit", "keygen", "--name", "bloodledger/e2e", "--out", str(stranger))
    impostor = subprocess.run(
        [str(BIN), "audit", "verify-bundle", str(bundle), "--vkey", str(stranger / "vkey")],
        capture_output=True,
        text=True,
    )
    assert impostor.returncode == 1 and "not the ledger's key" in impostor.stderr
    files = read_bundle(bundle)
    entries = sorted(int(n.split("/")[1]) for n in files if n.startswith("entries/"))
    events = [json.loads(line) for line in files["events.jsonl"].decode().splitlines()]
    assert [e["index"] for e in events] == entries
    assert {e["fact"]["din"] for e in events} == {din}
    expected = sum(1 for f in ledger.facts if f.din == din)
    assert len(entries) >= expected, "every fact of the DIN, and derived ones"

    def edited(name: str, change: bytes | None) -> Path:
        copy = tmp_path / f"edit-{name.replace('/', '_')}-{change is None}"
        shutil.copytree(bundle, copy)
        if change is None:
            (copy / name).unlink()
        else:
            (copy / name).write_bytes(change)
        return copy

    entry = f"entries/{entries[len(entries) // 2]}"
    flipped = bytearray(files[entry])
    flipped[-5] ^= 0x01
    for name, change, gos_too in [
        (entry, bytes(flipped), True),
        (entry, None, True),  # a fact left out: the chain breaks
        ("checkpoint", files["checkpoint"].replace(b"\n", b"\n1", 1), True),
        (
            f"proofs/{entries[0]}.tlog-proof",
            files[f"proofs/{entries[0]}.tlog-proof"][:-3] + b"AA=",
            True,
        ),
        (
            "events.jsonl",
            files["events.jsonl"].replace(b'"selected": true', b'"selected": false', 1),
            False,
        ),
    ]:
        copy = edited(name, change)
        if change is None:
            (copy / entry.replace("entries/", "proofs/")).with_suffix(".tlog-proof")
            proof = copy / f"proofs/{entry.split('/')[1]}.tlog-proof"
            proof.unlink()
        ours, theirs = _check(copy)
        assert ours.returncode == 1, f"{name}: {ours.stdout}"
        assert name.split("/")[0] in ours.stderr or "chain" in ours.stderr, ours.stderr
        if gos_too:
            assert theirs.returncode == 1, f"Go accepted an edited {name}: {theirs.stdout}"


def test_a_trusted_checkpoint_of_another_history_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    bundle = _bundle(ledger, tmp_path / "b", "--din", ledger.facts[3].din)
    other = tmp_path / "other"
    shutil.copytree(ledger.checkpoints, other)
    # Another ledger signing with the same key: a fork of the log at size 400.
    fork_store = f"sqlite:///{tmp_path / 'fork.db'}"
    fork = open_ledger(store_for(fork_store))
    fork.record(generate(DemoConfig(seed=5, days=3, hospitals=1, donations_per_day=20)).facts)
    fork.close()
    env = {
        **ledger.env,
        "BLOODLEDGER_STORE": fork_store,
        "BLOODLEDGER_CHECKPOINTS": str(tmp_path / "forked"),
    }
    env.pop("BLOODLEDGER_CIPHER_KEY")
    made = subprocess.run(
        [str(BIN), "audit", "seal", "--every", "400"], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    forked = tmp_path / "forked" / "checkpoints" / "400"
    ours, theirs = _check(bundle, forked)
    assert ours.returncode == 1 and "trusted checkpoint of size 400" in ours.stderr
    assert theirs.returncode == 1


def test_person_bundles_reveal_identifiers_only_with_the_key_and_verify_either_way(
    ledger: Ledger, tmp_path: Path
) -> None:
    patient = next(
        f.payload["patient_id"] for f in ledger.facts if f.event_type == "TransfusionStarted"
    )
    donor = next(f.payload["donor_id"] for f in ledger.facts if f.event_type == "DonationCollected")
    for kind, who in (("--patient", patient), ("--donor", donor)):
        bundle = _bundle(ledger, tmp_path / kind.strip("-"), kind, who)
        ours, theirs = _check(bundle)
        assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stdout
        text = b"".join(read_bundle(bundle).values())
        assert who.encode() in read_bundle(bundle)["events.jsonl"], "revealed with the key"
        assert who.encode() not in text.replace(read_bundle(bundle)["events.jsonl"], b"")
        assert "identifiers checked against their seals" in ours.stdout
        assert " 0 identifiers" not in ours.stdout
    blind = _bundle(ledger, tmp_path / "blind", "--din", ledger.facts[40].din, key=False)
    ours, theirs = _check(blind)
    assert ours.returncode == 0 and theirs.returncode == 0
    assert patient.encode() not in b"".join(read_bundle(blind).values())
    refused = ledger.run(
        "audit", "export", "--out", str(tmp_path / "x"), "--patient", patient, key=False
    )
    assert refused.returncode == 2 and "BLOODLEDGER_CIPHER_KEY" in refused.stderr


def test_a_facility_period_bundle_accounts_for_every_day(ledger: Ledger, tmp_path: Path) -> None:
    facility = ledger.facts[0].facility
    bundle = _bundle(
        ledger,
        tmp_path / "f",
        "--facility",
        facility,
        "--from",
        "2026-09-02",
        "--to",
        "2026-09-04T23:59:59Z",
    )
    ours, theirs = _check(bundle)
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stdout
    selection = Note.parse(read_bundle(bundle)["selection"]).text.decode()
    heads = [line for line in selection.splitlines() if line.startswith("head ")]
    assert [h.split()[1].rsplit(":", 1)[1] for h in heads] == [
        "2026-09-02",
        "2026-09-03",
        "2026-09-04",
    ]
    events = [json.loads(x) for x in read_bundle(bundle)["events.jsonl"].decode().splitlines()]
    assert all(e["fact"]["facility"] == facility for e in events)


def test_trail_status_and_the_refusals(ledger: Ledger, tmp_path: Path) -> None:
    actor = next(f.actor for f in ledger.facts if f.actor)
    trail = ledger.run("audit", "trail", "--actor", actor, "--json")
    assert trail.returncode == 0, trail.stderr
    rows = json.loads(trail.stdout)["facts"]
    assert len(rows) == sum(1 for f in ledger.facts if f.actor == actor)
    assert all(r["actor"] == actor for r in rows) and rows == sorted(rows, key=lambda r: r["index"])
    status = json.loads(ledger.run("audit", "status", "--json").stdout)
    assert status["unsealed"] == 0 and status["tree_size"] == status["log_head"]
    assert status["last_checkpoint"]["size"] == status["tree_size"]
    env = dict(ledger.env)
    env.pop("BLOODLEDGER_AUDIT_KEY")
    no_key = subprocess.run([str(BIN), "audit", "seal"], env=env, capture_output=True, text=True)
    assert no_key.returncode == 2
    assert "no signing key" in no_key.stderr and "Traceback" not in no_key.stderr


def test_witness_cosignatures_are_stored_shown_and_carried_by_bundles(
    ledger: Ledger, tmp_path: Path
) -> None:
    from ledger.domain.note import SignedCheckpoint, VerifierKey

    state = tmp_path / "witness"
    published = ledger.checkpoints
    first = ledger.run(
        "audit", "witness", "--vkey", str(published / "vkey"), "--state", str(state),
        "--name", "witness.example/w1", str(published / "checkpoints" / "400"),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    latest = ledger.run(
        "audit", "witness", "--vkey", str(published / "vkey"), "--state", str(state),
        str(published / "checkpoint"),
    )  # fmt: skip
    assert latest.returncode == 0, latest.stderr
    cosigned = tmp_path / "cosigned"
    cosigned.write_text(latest.stdout)
    witness_key = state / "vkey"
    stored = ledger.run("audit", "cosignature", str(cosigned), "--witness", str(witness_key))
    assert stored.returncode == 0 and stored.stdout.startswith("1 new"), stored.stderr
    again = ledger.run("audit", "cosignature", str(cosigned), "--witness", str(witness_key))
    assert again.stdout.startswith("0 new"), "a repeat is recognised"
    status = json.loads(ledger.run("audit", "status", "--json").stdout)
    size = status["tree_size"]
    assert status["witnesses"]["witness.example/w1"]["sizes"] == [size]
    bundle = _bundle(ledger, tmp_path / "b", "--din", ledger.facts[7].din)
    note = read_bundle(bundle)["checkpoint"]
    key = VerifierKey.parse(witness_key.read_text())
    opened = SignedCheckpoint.open(note, [VerifierKey.parse((published / "vkey").read_text())])
    assert "witness.example/w1" in opened.cosigners([key])
    ours, theirs = _check(bundle)
    assert ours.returncode == 0 and theirs.returncode == 0
    forged = tmp_path / "forged"
    forged.write_text(latest.stdout.replace(f"\n{size}\n", f"\n{size - 1}\n"))
    refused = ledger.run("audit", "cosignature", str(forged), "--witness", str(witness_key))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
