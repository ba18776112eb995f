"""An audit bundle: what a regulator receives, and the check it runs on it offline.

A bundle is a set of files (``docs/audit.md`` section 4): the ledger's
verifier key, a signed checkpoint, a signed *selection statement* (the
criteria and each chain's head at the checkpoint), the exact leaf bytes of
every fact the criteria need, their C2SP inclusion proofs, a readable
``events.jsonl``, earlier checkpoints with consistency proofs to this one,
and a manifest. :func:`verify_bundle` checks one from its files alone — no
database, no network — and lists every problem it finds; the ledger's own
export is checked by it before it is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from ledger.domain import merkle
from ledger.domain.identity import (
    IDENTITY_FIELDS,
    IdentityKeyError,
    is_sealed,
    open_with_disclosure,
    token_of,
)
from ledger.domain.leaf import Leaf, LeafError, din_key, facility_day_key, person_key, subject_of
from ledger.domain.note import (
    Checkpoint,
    Note,
    NoteError,
    SignedCheckpoint,
    TlogProof,
    VerifierKey,
    b64,
    parse_hash_lines,
    unb64,
)

FORMAT = "bloodledger-bundle/v1"
SELECTION = "bloodledger/selection/v1"
KINDS = ("din", "facility", "donor", "patient")
NONE = "-"


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return NONE
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(text: str) -> datetime | None:
    return None if text == NONE else datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Criteria:
    """What a bundle selects: one DIN, facility, donor or patient (a donor or patient
    by the token of their sealed identifier), optionally in a period of ``occurred_at``."""

    kind: str
    value: str
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"criteria are one of {', '.join(KINDS)}")
        if self.since and self.until and self.since > self.until:
            raise ValueError("--from is after --to")

    def line(self) -> str:
        value = quote(self.value, safe="")
        return f"criteria {self.kind} {value} from {_iso(self.since)} to {_iso(self.until)}"

    @classmethod
    def parse(cls, line: str) -> Criteria:
        parts = line.split(" ")
        if len(parts) != 7 or parts[0] != "criteria" or parts[3] != "from" or parts[5] != "to":
            raise ValueError("criteria <kind> <value> from <time|-> to <time|->")
        return cls(parts[1], unquote(parts[2]), _moment(parts[4]), _moment(parts[6]))

    def selects(self, occurred: datetime | None) -> bool:
        """Whether a fact occurring then is in the period (a fact without a time is)."""
        if occurred is None:
            return True
        return (self.since is None or occurred >= self.since) and (
            self.until is None or occurred <= self.until
        )

    def own_key(self) -> str:
        """The chain of the thing selected (a facility's are its days: see :func:`days`)."""
        if self.kind == "din":
            return din_key(self.value)
        if self.kind in ("donor", "patient"):
            return person_key(self.kind, self.value)
        raise ValueError("a facility's chains are its days")


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class Selection:
    """The signed statement of what a bundle holds: the criteria and each chain's head."""

    origin: str
    size: int
    root: bytes
    criteria: Criteria
    heads: tuple[tuple[str, int | None], ...]

    def text(self) -> bytes:
        lines = [
            SELECTION,
            f"origin {self.origin}",
            f"size {self.size}",
            f"root {b64(self.root)}",
            self.criteria.line(),
        ]
        lines += [f"head {k} {NONE if i is None else i}" for k, i in sorted(self.heads)]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, text: bytes) -> Selection:
        lines = text.decode("utf-8").rstrip("\n").split("\n")
        if len(lines) < 5 or lines[0] != SELECTION:
            raise ValueError(f"a selection statement starts with {SELECTION}")
        origin = _after(lines[1], "origin")
        size = int(_after(lines[2], "size"))
        root = unb64(_after(lines[3], "root"), "the root")
        criteria = Criteria.parse(lines[4])
        heads = []
        for line in lines[5:]:
            key, _, index = _after(line, "head").partition(" ")
            heads.append((key, None if index == NONE else int(index)))
        return cls(origin, size, root, criteria, tuple(heads))


def _after(line: str, name: str) -> str:
    if not line.startswith(name + " "):
        raise ValueError(f"expected a {name!r} line")
    return line[len(name) + 1 :]


