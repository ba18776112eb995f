"""The audit log's use cases besides sealing: verify, export, trail, status.

- :func:`verify_store` recomputes the whole tree from the live store and
  checks it against every published checkpoint, naming the first fact whose
  bytes, order or presence no longer match;
- :class:`Exporter` writes a bundle for a DIN, a facility, a donor or a
  patient (``docs/audit.md``), and checks it with the regulator's own check
  before handing it over;
- :func:`trail` lists what an actor or a facility reported, with each fact's
  index in the tree; :func:`status` says how far sealing has got.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any
from uuid import UUID

from ledger.domain import merkle
from ledger.domain.bundle import (
    Criteria,
    Selection,
    days,
    event_line,
    manifest,
    verify_bundle,
)
from ledger.domain.identity import IDENTITY_FIELDS, Identities, is_sealed, token_of
from ledger.domain.instants import iso_ms, ms
from ledger.domain.leaf import (
    Chains,
    Leaf,
    decoded,
    din_key,
    facility_day_key,
    parse_link_text,
    state_bytes,
    stream_id,
    subject_of,
)
from ledger.domain.merkle import StridedNodes, TreeEdge
from ledger.domain.note import (
    Checkpoint,
    Note,
    NoteError,
    SignedCheckpoint,
    SigningKey,
    TlogProof,
    VerifierKey,
    b64,
    hash_lines,
)
from ledger.services.eventlog import EventLog
from ledger.services.ports import AuditEntry, AuditStore

log = logging.getLogger("bloodledger.audit")

PAGE = 5_000
Progress = Callable[[int, int], None]


class AuditError(ValueError):
    """An audit request that cannot be answered (one line, no identifier in it)."""


def _name(index: int, notification: int, stream: UUID, version: int, topic: str) -> str:
    return f"leaf {index} (notification {notification}, {topic}, stream {stream} v{version})"


# -- verify ------------------------------------------------------------------------------


@dataclass
class StoreReport:
    """What recomputing the tree from the live store found."""

    facts: int = 0
    sealed: int = 0
    checkpoints: list[int] = field(default_factory=list)
    first: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "facts_in_store": self.facts,
            "tree_size": self.sealed,
            "checkpoints_verified": self.checkpoints,
            "first_mismatch": self.first,
            "problems": self.problems,
        }


def published_checkpoints(
    notes: Sequence[tuple[int, bytes]], key: VerifierKey, report: StoreReport
) -> list[Checkpoint]:
    """The published checkpoints that verify under ``key`` (a problem for each that does not)."""
    found = []
    for size, data in notes:
        try:
            checkpoint = SignedCheckpoint.open(data, [key]).checkpoint
        except NoteError as e:
            report.problems.append(f"published checkpoint {size}: {e}")
            continue
        if checkpoint.size != size:
            report.problems.append(f"published checkpoint {size}: it is of size {checkpoint.size}")
            continue
        found.append(checkpoint)
    return sorted(found, key=lambda c: c.size)


def _live(events: EventLog) -> Iterator[tuple[int, bytes, Leaf]]:
    """Every stored event in notification order: its notification id, leaf hash and
    leaf (the chains replayed from the start)."""
    chains = Chains()
    index, start = 0, 1
    while page := events.page(start, PAGE):
        for n in page:
            state = state_bytes(n.state)
            links = chains.link(index, subject_of(decoded(state)).keys)
            leaf = Leaf(stream_id(n.originator_id), n.originator_version, n.topic, links, state)
            yield n.id, merkle.leaf_hash(leaf.encoded()), leaf
            index += 1
        start = page[-1].id + 1


def _sealed(store: AuditStore, size: int) -> Iterator[tuple[int, int, bytes]]:
    """(index, notification id, leaf hash) of every sealed leaf, in order."""
    for start in range(0, size, PAGE):
        for offset, (notification, digest) in enumerate(store.leaf_hashes(start, start + PAGE)):
            yield start + offset, notification, digest


def verify_store(
    events: EventLog,
    store: AuditStore,
    published: Sequence[tuple[int, bytes]],
    key: VerifierKey,
    progress: Progress | None = None,
) -> StoreReport:
    """Recompute every leaf from the live store and check the tree against each
    published checkpoint; name the first leaf that no longer matches what was sealed.

    The sealed tree kept in the store is checked against the checkpoints too:
    where it still matches them, its entries say what each leaf was when it
    was sealed, and so whether a fact changed, moved, vanished or was slipped in.
    """
    report = StoreReport()
    pending = published_checkpoints(published, key, report)
    if not pending:
        report.problems.append("no published checkpoint to check the store against")
        return report
    report.sealed, _ = store.size_and_position()
    live_edge = TreeEdge()
    #: The sealed tree's own edge, from the first leaf where it differs from the live
    #: one (until then they are the same tree, and one edge serves both).
    sealed_edge: TreeEdge | None = None
    head = events.head()
    pairs = _Peekable(zip_longest(_live(events), _sealed(store, report.sealed)))
    for size, (live, entry) in enumerate(pairs, start=1):
        digest = None if live is None else live[1]
        differs = entry is not None and digest != entry[2]
        if differs and sealed_edge is None:
            sealed_edge = TreeEdge(live_edge.size, list(live_edge.peaks))
        if digest is not None:
            live_edge.append(digest)
            report.facts += 1
        if sealed_edge is not None and entry is not None:
            sealed_edge.append(entry[2])
        if differs and report.first is None:
            report.first = _difference(size - 1, live, pairs.peek(), store)
        while pending and pending[0].size == size:
            _compare(report, pending.pop(0), live_edge, sealed_edge)
        if progress is not None and size % PAGE == 0:
            progress(live[0] if live else head, head)
    for checkpoint in pending:
        report.problems.append(
            f"checkpoint {checkpoint.size}: the store holds only {report.facts} facts"
        )
    if report.first is not None:
        report.problems.insert(0, report.first)
    return report


class _Peekable(Iterator[tuple[Any, Any]]):
    def __init__(self, items: Iterator[tuple[Any, Any]]) -> None:
        self.items = items
        self.ahead: list[tuple[Any, Any]] = []

    def __next__(self) -> tuple[Any, Any]:
        return self.ahead.pop() if self.ahead else next(self.items)

    def peek(self) -> tuple[Any, Any] | None:
        if not self.ahead:
            try:
                self.ahead.append(next(self.items))
            except StopIteration:
                return None
        return self.ahead[-1]


def _compare(
    report: StoreReport, checkpoint: Checkpoint, live: TreeEdge, sealed: TreeEdge | None
) -> None:
    if live.size == checkpoint.size and live.root() == checkpoint.root:
        report.checkpoints.append(checkpoint.size)
    elif live.size == checkpoint.size:
        report.problems.append(
            f"checkpoint {checkpoint.size}: the live store's tree has another root"
        )
    if sealed is not None and sealed.size == checkpoint.size and sealed.root() != checkpoint.root:
        report.problems.append(
            f"checkpoint {checkpoint.size}: the sealed tree kept in the store was altered too"
        )


def _difference(
    index: int,
    live: tuple[int, bytes, Leaf] | None,
    following: tuple[tuple[int, bytes, Leaf] | None, Any] | None,
    store: AuditStore,
) -> str:
    """What changed at the first leaf that differs from what was sealed: its bytes,
    the order, or the presence of a fact (by stream and version, one leaf ahead)."""
    nearby = {e.index: e for e in store.entries_between(max(0, index - PAGE), index + PAGE)}
    entry, next_sealed = nearby[index], nearby.get(index + 1)
    sealed_as = _name(index, entry.notification_id, entry.stream, entry.version, entry.topic)
    if live is None:
        return f"{sealed_as} is missing from the store: deleted"
    notification, _, leaf = live
    here, sealed_here = (leaf.stream, leaf.version), (entry.stream, entry.version)
    next_live = following[0] if following else None
    next_here = None if next_live is None else (next_live[2].stream, next_live[2].version)
    if here == sealed_here:
        return f"{sealed_as}: its stored bytes changed"
    if next_sealed is not None and here == (next_sealed.stream, next_sealed.version):
        if next_here == sealed_here:
            return (
                f"{sealed_as} now holds the fact sealed at leaf {index + 1} "
                f"(stream {leaf.stream} v{leaf.version}): the order changed"
            )
        return f"{sealed_as} is missing from the store: deleted"
    if next_here == sealed_here:
        return (
            f"notification {notification} ({leaf.topic}, stream {leaf.stream} v{leaf.version}) "
            f"was inserted before {sealed_as}: it was never sealed there"
        )
    moved = {(e.stream, e.version): i for i, e in nearby.items()}.get(here)
    if moved is not None:
        return (
            f"{sealed_as} now holds the fact sealed at leaf {moved} "
            f"(stream {leaf.stream} v{leaf.version}): the order changed"
        )
    return (
        f"{sealed_as} now holds stream {leaf.stream} v{leaf.version}, never sealed: "
        "its stored bytes changed"
    )


# -- export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    kind: str
    value: str
    since: datetime | None = None
    until: datetime | None = None


class Exporter:
    """Writes the bundle of one selection, against the newest checkpoint."""

    def __init__(
        self,
        events: EventLog,
        store: AuditStore,
        keys: Sequence[SigningKey],
        identities: Identities,
        published: Callable[[], Sequence[tuple[int, bytes]]],
    ) -> None:
        self.events = events
        self.store = store
        #: The first key's verifier goes in the bundle; every key signs its selection.
        self.keys = list(keys)
        self.identities = identities
        self.published = published

    def export(self, request: ExportRequest, *, reveal: bool = False) -> dict[str, bytes]:
        """The bundle's files (name -> bytes), already checked as a regulator would."""
        notes = dict(self.published())
        if not notes:
            raise AuditError("no checkpoint has been published yet: run bloodledger audit seal")
        size = max(notes)
        head = SignedCheckpoint.open(notes[size], [k.verifier for k in self.keys]).checkpoint
        criteria = self._criteria(request)
        chains = self._chains(criteria, size)
        entries = {e.index: e for walked in chains.values() for e in walked}
        leaves = self._leaves(entries)
        files: dict[str, bytes] = {
            "vkey": (self.keys[0].verifier.text() + "\n").encode(),
            "checkpoint": notes[size],
        }
        heads = tuple((k, walked[0].index if walked else None) for k, walked in chains.items())
        selection = Selection(head.origin, head.size, head.root, criteria, heads)
        files["selection"] = Note(selection.text()).signed(*self.keys).encoded()
        source = StridedNodes(self.store.nodes)
        indexes = sorted(leaves)
        source.prefetch(lambda: [merkle.inclusion_proof(source, i, size) for i in indexes])
        for index in indexes:
            proof = merkle.inclusion_proof(source, index, size)
            files[f"entries/{index}"] = leaves[index].encoded()
            files[f"proofs/{index}.tlog-proof"] = TlogProof(
                index, tuple(proof), notes[size]
            ).encoded()
        earlier = sorted(s for s in notes if s < size)
        source.prefetch(lambda: [merkle.consistency_proof(source, m, size) for m in earlier])
        for m in earlier:
            files[f"checkpoints/{m}"] = notes[m]
            files[f"consistency/{m}-{size}"] = hash_lines(merkle.consistency_proof(source, m, size))
        disclosures: dict[str, str] = {}
        lines = []
        for index in indexes:
            leaf = leaves[index]
            state = leaf.decoded_state()
            revealed = self._revealed(state, disclosures) if reveal else {}
            selected = criteria.selects(subject_of(state).occurred_at)
            lines.append(event_line(index, leaf, selected, revealed))
        files["events.jsonl"] = "".join(line + "\n" for line in lines).encode()
        summary: dict[str, Any] = {
            "origin": head.origin,
            "tree_size": size,
            "criteria": criteria.line(),
            "entries": indexes,
            "selected": sum(
                1
                for i in indexes
                if criteria.selects(subject_of(leaves[i].decoded_state()).occurred_at)
            ),
            "unsealed_facts_not_included": max(
                0, self.events.head() - self.store.size_and_position()[1]
            ),
        }
        if disclosures:
            summary["disclosures"] = disclosures
        files["manifest.json"] = manifest(files, summary)
        report = verify_bundle(files)
        if not report.ok:
            raise AuditError(f"the bundle does not verify: {report.problems[0]}; run audit verify")
        return files

    def _criteria(self, request: ExportRequest) -> Criteria:
        """The criteria as the bundle states them: a donor or patient by the token of
        their sealed identifier (a sealed identifier may be given as it is)."""
        value = request.value
        if request.kind in ("donor", "patient"):
            if is_sealed(value):
                value = token_of(value)
            elif self.identities.protected:
                if self.identities.key is None:
                    raise AuditError(
                        "selecting a donor or patient by identifier needs BLOODLEDGER_CIPHER_KEY "
                        "(or give their sealed identifier)"
                    )
                value = token_of(self.identities.key.seal(request.kind, value))
        return Criteria(request.kind, value, request.since, request.until)

    def _chains(self, criteria: Criteria, size: int) -> dict[str, list[AuditEntry]]:
        """Each chain the criteria need, newest fact first, among the first ``size`` leaves."""
        if criteria.kind == "din":
            candidates = self.store.entries_where(din=criteria.value)
            return {
                din_key(criteria.value): _walk(
                    din_key(criteria.value), candidates, self.store, size
                )
            }
        if criteria.kind == "facility":
            return self._facility_chains(criteria, size)
        own = criteria.own_key()
        chains = {own: _walk(own, [], self.store, size)}
        dins = sorted({e.din for e in chains[own] if e.din is not None})
        for din in dins:
            chains[din_key(din)] = _walk(
                din_key(din), self.store.entries_where(din=din), self.store, size
            )
        return chains

    def _facility_chains(self, criteria: Criteria, size: int) -> dict[str, list[AuditEntry]]:
        since, until = ms(criteria.since), ms(criteria.until)
        candidates = self.store.entries_where(facility=criteria.value, since=since, until=until)
        dated = [e.occurred_at for e in candidates if e.occurred_at is not None]
        first = criteria.since or (_day_of(min(dated)) if dated else None)
        last = criteria.until or (_day_of(max(dated)) if dated else None)
        if first is None or last is None:
            raise AuditError(f"facility {criteria.value} reported nothing sealed in that period")
        chains = {}
        for day in days(first.astimezone(UTC).date(), last.astimezone(UTC).date()):
            key = facility_day_key(criteria.value, day)
            chains[key] = _walk(key, candidates, self.store, size)
        return chains

    def _leaves(self, entries: Mapping[int, AuditEntry]) -> dict[int, Leaf]:
        stored = self.events.stored(sorted({e.stream for e in entries.values()}))
        leaves = {}
        for index, entry in entries.items():
            event = stored.get((entry.stream, entry.version))
            name = _name(index, entry.notification_id, entry.stream, entry.version, entry.topic)
            if event is None:
                raise AuditError(f"{name} is missing from the store: run audit verify")
            leaf = Leaf(
                entry.stream, entry.version, entry.topic, parse_link_text(entry.links), event.state
            )
            if merkle.leaf_hash(leaf.encoded()) != entry.leaf_hash:
                raise AuditError(f"{name} no longer matches what was sealed: run audit verify")
            leaves[index] = leaf
        return leaves

    def _revealed(self, state: Mapping[str, Any], disclosures: dict[str, str]) -> dict[str, str]:
        key = self.identities.key
        if key is None:
            return {}
        revealed = {}
        for name in IDENTITY_FIELDS:
            value = state.get(name)
            if isinstance(value, str) and is_sealed(value):
                revealed[name] = key.reveal(value)
                disclosures[token_of(value)] = b64(key.disclosure(token_of(value)))
        return revealed


