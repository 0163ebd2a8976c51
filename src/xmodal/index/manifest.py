"""The ingest manifest (path → document id, content hash, collections, segments) and the
report of an ingest (:class:`IngestReport`, and its JSON, which ``xmodal index --json`` prints
and ``POST /index`` answers). :mod:`xmodal.index.ingest` writes both; the manifest's storage (a
SQLite table written row by row; older indexes' JSON still read, and migrated on the first
write) is :mod:`xmodal.index.manifest_store`.

Example:
    >>> manifest_path("exact:/data/idx").name
    'xmodal-manifest.sqlite'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typing_extensions import TypedDict  # pydantic reads this one below Python 3.12

from xmodal.data.content_keys import KnownFile
from xmodal.data.problems import ItemProblem

from .manifest_store import Manifest, load_manifest, manifest_stamp, save_manifest
from .protocols import Index

__all__ = ["MANIFEST", "IndexReportJSON", "IngestReport", "Manifest", "PathProblemJSON",
           "known_files", "load_manifest", "manifest_path", "manifest_stamp", "save_manifest",
           "shared_records"]

MANIFEST = "xmodal-manifest.sqlite"
"""The manifest's file in an index folder (older indexes: ``xmodal-manifest.json``, read until
the first write migrates it)."""


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did."""

    indexed: int  # documents encoded and stored in this run
    unchanged: int  # documents already stored with the same content (skipped)
    replaced: int  # documents whose file changed (old versions deleted)
    pruned: int  # documents of files that no longer exist (deleted, with prune=True)
    failed: tuple[ItemProblem, ...]  # files that could not be encoded, with the reason
    skipped: tuple[ItemProblem, ...]  # files not indexed by design (type, size, no encoder)
    collections: tuple[str, ...]  # the collections written to
    # files indexed with what decoded, one per warning (a truncated video decoded in part)
    warnings: tuple[ItemProblem, ...] = ()

    def summary(self) -> str:
        """One line for people."""
        warned = f", warnings {len(self.warnings)}" if self.warnings else ""
        return (f"indexed {self.indexed}, unchanged {self.unchanged}, replaced "
                f"{self.replaced}, pruned {self.pruned}, failed {len(self.failed)}, skipped "
                f"{len(self.skipped)}{warned} "
                f"({', '.join(self.collections) or 'no collections'})")

    def to_json(self, *, scan_skipped: Sequence[ItemProblem] = (),
                seconds: float) -> IndexReportJSON:
        """What ``xmodal index --json`` prints and ``POST /index`` answers.

        Args:
            scan_skipped: Files the scan skipped (listed before the ingest's own skips).
            seconds: The wall time of scan plus ingest (rounded to 0.01 s).

        Example:
            >>> report = IngestReport(2, 0, 0, 0, (), (), ("emoji.image",))
            >>> report.to_json(seconds=1.234)["seconds"], report.to_json(seconds=1)["warnings"]
            (1.23, [])
        """
        return IndexReportJSON(
            indexed=self.indexed, unchanged=self.unchanged, replaced=self.replaced,
            pruned=self.pruned, failed=[_problem(p) for p in self.failed],
            skipped=[_problem(p) for p in (*scan_skipped, *self.skipped)],
            warnings=[_problem(p) for p in self.warnings],
            collections=list(self.collections), seconds=round(seconds, 2))


class PathProblemJSON(TypedDict):
    """A file and a reason: why it was not indexed (``failed``, ``skipped``), or what was
    wrong with what was indexed of it (``warnings``)."""

    path: str
    reason: str


class IndexReportJSON(TypedDict):
    """An ingest as JSON (:meth:`IngestReport.to_json`)."""

    indexed: int
    unchanged: int
    replaced: int
    pruned: int
    failed: list[PathProblemJSON]
    skipped: list[PathProblemJSON]
    warnings: list[PathProblemJSON]  # indexed, but not whole (a truncated video...)
    collections: list[str]
    seconds: float


def _problem(p: ItemProblem) -> PathProblemJSON:
    return PathProblemJSON(path=p.item, reason=p.reason)


def manifest_path(index_uri: str) -> Path:
    """Where the manifest of an index lives: in its folder, or in the user cache for servers."""
    if "://" in index_uri or index_uri.startswith("qdrant-local::memory:"):
        key = hashlib.sha256(index_uri.encode()).hexdigest()[:16]
        return Path("~/.cache/xmodal/manifests").expanduser() / f"{key}.sqlite"
    folder = index_uri.split(":", 1)[1] if index_uri.startswith(("exact:", "qdrant-local:")) \
        else index_uri
    return Path(folder).expanduser() / MANIFEST


def known_files(manifest: Mapping[str, Mapping[str, Any]]) -> dict[str, KnownFile]:
    """``(size, mtime_ns, sha256)`` per path whose entry records the file's ``stat``: what a
    re-scan may trust instead of reading the file (:mod:`xmodal.data.content_keys`).

    Example:
        >>> known_files({"/a.png": {"sha256": "ab", "stat": [5, 7]}, "/b.png": {"sha256": "cd"}})
        {'/a.png': (5, 7, 'ab')}
    """
    return {path: (int(e["stat"][0]), int(e["stat"][1]), str(e["sha256"]))
            for path, e in manifest.items() if e.get("stat") and e.get("sha256")}


def shared_records(index: Index, manifest: Mapping[str, Mapping[str, Any]],
                   names: Sequence[str]) -> list[list[Any]]:
    """The stored records of the manifest's documents held in every one of ``names``: one
    list per name, aligned row by row (a document missing from any collection is left out).

    The representations of one document (an image, its caption) share the document id, so
    row ``i`` of every list is the same document: matched pairs for calibration and
    diagnostics.
    """
    docs = sorted({e["doc"] for e in manifest.values()
                   if set(names) <= set(e.get("collections", ()))})
    records = [index.collection(n).get(docs) for n in names]
    keep = [i for i in range(len(docs)) if all(r[i] is not None for r in records)]
    return [[r[i] for i in keep] for r in records]
