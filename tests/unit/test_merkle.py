"""The Merkle tree arithmetic against the RFC's recursive definitions, for every shape.

The oracle here is RFC 9162 section 2.1 written as its recursion over a list
of leaves (MTH, PATH, SUBPROOF); the ledger's code computes the same from
stored complete subtrees and a tree edge. Go's ``sumdb/tlog`` checks the same
proofs in the integration suite.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.merkle import (
    EMPTY_ROOT,
    STRIDE,
    ProofError,
    StridedNodes,
    TreeEdge,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"fact {i}".encode()) for i in range(n)]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*_path(m, d[:k]), root_of(d[k:])]
    return [*_path(m - k, d[k:]), root_of(d[:k])]


def _subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if whole else [root_of(d)]
    k = _k(len(d))
    if m <= k:
        return [*_subproof(m, d[:k], whole), root_of(d[k:])]
    return [*_subproof(m - k, d[k:], False), root_of(d[:k])]


class FullTree:
    """Every complete subtree, from the leaves (what a store would hold, and more)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves

    def node(self, level: int, index: int) -> bytes:
        lo = index << level
        hi = lo + (1 << level)
        assert hi <= len(self.leaves), "only complete subtrees are asked for"
        return root_of(self.leaves[lo:hi])


def _strided(leaves: list[bytes]) -> StridedNodes:
    """What the audit store keeps: leaves and every STRIDE-th level, from an edge."""
    stored: dict[tuple[int, int], bytes] = {(0, i): h for i, h in enumerate(leaves)}
    edge = TreeEdge()
    for h in leaves:
        edge.append(h, lambda level, index, value: stored.__setitem__((level, index), value))
    return StridedNodes(lambda keys: {k: stored[k] for k in keys if k in stored})


def test_the_empty_tree_and_known_vectors() -> None:
    assert tree_root(FullTree([]), 0) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    # The well-known hash of the empty leaf (Certificate Transparency's test data).
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.integers(min_value=1, max_value=300), st.data())
def test_roots_and_inclusion_proofs_match_the_definition(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    strided = _strided(leaves)
    assert tree_root(strided, n) == tree_root(FullTree(leaves), n) == root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(strided, index, n)
    assert proof == _path(index, leaves)
    verify_inclusion(index, n, leaves[index], proof, root_of(leaves))


@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_proofs_match_the_definition(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = consistency_proof(_strided(leaves), m, n)
    assert proof == _subproof(m, leaves, True)
    verify_consistency(m, n, root_of(leaves[:m]), root_of(leaves), proof)


@given(st.integers(min_value=2, max_value=200), st.data())
def test_a_changed_hash_or_index_fails(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(FullTree(leaves), index, n)
    with pytest.raises(ProofError):
        verify_inclusion(index, n, leaf_hash(b"another fact"), proof, root)
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = [*proof[:at], node_hash(proof[at], proof[at]), *proof[at + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(index, n, leaves[index], bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, n, leaves[index], proof[:-1], root)
    other = data.draw(st.integers(min_value=0, max_value=n - 1))
    if leaves[other] != leaves[index]:
        with pytest.raises(ProofError):
            verify_inclusion(other, n, leaves[index], proof, root)


@given(st.integers(min_value=2, max_value=200), st.data())
def test_a_rewritten_history_is_not_consistent(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    m = data.draw(st.integers(min_value=1, max_value=n - 1))
    changed = data.draw(st.integers(min_value=0, max_value=m - 1))
    forked = [*leaves[:changed], leaf_hash(b"rewritten"), *leaves[changed + 1 :]]
    proof = consistency_proof(FullTree(forked), m, n)
    with pytest.raises(ProofError):
        verify_consistency(m, n, root_of(leaves[:m]), root_of(forked), proof)
    with pytest.raises(ProofError):
        verify_consistency(m, n, root_of(leaves[:m]), root_of(leaves), proof[:-1] or [b"x" * 32])


@given(st.integers(min_value=0, max_value=600))
def test_an_edge_restored_from_storage_continues_the_same_tree(n: int) -> None:
    leaves = _leaves(n + 37)
    stored: dict[tuple[int, int], bytes] = {(0, i): h for i, h in enumerate(leaves[:n])}
    edge = TreeEdge()
    for h in leaves[:n]:
        edge.append(h, lambda level, index, value: stored.__setitem__((level, index), value))
    assert all(level % STRIDE == 0 for level, _ in stored)
    source = StridedNodes(lambda keys: {k: stored[k] for k in keys})
    restored = TreeEdge.restore(source, n)
    assert restored == edge
    for h in leaves[n:]:
        restored.append(h)
    assert restored.root() == root_of(leaves)


def test_prefetch_reads_every_needed_node_in_one_fetch() -> None:
    leaves = _leaves(1000)
    stored: dict[tuple[int, int], bytes] = {(0, i): h for i, h in enumerate(leaves)}
    edge = TreeEdge()
    for h in leaves:
        edge.append(h, lambda level, index, value: stored.__setitem__((level, index), value))
    fetches: list[int] = []

    def fetch(keys: object) -> dict[tuple[int, int], bytes]:
        wanted = list(keys)  # type: ignore[call-overload]
        fetches.append(len(wanted))
        return {k: stored[k] for k in wanted}

    source = StridedNodes(fetch)
    indexes = [3, 500, 999]
    source.prefetch(lambda: [inclusion_proof(source, i, 1000) for i in indexes])
    assert len(fetches) == 1
    proofs = [inclusion_proof(source, i, 1000) for i in indexes]
    assert len(fetches) == 1, "the real computation read only memory"
    for i, proof in zip(indexes, proofs, strict=True):
        verify_inclusion(i, 1000, leaves[i], proof, root_of(leaves))
