"""``bloodledger audit witness`` on real files: a published directory built from real
trees and keys, the witness's state directory, exit codes, what it prints and keeps.

Most tests call the command's handler in this process (through a parser made
here, exactly as ``audit`` adds it); the last runs the installed
``bloodledger`` as a separate process.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.adapters.keys import load_verifier_key
from ledger.domain.note import Note, SignedCheckpoint, VerifierKey
from ledger.entrypoints import witness
from tests.unit.test_witness import Log

pytestmark = pytest.mark.e2e


def publish(log: Log, folder: Path) -> Path:
    """Write ``log``'s publication: checkpoint, checkpoints/<size>, consistency/<m>-<n>."""
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "consistency").mkdir(exist_ok=True)
    for size, data in log.checkpoints.items():
        (folder / "checkpoints" / str(size)).write_bytes(data)
    for (m, n), data in log.proofs.items():
        (folder / "consistency" / f"{m}-{n}").write_bytes(data)
    (folder / "checkpoint").write_bytes(log.checkpoints[max(log.checkpoints)])
    return folder


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


class Witness:
    """The witness command on one state directory, with the ledger's vkey file."""

    def __init__(self, tmp_path: Path, log: Log, capsys: pytest.CaptureFixture[str]) -> None:
        self.vkey = tmp_path / "ledger.vkey"
        self.vkey.write_text(log.key.verifier.text() + "\n")
        self.state = tmp_path / "witness"
        self.capsys = capsys
        parser = argparse.ArgumentParser(prog="bloodledger audit")
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
        witness.add_parser(parser.add_subparsers(dest="audit_command", required=True), common)
        self.parser = parser

    def __call__(self, checkpoint: Path, *extra: str) -> Run:
        state = ["--vkey", str(self.vkey), "--state", str(self.state)]
        args = self.parser.parse_args(["witness", *state, *extra, str(checkpoint)])
        assert args.audit_command == "witness"
        code = witness.run(args)
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def key(self) -> VerifierKey:
        return load_verifier_key(self.state / "vkey")

    def kept(self, folder: str) -> list[str]:
        return sorted(p.name for p in (self.state / folder).iterdir())


