"""The tree of RFC 6962: checked against the reference vectors of transparency-dev/merkle
(testonly/constants.go, the vectors CT's own implementations test against) and, for
random trees, against the RFC's recursive definitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.merkle_tree import (
    EMPTY_ROOT,
    Frontier,
    Levels,
    ProofError,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
          "5051525354555657", "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
NODES = [
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
]  # fmt: skip
LEAVES = [leaf_hash(data) for data in INPUTS]


def n(level: int, index: int) -> bytes:
    return bytes.fromhex(NODES[level][index])


def test_leaf_and_node_hashes_are_the_rfc_vectors() -> None:
    assert [h.hex() for h in LEAVES] == NODES[0]
    assert node_hash(LEAVES[0], LEAVES[1]).hex() == NODES[1][0]


@pytest.mark.parametrize("size", range(9))
def test_roots_of_every_size_are_the_rfc_vectors(size: int) -> None:
    assert root_of(LEAVES[:size]).hex() == ROOTS[size]
    assert Levels.build(LEAVES[:size]).root().hex() == ROOTS[size]
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.root().hex() == ROOTS[size]


@pytest.mark.parametrize("size", range(9))
@pytest.mark.parametrize("split", range(9))
def test_a_frontier_extended_in_runs_is_the_rfc_tree(size: int, split: int) -> None:
    """The Merkle log appends a round's leaves in one call, onto whatever edge it had."""
    frontier = Frontier()
    frontier.extend(LEAVES[: min(split, size)])
    frontier.extend(iter(LEAVES[min(split, size) : size]))
    assert (frontier.size, frontier.root().hex()) == (size, ROOTS[size])


@pytest.mark.parametrize(
    ("index", "size", "proof"),
    [
        (0, 1, []),
        (0, 8, [n(0, 1), n(1, 1), n(2, 1)]),
        (5, 8, [n(0, 4), n(1, 3), n(2, 0)]),
        (2, 3, [n(1, 0)]),
        (1, 5, [n(0, 0), n(1, 1), LEAVES[4]]),
    ],
)
def test_inclusion_proofs_are_the_reference_ones(index: int, size: int, proof: list[bytes]) -> None:
    assert Levels.build(LEAVES).inclusion_proof(index, size) == proof
    verify_inclusion(LEAVES[index], index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(
    ("old", "new", "proof"),
    [
        (1, 1, []),
        (1, 8, [n(0, 1), n(1, 1), n(2, 1)]),
        (6, 8, [n(1, 2), n(1, 3), n(2, 0)]),
        (2, 5, [n(1, 1), LEAVES[4]]),
    ],
)
def test_consistency_proofs_are_the_reference_ones(old: int, new: int, proof: list[bytes]) -> None:
    assert Levels.build(LEAVES).consistency_proof(old, new) == proof
    verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof)


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True).map(
    lambda data: [leaf_hash(d) for d in data]
)


@given(leaf_lists)
def test_levels_and_frontier_give_the_rfc_root(leaves: list[bytes]) -> None:
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert Levels.build(leaves).root() == root_of(leaves) == frontier.root()


@given(leaf_lists)
def test_every_leaf_of_a_random_tree_has_an_inclusion_proof_that_verifies(
    leaves: list[bytes],
) -> None:
    tree = Levels.build(leaves)
    root = tree.root()
    for index, leaf in enumerate(leaves):
        proof = tree.inclusion_proof(index)
        verify_inclusion(leaf, index, len(leaves), proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(b"not it" + leaf), index, len(leaves), proof, root)
        if len(leaves) > 1:
            with pytest.raises(ProofError):  # the same leaf claimed at another place
                verify_inclusion(leaf, (index + 1) % len(leaves), len(leaves), proof, root)


@given(leaf_lists)
def test_every_earlier_size_has_a_consistency_proof_that_verifies(leaves: list[bytes]) -> None:
    tree = Levels.build(leaves)
    new_root = tree.root()
    for old in range(len(leaves) + 1):
        old_root = root_of(leaves[:old])
        proof = tree.consistency_proof(old)
        verify_consistency(old, len(leaves), old_root, new_root, proof)
        if 0 < old < len(leaves):
            with pytest.raises(ProofError):
                verify_consistency(old, len(leaves), leaf_hash(b"forged"), new_root, proof)


@given(leaf_lists, st.data())
def test_a_tree_whose_history_was_rewritten_has_no_consistency_proof(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """Any change to the first `old` leaves makes the earlier root unreachable."""
    if len(leaves) < 2:
        return
    old = data.draw(st.integers(1, len(leaves) - 1))
    changed = data.draw(st.integers(0, old - 1))
    rewritten = [*leaves]
    rewritten[changed] = leaf_hash(b"rewritten" + leaves[changed])
    tree = Levels.build(rewritten)
    with pytest.raises(ProofError):
        verify_consistency(
            old, len(leaves), root_of(leaves[:old]), tree.root(), tree.consistency_proof(old)
        )


def test_the_empty_tree_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert Frontier().root() == EMPTY_ROOT


@given(
    st.lists(st.binary(min_size=32, max_size=32), max_size=80),
    st.lists(st.binary(min_size=32, max_size=32), max_size=80),
)
def test_a_tree_extended_is_the_tree_built_over_all_its_leaves(
    first: list[bytes], more: list[bytes]
) -> None:
    """An export extends the last export's tree by the leaves since (service/records/proofs.py):
    every node must be the one a tree built from scratch has."""
    extended = Levels.build(first).extended(more)
    assert extended.levels == Levels.build(first + more).levels
    assert extended.root() == root_of(first + more)
