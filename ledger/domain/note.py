"""C2SP signed notes, checkpoints, cosignatures and tlog proofs (formats, keys, checks).

The formats are public specifications (github.com/C2SP/C2SP: ``signed-note``
v1.0.0, ``tlog-checkpoint`` v1.0.0, ``tlog-cosignature``, ``tlog-proof``), so
what the ledger signs a regulator checks with any implementation of them —
Go's ``golang.org/x/mod/sumdb/note`` among others. Keys are Ed25519
(signature type 0x01); witnesses cosign with timestamped Ed25519
cosignatures (type 0x04). Signing keys are written in the form Go's
``note.GenerateKey`` writes (``PRIVATE+KEY+name+id+base64``) so either side
can use the other's keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE = 0x04
COSIGNATURE_HEADER = b"cosignature/v1\n"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DASH = "\u2014 "
#: A cosignature's timestamp is at most 2**63 - 1 (tlog-cosignature).
MAX_TIMESTAMP = 2**63 - 1
#: Verifiers must accept at least 16 signatures; more than this is refused.
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or proof that is malformed or does not verify."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{what} is not base64") from None


def valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() for c in name) and "+" not in name


def key_id(name: str, sig_type: int, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class VerifierKey:
    """``name+hex(key id)+base64(type || public key)``: who may sign, and with what."""

    name: str
    sig_type: int
    public: bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.sig_type, self.public)

    def text(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{b64(bytes([self.sig_type]) + self.public)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # base64 may hold '+' too
        if len(parts) != 3 or len(parts[1]) != 8 or not valid_name(parts[0]):
            raise NoteError("a verifier key is name+keyid+base64")
        material = unb64(parts[2], "the verifier key")
        if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE):
            raise NoteError("only Ed25519 verifier keys (types 0x01 and 0x04) are supported")
        key = cls(parts[0], material[0], material[1:])
        if f"{key.key_id:08x}" != parts[1].lower():
            raise NoteError(f"the key id of {parts[0]} does not match its key")
        return key

    def verify(self, text: bytes, signature: bytes) -> int | None:
        """Whether ``signature`` (after the key id) signs ``text``; a cosignature's
        timestamp, or 0 for a plain signature; ``None`` if it does not verify."""
        public = Ed25519PublicKey.from_public_bytes(self.public)
        message, timestamp = text, 0
        if self.sig_type == COSIGNATURE:
            if len(signature) != 72:
                return None
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp > MAX_TIMESTAMP:
                return None
            message, signature = cosigned_message(text, timestamp), signature[8:]
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return None
        return timestamp


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + text


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key that signs notes (0x01) or cosigns checkpoints (0x04) as ``name``."""

    name: str
    private: Ed25519PrivateKey
    sig_type: int = ED25519

    @classmethod
    def generate(cls, name: str, sig_type: int = ED25519) -> SigningKey:
        if not valid_name(name):
            raise NoteError(f"{name!r} is not a key name: no spaces, no '+'")
        return cls(name, Ed25519PrivateKey.generate(), sig_type)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.sig_type, _raw(self.private.public_key()))

    def text(self) -> str:
        """``PRIVATE+KEY+name+id+base64(type || seed)`` (Go's ``note.NewSigner`` reads it)."""
        seed = self.private.private_bytes_raw()
        material = b64(bytes([self.sig_type]) + seed)
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{material}"

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not valid_name(parts[2]):
            raise NoteError("a signing key is PRIVATE+KEY+name+keyid+base64")
        material = unb64(parts[4], "the signing key")
        if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE):
            raise NoteError("only Ed25519 signing keys are supported")
        key = cls(parts[2], Ed25519PrivateKey.from_private_bytes(material[1:]), material[0])
        if f"{key.verifier.key_id:08x}" != parts[3].lower():
            raise NoteError(f"the key id of {parts[2]} does not match its key")
        return key

    def signature(self, text: bytes, timestamp: int = 0) -> Signature:
        if self.sig_type == COSIGNATURE:
            if not 0 < timestamp <= MAX_TIMESTAMP:
                raise NoteError("a cosignature needs its time (POSIX seconds, not zero)")
            signed = self.private.sign(cosigned_message(text, timestamp))
            raw = struct.pack(">Q", timestamp) + signed
        else:
            raw = self.private.sign(text)
        return Signature(self.name, self.verifier.key_id, raw)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    raw: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {b64(self.key_id.to_bytes(4, 'big') + self.raw)}\n"