def event_line(index: int, leaf: Leaf, selected: bool, revealed: Mapping[str, str]) -> str:
    """One line of ``events.jsonl``: the fact, readable, naming its index."""
    document: dict[str, Any] = {
        "index": index,
        "selected": selected,
        "stream": str(leaf.stream),
        "version": leaf.version,
        "topic": leaf.topic,
        "fact": leaf.decoded_state(),
    }
    if revealed:
        document["revealed"] = dict(revealed)
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def manifest(files: Mapping[str, bytes], summary: Mapping[str, Any]) -> bytes:
    """The manifest: the summary given, and every other file's SHA-256."""
    document = {
        "format": FORMAT,
        **summary,
        "files": {
            name: hashlib.sha256(data).hexdigest()
            for name, data in sorted(files.items())
            if name != "manifest.json"
        },
    }
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


@dataclass
class BundleReport:
    """What checking a bundle found."""

    size: int = 0
    entries: int = 0
    selected: int = 0
    chains: int = 0
    revealed: int = 0
    consistency: list[int] = field(default_factory=list)
    trusted: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.size,
            "entries": self.entries,
            "selected": self.selected,
            "chains": self.chains,
            "identities_revealed": self.revealed,
            "consistent_with_earlier_checkpoints": self.consistency,
            "consistent_with_trusted_checkpoints": self.trusted,
            "problems": self.problems,
        }


class _Check:
    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.report = BundleReport()

    def problem(self, text: str) -> None:
        self.report.problems.append(text)

    def file(self, name: str) -> bytes | None:
        data = self.files.get(name)
        if data is None:
            self.problem(f"{name}: missing")
        return data


def verify_bundle(
    files: Mapping[str, bytes],
    trusted: Sequence[bytes] = (),
    keys: Sequence[VerifierKey] = (),
) -> BundleReport:
    """Check a bundle from its files: every signature, proof, chain and readable line.

    ``keys`` are the ledger's verifier keys as the regulator received them out
    of band: the bundle's own ``vkey`` must be one of them (without them, the
    bundle is only checked against itself). ``trusted`` are checkpoints the
    regulator received earlier (from the ledger's publication or a witness):
    the bundle must prove the log grew from each of them, never was rewritten.
    """
    check = _Check(files)
    vkey_text, checkpoint_note = check.file("vkey"), check.file("checkpoint")
    if vkey_text is None or checkpoint_note is None:
        return check.report
    try:
        vkey = VerifierKey.parse(vkey_text.decode("utf-8", "replace"))
    except NoteError as e:
        check.problem(f"vkey: {e}")
        return check.report
    if keys and vkey not in keys:
        check.problem("vkey: it is not the ledger's key you were given")
        return check.report
    try:
        head = SignedCheckpoint.open(checkpoint_note, [vkey]).checkpoint
    except NoteError as e:
        check.problem(f"checkpoint: {e}")
        return check.report
    check.report.size = head.size
    selection = _selection(check, vkey, head)
    leaves = _entries(check, vkey, head)
    if selection is not None:
        _chains(check, selection, leaves)
    _events(check, leaves, selection)
    _consistency(check, vkey, head)
    for data in trusted:
        _trusted(check, vkey, head, data)
    _manifest(check, leaves)
    return check.report


def _selection(check: _Check, vkey: VerifierKey, head: Checkpoint) -> Selection | None:
    data = check.file("selection")
    if data is None:
        return None
    try:
        note = Note.parse(data)
        note.verified_by([vkey])
        selection = Selection.parse(note.text)
    except (NoteError, ValueError) as e:
        check.problem(f"selection: {e}")
        return None
    if (selection.origin, selection.size, selection.root) != (head.origin, head.size, head.root):
        check.problem("selection: it is not about the bundle's checkpoint")
        return None
    check.report.chains = len(selection.heads)
    return selection


