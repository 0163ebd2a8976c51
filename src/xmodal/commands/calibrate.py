"""What ``xmodal calibrate`` does: fit and store each item collection's text-query calibration.

For every item collection (image / audio) whose model also has a text collection holding the same
documents' captions (documents of the manifest stored in both), the text → item query type is
calibrated on matched (item, its caption) vs non-matched (item, another document's caption) pairs
(:func:`xmodal.calibration.fit.fit_pair_calibration`; documents with the same
normalised caption are never each other's negatives). The caption side is the model's *query*
embedding of the caption text (``encode_query``: what a search embeds) when the caption is in the
payload and the model loads, else the stored text vector. The entry is stored under the ``"text"``
key of the item collection's calibration (other query modalities' entries are kept); the layout is
in :mod:`xmodal.calibration.stored`. With ``gap=True`` a text → item gap projection is stored in the
same entry (inline JSON: no side files, so every backend keeps it).

Example (exact store; real runs: ``xmodal calibrate --index DIR --precision 0.8``)::

    results = calibrate_index("exact:idx", precision=0.8)
    print(results[0].collection, results[0].fit.threshold, results[0].fit.heldout_precision)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xmodal.calibration.calibrator import CalibrationMethod
from xmodal.calibration.fit import PairCalibration, fit_pair_calibration

from ._output import echo

__all__ = ["CalibrationResult", "calibrate_index", "run_calibrate"]


@dataclass(frozen=True)
class CalibrationResult:
    """One calibrated item collection: what was fitted and how the text side was embedded."""

    collection: str
    text_collection: str
    query_type: str
    text_vectors: str  # "encode_query", "stored" or "encode_query+stored"
    fit: PairCalibration


def _pairs(index: Any, manifest: dict[str, Any], item: Any, text: Any,
           load: Callable[[str], Any] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(items, texts, caption groups, how the texts were embedded) of the shared documents."""
    from xmodal.data.dedup import normalize_caption
    from xmodal.index.ingest import shared_records

    item_recs, text_recs = shared_records(index, manifest, [item.name, text.name])
    if len(item_recs) < 4:
        raise ValueError(f"{item.name}: only {len(item_recs)} documents also in {text.name}")
    items = np.stack([r.vector for r in item_recs]).astype(np.float64)  # (n, d)
    texts = np.stack([r.vector for r in text_recs]).astype(np.float64)  # (n, d)
    captions = [t.payload.get("caption") or i.payload.get("caption")
                for i, t in zip(item_recs, text_recs, strict=True)]
    how = "stored"
    with_caption = [j for j, c in enumerate(captions) if c]
    if with_caption and load is not None:
        try:
            enc = load(item.model)
            texts[with_caption] = np.asarray(
                enc.encode_query([captions[j] for j in with_caption]), np.float64)
            how = "encode_query" if len(with_caption) == len(item_recs) else "encode_query+stored"
        except Exception as exc:  # no model here: the stored caption vectors still calibrate
            how = f"stored ({item.model} did not load: {exc})"
    keys: dict[str, int] = {}
    groups = np.array([keys.setdefault(normalize_caption(c), len(keys)) if c
                       else -1 - j for j, c in enumerate(captions)])
    return items, texts, groups, how


