"""The witness's logic, on in-memory state and publication: no files, a fixed clock.

The logs are real RFC 9162 trees over synthetic leaves (:class:`Log`), their
checkpoints signed by a real ledger key, their proofs computed by the domain's
``consistency_proof`` — so a rewritten history really fails to verify.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ledger.domain.merkle import Node, StridedNodes, TreeEdge, consistency_proof, leaf_hash
from ledger.domain.note import (
    COSIGNATURE,
    Checkpoint,
    Note,
    NoteError,
    SignedCheckpoint,
    SigningKey,
    hash_lines,
)
from ledger.services.witness import Cosigned, Forked, Refused, Witness

ORIGIN = "bloodledger/test-ledger"
T0 = 1_760_000_000


class Log:
    """A ledger's log: synthetic leaf hashes on a :class:`TreeEdge`, its signing key,
    and what it publishes (every checkpoint, a proof between each consecutive pair)."""

    def __init__(self, key: SigningKey | None = None, tag: bytes = b"") -> None:
        self.key = key or SigningKey.generate(ORIGIN)
        self.tag = tag
        self.edge = TreeEdge()
        self.stored: dict[Node, bytes] = {}
        self.checkpoints: dict[int, bytes] = {}
        self.proofs: dict[tuple[int, int], bytes] = {}

    def grow(self, count: int) -> Log:
        for _ in range(count):
            index = self.edge.size
            leaf = leaf_hash(self.tag + b"fact %d" % index)
            self.stored[(0, index)] = leaf
            self.edge.append(
                leaf, lambda level, i, value: self.stored.__setitem__((level, i), value)
            )
        return self

    def branch(self, at: int, tag: bytes) -> Log:
        """Another history under the same key: the first ``at`` leaves, then others."""
        other = Log(self.key, self.tag).grow(at)
        other.tag = tag
        return other

    def nodes(self) -> StridedNodes:
        return StridedNodes(lambda keys: {k: self.stored[k] for k in keys if k in self.stored})

    def signed(self) -> bytes:
        checkpoint = Checkpoint(ORIGIN, self.edge.size, self.edge.root())
        return Note(checkpoint.text()).signed(self.key).encoded()

    def proof(self, old: int, new: int) -> bytes:
        return hash_lines(consistency_proof(self.nodes(), old, new))

    def publish(self) -> bytes:
        """Publish the checkpoint at the current size (and the proof from the last one:
        none from the empty tree, which is a prefix of every tree)."""
        size = self.edge.size
        last = max(self.checkpoints, default=0)
        if 0 < last < size:
            self.proofs[(last, size)] = self.proof(last, size)
        self.checkpoints[size] = self.signed()
        return self.checkpoints[size]


class MemoryState:
    def __init__(self) -> None:
        self.accepted_notes: dict[int, bytes] = {}
        self.cosigned_notes: dict[int, bytes] = {}
        self.forks: dict[str, dict[str, bytes]] = {}

    def accepted_sizes(self) -> list[int]:
        return list(self.accepted_notes)

    def accepted(self, size: int) -> bytes | None:
        return self.accepted_notes.get(size)

    def cosigned(self, size: int) -> bytes | None:
        return self.cosigned_notes.get(size)

    def accept(self, size: int, checkpoint: bytes, cosigned: bytes) -> None:
        self.accepted_notes[size] = checkpoint
        self.cosigned_notes[size] = cosigned

    def fork_record(self) -> str | None:
        return "memory/forks" if self.forks else None

    def record_fork(self, name: str, evidence: Mapping[str, bytes]) -> str:
        self.forks[name] = dict(evidence)
        return f"memory/forks/{name}"


class MemoryPublication:
    location = "memory/published"

    def __init__(self, log: Log) -> None:
        self.log = log

    def checkpoint_sizes(self) -> list[int]:
        return list(self.log.checkpoints)

    def proof_sizes(self) -> list[tuple[int, int]]:
        return list(self.log.proofs)

    def checkpoint(self, size: int) -> bytes | None:
        return self.log.checkpoints.get(size)

    def consistency(self, old: int, new: int) -> bytes | None:
        return self.log.proofs.get((old, new))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 60
        return self.now


WITNESS_KEY = SigningKey.generate("witness.example/w1", COSIGNATURE)


class Setup:
    def __init__(self, log: Log | None = None) -> None:
        self.log = log or Log()
        self.state = MemoryState()
        self.clock = Clock()
        self.publication = MemoryPublication(self.log)
        self.witness = self.make(self.publication)

    def make(self, publication: MemoryPublication | None) -> Witness:
        return Witness(self.log.key.verifier, WITNESS_KEY, self.state, publication, self.clock)

    def submit(self, data: bytes) -> Cosigned | Refused | Forked:
        return self.witness.submit(data)


def cosigned(outcome: object) -> Cosigned:
    assert isinstance(outcome, Cosigned), outcome
    return outcome


def refused(outcome: object) -> str:
    assert isinstance(outcome, Refused), outcome
    return outcome.reason


def forked(outcome: object) -> Forked:
    assert isinstance(outcome, Forked), outcome
    return outcome


def opened(note: bytes, log: Log) -> SignedCheckpoint:
    return SignedCheckpoint.open(note, [log.key.verifier])


def test_the_first_checkpoint_is_accepted_on_its_signature_alone() -> None:
    w = Setup(Log().grow(5))
    first = w.log.publish()
    result = cosigned(w.submit(first))
    assert "trust on first use" in result.summary
    assert w.state.accepted_sizes() == [5]
    assert w.state.accepted(5) == first
    assert w.state.cosigned(5) == result.note
    assert result.checkpoint.checkpoint.size == 5


def test_the_cosignature_verifies_with_the_witness_key_at_the_clocks_time() -> None:
    w = Setup(Log().grow(3))
    other = SigningKey.generate("witness.example/other", COSIGNATURE)
    data = Note.parse(w.log.publish()).signed(other, timestamp=T0 - 5).encoded()
    result = cosigned(w.submit(data))
    assert result.timestamp == w.clock.now
    back = opened(result.note, w.log)  # the ledger's signature still verifies
    assert back.cosigners([WITNESS_KEY.verifier]) == {WITNESS_KEY.name: w.clock.now}
    # The other witness's cosignature is kept, and still verifies.
    assert back.cosigners([other.verifier]) == {other.name: T0 - 5}
    assert back.note.text == Note.parse(data).text
    lines = result.note.decode().splitlines()
    assert lines[-1].startswith(f"\u2014 {WITNESS_KEY.name} ")
    # The signed message is tlog-cosignature v1: a changed time does not verify.
    tampered = Note.parse(result.note)
    mine = tampered.signatures[-1]
    later = (w.clock.now + 1).to_bytes(8, "big") + mine.raw[8:]
    forged = Note(
        tampered.text, (*tampered.signatures[:-1], type(mine)(mine.name, mine.key_id, later))
    )
    with pytest.raises(NoteError, match="cosignature"):
        opened(forged.encoded(), w.log).cosigners([WITNESS_KEY.verifier])


def test_consistent_growth_is_cosigned_through_a_chain_of_published_proofs() -> None:
    w = Setup(Log().grow(3))
    cosigned(w.submit(w.log.publish()))
    for count in (2, 4, 5):  # published: 3, 5, 9, 14; proofs 3-5, 5-9, 9-14
        w.log.grow(count).publish()
    assert sorted(w.log.proofs) == [(3, 5), (5, 9), (9, 14)]
    result = cosigned(w.submit(w.log.checkpoints[14]))
    assert "consistent with size 3" in result.summary
    assert w.state.accepted_sizes() == [3, 14]
    assert opened(result.note, w.log).cosigners([WITNESS_KEY.verifier])[WITNESS_KEY.name] == (
        result.timestamp
    )


def test_an_accepted_size_with_the_same_root_is_cosigned_again() -> None:
    w = Setup(Log().grow(4))
    data = w.log.publish()
    first = cosigned(w.submit(data))
    again = cosigned(w.submit(first.note))  # even as the cosigned note, our line is replaced
    assert again.timestamp > first.timestamp
    assert w.state.accepted_sizes() == [4]
    assert len(Note.parse(again.note).signatures) == 2
    assert opened(again.note, w.log).cosigners([WITNESS_KEY.verifier]) == {
        WITNESS_KEY.name: again.timestamp
    }


def test_an_older_accepted_size_gets_back_the_cosignature_made_when_it_was_largest() -> None:
    w = Setup(Log().grow(4))
    old = cosigned(w.submit(w.log.publish()))
    cosigned(w.submit(w.log.grow(4).publish()))
    back = cosigned(w.submit(w.log.checkpoints[4]))
    assert back.timestamp == old.timestamp  # never "the largest as of now"
    assert back.note == old.note


def test_the_same_size_with_another_root_is_a_fork() -> None:
    log = Log().grow(6)
    w = Setup(log)
    accepted = log.publish()
    cosigned(w.submit(accepted))
    other = log.branch(2, b"rewritten ").grow(4)
    result = forked(w.submit(other.signed()))
    assert result.line.startswith("FORK: ")
    assert "size 6" in result.line
    assert "two roots for one size" in result.line
    name, evidence = next(iter(w.state.forks.items()))
    assert name == f"6-{w.clock.now}"
    assert evidence["accepted-6"] == accepted
    assert evidence["submitted-6"] == other.signed()
    assert evidence["FORK"].decode().startswith("FORK: ")
    assert w.state.accepted_sizes() == [6]


def test_a_newer_checkpoint_of_a_rewritten_history_is_a_fork() -> None:
    honest = Log().grow(5)
    w = Setup(honest)
    accepted = honest.publish()
    cosigned(w.submit(accepted))
    # The ledger rewrites leaf 2 and publishes a new tree, with proofs of its own.
    rewritten = honest.branch(2, b"rewritten ").grow(3)
    rewritten.publish()  # 5, as it now says it was
    rewritten.grow(4).publish()  # 9, with a proof 5-9 from its rewritten 5
    w.publication.log = rewritten
    result = forked(w.submit(rewritten.checkpoints[9]))
    assert "size 5" in result.line and "size 9" in result.line
    assert "consistency proof 5-9 does not verify" in result.line
    evidence = next(iter(w.state.forks.values()))
    assert evidence["accepted-5"] == accepted
    assert evidence["submitted-9"] == rewritten.checkpoints[9]
    assert evidence["consistency-5-9"] == rewritten.proofs[(5, 9)]
    assert w.state.accepted_sizes() == [5]


def test_a_fork_in_the_middle_of_the_chain_is_found_even_if_a_later_proof_is_missing() -> None:
    honest = Log().grow(5)
    w = Setup(honest)
    cosigned(w.submit(honest.publish()))
    honest.grow(3).publish()  # 8: honest
    forged = honest.branch(1, b"rewritten ").grow(11)  # 12: a different history
    honest.checkpoints[12] = forged.signed()
    honest.proofs[(8, 12)] = forged.proof(8, 12)
    honest.checkpoints[15] = forged.grow(3).signed()  # 15, and no proof 12-15
    result = forked(w.submit(honest.checkpoints[15]))
    assert "consistency proof 8-12 does not verify" in result.line
    evidence = next(iter(w.state.forks.values()))
    assert set(evidence) == {
        "accepted-5", "submitted-15", "published-8", "published-12", "consistency-8-12", "FORK",
    }  # fmt: skip


def test_a_checkpoint_that_does_not_verify_is_refused() -> None:
    log = Log().grow(3)
    w = Setup(log)
    impostor = SigningKey.generate(ORIGIN)  # the same name, another key
    data = Note(Checkpoint(ORIGIN, 3, log.edge.root()).text()).signed(impostor).encoded()
    assert "does not verify" in refused(w.submit(data))
    tampered = log.signed().replace(b"\n3\n", b"\n4\n", 1)
    assert "does not verify" in refused(w.submit(tampered))
    assert "does not verify" in refused(w.submit(b"not a note"))
    assert w.state.accepted_sizes() == []
    assert w.state.forks == {}


def test_a_missing_proof_or_checkpoint_is_refused_saying_which() -> None:
    w = Setup(Log().grow(3))
    cosigned(w.submit(w.log.publish()))
    w.log.grow(2).publish()
    w.log.grow(4).publish()
    w.log.grow(5).publish()
    del w.log.proofs[(5, 9)]
    reason = refused(w.submit(w.log.checkpoints[14]))
    assert "cannot prove size 3 -> 14" in reason
    assert "consistency proof 5-9 is not published" in reason
    assert "memory/published" in reason
    w.log.proofs[(5, 9)] = w.log.proof(5, 9)
    del w.log.checkpoints[9]
    assert "the checkpoint of size 9 is not published" in refused(w.submit(w.log.checkpoints[14]))
    w.log.checkpoints[9] = w.log.checkpoints[5]
    assert "published checkpoint 9 is of size 5" in refused(w.submit(w.log.checkpoints[14]))
    assert w.state.accepted_sizes() == [3]
    assert w.state.forks == {}


def test_without_a_publication_growth_cannot_be_proved() -> None:
    w = Setup(Log().grow(3))
    w.witness = w.make(None)
    cosigned(w.submit(w.log.publish()))
    assert "no publication" in refused(w.submit(w.log.grow(1).publish()))


def test_an_older_checkpoint_is_refused_or_is_a_fork() -> None:
    honest = Log().grow(3)
    w = Setup(honest)
    cosigned(w.submit(honest.publish()))
    for count in (2, 4, 5):
        honest.grow(count).publish()
    cosigned(w.submit(honest.checkpoints[14]))
    reason = refused(w.submit(honest.checkpoints[9]))
    assert "older than the last accepted (size 14)" in reason
    assert w.state.accepted_sizes() == [3, 14]
    del honest.proofs[(5, 9)]
    reason = refused(w.submit(honest.checkpoints[5]))
    assert "older than the last accepted (size 14), and cannot prove size 5 -> 14" in reason
    honest.proofs[(5, 9)] = honest.proof(5, 9)
    # An old checkpoint of another history, which the published proofs do not extend.
    other = honest.branch(4, b"rewritten ").grow(5)
    result = forked(w.submit(other.signed()))
    assert "size 9" in result.line and "size 14" in result.line
    assert "consistency proof 9-14 does not verify" in result.line
    assert next(iter(w.state.forks)).startswith("9-")


def test_a_recorded_fork_blocks_all_cosigning_until_removed() -> None:
    log = Log().grow(4)
    w = Setup(log)
    cosigned(w.submit(log.publish()))
    forked(w.submit(log.branch(1, b"x").grow(3).signed()))
    reason = refused(w.submit(log.grow(2).publish()))
    assert "memory/forks" in reason and "removed" in reason
    assert "fork" in refused(w.submit(log.checkpoints[4]))
    w.state.forks.clear()  # the operator has looked at it and removed it
    cosigned(w.submit(log.checkpoints[6]))


def test_a_size_zero_checkpoint_must_be_the_empty_tree() -> None:
    log = Log()
    w = Setup(log)
    empty = cosigned(w.submit(log.publish()))
    assert empty.checkpoint.checkpoint.size == 0
    bad = Note(Checkpoint(ORIGIN, 0, bytes(32)).text()).signed(log.key).encoded()
    assert "empty tree" in refused(w.submit(bad))
    cosigned(w.submit(log.grow(3).publish()))  # 0 -> 3 needs no proof


def test_state_kept_for_another_log_is_refused() -> None:
    w = Setup(Log().grow(2))
    cosigned(w.submit(w.log.publish()))
    stranger = Log(SigningKey.generate("bloodledger/elsewhere")).grow(5)
    w.state.accepted_notes[2] = stranger.branch(2, b"").signed()
    reason = refused(w.submit(w.log.grow(1).publish()))
    assert "another log" in reason


def test_the_witness_key_must_be_a_cosigning_key() -> None:
    log = Log()
    with pytest.raises(ValueError, match="cosigning"):
        Witness(log.key.verifier, SigningKey.generate("w/plain"), MemoryState(), None, Clock())