def _entries(check: _Check, vkey: VerifierKey, head: Checkpoint) -> dict[int, Leaf]:
    leaves: dict[int, Leaf] = {}
    names = {n.removeprefix("entries/") for n in check.files if n.startswith("entries/")}
    proofs = {
        n.removeprefix("proofs/").removesuffix(".tlog-proof")
        for n in check.files
        if n.startswith("proofs/")
    }
    for name in sorted(proofs - names):
        check.problem(f"proofs/{name}.tlog-proof: no entries/{name}")
    for name in sorted(names, key=lambda n: (len(n), n)):
        data = check.files[f"entries/{name}"]
        if not name.isdigit() or (name != "0" and name.startswith("0")):
            check.problem(f"entries/{name}: not an index")
            continue
        index = int(name)
        proof_name = f"proofs/{name}.tlog-proof"
        proof_data = check.file(proof_name)
        if proof_data is None:
            continue
        try:
            proof = TlogProof.parse(proof_data)
            if proof.index != index:
                raise NoteError(f"it is the proof of index {proof.index}")
            if SignedCheckpoint.open(proof.checkpoint, [vkey]).checkpoint != head:
                raise NoteError("it is against another checkpoint")
            merkle.verify_inclusion(
                index, head.size, merkle.leaf_hash(data), proof.hashes, head.root
            )
        except (NoteError, merkle.ProofError) as e:
            check.problem(f"{proof_name}: {e}")
            continue
        try:
            leaves[index] = Leaf.parse(data)
        except LeafError as e:
            check.problem(f"entries/{name}: {e}")
    check.report.entries = len(leaves)
    return leaves


def _belongs(key: str, leaf: Leaf) -> bool:
    """Whether the leaf's own state puts it in chain ``key`` (not only its links)."""
    return key in subject_of(leaf.decoded_state()).keys


def _chains(check: _Check, selection: Selection, leaves: Mapping[int, Leaf]) -> None:
    visited: set[int] = set()
    for key, start in selection.heads:
        index = start
        while index is not None:
            leaf = leaves.get(index)
            if leaf is None:
                check.problem(
                    f"chain {key}: the fact at index {index} is missing (entries/{index})"
                )
                break
            if index >= selection.size:
                check.problem(f"chain {key}: index {index} is beyond the checkpoint")
                break
            try:
                previous = leaf.previous(key)
            except LeafError:
                check.problem(f"chain {key}: entries/{index} is not in it")
                break
            if not _belongs(key, leaf):
                check.problem(f"chain {key}: entries/{index} is not about it")
            if previous is not None and previous >= index:
                check.problem(f"chain {key}: entries/{index} links forward")
                break
            visited.add(index)
            index = previous
    for index in sorted(set(leaves) - visited):
        check.problem(f"entries/{index}: in none of the selection's chains")
    for key in _required(selection, leaves) - {k for k, _ in selection.heads}:
        check.problem(f"selection: the chain {key} the criteria need is not accounted for")


def _required(selection: Selection, leaves: Mapping[int, Leaf]) -> set[str]:
    """The chains the criteria need, as far as the bundle itself shows them."""
    criteria = selection.criteria
    if criteria.kind == "facility":
        listed = sorted(
            k.rsplit(":", 1)[1] for k, _ in selection.heads if k.startswith("facility:")
        )
        if criteria.since is not None and criteria.until is not None:
            first, last = (
                criteria.since.astimezone(UTC).date(),
                criteria.until.astimezone(UTC).date(),
            )
        elif listed:
            first, last = date.fromisoformat(listed[0]), date.fromisoformat(listed[-1])
        else:
            return set()
        return {facility_day_key(criteria.value, day) for day in days(first, last)}
    required = {criteria.own_key()}
    if criteria.kind in ("donor", "patient"):
        own = dict(selection.heads).get(criteria.own_key())
        while own is not None and own in leaves:
            leaf = leaves[own]
            din = subject_of(leaf.decoded_state()).din
            if din is not None:
                required.add(din_key(din))
            try:
                own = leaf.previous(criteria.own_key())
            except LeafError:
                break
    return required


def _events(check: _Check, leaves: Mapping[int, Leaf], selection: Selection | None) -> None:
    data = check.file("events.jsonl")
    if data is None:
        return
    disclosures = _disclosures(check)
    lines = data.decode("utf-8", "replace").splitlines()
    if len(lines) != len(leaves):
        check.problem(f"events.jsonl: {len(lines)} lines for {len(leaves)} entries")
    for number, (line, index) in enumerate(zip(lines, sorted(leaves), strict=False), start=1):
        leaf = leaves[index]
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            check.problem(f"events.jsonl line {number}: not JSON")
            continue
        state = leaf.decoded_state()
        expected = {
            "index": index,
            "stream": str(leaf.stream),
            "version": leaf.version,
            "topic": leaf.topic,
            "fact": state,
        }
        if {k: document.get(k) for k in expected} != expected:
            check.problem(f"events.jsonl line {number}: does not match entries/{index}")
            continue
        if selection is not None:
            selected = selection.criteria.selects(subject_of(state).occurred_at)
            if document.get("selected") is not selected:
                check.problem(f"events.jsonl line {number}: 'selected' is wrong")
            check.report.selected += selected
        revealed = document.get("revealed") or {}
        for name, value in revealed.items():
            sealed = state.get(name)
            if name not in IDENTITY_FIELDS or not isinstance(sealed, str) or not is_sealed(sealed):
                check.problem(f"events.jsonl line {number}: {name} is not a sealed identifier")
                continue
            disclosure = disclosures.get(token_of(sealed))
            try:
                if disclosure is None or open_with_disclosure(sealed, disclosure) != value:
                    raise IdentityKeyError("it does not open to the value shown")
            except IdentityKeyError as e:
                check.problem(f"events.jsonl line {number}: revealed {name}: {e}")
                continue
            check.report.revealed += 1


