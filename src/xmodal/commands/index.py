"""What ``xmodal index`` does, apart from argument parsing: scan, encode and store a corpus.

Progress goes to stderr: live on a terminal (files done, items/s, ETA, failures so far:
:mod:`xmodal.commands.index_progress`), one line per batch otherwise, none with ``--json``.
Results go to stdout (a summary, or JSON with ``--json``:
:meth:`~xmodal.index.ingest.IngestReport.to_json`, which ``POST /index`` answers too); failed
and skipped files, and the warnings of files indexed in part (a truncated video), go to stderr
and into the JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ._output import echo
from .index_progress import IndexProgress

DEFAULT_MODELS = {"image": "starter-image", "audio": "starter-audio", "text": "minilm"}
"""Encoder per document modality when none is given: the packaged models (no download)."""


FILES_PER_STEP = 64
"""Files ingest encodes and stores per step (more with a larger ``batch_size``)."""


def _encoders(models: dict[str, str], wanted: set[str], *, device: str = "cpu",
              batch_size: int | None = None) -> dict[str, Any]:
    """The encoder of each wanted modality, loaded on ``device``, encoding ``batch_size``
    items per forward pass (None: the encoder's own default)."""
    import xmodal.encoders
    from xmodal.encoders.batch_size import BatchSized

    def load(spec: str) -> Any:
        encoder = xmodal.encoders.load_encoder(spec, device=device)
        return encoder if batch_size is None else BatchSized(encoder, batch_size)

    return {m: load(spec) for m, spec in models.items() if m in wanted and spec}


def run_index(paths: list[str], *, index_uri: str, models: dict[str, str], prune: bool,
              workers: int, as_json: bool, files: list[Any] | None = None,
              quantization: str | None = None, device: str = "cpu",
              batch_size: int | None = None, rehash: bool = False) -> int:
    """Scan, encode and store; exit 0 unless nothing could be indexed and something failed
    (2: bad input, e.g. an unknown ``quantization`` or one an existing collection lacks).
    ``device``: where the models run (checked by the caller); ``batch_size``: items per
    forward pass (None: the encoders' own), and at least that many files per step; ``rehash``:
    read every file, even one whose size and mtime the manifest records unchanged."""
    from xmodal.data.corpus import scan_corpus
    from xmodal.index import CollectionMismatchError, open_index
    from xmodal.index.ingest import ingest, manifest_path
    from xmodal.index.manifest import known_files, load_manifest
    from xmodal.index.quantization import check_quantization
    from xmodal.index.video_ingest import encoder_modalities

    try:
        quant = None if quantization is None else check_quantization(quantization)
    except ValueError as exc:
        echo(f"error: --quantization: {exc}", err=True)
        return 2
    started = time.perf_counter()
    skipped_scan: list[Any] = []
    if files is None:
        try:
            known = None if rehash else known_files(load_manifest(manifest_path(index_uri)))
            scan = scan_corpus(paths, known=known)
        except (FileNotFoundError, ValueError) as exc:  # a missing folder, a corrupt manifest
            echo(f"error: {exc}", err=True)
            return 2
        files, skipped_scan = list(scan.files), list(scan.skipped)
    try:
        encoders = _encoders(models, encoder_modalities([f.modality for f in files]),
                             device=device, batch_size=batch_size)
    except (ImportError, RuntimeError, ValueError, OSError) as exc:  # a model that won't load
        echo(f"error: {exc}", err=True)
        return 2

    show = IndexProgress.for_stderr()
    with open_index(index_uri) as index, show:
        try:
            report = ingest(index, files=files, encoders=encoders,
                            manifest=manifest_path(index_uri), prune=prune, workers=workers,
                            progress=None if as_json else show, on_stored=show.on_stored,
                            quantization=quant, batch_size=max(FILES_PER_STEP, batch_size or 0))
        except CollectionMismatchError as exc:  # refused before anything was stored
            echo(f"error: {exc}", err=True)
            return 2
    skipped = [*skipped_scan, *report.skipped]
    seconds = time.perf_counter() - started
    for p in report.failed:
        echo(f"failed: {p.item}: {p.reason}", err=True)
    for p in report.warnings:
        echo(f"warning: {p.item}: {p.reason}", err=True)
    if as_json:
        echo(json.dumps(report.to_json(scan_skipped=skipped_scan, seconds=seconds), indent=1))
    else:
        echo(f"{report.summary()} in {seconds:.1f} s")
        for p in skipped[:20]:
            echo(f"skipped: {p.item}: {p.reason}", err=True)
    nothing = report.indexed == 0 and report.unchanged == 0
    return 1 if nothing and report.failed else 0