def _day_of(occurred_ms: int) -> datetime:
    return datetime.fromtimestamp(occurred_ms / 1000, UTC)


def _walk(
    key: str, candidates: Sequence[AuditEntry], store: AuditStore, size: int
) -> list[AuditEntry]:
    """A chain from its head back to its first fact, newest first, among the first
    ``size`` leaves: from ``candidates`` where they have it, else one read per hop."""
    known = {e.index: e for e in candidates}
    head = store.heads([key]).get(key)
    walked: list[AuditEntry] = []
    index = head
    while index is not None:
        entry = known.get(index)
        if entry is None:
            found = store.entries([index])
            if not found:
                raise AuditError(f"chain {key}: leaf {index} is missing from the sealed tree")
            entry = found[0]
        previous = dict(parse_link_text(entry.links)).get(key)
        if index < size:
            walked.append(entry)
        index = previous
    return walked


# -- trail and status --------------------------------------------------------------------


def trail(
    store: AuditStore,
    *,
    actor: str | None = None,
    facility: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """What an actor or a facility reported (sealed facts), each with its tree index."""
    entries = store.entries_where(actor=actor, facility=facility, since=ms(since), until=ms(until))
    return [
        {
            "index": e.index,
            "occurred_at": iso_ms(e.occurred_at) if e.occurred_at is not None else None,
            "event_type": e.topic.rpartition(":")[2],
            "din": e.din,
            "product_code": e.product_code,
            "facility": e.facility,
            "actor": e.actor,
        }
        for e in entries
    ]


def status(
    events: EventLog,
    store: AuditStore,
    now: datetime,
    witnesses: Sequence[VerifierKey] = (),
) -> dict[str, Any]:
    """The tree's size, the last checkpoint, what is not sealed yet, and who cosigned what."""
    size, position = store.size_and_position()
    checkpoints = store.checkpoints()
    last = checkpoints[-1] if checkpoints else None
    cosigned: dict[str, list[int]] = {}
    for c in store.cosignatures():
        cosigned.setdefault(c.witness, []).append(c.size)
    return {
        "tree_size": size,
        "position": position,
        "log_head": events.head(),
        "unsealed": max(0, events.head() - position),
        "checkpoints": len(checkpoints),
        "last_checkpoint": None
        if last is None
        else {
            "size": last.size,
            "root": b64(last.root),
            "sealed_at": iso_ms(last.sealed_at),
            "age_s": round(now.timestamp() - last.sealed_at / 1000, 1),
        },
        "witnesses": {
            name: {"cosigned": len(sizes), "latest": max(sizes), "sizes": sorted(sizes)}
            for name, sizes in sorted(cosigned.items())
        },
        "known_witnesses": [k.name for k in witnesses],
    }