def calibrate_index(
    index_uri: str,
    *,
    collections: Sequence[str] | None = None,
    precision: float | None = None,
    recall: float | None = None,
    method: CalibrationMethod = "isotonic",
    gap: bool = False,
    holdout: float = 0.3,
    negatives: int = 10,
    seed: int = 0,
    load: Callable[[str], Any] | None = None,
) -> list[CalibrationResult]:
    """Calibrate text queries on each item collection of an index and store the result.

    Args:
        index_uri: The index (``open_index`` URI); its manifest says which documents match.
        collections: Item collections to calibrate (default: every image / audio collection
            whose model has a text collection).
        precision: Target precision of the stored threshold (default 0.8).
        recall: Or a target recall.
        method: ``"isotonic"`` or ``"platt"``.
        gap: Also fit and store a text → item gap projection.
        holdout: Share of documents held out to check the threshold.
        negatives: Non-matched pairs per item.
        seed: Seed of the split and the negatives.
        load: Loads a model by name to embed captions as queries (default:
            :func:`xmodal.encoders.load_encoder`; when the model does not load, the stored
            caption vectors are used).

    Raises:
        ValueError: no collection to calibrate, a named one is not an item collection with a
            text collection, or a fit fails (too few documents, unreachable target).
    """
    from xmodal.index import collection_name, open_index
    from xmodal.index.ingest import load_manifest, manifest_path

    if load is None:
        from xmodal.encoders import load_encoder

        load = load_encoder
    manifest = load_manifest(manifest_path(index_uri))
    results = []
    with open_index(index_uri) as index:
        infos = {c.name: c for c in index.collections()}
        names = list(collections) if collections else [
            n for n, c in infos.items() if c.modality in ("image", "audio")
            and collection_name(c.model, "text") in infos]
        if not names:
            raise ValueError("no image or audio collection with a caption collection to "
                             "calibrate")
        for name in names:
            item = infos.get(name)
            if item is None or item.modality not in ("image", "audio"):
                raise ValueError(f"{name!r} is not an image or audio collection of this index")
            text = infos.get(collection_name(item.model, "text"))
            if text is None:
                raise ValueError(f"{name}: model {item.model} has no text collection")
            items, texts, groups, how = _pairs(index, manifest, item, text, load)
            query_type = f"text→{item.modality}"
            try:
                fit = fit_pair_calibration(items, texts, groups=groups, precision=precision,
                                           recall=recall, method=method, query_type=query_type,
                                           model=item.model, holdout=holdout,
                                           negatives=negatives, gap=gap, seed=seed)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
            old = item.calibration or {}
            nested = {k: v for k, v in old.items()
                      if k in ("image", "audio") and isinstance(v, dict)}
            index.collection(name).set_calibration({**nested, "text": fit.entry()})
            results.append(CalibrationResult(name, text.name, query_type, how, fit))
    return results


def run_calibrate(*, index_uri: str, collections: list[str] | None, precision: float | None,
                  recall: float | None, method: str, gap: bool, as_json: bool) -> int:
    """``xmodal calibrate``: fit, store, print a table (or JSON); 2 on bad input."""
    if method not in ("isotonic", "platt"):
        echo(f"error: --method must be isotonic or platt, got {method!r}", err=True)
        return 2
    try:
        results = calibrate_index(index_uri, collections=collections, precision=precision,
                                  recall=recall, method=method, gap=gap)  # type: ignore[arg-type]
    except (ValueError, KeyError, FileNotFoundError) as exc:
        echo(f"error: {exc}", err=True)
        return 2
    rows = [{"collection": r.collection, "text_collection": r.text_collection,
             "query_type": r.query_type, "text_vectors": r.text_vectors,
             "method": r.fit.calibrator.method, "target": r.fit.target,
             "threshold": r.fit.threshold, "heldout_precision": r.fit.heldout_precision,
             "heldout_recall": r.fit.heldout_recall, "counts": r.fit.counts,
             "heldout_gap": r.fit.heldout_gap} for r in results]
    if as_json:
        echo(json.dumps(rows, indent=1))
        return 0
    echo(f"{'collection':<28} {'query':<12} {'target':<16} {'threshold':>9} "
         f"{'held-out P':>10} {'held-out R':>10} {'pairs fit/held':>15}  gap before→after")
    for r in rows:
        (key, value), = r["target"].items()
        c = r["counts"]
        gap_text = (f"{r['heldout_gap']['before']:.3f}→{r['heldout_gap']['after']:.3f}"
                    if r["heldout_gap"] else "–")
        echo(f"{r['collection']:<28} {r['query_type']:<12} {key + '>=' + str(value):<16} "
             f"{r['threshold']:>9.4f} {r['heldout_precision']:>10.3f} "
             f"{r['heldout_recall']:>10.3f} {c['fit_docs']:>7}/{c['heldout_docs']:<7}  "
             f"{gap_text}")
    return 0
