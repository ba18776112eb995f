"""The audit log's leaves: one per stored fact, the exact bytes a regulator hashes.

A leaf is the stored event as the store holds it — stream, version, topic,
and the state bytes unchanged — preceded by its *links*: for each chain the
fact belongs to (its DIN, its reporting facility on its day, its donor, its
patient), the tree index of the previous fact in that chain, or ``-``. The
links are what let an export prove it is complete: a regulator walks a
chain from its head back to its first fact, and a fact left out breaks it.
Format (``docs/audit.md`` is the normative description)::

    bloodledger/leaf/v1
    stream 6f1c0b1e-...-...
    version 3
    topic bloodledger:UnitIssued
    key din:A999926123456 17
    key facility:A9999:2026-09-01 -

    {"timestamp": ..., "event_id": ..., ...}

Keys are sorted; every character outside ``A-Z a-z 0-9 . _ ~ -`` of a value
is percent-encoded, so a key never holds a space, a colon of its own or a
newline. Identifiers are sealed (:mod:`ledger.domain.identity`): a donor or
patient key holds the identity's token, never the identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import quote
from uuid import UUID

import orjson

from ledger.domain.identity import IDENTITY_FIELDS, is_sealed, token_of

HEADER = "bloodledger/leaf/v1"
NONE = "-"


class LeafError(ValueError):
    """Bytes that are not a leaf of this format."""


_ZERO = timedelta(0)
_SAFE = re.compile(r"[A-Za-z0-9._~-]*")


def _value(text: str) -> str:
    return text if _SAFE.fullmatch(text) else quote(text, safe="")


def _moment(text: str | None) -> datetime | None:
    """A stored timestamp's ISO text (``{"_type_": "datetime_iso", "_data_": ...}``) in UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.utcoffset() == _ZERO else moment.astimezone(UTC)


def _iso_text(stored: Any) -> str | None:
    if type(stored) is dict:
        text = stored.get("_data_")
        return text if type(text) is str else None
    return None


def _day(text: str) -> str | None:
    """The UTC day of an ISO timestamp (the common case, already in UTC, without parsing)."""
    if text.endswith("+00:00") and len(text) >= 10:
        return text[:10]
    moment = _moment(text)
    return None if moment is None else moment.date().isoformat()


def person_key(kind: str, identifier: str) -> str:
    """The chain of one donor or patient: by token when sealed, else by the value."""
    return f"{kind}:{_value(token_of(identifier) if is_sealed(identifier) else identifier)}"


def din_key(din: str) -> str:
    return f"din:{_value(din)}"


def facility_day_key(facility: str, day: str) -> str:
    return f"facility:{_value(facility)}:{day}"


class Subject(NamedTuple):
    """What a stored event is about, read from its state: its chains, and the fields
    trails and exports look facts up by (a tuple: one is made per fact sealed)."""

    keys: list[str]
    din: str | None
    product_code: str | None
    facility: str | None
    actor: str | None
    occurred_text: str | None

    @property
    def occurred_at(self) -> datetime | None:
        return _moment(self.occurred_text)


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def subject_of(state: Mapping[str, Any]) -> Subject:
    """The chains a stored event's (decoded JSON) state belongs to, sorted, and more.

    Runs once per fact sealed or verified: written for speed (one lookup per field).
    """
    get = state.get
    din, facility = _text(get("din")), _text(get("facility"))
    occurred = _iso_text(get("occurred_at"))
    day = None if occurred is None else _day(occurred)
    keys = []
    if din is not None:
        keys.append(din_key(din))
    if facility is not None and day is not None:
        keys.append(facility_day_key(facility, day))
    for name, kind in IDENTITY_FIELDS.items():
        identifier = _text(get(name))
        if identifier is not None:
            keys.append(person_key(kind, identifier))
    if len(keys) > 1:
        keys = sorted(set(keys))
    return Subject(keys, din, _text(get("product_code")), facility, _text(get("actor")), occurred)


def keys_of(state: Mapping[str, Any]) -> list[str]:
    """The chains a stored event's state belongs to, sorted."""
    return subject_of(state).keys