def test_a_witness_follows_the_ledger_cosigning_refusing_and_reporting_a_fork(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = Log().grow(3)
    log.publish()
    published = publish(log, tmp_path / "published")
    w = Witness(tmp_path, log, capsys)

    # First use: the key is made (0600), its vkey printed once; TOFU on the signature.
    first = w(published / "checkpoint")
    assert first.code == 0, first.err
    vkey = w.key()
    assert vkey.name == f"witness/{socket.gethostname()}"
    assert vkey.text() in first.err
    assert "trust on first use" in first.err
    assert stat.S_IMODE(os.stat(w.state / "skey").st_mode) == 0o600
    assert w.kept("accepted") == ["3"] and w.kept("cosigned") == ["3"]
    assert first.out.encode() == (w.state / "cosigned" / "3").read_bytes()
    assert (w.state / "accepted" / "3").read_bytes() == log.checkpoints[3]
    before = int(time.time())
    opened = SignedCheckpoint.open(first.out.encode(), [log.key.verifier])
    (stamp,) = opened.cosigners([vkey]).values()
    assert before - 60 <= stamp <= before + 1

    # Growth through two published proofs (3-5, 5-9); the publication found from the path.
    log.grow(2).publish()
    log.grow(4).publish()
    publish(log, published)
    grown = w(published / "checkpoints" / "9")
    assert grown.code == 0, grown.err
    assert vkey.text() not in grown.err  # the key is printed once only
    assert "cosigned bloodledger/test-ledger size 9: consistent with size 3" in grown.err
    assert w.kept("accepted") == ["3", "9"]
    assert SignedCheckpoint.open(grown.out.encode(), [log.key.verifier]).cosigners([vkey])

    # Again: idempotent.
    again = w(published / "checkpoint")
    assert again.code == 0, again.err
    assert Note.parse(again.out.encode()).text == Note.parse(grown.out.encode()).text

    # Older than the last accepted: refused, nothing changed.
    older = w(published / "checkpoints" / "5")
    assert older.code == 1
    assert "older than the last accepted (size 9)" in older.err
    assert older.out == "" and len(older.err.splitlines()) == 1

    # A checkpoint whose signature does not verify.
    tampered = tmp_path / "tampered"
    tampered.write_bytes(log.checkpoints[9].replace(b"\n9\n", b"\n10\n"))
    bad = w(tampered, "--published", str(published))
    assert bad.code == 1
    assert "does not verify" in bad.err

    # A missing proof is named.
    log.grow(5).publish()
    publish(log, published)
    (published / "consistency" / "9-14").unlink()
    missing = w(published / "checkpoint")
    assert missing.code == 1
    assert "consistency proof 9-14 is not published" in missing.err
    assert str(published) in missing.err
    assert w.kept("accepted") == ["3", "9"]

    # A rewritten history: the ledger now publishes another tree, with proofs of its own.
    rewritten = log.branch(1, b"rewritten ")
    for size in (3, 5, 9, 14):
        rewritten.grow(size - rewritten.edge.size).publish()
    rewritten.grow(6).publish()
    other = publish(rewritten, tmp_path / "rewritten")
    fork = w(other / "checkpoint")
    assert fork.code == 3
    assert fork.out == ""
    (line,) = fork.err.splitlines()
    root9 = base64.b64encode(Log().grow(9).edge.root()).decode()
    assert line.startswith(f"FORK: bloodledger/test-ledger size 9 root {root9} (accepted)")
    assert "size 20 root" in line and "consistency proof 9-14 does not verify" in line
    (record,) = w.kept("forks")
    assert record.startswith("20-")
    evidence = w.state / "forks" / record
    assert sorted(p.name for p in evidence.iterdir()) == [
        "FORK", "accepted-9", "consistency-9-14", "published-14", "submitted-20",
    ]  # fmt: skip
    assert (evidence / "submitted-20").read_bytes() == rewritten.checkpoints[20]
    assert (evidence / "consistency-9-14").read_bytes() == rewritten.proofs[(9, 14)]
    assert (evidence / "FORK").read_text().startswith("FORK: ")
    assert w.kept("accepted") == ["3", "9"]

    # Nothing is cosigned while forks/ exists, however honest; then the witness resumes.
    (published / "consistency" / "9-14").write_bytes(log.proofs[(9, 14)])
    blocked = w(published / "checkpoint")
    assert blocked.code == 1
    assert f"fork was recorded in {w.state / 'forks'}" in blocked.err
    shutil.rmtree(w.state / "forks")
    resumed = w(published / "checkpoint")
    assert resumed.code == 0, resumed.err
    assert w.kept("accepted") == ["14", "3", "9"]
    assert not [p for p in (w.state / "accepted").iterdir() if p.name.startswith(".")]


def test_the_same_size_with_another_root_is_a_fork_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = Log().grow(4)
    log.publish()
    w = Witness(tmp_path, log, capsys)
    assert w(publish(log, tmp_path / "published") / "checkpoint", "--name", "w.example/a").code == 0
    assert w.key().name == "w.example/a"
    other = log.branch(2, b"x").grow(2)
    other.publish()
    fork = w(publish(other, tmp_path / "other") / "checkpoints" / "4")
    assert fork.code == 3
    assert fork.err.startswith("FORK: ") and "two roots for one size" in fork.err
    (record,) = w.kept("forks")
    assert sorted(p.name for p in (w.state / "forks" / record).iterdir()) == [
        "FORK", "accepted-4", "submitted-4",
    ]  # fmt: skip


def test_unusable_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = Log().grow(2)
    log.publish()
    published = publish(log, tmp_path / "published")
    w = Witness(tmp_path, log, capsys)
    missing = w(tmp_path / "nowhere")
    assert missing.code == 2 and "cannot read" in missing.err
    assert not w.state.exists()
    assert w(published / "checkpoint", "--name", "w.example/a").code == 0
    renamed = w(published / "checkpoint", "--name", "w.example/b")
    assert renamed.code == 2 and "w.example/a" in renamed.err
    w.vkey.write_text("not a key\n")
    assert w(published / "checkpoint").code == 2
    w.vkey.write_text(log.key.verifier.text())
    gone = w(published / "checkpoint", "--published", str(tmp_path / "absent"))
    assert gone.code == 2 and "no published directory" in gone.err


def _bloodledger() -> list[str]:
    script = Path(sys.executable).with_name("bloodledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ledger.entrypoints.cli"]


def test_bloodledger_audit_witness_as_a_process(tmp_path: Path) -> None:
    log = Log().grow(5)
    log.publish()
    log.grow(3).publish()
    published = publish(log, tmp_path / "published")
    vkey = tmp_path / "vkey"
    vkey.write_text(log.key.verifier.text() + "\n")
    state = tmp_path / "state"

    def run(checkpoint: Path) -> subprocess.CompletedProcess[str]:
        options = ["--vkey", str(vkey), "--state", str(state), "--name", "witness.example/w1"]
        return subprocess.run(
            [*_bloodledger(), "audit", "witness", *options, str(checkpoint)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first = run(published / "checkpoints" / "8")
    assert first.returncode == 0, first.stderr
    key = load_verifier_key(state / "vkey")
    assert key.text() in first.stderr
    cosigned = SignedCheckpoint.open(first.stdout.encode(), [log.key.verifier])
    assert set(cosigned.cosigners([key])) == {"witness.example/w1"}

    log.grow(3).publish()
    publish(log, published)
    assert run(published / "checkpoint").returncode == 0
    older = run(published / "checkpoints" / "5")
    assert older.returncode == 1 and "older than the last accepted (size 11)" in older.stderr

    other = log.branch(2, b"rewritten ").grow(6)
    other.publish()
    fork = run(publish(other, tmp_path / "other") / "checkpoint")
    assert fork.returncode == 3, fork.stderr
    assert fork.stderr.startswith("FORK: ")
    assert len(list((state / "forks").iterdir())) == 1