@dataclass(frozen=True)
class Note:
    """A text (ending in a newline) and its signature lines."""

    text: bytes
    signatures: tuple[Signature, ...] = ()

    def encoded(self) -> bytes:
        return self.text + b"\n" + "".join(s.line() for s in self.signatures).encode()

    def signed(self, *keys: SigningKey, timestamp: int = 0) -> Note:
        extra = tuple(key.signature(self.text, timestamp) for key in keys)
        return Note(self.text, self.signatures + extra)

    def with_signatures(self, signatures: Iterable[Signature]) -> Note:
        """This note with any of ``signatures`` it lacks added."""
        have = set(self.signatures)
        return Note(self.text, self.signatures + tuple(s for s in signatures if s not in have))

    @classmethod
    def parse(cls, data: bytes) -> Note:
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note must be UTF-8") from None
        if any(ord(c) < 0x20 and c != "\n" for c in decoded):
            raise NoteError("a note may hold no control characters but newlines")
        split = decoded.rfind("\n\n")
        if split < 0 or not decoded.endswith("\n"):
            raise NoteError("a note is a text, a blank line and signature lines")
        text, lines = decoded[: split + 1], decoded[split + 2 :].splitlines()
        if not lines or len(lines) > MAX_SIGNATURES:
            raise NoteError("a note needs between 1 and 100 signature lines")
        signatures = []
        for line in lines:
            name, _, encoded = line.removeprefix(_DASH).partition(" ")
            if not line.startswith(_DASH) or not valid_name(name) or " " in encoded:
                raise NoteError("a signature line is: em dash, space, key name, space, base64")
            raw = unb64(encoded, "a signature")
            if len(raw) < 5:
                raise NoteError("a signature is a key id and at least one byte")
            signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
        return cls(text.encode(), tuple(signatures))

    def verified_by(self, keys: Sequence[VerifierKey]) -> dict[VerifierKey, int]:
        """The known keys whose signatures verify, each with its timestamp (0 if none).

        As the specification requires, unknown signatures are ignored, a
        known key whose signature fails rejects the note, and so does a note
        no known key signed.
        """
        known = {(k.name, k.key_id): k for k in keys}
        verified: dict[VerifierKey, int] = {}
        for signature in self.signatures:
            key = known.get((signature.name, signature.key_id))
            if key is None:
                continue
            timestamp = key.verify(self.text, signature.raw)
            if timestamp is None:
                raise NoteError(f"the signature of {key.name} does not verify")
            verified[key] = timestamp
        if not verified:
            raise NoteError("no known key signed this note")
        return verified


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size, root hash (C2SP tlog-checkpoint, no extension lines)."""

    origin: str
    size: int
    root: bytes

    def text(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n".encode()

    @classmethod
    def parse(cls, text: bytes) -> Checkpoint:
        lines = text.decode("utf-8", "replace").split("\n")
        if len(lines) != 4 or lines[-1] != "" or not all(lines[:-1]):
            raise NoteError(
                "a checkpoint is origin, size and root hash, one per line (this ledger's "
                "have no extension lines)"
            )
        origin, size, root = lines[0], lines[1], lines[2]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError("a checkpoint's size is a decimal without leading zeroes")
        digest = unb64(root, "the root hash")
        if len(digest) != 32:
            raise NoteError("a checkpoint's root is a SHA-256 hash")
        return cls(origin, int(size), digest)


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: Note

    @classmethod
    def open(cls, data: bytes, origin_keys: Sequence[VerifierKey]) -> SignedCheckpoint:
        """A checkpoint signed by one of ``origin_keys``, each named as its origin."""
        note = Note.parse(data)
        checkpoint = Checkpoint.parse(note.text)
        verified = note.verified_by(origin_keys)
        if not any(k.name == checkpoint.origin and k.sig_type == ED25519 for k in verified):
            raise NoteError(f"no key named {checkpoint.origin} signed this checkpoint")
        return cls(checkpoint, note)

    def cosigners(self, witness_keys: Sequence[VerifierKey]) -> dict[str, int]:
        """Witness name -> timestamp of each valid cosignature by one of ``witness_keys``."""
        known = {(k.name, k.key_id): k for k in witness_keys if k.sig_type == COSIGNATURE}
        found: dict[str, int] = {}
        for signature in self.note.signatures:
            key = known.get((signature.name, signature.key_id))
            if key is not None:
                timestamp = key.verify(self.note.text, signature.raw)
                if timestamp is None:
                    raise NoteError(f"the cosignature of {key.name} does not verify")
                found[key.name] = timestamp
        return found


@dataclass(frozen=True)
class TlogProof:
    """``c2sp.org/tlog-proof@v1``: an entry's index, its inclusion proof, the checkpoint."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = field(default=None)

    def encoded(self) -> bytes:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(b64(h) for h in self.hashes)
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint

    @classmethod
    def parse(cls, data: bytes) -> TlogProof:
        head, sep, checkpoint = data.partition(b"\n\n")
        lines = head.decode("ascii", "replace").split("\n")
        if not sep or lines[0] != PROOF_HEADER:
            raise NoteError(f"a proof starts with {PROOF_HEADER} and ends with a checkpoint")
        rest, extra = lines[1:], None
        if rest and rest[0].startswith("extra "):
            extra, rest = unb64(rest[0][6:], "the extra data"), rest[1:]
        if not rest or not rest[0].startswith("index ") or not rest[0][6:].isdigit():
            raise NoteError("a proof names its entry's index")
        text = rest[0][6:]
        if text != "0" and text.startswith("0"):
            raise NoteError("an index has no leading zeroes")
        hashes = tuple(unb64(h, "a proof hash") for h in rest[1:])
        if any(len(h) != 32 for h in hashes):
            raise NoteError("a proof hash is a SHA-256 hash")
        return cls(int(text), hashes, checkpoint, extra)


def hash_lines(hashes: Iterable[bytes]) -> bytes:
    """A consistency proof as a file: one base64 hash per line (RFC 9162's hash list)."""
    return "".join(f"{b64(h)}\n" for h in hashes).encode()


def parse_hash_lines(data: bytes) -> list[bytes]:
    hashes = [unb64(line, "a proof hash") for line in data.decode("ascii", "replace").split()]
    if any(len(h) != 32 for h in hashes):
        raise NoteError("a proof hash is a SHA-256 hash")
    return hashes
