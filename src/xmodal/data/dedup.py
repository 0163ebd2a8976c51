"""Deduplicating (item, caption) training pairs, and grouping the rows that must not be negatives.

Contrastive losses treat every other row of a batch as a negative. A pair listed twice (the same
image under two file names, a re-encoded copy, a caption scraped twice) is then its own
negative: the loss pushes apart two things that are the same, and the duplicate also counts
twice. So duplicates are removed, and the rows that stay but still must not repel each other get
one *group id*; xmodal's losses take ``group_ids`` and never use a row of the anchor's group as
a negative (multi-positive).

What is linked into one cluster:

* the same content (:func:`~xmodal.data.content.content_hash`), always;
* with ``embeddings``, items whose cosine is at least ``threshold`` (near duplicates: resized,
  re-compressed, cropped copies), joined transitively (union-find).

Within a cluster, rows with the same normalised caption (Unicode NFC, casefolded, whitespace
collapsed) are one example: the first is kept. Rows with different captions are a *conflict*
(the same picture described twice), handled by ``conflicts``. Finally, rows with the same
normalised caption but different content get the same group id too: a caption shared by two
images would otherwise be a false negative for each. (A generic caption such as "a photo" thus
makes one large group; such rows stay in the data, only as each other's positives.)

The near-duplicate search is exact, not approximate: a blockwise matrix product of
``chunk_size``-square tiles, so memory stays ``O(chunk_size²)`` and never holds ``n × n``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from xmodal.modalities import MODALITIES, Modality

from .content import content_hash

ConflictPolicy = Literal["merge", "drop", "keep"]
_NORM_TOL = 1e-3  # allowed | ||row|| - 1 | of the embeddings


@dataclass(frozen=True)
class Removal:
    """One row removed by :func:`dedup_pairs`.

    Attributes:
        index: The removed row (original index).
        kept_as: The kept row it duplicates, or None when no row of its cluster is kept.
        reason: E.g. ``"exact duplicate of #0"``, ``"near duplicate of #3 (cosine 0.971)"``,
            ``"conflicting captions with #5"``.
        similarity: The cosine to the row named in ``reason`` when embeddings were given and the
            content differs, else None.
    """

    index: int
    kept_as: int | None
    reason: str
    similarity: float | None

    @property
    def kind(self) -> Literal["exact", "near", "conflict"]:
        """``"exact"``, ``"near"`` or ``"conflict"``, from the reason."""
        if self.reason.startswith("exact"):
            return "exact"
        return "near" if self.reason.startswith("near") else "conflict"


@dataclass(frozen=True, eq=False)
class DedupResult:
    """What :func:`dedup_pairs` keeps, removes and groups.

    Attributes:
        keep: (k,) int64 original indices of the kept rows, ascending.
        group_ids: (k,) int64 group of each kept row, dense ``0..G-1`` in order of first kept
            row; rows of one group must not be each other's negatives.
        removed: The removed rows, by ascending index.
        conflicts: Clusters (all their original indices, ascending) whose captions differ.
    """

    keep: np.ndarray
    group_ids: np.ndarray
    removed: tuple[Removal, ...]
    conflicts: tuple[tuple[int, ...], ...]

    def report(self, max_lines: int = 20) -> str:
        """A summary: counts, then the first removals and conflicts, one per line.

        Args:
            max_lines: How many removal and conflict lines to show at most.

        Returns:
            The text, without a trailing newline.
        """
        kinds = [r.kind for r in self.removed]
        n_groups = int(self.group_ids.max()) + 1 if len(self.group_ids) else 0
        lines = [
            f"dedup: kept {len(self.keep)} rows in {n_groups} groups, removed {len(kinds)} "
            f"(exact {kinds.count('exact')}, near {kinds.count('near')}, "
            f"conflict {kinds.count('conflict')}); conflicts {len(self.conflicts)}"
        ]
        details = [f"  #{r.index}: {r.reason}" for r in self.removed]
        details += [f"  conflict: {', '.join(f'#{i}' for i in c)}" for c in self.conflicts]
        lines += details[:max_lines]
        if len(details) > max_lines:
            lines.append(f"  ... and {len(details) - max_lines} more")
        return "\n".join(lines)


def dedup_pairs(
    items: Sequence[object],
    captions: Sequence[str],
    *,
    modality: Modality = "image",
    embeddings: np.ndarray | None = None,
    threshold: float = 0.95,
    conflicts: ConflictPolicy = "merge",
    chunk_size: int = 4096,
) -> DedupResult:
    """Remove duplicate (item, caption) pairs and group the rows that must not be negatives.

    Args:
        items: Images or audio (paths, bytes, arrays, PIL images: whatever
            :func:`~xmodal.data.content.content_hash` hashes), or texts with ``modality="text"``.
        captions: One ``str`` per item: the other side of each pair.
        modality: What the items are; says whether a ``str`` item is a text or a path.
        embeddings: Optional ``(n, d)`` float array, one finite L2-normalised row per item
            (within 1e-3), to find near duplicates; without it only identical content links.
        threshold: Cosine at or above which two items are near duplicates, in ``(0, 1]``.
        conflicts: Clusters with different captions: ``"merge"`` keeps one row per caption, all
            in one group; ``"drop"`` removes the whole cluster; ``"keep"`` keeps one row per
            caption in separate groups and only reports the conflict.
        chunk_size: Tile edge of the blockwise similarity search (memory ``chunk_size²``).

    Returns:
        The kept rows with their group ids, the removals and the conflicting clusters.

    Raises:
        ValueError: Lengths differ, a bad option, or a bad embedding row (named).
        TypeError: A caption that is not a ``str``, or an item ``content_hash`` cannot hash.

    Example:
        >>> r = dedup_pairs(["a dog", "a cat", "a dog"], ["Dog", "cat", " dog"], modality="text")
        >>> r.keep.tolist(), r.group_ids.tolist(), r.removed[0].reason
        ([0, 1], [0, 1], 'exact duplicate of #0')
        >>> import numpy as np
        >>> items = [np.zeros(3), np.ones(3), np.full(3, 2.0)]
        >>> emb = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])  # 0~1 and 1~2, not 0~2
        >>> r = dedup_pairs(items, ["red", "Red", "blue"], embeddings=emb, threshold=0.5)
        >>> r.keep.tolist(), r.group_ids.tolist(), r.conflicts
        ([0, 2], [0, 0], ((0, 1, 2),))
        >>> r.removed[0].reason
        'near duplicate of #0 (cosine 0.600)'
    """
    n = _check_args(items, captions, modality, threshold, conflicts, chunk_size)
    emb = None if embeddings is None else _check_embeddings(embeddings, n)
    hashes = [content_hash(item, modality) for item in items]
    norm = [normalize_caption(c) for c in captions]

    clusters = _UnionFind(n)
    first_of: dict[str, int] = {}
    for i, h in enumerate(hashes):
        clusters.union(first_of.setdefault(h, i), i)
    if emb is not None:
        reps = np.fromiter(first_of.values(), dtype=np.int64)  # (m,) one row per content
        for a, b in _near_pairs(emb[reps], threshold, chunk_size):
            clusters.union(int(reps[a]), int(reps[b]))

    def cosine(i: int, j: int) -> float | None:
        return None if emb is None or hashes[i] == hashes[j] else float(emb[i] @ emb[j])

    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(clusters.find(i), []).append(i)  # ascending within each cluster
    removed: list[Removal] = []
    conflicting: list[tuple[int, ...]] = []
    kept: list[int] = []
    groups = _UnionFind(n)
    for rows in members.values():
        by_caption: dict[str, list[int]] = {}
        for i in rows:
            by_caption.setdefault(norm[i], []).append(i)
        if len(by_caption) > 1:
            conflicting.append(tuple(rows))
            if conflicts == "drop":
                for i in rows:
                    other = next(j for j in rows if norm[j] != norm[i])
                    removed.append(
                        Removal(i, None, f"conflicting captions with #{other}", cosine(i, other))
                    )
                continue
        for first, *dups in by_caption.values():
            kept.append(first)
            if conflicts == "merge":
                groups.union(rows[0], first)
            for i in dups:
                sim = cosine(i, first)  # None: same content (different content needs embeddings)
                why = f"exact duplicate of #{first}"
                if sim is not None:
                    why = f"near duplicate of #{first} (cosine {sim:.3f})"
                removed.append(Removal(i, first, why, sim))

    keep = np.array(sorted(kept), dtype=np.int64)  # (k,)
    first_with_caption: dict[str, int] = {}
    for i in keep.tolist():
        groups.union(first_with_caption.setdefault(norm[i], i), i)  # same caption: one group
    roots = [groups.find(i) for i in keep.tolist()]
    dense: dict[int, int] = {}
    group_ids = np.array([dense.setdefault(r, len(dense)) for r in roots], dtype=np.int64)  # (k,)
    keep.setflags(write=False)
    group_ids.setflags(write=False)
    return DedupResult(
        keep=keep,
        group_ids=group_ids,
        removed=tuple(sorted(removed, key=lambda r: r.index)),
        conflicts=tuple(sorted(conflicting)),
    )


def normalize_caption(caption: str) -> str:
    """A caption as dedup compares it: Unicode NFC, casefolded, whitespace collapsed, stripped.

    Example:
        >>> normalize_caption("  A\\tCafe\\u0301 ") == normalize_caption("a café")
        True
    """
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", caption).casefold())
    return " ".join(folded.split())


def _check_args(
    items: Sequence[object],
    captions: Sequence[str],
    modality: str,
    threshold: float,
    conflicts: str,
    chunk_size: int,
) -> int:
    """Validate the arguments of :func:`dedup_pairs`; returns ``n``."""
    if len(items) != len(captions):
        raise ValueError(f"got {len(items)} items but {len(captions)} captions")
    for i, caption in enumerate(captions):
        if not isinstance(caption, str):
            raise TypeError(f"captions[{i}] is a {type(caption).__name__}, not a str")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if conflicts not in get_args(ConflictPolicy):
        raise ValueError(f"conflicts must be one of {get_args(ConflictPolicy)}, got {conflicts!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    if not 0.0 < threshold <= 1.0:  # also rejects NaN
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be an int, got {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    return len(items)


def _check_embeddings(embeddings: np.ndarray, n: int) -> np.ndarray:
    """The embeddings as a float array, checked: ``(n, d)``, finite, unit rows."""
    emb = np.asarray(embeddings)
    if not np.issubdtype(emb.dtype, np.floating):
        raise TypeError(f"embeddings must be a float array, got dtype {emb.dtype}")
    if emb.ndim != 2 or emb.shape[0] != n:
        raise ValueError(f"embeddings must have shape ({n}, d) (one row per item), got {emb.shape}")
    emb = emb.astype(np.result_type(emb.dtype, np.float32), copy=False)  # (n, d)
    finite = np.isfinite(emb).all(axis=1)  # (n,)
    norms = np.linalg.norm(np.where(finite[:, None], emb, 0.0).astype(np.float64), axis=1)  # (n,)
    bad = np.flatnonzero(~finite | (np.abs(norms - 1.0) > _NORM_TOL))
    if len(bad):
        i = int(bad[0])
        if not finite[i]:
            raise ValueError(f"embeddings row {i} is not finite (NaN or Inf)")
        raise ValueError(
            f"embeddings row {i} has L2 norm {norms[i]:.6g}, not 1 (within "
            f"{_NORM_TOL:g}): L2-normalise the rows first"
        )
    return emb


def _tile(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of two blocks of unit rows: ``(p, d) x (q, d) -> (p, q)``."""
    return a @ b.T  # (p, q)


def _near_pairs(emb: np.ndarray, threshold: float, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Every ``(i, j)``, ``i < j``, with ``emb[i] @ emb[j] >= threshold``, tile by tile."""
    m = emb.shape[0]
    for a in range(0, m, chunk_size):
        block = emb[a : a + chunk_size]  # (p, d)
        for b in range(a, m, chunk_size):
            sims = _tile(block, emb[b : b + chunk_size])  # (p, q)
            ii, jj = np.nonzero(sims >= threshold)  # (links,) each
            ii, jj = ii + a, jj + b
            upper = ii < jj  # a tile on the diagonal holds each pair twice, and i == i
            yield from zip(ii[upper].tolist(), jj[upper].tolist(), strict=True)


class _UnionFind:
    """Disjoint sets over ``0..n-1``; the root of a set is its smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)