@dataclass(frozen=True)
class Leaf:
    stream: UUID
    version: int
    topic: str
    #: (key, tree index of the chain's previous fact or None), sorted by key.
    links: tuple[tuple[str, int | None], ...]
    state: bytes

    def encoded(self) -> bytes:
        return leaf_bytes(self.stream, self.version, self.topic, self.links, self.state)

    def link_text(self) -> str:
        """The links alone, one ``key prev`` per line (what the sealer stores)."""
        return "".join(f"{k} {NONE if p is None else p}\n" for k, p in self.links)

    def previous(self, key: str) -> int | None:
        for k, p in self.links:
            if k == key:
                return p
        raise LeafError(f"the leaf is not in the chain {key}")

    def keys(self) -> list[str]:
        return [k for k, _ in self.links]

    def decoded_state(self) -> dict[str, Any]:
        return decoded(self.state)

    @classmethod
    def parse(cls, data: bytes) -> Leaf:
        head, sep, state = data.partition(b"\n\n")
        lines = head.decode("utf-8", "replace").split("\n")
        if not sep or len(lines) < 4 or lines[0] != HEADER:
            raise LeafError(f"a leaf starts with {HEADER} and its head ends with a blank line")
        try:
            stream = UUID(_field(lines[1], "stream"))
            version = int(_field(lines[2], "version"))
            topic = _field(lines[3], "topic")
            links = tuple(_link(line) for line in lines[4:])
        except ValueError as e:
            raise LeafError(f"a malformed leaf head: {e}") from None
        if list(links) != sorted(links, key=lambda link: link[0]):
            raise LeafError("a leaf's keys are sorted")
        leaf = cls(stream, version, topic, links, state)
        if leaf.encoded() != data:
            raise LeafError("a leaf is in its one canonical form")
        return leaf


def _field(line: str, name: str) -> str:
    prefix = f"{name} "
    if not line.startswith(prefix):
        raise ValueError(f"expected {name!r}")
    return line[len(prefix) :]


def _link(line: str) -> tuple[str, int | None]:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "key":
        raise ValueError("expected 'key <key> <index>'")
    return parts[1], None if parts[2] == NONE else int(parts[2])


def leaf_bytes(
    stream: UUID, version: int, topic: str, links: Sequence[tuple[str, int | None]], state: bytes
) -> bytes:
    """The leaf's bytes (what :meth:`Leaf.encoded` returns; a function because every
    fact sealed or verified is encoded once, and this is the hot path)."""
    head = f"{HEADER}\nstream {stream}\nversion {version}\ntopic {topic}\n"
    for key, previous in links:
        head += f"key {key} {NONE if previous is None else previous}\n"
    return (head + "\n").encode() + state


def parse_link_text(text: str) -> tuple[tuple[str, int | None], ...]:
    return tuple(_link(f"key {line}") for line in text.splitlines() if line)


class Chains:
    """Each chain's last tree index, for linking new leaves to their chains.

    ``load`` fetches the heads a batch needs that are not in memory (none, when
    replaying a log from its start); what a batch changes is kept until
    :meth:`flush` hands it to the store with the batch.
    """

    def __init__(self, load: Callable[[Sequence[str]], Mapping[str, int]] | None = None) -> None:
        self.load = load
        self.heads: dict[str, int] = {}
        self.changed: dict[str, int] = {}

    def prepare(self, keys: Iterable[str]) -> None:
        """Bring the heads of these chains into memory in one fetch."""
        if self.load is None:
            return
        missing = sorted({k for k in keys if k not in self.heads})
        if missing:
            self.heads.update(self.load(missing))

    def link(self, index: int, keys: Sequence[str]) -> tuple[tuple[str, int | None], ...]:
        links = tuple((k, self.heads.get(k)) for k in keys)
        for k in keys:
            self.heads[k] = index
            self.changed[k] = index
        return links

    def flush(self, keep: int = 200_000) -> dict[str, int]:
        """The heads changed since the last flush; forgets the rest past ``keep``."""
        changed, self.changed = self.changed, {}
        if self.load is not None and len(self.heads) > keep:
            self.heads = dict(changed)
        return changed


def state_bytes(state: bytes | str | memoryview) -> bytes:
    """A stored state as bytes (a database edited by hand may hand back text)."""
    if isinstance(state, bytes):
        return state
    return state.encode("utf-8") if isinstance(state, str) else bytes(state)


def stream_id(value: UUID | str) -> UUID:
    """A stored event's stream id as a UUID (backends hand back either)."""
    return value if isinstance(value, UUID) else UUID(value)


def decoded(state: bytes) -> dict[str, Any]:
    """A stored state as JSON (an empty object if it is not one: its leaf is in no chain)."""
    try:
        value = orjson.loads(state)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
