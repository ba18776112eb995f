"""C2SP signed notes, checkpoints, cosignatures and tlog proofs, against the specifications.

The first test is the specification's own example (signed-note v1.0.0): a key
and a note written by someone else's implementation must verify here.
"""

from __future__ import annotations

import base64

import pytest

from ledger.domain.note import (
    COSIGNATURE,
    Checkpoint,
    Note,
    NoteError,
    SignedCheckpoint,
    SigningKey,
    TlogProof,
    VerifierKey,
    hash_lines,
    parse_hash_lines,
)

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()


def test_the_specifications_example_verifies() -> None:
    key = VerifierKey.parse(SPEC_VKEY)
    assert key.text() == SPEC_VKEY
    note = Note.parse(SPEC_NOTE)
    assert note.text == b"This is an example message.\n"
    assert note.verified_by([key]) == {key: 0}
    assert note.encoded() == SPEC_NOTE
    altered = SPEC_NOTE.replace(b"example message", b"example massage")
    with pytest.raises(NoteError, match="does not verify"):
        Note.parse(altered).verified_by([key])


def test_keys_round_trip_and_sign_as_go_expects() -> None:
    key = SigningKey.generate("bloodledger/test-ledger")
    again = SigningKey.parse(key.text())
    assert again.verifier == key.verifier
    assert key.text().startswith("PRIVATE+KEY+bloodledger/test-ledger+")
    vkey = key.verifier.text()
    assert VerifierKey.parse(vkey) == key.verifier
    note = Note(b"hello\n").signed(key)
    assert note.verified_by([VerifierKey.parse(vkey)])
    with pytest.raises(NoteError):
        SigningKey.generate("has space")
    with pytest.raises(NoteError, match="key id"):
        VerifierKey.parse(vkey.replace(vkey.split("+")[1], "00000000"))


def test_unknown_signatures_are_ignored_and_a_note_needs_a_known_one() -> None:
    ledger, stranger = SigningKey.generate("a.example/log"), SigningKey.generate("b.example/x")
    note = Note.parse(Note(b"text\n").signed(stranger, ledger).encoded())
    assert list(note.verified_by([ledger.verifier])) == [ledger.verifier]
    with pytest.raises(NoteError, match="no known key"):
        note.verified_by([SigningKey.generate("c.example/y").verifier])


@pytest.mark.parametrize(
    "data",
    [
        "no blank line\n\u2014 k AAAA\n".encode(),
        b"text\n\nnot a signature line\n",
        b"text\n\n",
        "text\x07\n\n\u2014 k QUJDREU=\n".encode(),
        b"text\n\n\xe2\x80\x94 k not-base64!\n",
    ],
)
def test_malformed_notes_are_refused(data: bytes) -> None:
    with pytest.raises(NoteError):
        Note.parse(data)


def test_checkpoints_are_three_strict_lines() -> None:
    key = SigningKey.generate("bloodledger/x")
    checkpoint = Checkpoint("bloodledger/x", 42, bytes(range(32)))
    note = Note(checkpoint.text()).signed(key)
    opened = SignedCheckpoint.open(note.encoded(), [key.verifier])
    assert opened.checkpoint == checkpoint
    for bad in (b"o\n042\nAAAA\n", b"o\n1\nAAAA\n", b"o\n1\n", b"o\nx\n" + b"A" * 44 + b"\n"):
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)
    other = SigningKey.generate("bloodledger/other")
    with pytest.raises(NoteError, match="named"):
        SignedCheckpoint.open(Note(checkpoint.text()).signed(other).encoded(), [other.verifier])


def test_cosignatures_are_timestamped_and_checked() -> None:
    log = SigningKey.generate("bloodledger/x")
    witness = SigningKey.generate("witness.example/w1", COSIGNATURE)
    checkpoint = Checkpoint("bloodledger/x", 7, bytes(32))
    note = Note(checkpoint.text()).signed(log).signed(witness, timestamp=1_700_000_000)
    opened = SignedCheckpoint.open(note.encoded(), [log.verifier])
    assert opened.cosigners([witness.verifier]) == {"witness.example/w1": 1_700_000_000}
    assert base64.b64decode(witness.verifier.text().split("+", 2)[2])[0] == 0x04
    # A cosignature over another checkpoint does not carry over.
    other = Note(Checkpoint("bloodledger/x", 8, bytes(32)).text()).signed(log)
    forged = other.with_signatures(note.signatures[1:])
    with pytest.raises(NoteError, match="cosignature"):
        SignedCheckpoint.open(forged.encoded(), [log.verifier]).cosigners([witness.verifier])


def test_tlog_proofs_round_trip() -> None:
    checkpoint = "o\n9\nAAAA\n\n\u2014 k x\n".encode()
    proof = TlogProof(5, (bytes(32), bytes(range(32))), checkpoint, b"ex")
    assert TlogProof.parse(proof.encoded()) == proof
    assert proof.encoded().startswith(b"c2sp.org/tlog-proof@v1\nextra ZXg=\nindex 5\n")
    with pytest.raises(NoteError):
        TlogProof.parse(proof.encoded().replace(b"index 5", b"index 05"))
    assert parse_hash_lines(hash_lines(proof.hashes)) == list(proof.hashes)
