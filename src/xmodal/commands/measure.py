"""What ``xmodal eval`` and ``xmodal diagnose`` do, apart from argument parsing.

``xmodal eval --run RUN.json --qrels QRELS.json`` scores a trec-style run; ``xmodal eval --model
SPEC --data PAIRS`` embeds both sides of paired data (any ``load_pairs`` source) and scores
retrieval both ways. ``xmodal diagnose A.npy [B.npy]`` (or ``--index DIR --collection NAME
[--against NAME]``: the vectors of the documents in both collections) prints the findings and
writes an HTML report with ``--html``; for matched pairs it adds Recall@K curves (K = 1..100,
both directions, :func:`xmodal.diagnostics.report.recall_curves`), and with ``--calibrate`` a
calibrator fitted on the pairs
(:func:`xmodal.calibration.fit.fit_pair_calibration`: held-out precision, thresholds
by precision and recall, the calibration curve).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ._output import echo


def _read_json(path: str) -> dict[str, dict[str, float]]:
    data = json.loads(Path(path).expanduser().read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {{query: {{doc: value}}}}")
    return data


def run_eval(*, run: str | None, qrels: str | None, model: str | None, data: str | None,
             metrics: list[str], limit: int | None, as_json: bool) -> int:
    """Score a run against qrels, or a model on paired data; print a table or JSON."""
    from xmodal.eval import both_directions, retrieval_metrics

    try:
        if run and qrels:
            result: dict[str, Any] = {"run": retrieval_metrics(_read_json(qrels), _read_json(run),
                                                               metrics=metrics)}
        elif model and data:
            from xmodal.data.dedup import normalize_caption
            from xmodal.data.pairs import load_pairs
            from xmodal.encoders import load_encoder

            pairs = load_pairs(data, limit=limit)
            enc = load_encoder(model)
            items = getattr(enc, f"encode_{pairs.anchor_modality}")(list(pairs.anchors))
            texts = enc.encode_document(list(pairs.positives))
            keys: dict[str, int] = {}
            groups = np.array([keys.setdefault(normalize_caption(p), len(keys))
                               for p in pairs.positives])
            ks = sorted({int(m.split("@")[1]) for m in metrics})
            both = both_directions(items, texts, ks=tuple(ks), a_groups=groups,
                                   b_groups=groups, names=("item→text", "text→item"))
            result = {d: {m: v[m] for m in metrics if m in v} for d, v in both.items()}
        else:
            echo("error: give --run and --qrels, or --model and --data", err=True)
            return 2
    except (ValueError, FileNotFoundError, KeyError) as exc:
        echo(f"error: {exc}", err=True)
        return 2
    if as_json:
        echo(json.dumps(result, indent=1))
    else:
        for name, values in result.items():
            echo(f"{name}: " + "  ".join(f"{m} {v:.4f}" for m, v in values.items()))
    return 0


def _collection_vectors(index_uri: str, names: list[str]) -> list[np.ndarray]:
    """Vectors of the documents stored in every one of ``names`` (same order in each)."""
    from xmodal.index import open_index
    from xmodal.index.ingest import load_manifest, manifest_path, shared_records

    manifest = load_manifest(manifest_path(index_uri))
    with open_index(index_uri) as index:
        records = shared_records(index, manifest, names)
    if not records[0]:
        raise ValueError(f"no documents of the manifest are in {' and '.join(names)}")
    return [np.stack([r.vector for r in recs]) for recs in records]


def _calibration_summary(arrays: list[np.ndarray]) -> tuple[Any, dict[str, Any]]:
    """A calibrator fitted on matched pairs (b → a) and its JSON summary."""
    from xmodal.calibration.fit import fit_pair_calibration

    fit = fit_pair_calibration(arrays[0], arrays[1], precision=0.8, query_type="b→a")
    cal = fit.calibrator
    thresholds: dict[str, float | None] = {}
    for kind, choose in (("precision", cal.threshold_for_precision),
                         ("recall", cal.threshold_for_recall)):
        for target in (0.5, 0.8, 0.9):
            try:
                thresholds[f"{kind}>={target}"] = choose(target)
            except ValueError:  # not reachable on these pairs
                thresholds[f"{kind}>={target}"] = None
    scores = cal.fit_data[0] if cal.fit_data is not None else np.array([-1.0, 1.0])
    grid = np.linspace(float(scores.min()), float(scores.max()), 21)
    return cal, {"method": cal.method, "threshold": fit.threshold, "target": fit.target,
                 "heldout_precision": fit.heldout_precision,
                 "heldout_recall": fit.heldout_recall, "counts": fit.counts,
                 "thresholds": thresholds,
                 "curve": {"raw": grid.tolist(), "probability": cal(grid).tolist()}}


def run_diagnose(*, a: str | None, b: str | None, index_uri: str | None,
                 collection: str | None, against: str | None, html: str | None,
                 as_json: bool, calibrate: bool = False) -> int:
    """Diagnose embeddings (files or collections); print findings; optional HTML report."""
    from xmodal.diagnostics import diagnose, write_report
    from xmodal.diagnostics.report import recall_curves

    try:
        if index_uri and collection:
            names = [collection, *([against] if against else [])]
            arrays = _collection_vectors(index_uri, names)
        elif a:
            arrays = [np.load(a, allow_pickle=False), *([np.load(b, allow_pickle=False)]
                                                         if b else [])]
        else:
            echo("error: give A.npy [B.npy], or --index and --collection", err=True)
            return 2
        d = diagnose(*arrays)
        paired = len(arrays) > 1 and arrays[0].shape == arrays[1].shape
        curves = recall_curves(arrays[0], arrays[1]) if paired else None
        if calibrate and not paired:
            raise ValueError("--calibrate needs two modalities of matched pairs (A.npy B.npy)")
        cal, cal_json = _calibration_summary(arrays) if calibrate else (None, None)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        echo(f"error: {exc}", err=True)
        return 2
    if html:
        write_report(d, html, a=arrays[0], b=arrays[1] if len(arrays) > 1 else None,
                     curves=curves, calibrator=cal,
                     thresholds=cal_json["thresholds"] if cal_json else None)
    if as_json:
        extra: dict[str, Any] = {}
        if curves is not None:
            extra["recall_curves"] = curves
        if cal_json is not None:
            extra["calibration"] = cal_json
        echo(json.dumps({**d.to_json(), **extra}, indent=1))
    else:
        echo(f"{d.n} vectors, dim {d.dim}: random-pair cosine {d.random_pair_mean:.3f} ± "
             f"{d.random_pair_std:.3f}, effective rank {d.effective_rank:.1f}"
             + (f", gap {d.gap:.3f} (cosine distance {d.gap_cosine:.3f}), matched cosine "
                f"{d.matched_cos_mean:.3f}" if d.gap is not None else ""))
        for f in d.findings:
            echo(f"  {f.severity:<7} {f.code}: {f.message}" + (f" — {f.remedy}"
                                                              if f.remedy else ""))
        if cal_json:
            echo(f"  calibration ({cal_json['method']}): threshold {cal_json['threshold']:.4f} "
                 f"for precision 0.8, held-out precision {cal_json['heldout_precision']:.3f}, "
                 f"recall {cal_json['heldout_recall']:.3f}")
        if html:
            echo(f"report: {html}")
    return 1 if any(f.severity == "error" for f in d.findings) else 0
