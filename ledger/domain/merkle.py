"""The RFC 6962 / RFC 9162 (section 2.1) Merkle tree: hashes, proofs, their checks.

The audit log is one such tree with a leaf per stored fact, so that anyone
can check it with the tools that check Certificate Transparency or Go's
checksum database. This module is the arithmetic only — no storage, no I/O:

- ``leaf_hash`` / ``node_hash``: SHA-256 with the 0x00 / 0x01 prefixes;
- :class:`TreeEdge`: the tree's right edge (one complete subtree per set bit
  of its size) — appending leaves and taking the root without the rest of
  the tree, and naming the complete subtrees it finishes so they can be stored;
- proofs (inclusion, consistency) computed from a :class:`NodeSource` of
  complete, aligned subtrees, and their verification exactly as RFC 9162
  sections 2.1.3.2 and 2.1.4.2 describe.

Every subtree a proof needs is *complete and aligned*: its leaves are
``[index * 2**level, (index + 1) * 2**level)``. A source names one by
``(level, index)``; :class:`StridedNodes` serves them from a store that keeps
only the leaves and every ``STRIDE``-th level, deriving the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Stored levels of the tree: the leaves (0) and every STRIDE-th level above them.
STRIDE = 4

Node = tuple[int, int]
"""A complete, aligned subtree: (level, index); it covers leaves
``[index << level, (index + 1) << level)``."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The root of a tree of these leaf hashes (the definition; for small trees and tests)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = _split(len(leaf_hashes))
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


class NodeSource(Protocol):
    """The hash of any complete, aligned subtree of a tree."""

    def node(self, level: int, index: int) -> bytes: ...


class ProofError(ValueError):
    """A proof that does not verify (or a request no proof can answer)."""


def subtree_hash(source: NodeSource, lo: int, hi: int) -> bytes:
    """The root of the leaves ``[lo, hi)``, ``lo`` aligned as in the RFC's recursion."""
    size = hi - lo
    if size & (size - 1) == 0 and lo % size == 0:
        level = size.bit_length() - 1
        return source.node(level, lo >> level)
    k = _split(size)
    return node_hash(subtree_hash(source, lo, lo + k), subtree_hash(source, lo + k, hi))


def tree_root(source: NodeSource, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(source, 0, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 2.1.3.1: the audit path of leaf ``index`` in the tree of ``size`` leaves,
    from the leaf's sibling up to the root's child."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree_hash(source, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_hash(source, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 2.1.4.1: the proof that the tree of ``old_size`` leaves is a prefix of
    the tree of ``new_size``."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from {old_size} to {new_size}")
    proof: list[bytes] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(subtree_hash(source, lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_hash(source, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(subtree_hash(source, lo, hi))
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that ``proof`` makes of leaf hash ``leaf``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not included in the tree of {size} with that root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: raise :class:`ProofError` unless the old tree is a prefix of the new."""
    if old_size > new_size:
        raise ProofError(f"a tree of {old_size} cannot be a prefix of one of {new_size}")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError(f"two different trees of size {new_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(f"the tree of {old_size} is not a prefix of the tree of {new_size}")


@dataclass
class TreeEdge:
    """The right edge of a tree: the roots of its complete subtrees, largest first.

    Appending a leaf merges equal-sized subtrees like a binary counter's
    carry; each merge finishes a complete subtree, reported to ``finished``
    when its level is stored (a multiple of ``STRIDE``, above the leaves).
    """

    size: int = 0
    #: (level, hash) of each complete subtree on the edge, left to right.
    peaks: list[tuple[int, bytes]] = field(default_factory=list)

    def append(
        self, leaf: bytes, finished: Callable[[int, int, bytes], None] | None = None
    ) -> None:
        level, value, end = 0, leaf, self.size + 1
        while self.peaks and self.peaks[-1][0] == level:
            _, left = self.peaks.pop()
            value, level = node_hash(left, value), level + 1
            if finished is not None and level % STRIDE == 0:
                finished(level, (end >> level) - 1, value)
        self.peaks.append((level, value))
        self.size = end

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        value = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            value = node_hash(left, value)
        return value

    @classmethod
    def restore(cls, source: NodeSource, size: int) -> TreeEdge:
        """The edge of a stored tree of ``size`` leaves."""
        peaks: list[tuple[int, bytes]] = []
        lo = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                peaks.append((level, source.node(level, lo >> level)))
                lo += 1 << level
        return cls(size, peaks)


class StridedNodes:
    """A :class:`NodeSource` over a store of the leaves and every ``STRIDE``-th level.

    ``fetch`` reads stored nodes in bulk. Because which nodes a proof needs
    does not depend on their values, :meth:`prefetch` runs a computation once
    against placeholders to learn every stored node it reads, fetches them in
    one go, and the real computation then reads only memory.
    """

    def __init__(self, fetch: Callable[[Iterable[Node]], Mapping[Node, bytes]]) -> None:
        self.fetch = fetch
        self.known: dict[Node, bytes] = {}
        self._wanted: set[Node] | None = None

    def node(self, level: int, index: int) -> bytes:
        if level % STRIDE == 0:
            return self._stored((level, index))
        return node_hash(self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1))

    def _stored(self, key: Node) -> bytes:
        if self._wanted is not None:
            self._wanted.add(key)
            return bytes(HASH_SIZE)
        value = self.known.get(key)
        if value is None:
            self.known.update(self.fetch([key]))
            value = self.known.get(key)
            if value is None:
                raise ProofError(f"the store has no node {key}")
        return value

    def prefetch(self, compute: Callable[[], object]) -> None:
        """Fetch, in bulk, every stored node ``compute`` would read."""
        self._wanted = set()
        try:
            compute()
            wanted = self._wanted - self.known.keys()
        finally:
            self._wanted = None
        if wanted:
            self.known.update(self.fetch(wanted))
