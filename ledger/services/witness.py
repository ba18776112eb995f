"""The witness: cosign a ledger's checkpoint only if it extends every one seen before.

A regulator runs a witness beside the ledger. Given a signed checkpoint, it
checks the ledger's signature, then that the tree it describes is consistent
with every checkpoint the witness has accepted, by walking the consistency
proofs the ledger published between consecutive checkpoints; then it adds its
own C2SP cosignature (``cosignature/v1``, Ed25519, signature type 0x04): the
statement that, as of that time, this is the largest consistent tree it has
seen for the log (c2sp.org/tlog-cosignature). Two signed views of the log that
cannot both be true are a **fork**: the witness keeps the evidence and cosigns
nothing more until its operator has looked at it.

No I/O here: the witness's own records are a :class:`WitnessState`, the
ledger's publication a :class:`Publication`, the time a :data:`Clock`; the
answer is a :class:`Cosigned`, a :class:`Refused` or a :class:`Forked`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol

from ledger.domain.merkle import EMPTY_ROOT, ProofError, verify_consistency
from ledger.domain.note import (
    COSIGNATURE,
    Note,
    NoteError,
    Signature,
    SignedCheckpoint,
    SigningKey,
    VerifierKey,
    b64,
    parse_hash_lines,
)

#: The time now, as a POSIX timestamp (whole seconds).
Clock = Callable[[], int]


class WitnessState(Protocol):
    """What the witness keeps: every checkpoint it accepted, what it cosigned, forks."""

    def accepted_sizes(self) -> Iterable[int]:
        """The sizes of the checkpoints it has accepted (the largest is the last)."""
        ...

    def accepted(self, size: int) -> bytes | None:
        """The accepted checkpoint of that size, as the ledger signed it."""
        ...

    def cosigned(self, size: int) -> bytes | None:
        """The last note it cosigned at that size."""
        ...

    def accept(self, size: int, checkpoint: bytes, cosigned: bytes) -> None:
        """Keep ``checkpoint`` as accepted and ``cosigned`` as what was cosigned."""
        ...

    def fork_record(self) -> str | None:
        """Where recorded forks are, if any: while there are, nothing is cosigned."""
        ...

    def record_fork(self, name: str, evidence: Mapping[str, bytes]) -> str:
        """Keep a fork's evidence (file name -> content) under ``name``; where it is."""
        ...


class Publication(Protocol):
    """The ledger's published checkpoints and the consistency proofs between them."""

    @property
    def location(self) -> str:
        """Where they are published (for messages)."""
        ...

    def checkpoint_sizes(self) -> Iterable[int]: ...

    def proof_sizes(self) -> Iterable[tuple[int, int]]:
        """``(m, n)`` of every consistency proof published."""
        ...

    def checkpoint(self, size: int) -> bytes | None: ...

    def consistency(self, old: int, new: int) -> bytes | None:
        """The proof from ``old`` to ``new``: one base64 hash per line."""
        ...


@dataclass(frozen=True)
class Cosigned:
    """The ledger's note with this witness's cosignature added (and any others kept)."""

    checkpoint: SignedCheckpoint
    note: bytes
    timestamp: int
    summary: str


@dataclass(frozen=True)
class Refused:
    """Nothing cosigned, no fork seen: ``reason`` says why."""

    reason: str


@dataclass(frozen=True)
class Forked:
    """Two signed views of the log that cannot both be true; nothing cosigned."""

    line: str
    location: str
    evidence: Mapping[str, bytes] = field(repr=False)


Outcome = Cosigned | Refused | Forked


@dataclass(frozen=True)
class _Seen:
    """A checkpoint whose ledger signature verified, its bytes, and its role."""

    signed: SignedCheckpoint
    data: bytes
    role: str

    @property
    def size(self) -> int:
        return self.signed.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.signed.checkpoint.root

    @property
    def file(self) -> str:
        return f"{self.role}-{self.size}"

    def named(self) -> str:
        return f"size {self.size} root {b64(self.root)} ({self.role})"


@dataclass(frozen=True)
class _Break:
    """Evidence that ``old`` and ``new`` cannot both be true."""

    old: _Seen
    new: _Seen
    detail: str
    evidence: dict[str, bytes]


