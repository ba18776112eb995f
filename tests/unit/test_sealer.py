"""The sealer with no I/O: a log in memory, the audit tables in memory, a fake clock.

Properties: whatever the batch size and however the sealing is cut into
runs (a restart between any two), the tree is the same — one leaf per
stored event in log order, each checkpoint the root of its prefix — and no
fact is sealed twice; a second sealer appending first costs a retry, not a
duplicate; a checkpoint committed but not published is published at restart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from uuid import UUID, uuid5

import pytest
from eventsourcing.persistence import Notification
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.adapters.persistence.memory import MemoryAuditTables
from ledger.domain import merkle
from ledger.domain.leaf import Chains, Leaf, decoded, subject_of
from ledger.domain.note import SignedCheckpoint, SigningKey
from ledger.services.ports import SealedCheckpoint
from ledger.services.sealer import Sealer, SealSettings

KEY = SigningKey.generate("bloodledger/unit")
NS = UUID("00000000-0000-0000-0000-00000000b10d")


class Log:
    """A notification log in memory (ids may have gaps, as PostgreSQL's can)."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []

    def add(self, count: int, gap: int = 0) -> None:
        for _ in range(count):
            n = len(self.notifications)
            last = self.notifications[-1].id if self.notifications else 0
            state = {"din": f"A9999260{n % 7:05d}", "facility": "A9999", "actor": f"a{n % 3}"}
            state["occurred_at"] = {"_type_": "datetime_iso", "_data_": "2026-09-01T08:00:00+00:00"}
            self.notifications.append(
                Notification(
                    id=last + 1 + gap,
                    originator_id=uuid5(NS, str(n % 5)),
                    originator_version=n // 5 + 1,
                    topic="bloodledger:UnitReceived",
                    state=json.dumps(state).encode(),
                )
            )

    def page(self, start: int, limit: int) -> Sequence[Notification]:
        return [n for n in self.notifications if n.id >= start][:limit]

    def head(self) -> int:
        return self.notifications[-1].id if self.notifications else 0


def _hashes(log: Log) -> list[bytes]:
    chains = Chains()
    hashes = []
    for i, n in enumerate(log.notifications):
        links = chains.link(i, subject_of(decoded(n.state)).keys)
        leaf = Leaf(UUID(str(n.originator_id)), n.originator_version, n.topic, links, n.state)
        hashes.append(merkle.leaf_hash(leaf.encoded()))
    return hashes


class Published:
    def __init__(self, fail: bool = False) -> None:
        self.notes: dict[int, bytes] = {}
        self.proofs: dict[tuple[int, int], list[bytes]] = {}
        self.fail = fail

    def publish(
        self, checkpoint: SealedCheckpoint, previous: SealedCheckpoint | None, proof: list[bytes]
    ) -> None:
        if self.fail:
            raise OSError("the publication directory is unreachable")
        self.notes[checkpoint.size] = checkpoint.note
        if previous is not None:
            self.proofs[(previous.size, checkpoint.size)] = proof


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=25),
    st.integers(min_value=0, max_value=2),
)
def test_any_batching_and_restarts_give_the_same_tree(
    arrivals: list[int], every: int, gap: int
) -> None:
    log, store, published = Log(), MemoryAuditTables(), Published()
    for count in arrivals:  # facts arrive; a new sealer (a restart) seals them
        log.add(count, gap)
        Sealer(log, store, KEY, [published], settings=SealSettings(every=every)).seal()
    hashes = _hashes(log)
    size, position = store.size_and_position()
    assert (size, position) == (len(hashes), log.head())
    assert [e.leaf_hash for e in store.entries_between(0, size)] == hashes
    assert [e.notification_id for e in store.entries_between(0, size)] == [
        n.id for n in log.notifications
    ]
    sizes = sorted(published.notes)
    for s in sizes:
        checkpoint = SignedCheckpoint.open(published.notes[s], [KEY.verifier]).checkpoint
        assert checkpoint.root == merkle.root_of(hashes[:s])
    for (old, new), proof in published.proofs.items():
        merkle.verify_consistency(
            old, new, merkle.root_of(hashes[:old]), merkle.root_of(hashes[:new]), proof
        )
    assert all(b - a <= every for a, b in zip([0, *sizes], sizes, strict=False))


def test_a_sealer_that_lost_a_race_retries_from_the_store() -> None:
    log, store = Log(), MemoryAuditTables()
    log.add(30)
    slow = Sealer(log, store, KEY, settings=SealSettings(every=10))
    fast = Sealer(log, store, KEY, settings=SealSettings(every=10))
    assert fast.seal().facts == 30
    assert slow.seal().facts == 0, "its first append fails on the key; then nothing is left"
    assert store.size_and_position() == (30, 30)
    assert [e.index for e in store.entries_between(0, 30)] == list(range(30))


def test_a_checkpoint_committed_but_not_published_is_published_at_restart() -> None:
    log, store = Log(), MemoryAuditTables()
    log.add(12)
    with pytest.raises(OSError):
        Sealer(log, store, KEY, [Published(fail=True)], settings=SealSettings(every=100)).seal()
    assert store.size_and_position()[0] == 12, "the seal itself was committed"
    published = Published()
    restarted = Sealer(log, store, KEY, [published])
    restarted.republish()
    assert list(published.notes) == [12]


def test_tick_seals_when_enough_facts_wait_or_when_the_interval_has_passed() -> None:
    log, store, now = Log(), MemoryAuditTables(), [0.0]
    sealer = Sealer(
        log, store, KEY, settings=SealSettings(every=10, interval=5), monotonic=lambda: now[0]
    )
    log.add(3)
    assert sealer.tick().facts == 0, "3 facts, just seen: not due"
    now[0] = 4.9
    assert sealer.tick().facts == 0
    now[0] = 5.0
    assert sealer.tick().facts == 3, "the interval passed since they were first seen"
    log.add(25)
    sealed = sealer.tick()
    assert (sealed.facts, sealed.checkpoints) == (20, 2), "two full checkpoints at once"
    assert sealer.tick().facts == 0, "the 5 left wait for the interval"
    now[0] = 10.0
    assert sealer.tick().facts == 5


def test_keys_being_rotated_both_sign_and_must_share_the_origin() -> None:
    log, store, published = Log(), MemoryAuditTables(), Published()
    log.add(5)
    new = SigningKey.generate("bloodledger/unit")
    Sealer(log, store, [KEY, new], [published]).seal()
    for key in (KEY, new):
        SignedCheckpoint.open(published.notes[5], [key.verifier])
    with pytest.raises(ValueError, match="share one name"):
        Sealer(log, store, [KEY, SigningKey.generate("bloodledger/other")])
