"""The Merkle tree of Certificate Transparency (RFC 6962 section 2.1, RFC 9162 section 2.1).

Leaf hash `SHA-256(0x00 || data)`, node hash `SHA-256(0x01 || left || right)`, the tree
split at the largest power of two below its size; inclusion and consistency proofs
made and checked as the RFCs define them, so a proof from Lonewatch can be checked by
any CT tool. Pure functions over bytes: no IO, no clock.

`Levels` holds every node of a tree (each level the pairs of the one below, a lone last
node carried up unchanged, which gives exactly the RFC's tree), so that the proofs for
many leaves of one export cost one pass over the leaves; `Frontier` holds only the
right edge (the roots of the perfect subtrees), enough to append and to give the root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not show what it claims; the message says where it fails."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, by the RFC's recursive definition (the reference)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


@dataclass
class Levels:
    """Every node of the tree over `leaves` (leaf hashes): built once, O(n)."""

    levels: list[list[bytes]]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> Levels:
        levels = [list(leaves)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            levels.append(above)
        return cls(levels)

    def extended(self, leaves: Sequence[bytes]) -> Levels:
        """The levels of this tree with `leaves` appended, hashing only the new nodes: the
        pairs wholly inside the old tree stand (a last odd node carried up does not). An
        export after another reads and hashes only what the log took in between."""
        levels = [self.levels[0] + list(leaves)]
        unchanged = self.size
        while len(levels[-1]) > 1:
            below = levels[-1]
            height = len(levels)
            old = self.levels[height] if height < len(self.levels) else []
            keep = min(unchanged // 2, len(old))
            above = old[:keep] + [
                node_hash(below[i], below[i + 1]) for i in range(2 * keep, len(below) - 1, 2)
            ]
            if len(below) % 2:
                above.append(below[-1])
            levels.append(above)
            unchanged = keep
        return Levels(levels)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self) -> bytes:
        return self.levels[-1][0] if self.size else EMPTY_ROOT

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a node of this tree (start aligned, a perfect subtree or
        one ending at the tree's right edge), as the RFC's recursions ask for."""
        height = (end - start - 1).bit_length()
        return self.levels[height][start >> height]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) (RFC 6962 2.1.1); `size` defaults to the whole tree."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ProofError(f"no leaf {index} in a tree of {size}")
        tree = self if size == self.size else Levels.build(self.levels[0][:size])
        # PATH's recursion, walked bottom-up over the stored levels: at each level the
        # node's sibling, where it has one (a last odd node is carried up unchanged, as
        # the RFC's split at the largest power of two below the size does). An export
        # proves 10,000 leaves: this is a list append per level, not a list per call.
        path = []
        at = index
        for level in tree.levels[:-1]:
            sibling = at ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            at >>= 1
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) (RFC 6962 2.1.2): the old tree is a prefix of the new."""
        new_size = self.size if new_size is None else new_size
        if not 0 <= old_size <= new_size <= self.size:
            raise ProofError(f"cannot prove a tree of {old_size} inside one of {new_size}")
        if old_size in (0, new_size):
            return []
        tree = self if new_size == self.size else Levels.build(self.levels[0][:new_size])
        return tree._subproof(old_size, 0, new_size, complete=True)

    def _subproof(self, m: int, start: int, end: int, *, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.subtree(start, end)]
        k = _split(n)
        if m <= k:
            return [
                *self._subproof(m, start, start + k, complete=complete),
                self.subtree(start + k, end),
            ]
        return [
            *self._subproof(m - k, start + k, end, complete=False),
            self.subtree(start, start + k),
        ]


@dataclass
class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Appending is O(log n) and so is the root: the worker that follows the event store
    keeps one of these rather than every node.
    """

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        self.extend((leaf,))

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append each leaf in turn: one call for a round's leaves (the Merkle log's worker
        appends thousands a second), the right edge kept in locals meanwhile."""
        nodes, size = self.nodes, self.size
        pop, push = nodes.pop, nodes.append
        for leaf in leaves:
            node, carry = leaf, size
            while carry & 1:
                node = node_hash(pop(), node)
                carry >>= 1
            push(node)
            size += 1
        self.size = size

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        acc = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            acc = node_hash(node, acc)
        return acc


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2: raise ProofError unless `leaf` is leaf `index` of the tree `root`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} cannot be in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError(f"leaf {index} is not in the tree of {size} with this root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: raise ProofError unless the tree `old_root` is a prefix of `new_root`."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of {new_size} cannot extend one of {old_size}")
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError("two heads of the same size must have the same root")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise ProofError("the consistency proof is empty")
    fn, sn = old_size - 1, new_size - 1
    if fn & 1:
        while fn & 1:
            fn >>= 1
            sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the earlier root (tree of {old_size})")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the later root (tree of {new_size})")