class Witness:
    """Checks and cosigns one log's checkpoints (the log whose key is ``ledger_key``)."""

    def __init__(
        self,
        ledger_key: VerifierKey,
        key: SigningKey,
        state: WitnessState,
        publication: Publication | None,
        clock: Clock,
    ) -> None:
        if key.sig_type != COSIGNATURE:
            raise ValueError(f"the witness key {key.name} is not a cosigning key (type 0x04)")
        self.ledger_key = ledger_key
        self.key = key
        self.state = state
        self.publication = publication
        self.clock = clock

    def submit(self, data: bytes) -> Outcome:
        """Check the signed checkpoint ``data`` and cosign it, refuse it, or report a fork."""
        forks = self.state.fork_record()
        if forks is not None:
            return Refused(
                f"a fork was recorded in {forks}: nothing is cosigned until an operator "
                "has examined it and removed it"
            )
        try:
            signed = SignedCheckpoint.open(data, [self.ledger_key])
        except NoteError as e:
            return Refused(f"the checkpoint does not verify with {self.ledger_key.name}'s key: {e}")
        new = _Seen(signed, data, "submitted")
        if new.size == 0 and new.root != EMPTY_ROOT:
            return Refused("a checkpoint of size 0 must have the empty tree's root")
        sizes = sorted(set(self.state.accepted_sizes()))
        if not sizes:
            return self._cosign(
                new, "the first checkpoint, trusted on its signature alone (trust on first use)"
            )
        latest = sizes[-1]
        if new.size in sizes:
            return self._again(new, latest)
        if new.size > latest:
            old = self._accepted(latest)
            if isinstance(old, Refused):
                return old
            found = self._walk(old, new)
            if isinstance(found, Refused):
                return found
            if isinstance(found, _Break):
                return self._fork(found)
            return self._cosign(new, f"consistent with size {latest}, the last accepted")
        # Older than the last accepted: consistent with the next accepted one, or a fork.
        above = min(s for s in sizes if s > new.size)
        later = self._accepted(above)
        if isinstance(later, Refused):
            return later
        found = self._walk(new, later)
        if isinstance(found, _Break):
            return self._fork(found)
        older = f"size {new.size} is older than the last accepted (size {latest})"
        if isinstance(found, Refused):
            return Refused(f"{older}, and {found.reason}")
        return Refused(f"{older} and consistent with it: there is nothing to cosign")

    # -- the cases ---------------------------------------------------------------------

    def _again(self, new: _Seen, latest: int) -> Outcome:
        """A size already accepted: the same root is cosigned again, another is a fork."""
        old = self._accepted(new.size)
        if isinstance(old, Refused):
            return old
        if old.root != new.root:
            evidence = {old.file: old.data, new.file: new.data}
            return self._fork(_Break(old, new, "two roots for one size", evidence))
        if new.size == latest:
            return self._cosign(new, "the same root as accepted before, cosigned again")
        # A cosignature says "the largest tree seen as of its time": give back the one made
        # when this size was the largest, never a new one.
        kept = self.state.cosigned(new.size)
        mine = [s for s in _signatures(kept) if self._mine(s.name, s.key_id)] if kept else []
        note = _without(new.signed, self._mine).with_signatures(mine[-1:])
        again = SignedCheckpoint(new.signed.checkpoint, note)
        try:
            timestamp = again.cosigners([self.key.verifier]).get(self.key.name)
        except NoteError:
            timestamp = None
        if timestamp is None:
            return Refused(
                f"size {new.size} is older than the last accepted (size {latest}), and the "
                "cosignature made when it was the largest is not kept"
            )
        return Cosigned(
            again,
            note.encoded(),
            timestamp,
            f"again, with the cosignature made when it was the largest (the last accepted is "
            f"size {latest})",
        )

    def _cosign(self, new: _Seen, why: str) -> Cosigned:
        now = self.clock()
        note = _without(new.signed, self._mine).signed(self.key, timestamp=now)
        encoded = note.encoded()
        self.state.accept(new.size, new.data, encoded)
        return Cosigned(SignedCheckpoint(new.signed.checkpoint, note), encoded, now, why)

    def _fork(self, found: _Break) -> Forked:
        now = self.clock()
        origin = found.new.signed.checkpoint.origin
        head = (
            f"FORK: {origin} {found.old.named()} and {found.new.named()} "
            f"cannot both be true: {found.detail}"
        )
        submitted = found.old if found.old.role == "submitted" else found.new
        evidence = {**found.evidence, "FORK": (head + "\n").encode()}
        location = self.state.record_fork(f"{submitted.size}-{now}", evidence)
        forks = self.state.fork_record()
        line = f"{head}; evidence in {location}; nothing is cosigned until {forks} is removed"
        return Forked(line, location, evidence)

    # -- helpers -----------------------------------------------------------------------

    def _mine(self, name: str, key_id: int) -> bool:
        return (name, key_id) == (self.key.name, self.key.verifier.key_id)

    def _accepted(self, size: int) -> _Seen | Refused:
        data = self.state.accepted(size)
        if data is None:
            return Refused(f"the accepted checkpoint of size {size} is not in the witness's state")
        try:
            signed = SignedCheckpoint.open(data, [self.ledger_key])
        except NoteError as e:
            return Refused(
                f"the accepted checkpoint of size {size} does not verify with "
                f"{self.ledger_key.name}'s key ({e}): is this state another log's?"
            )
        if signed.checkpoint.size != size:
            return Refused(
                f"the accepted checkpoint kept as size {size} is of size {signed.checkpoint.size}"
            )
        return _Seen(signed, data, "accepted")

    def _walk(self, old: _Seen, new: _Seen) -> _Break | Refused | None:
        """Whether ``old`` is a prefix of ``new``, through the published checkpoints between.

        Every link that can be checked is checked, so a fork is reported even
        where another proof is missing; a missing or unreadable one is a refusal.
        """
        m, n = old.size, new.size
        if m == 0:
            return None  # the empty tree is a prefix of every tree
        published = self.publication
        if published is None:
            return Refused(
                f"proving size {m} -> {n} needs the ledger's published consistency proofs, "
                "and no publication was given"
            )
        where = f"(in {published.location})"
        between = {s for s in published.checkpoint_sizes() if m < s < n}
        between |= {s for pair in published.proof_sizes() for s in pair if m < s < n}
        chain: list[_Seen | None] = [old]
        problems: list[str] = []
        for size in sorted(between):
            found = self._published(size)
            if isinstance(found, str):
                problems.append(found)
                chain.append(None)
            else:
                chain.append(found)
        chain.append(new)
        for a, b in pairwise(chain):
            if a is None or b is None:
                continue
            raw = published.consistency(a.size, b.size)
            if raw is None:
                problems.append(f"the consistency proof {a.size}-{b.size} is not published")
                continue
            try:
                proof = parse_hash_lines(raw)
            except NoteError as e:
                problems.append(f"the consistency proof {a.size}-{b.size} is unreadable: {e}")
                continue
            try:
                verify_consistency(a.size, b.size, a.root, b.root, proof)
            except ProofError as e:
                evidence = {old.file: old.data, new.file: new.data, a.file: a.data}
                evidence |= {b.file: b.data, f"consistency-{a.size}-{b.size}": raw}
                detail = f"the consistency proof {a.size}-{b.size} does not verify ({e})"
                return _Break(old, new, detail, evidence)
        if problems:
            return Refused(f"cannot prove size {m} -> {n}: {problems[0]} {where}")
        return None

    def _published(self, size: int) -> _Seen | str:
        assert self.publication is not None
        data = self.publication.checkpoint(size)
        if data is None:
            return f"the checkpoint of size {size} is not published"
        try:
            signed = SignedCheckpoint.open(data, [self.ledger_key])
        except NoteError as e:
            return f"the published checkpoint of size {size} does not verify: {e}"
        if signed.checkpoint.size != size:
            return f"the published checkpoint {size} is of size {signed.checkpoint.size}"
        return _Seen(signed, data, "published")


def _without(signed: SignedCheckpoint, mine: Callable[[str, int], bool]) -> Note:
    """The note without this witness's own signature lines (a new one replaces them)."""
    note = signed.note
    return Note(note.text, tuple(s for s in note.signatures if not mine(s.name, s.key_id)))


def _signatures(data: bytes) -> Sequence[Signature]:
    try:
        return Note.parse(data).signatures
    except NoteError:
        return ()
