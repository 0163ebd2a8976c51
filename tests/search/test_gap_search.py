"""Gap projection at query time: on synthetic pairs with a known modality gap, a mixed ranking
(items and other captions together, text queries) improves and cross-modal recall holds; the
projection stored by ``xmodal calibrate --gap`` is what ``Searcher(project=True)`` applies."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.search.synthetic import build_index, gapped_pairs
from xmodal.cli import app
from xmodal.diagnostics import GapProjection
from xmodal.eval import paired_retrieval_metrics
from xmodal.index import open_index
from xmodal.search.searcher import Searcher


def test_projection_improves_the_mixed_ranking_and_keeps_cross_modal_recall():
    items, texts = gapped_pairs(1500, noise=1.0, offset=4.0, seed=5)
    fit, held, other = slice(0, 600), slice(600, 1000), slice(1000, 1500)
    proj = GapProjection.fit(texts[fit], items[fit])  # a = text, b = item
    queries, targets = texts[held], items[held]  # (400, d) each
    mixed = np.concatenate([targets, texts[other]])  # items + 500 other documents' captions
    positives = [{i} for i in range(len(queries))]
    projected = proj.transform(queries)
    before = paired_retrieval_metrics(queries, mixed, positives, ks=(10,))
    after = paired_retrieval_metrics(projected, mixed, positives, ks=(10,))
    assert after["recall@10"] > before["recall@10"] + 0.2  # the gap hid the items
    cross_before = paired_retrieval_metrics(queries, targets, positives, ks=(10,))
    cross_after = paired_retrieval_metrics(projected, targets, positives, ks=(10,))
    assert cross_after["recall@10"] >= cross_before["recall@10"] - 0.02


@pytest.mark.parametrize("backend", ["exact", "edge"])
def test_calibrate_gap_stores_the_projection_and_search_applies_it(tmp_path, monkeypatch,
                                                                   backend):
    if backend == "edge":
        pytest.importorskip("qdrant_edge")
    uri, items, texts, _, enc = build_index(tmp_path / "idx", n=400, backend=backend)
    monkeypatch.setattr("xmodal.encoders.load_encoder", lambda name, **how: enc)
    got = CliRunner().invoke(app, ["calibrate", "--index", uri, "--gap", "--json"])
    assert got.exit_code == 0, got.output
    with open_index(uri) as index:
        entry = index.collection("syn.image").info.calibration["text"]
        proj = GapProjection.from_dict(entry["projection"])
        gap = entry["projection"]["heldout_gap"]
        assert gap["after"] < gap["before"] / 2
        searcher = Searcher(index, load=lambda name: enc, router_model=None)
        plain = searcher.search("doc 9", collections=["syn.image"], modalities=["image"], k=10)
        result = searcher.search("doc 9", collections=["syn.image"], modalities=["image"],
                                 k=10, project=True)
    q = proj.transform(texts[9]).astype(np.float64)
    scores = items.astype(np.float32).astype(np.float64) @ q
    order = sorted(range(len(items)), key=lambda j: (-scores[j], j))[:10]
    assert [h.id for h in result.hits] == [f"d{j:04d}" for j in order]
    assert [h.score for h in result.hits] == pytest.approx(scores[order].tolist(), abs=1e-5)
    assert any(s.startswith("gap projection of the text query applied to syn.image")
               for s in result.trace)
    assert all(h.calibrated is None for h in result.hits)  # calibrated on raw cosines only
    assert all(h.calibrated is not None for h in plain.hits)
    assert not any("gap projection" in s for s in plain.trace)
