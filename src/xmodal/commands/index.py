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


def _space_encoders(index: Any, encoders: dict[str, Any], models: dict[str, str], *,
                    device: str, batch_size: int | None) -> list[Any]:
    """The cross-modal encoders text documents also go to: this run's image/audio models and
    the index's other cross-modal models (loaded by name, as a search loads them). A model
    that will not load is a warning: the text model still indexes the documents."""
    import xmodal.encoders
    from xmodal.encoders.batch_size import BatchSized
    from xmodal.index.text_spaces import cross_modal, space_models

    def by_name(name: str) -> dict[str, Any]:
        encoder = xmodal.encoders.load_encoder(name, device=device)
        return {name: encoder if batch_size is None else BatchSized(encoder, batch_size)}

    mine = cross_modal(e for m, e in encoders.items() if m != "text")
    loads = [(models[m], lambda m=m: _encoders(models, {m}, device=device,
                                               batch_size=batch_size))
             for m in ("image", "audio") if m not in encoders and models.get(m)]
    have = set(models.values()) | {e.card.name for e in encoders.values()}
    loads += [(n, lambda n=n: by_name(n)) for n in space_models(index.collections())
              if n not in have]
    for name, load in loads:  # text files alone: the image/audio models, for their text side
        try:
            mine += [e for e in cross_modal(load().values())
                     if e.card.name not in {x.card.name for x in mine}]
        except (ImportError, RuntimeError, ValueError, OSError, KeyError) as exc:
            echo(f"warning: text documents not embedded by {name}: {exc}", err=True)
    return mine


def run_remove(models: list[str], *, index_uri: str) -> int:
    """``xmodal index --remove-model NAME``: take models out of an index
    (:func:`~xmodal.index.text_spaces.remove_model`); exit 2 naming a model it lacks."""
    from xmodal.index import open_index
    from xmodal.index.ingest import manifest_path
    from xmodal.index.text_spaces import remove_model

    with open_index(index_uri) as index:
        for model in models:
            try:
                dropped = remove_model(index, model, manifest_file=manifest_path(index_uri))
            except ValueError as exc:
                echo(f"error: {exc}", err=True)
                return 2
            echo(f"removed {model}: {', '.join(dropped)}")
    return 0


def run_index(paths: list[str], *, index_uri: str, models: dict[str, str], prune: bool,
              workers: int, as_json: bool, files: list[Any] | None = None,
              quantization: str | None = None, device: str = "cpu",
              batch_size: int | None = None, cross_modal_text: bool = True,
              rehash: bool = False) -> int:
    """Scan, encode and store; exit 0 unless nothing could be indexed and something failed
    (2: bad input, e.g. an unknown ``quantization`` or one an existing collection lacks).
    ``device``: where the models run (checked by the caller); ``batch_size``: items per
    forward pass (None: the encoders' own), and at least that many files per step.
    ``cross_modal_text``: text documents also go to the text side of every image/audio model
    of the run (loaded even when no image or audio file is given) and of the index, so image
    and audio queries reach them (:mod:`xmodal.index.text_spaces`); ``rehash``: read every
    file, even one whose size and mtime the manifest records unchanged."""
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
    wanted = encoder_modalities([f.modality for f in files])
    try:
        encoders = _encoders(models, wanted, device=device, batch_size=batch_size)
    except (ImportError, RuntimeError, ValueError, OSError) as exc:  # a model that won't load
        echo(f"error: {exc}", err=True)
        return 2

    show = IndexProgress.for_stderr()
    with open_index(index_uri) as index, show:
        texts = "text" in encoders and any(f.modality == "text" for f in files)
        spaces = _space_encoders(index, encoders, models, device=device,
                                 batch_size=batch_size) if cross_modal_text and texts else []
        try:
            report = ingest(index, files=files, encoders=encoders, spaces=spaces,
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