def _disclosures(check: _Check) -> dict[str, bytes]:
    data = check.files.get("manifest.json")
    if data is None:
        return {}
    try:
        listed = json.loads(data).get("disclosures") or {}
        return {token: unb64(key, "a disclosure key") for token, key in listed.items()}
    except (json.JSONDecodeError, AttributeError, NoteError):
        check.problem("manifest.json: its disclosures are unreadable")
        return {}


def _old(check: _Check, vkey: VerifierKey, name: str, data: bytes) -> Checkpoint | None:
    try:
        return SignedCheckpoint.open(data, [vkey]).checkpoint
    except NoteError as e:
        check.problem(f"{name}: {e}")
        return None


def _consistency(check: _Check, vkey: VerifierKey, head: Checkpoint) -> None:
    names = [n for n in check.files if n.startswith("consistency/")]
    for name in sorted(names, key=lambda n: (len(n), n)):
        old_text, _, new_text = name.removeprefix("consistency/").partition("-")
        if not (old_text.isdigit() and new_text == str(head.size)):
            check.problem(f"{name}: not a proof to the bundle's checkpoint")
            continue
        old = _old(
            check, vkey, f"checkpoints/{old_text}", check.file(f"checkpoints/{old_text}") or b""
        )
        if old is None:
            continue
        try:
            proof = parse_hash_lines(check.files[name])
            merkle.verify_consistency(old.size, head.size, old.root, head.root, proof)
        except (NoteError, merkle.ProofError) as e:
            check.problem(f"{name}: {e}")
            continue
        check.report.consistency.append(old.size)


def _trusted(check: _Check, vkey: VerifierKey, head: Checkpoint, data: bytes) -> None:
    old = _old(check, vkey, "a trusted checkpoint", data)
    if old is None:
        return
    if old.size > head.size:
        check.problem(
            f"the trusted checkpoint of size {old.size} is newer than the bundle's "
            f"({head.size}): ask for a newer export"
        )
        return
    try:
        if old.size == head.size:
            merkle.verify_consistency(old.size, head.size, old.root, head.root, [])
        else:
            proof_data = check.files.get(f"consistency/{old.size}-{head.size}")
            if proof_data is None:
                raise merkle.ProofError(f"the bundle has no consistency/{old.size}-{head.size}")
            proof = parse_hash_lines(proof_data)
            merkle.verify_consistency(old.size, head.size, old.root, head.root, proof)
    except (NoteError, merkle.ProofError) as e:
        check.problem(f"the trusted checkpoint of size {old.size}: {e}")
        return
    check.report.trusted.append(old.size)


def _manifest(check: _Check, leaves: Mapping[int, Leaf]) -> None:
    data = check.file("manifest.json")
    if data is None:
        return
    try:
        document = json.loads(data)
        listed: dict[str, str] = document["files"]
    except (json.JSONDecodeError, KeyError, TypeError):
        check.problem("manifest.json: unreadable")
        return
    if document.get("format") != FORMAT:
        check.problem(f"manifest.json: not {FORMAT}")
    present = {n for n in check.files if n != "manifest.json"}
    for name in sorted(present - listed.keys()):
        check.problem(f"{name}: not in the manifest")
    for name in sorted(listed.keys() - present):
        check.problem(f"{name}: in the manifest, missing from the bundle")
    for name in sorted(present & listed.keys()):
        if hashlib.sha256(check.files[name]).hexdigest() != listed[name]:
            check.problem(f"{name}: its SHA-256 is not the manifest's")
