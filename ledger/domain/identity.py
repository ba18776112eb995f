"""Donor and patient identifiers, sealed: opaque inside the ledger, readable with the key.

Identifiers arriving from integrators are pseudonyms already, but a
pseudonym in a hospital system is one lookup away from a person, so the
ledger never stores or shows one in the clear. At the edge — where a fact is
decoded, where an investigator types a donor id — each identifier becomes a
*sealed identifier*::

    bl1:<token>:<ciphertext>

- ``token`` = base64url(HMAC-SHA256(lookup key, kind "\\n" value)[:16]): a keyed
  hash, the same for the same person, so the domain's rules (is this the
  same patient?), the read models' lookups and the audit log's chains work
  on sealed values exactly as on plain ones;
- ``ciphertext`` = base64url(nonce || tag || AES-256-GCM(value)) in the
  ``eventsourcing`` library's ``AESCipher`` layout, under a key of its own
  for each identity, HMAC-SHA256(seal key, token). That key encrypts one
  value only, so its nonce is derived from it and the whole sealed value is
  deterministic (equal values seal equally, as lookups need); and the key can
  be disclosed for one identity — to a regulator checking an export — without
  disclosing any other.

The lookup and seal keys are derived from one master key (32 bytes,
base64: ``bloodledger audit cipher-key``); its check value lets a store tell
the right key from a wrong one without holding it. Everything here is pure
computation; where the key comes from is the entrypoint's business.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

from ledger.domain.facts import ReportedFact

PREFIX = "bl1:"
#: Payload fields that identify a person, and the kind of person each names.
IDENTITY_FIELDS: Mapping[str, str] = {
    "donor_id": "donor",
    "intended_patient_id": "patient",
    "patient_id": "patient",
}
_CACHE_LIMIT = 50_000
#: A sealed identifier anywhere in a text (a finding's detail may name one).
SEALED = re.compile(r"bl1:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+")


class IdentityKeyError(ValueError):
    """A master key that is not 32 base64 bytes, or a sealed value it cannot open."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise IdentityKeyError("a sealed identifier is damaged") from None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def token_of(sealed: str) -> str:
    """The keyed hash inside a sealed identifier (what lookups and audit chains use)."""
    return sealed[len(PREFIX) :].split(":", 1)[0]


def generate_master_key() -> str:
    """A new master key, as ``BLOODLEDGER_CIPHER_KEY`` holds it."""
    return AESCipher.create_key(32)


def _cipher(key: bytes) -> AESCipher:
    return AESCipher(Environment(env={AESCipher.CIPHER_KEY: base64.b64encode(key).decode()}))


def open_with_disclosure(sealed: str, disclosure: bytes) -> str:
    """The identifier inside ``sealed``, opened with that identity's own key (a
    regulator's check of a revealed identifier); raises if it does not open."""
    ciphertext = _unb64url(sealed[len(PREFIX) :].split(":", 1)[-1])
    try:
        return _cipher(disclosure).decrypt(ciphertext).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise IdentityKeyError("the sealed identifier does not open with that key") from None


class IdentityKey:
    """The master key and what is derived from it; seals and reveals identifiers."""

    def __init__(self, master: str) -> None:
        try:
            raw = base64.b64decode(master.strip().encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            msg = "the cipher key must be 32 bytes in base64 (bloodledger audit cipher-key)"
            raise IdentityKeyError(msg)
        self._lookup = hmac.digest(raw, b"bloodledger identity lookup v1", "sha256")
        self._seal = hmac.digest(raw, b"bloodledger identity seal v1", "sha256")
        #: Tells the right key from a wrong one (stored with a protected ledger).
        self.check = hmac.digest(raw, b"bloodledger key check v1", "sha256").hex()[:32]
        self._sealed: dict[tuple[str, str], str] = {}
        self._revealed: dict[str, str] = {}

    def token(self, kind: str, value: str) -> str:
        return _b64url(hmac.digest(self._lookup, f"{kind}\n{value}".encode(), "sha256")[:16])

    def disclosure(self, token: str) -> bytes:
        """The key of one identity: opens its sealed identifiers and no other."""
        return hmac.digest(self._seal, token.encode("ascii"), "sha256")

    def seal(self, kind: str, value: str) -> str:
        """``value`` sealed (a value this key already sealed is returned as it is; one
        that only looks sealed is an identifier like any other, and is sealed)."""
        if value.startswith(PREFIX) and self.opens(value):
            return value
        found = self._sealed.get((kind, value))
        if found is None:
            token = self.token(kind, value)
            key = self.disclosure(token)
            nonce = hmac.digest(key, b"nonce", "sha256")[:12]
            encrypted, tag = (
                _cipher(key).construct_cipher(nonce).encrypt_and_digest(value.encode("utf-8"))
            )
            found = f"{PREFIX}{token}:{_b64url(nonce + tag + encrypted)}"
            self._remember(self._sealed, (kind, value), found)
            self._remember(self._revealed, found, value)
        return found

    def opens(self, sealed: str) -> bool:
        """Whether ``sealed`` is an identifier sealed with this key."""
        try:
            self.reveal(sealed)
        except IdentityKeyError:
            return False
        return True

    def reveal(self, sealed: str) -> str:
        """The identifier inside ``sealed`` (anything not sealed is returned as it is)."""
        if not sealed.startswith(PREFIX):
            return sealed
        found = self._revealed.get(sealed)
        if found is None:
            found = open_with_disclosure(sealed, self.disclosure(token_of(sealed)))
            self._remember(self._revealed, sealed, found)
        return found

    @staticmethod
    def _remember(cache: dict[Any, str], key: Any, value: str) -> None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value


class Identities:
    """How a ledger treats identifiers: sealed with a key, or (an older store) in the clear."""

    def __init__(self, key: IdentityKey | None) -> None:
        self.key = key

    @property
    def protected(self) -> bool:
        return self.key is not None

    def seal(self, kind: str, value: str) -> str:
        return value if self.key is None else self.key.seal(kind, value)

    def reveal(self, value: str) -> str:
        return value if self.key is None else self.key.reveal(value)

    def sealed_fact(self, fact: ReportedFact) -> ReportedFact:
        """The fact with each identifier of its payload sealed."""
        if self.key is None:
            return fact
        changed = {
            name: self.key.seal(kind, fact.payload[name])
            for name, kind in IDENTITY_FIELDS.items()
            if isinstance(fact.payload.get(name), str)
        }
        if not changed or all(fact.payload[n] == v for n, v in changed.items()):
            return fact
        return replace(fact, payload={**fact.payload, **changed})

    def revealed(self, document: Any) -> Any:
        """A JSON-like document with every sealed identifier in it revealed."""
        if self.key is None:
            return document
        if isinstance(document, str):
            if PREFIX not in document:
                return document
            key = self.key
            return SEALED.sub(lambda m: _revealed_or_as_is(key, m.group(0)), document)
        if isinstance(document, dict):
            return {k: self.revealed(v) for k, v in document.items()}
        if isinstance(document, list | tuple):
            return [self.revealed(v) for v in document]
        return document


def _revealed_or_as_is(key: IdentityKey, text: str) -> str:
    """A sealed identifier revealed; text that only looks like one, as it is."""
    try:
        return key.reveal(text)
    except IdentityKeyError:
        return text


CLEAR = Identities(None)
