"""``xmodal calibrate``: the stored calibration's layout, its held-out precision, the caption
side (encode_query, duplicate captions), and its use by the Searcher (calibrated hits,
calibrated fusion, per-modality thresholds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.search.synthetic import build_index
from xmodal.calibration import Calibrator
from xmodal.calibration.fit import fit_pair_calibration, pair_scores
from xmodal.cli import app
from xmodal.commands.calibrate import calibrate_index
from xmodal.index import open_index
from xmodal.search import threshold_for
from xmodal.search.hits import RankedList
from xmodal.search.rrf import rrf_fuse
from xmodal.search.searcher import Searcher


def test_calibrate_stores_the_documented_layout_and_holds_out(tmp_path):
    uri, items, texts, _, enc = build_index(tmp_path / "idx")
    [res] = calibrate_index(uri, precision=0.8, load=lambda name: enc)
    assert res.collection == "syn.image" and res.text_collection == "syn.text"
    assert res.text_vectors == "encode_query" and enc.calls == 600
    with open_index(uri) as index:
        cal = index.collection("syn.image").info.calibration
    assert set(cal) == {"text"}
    entry = cal["text"]
    assert entry["format"] == "xmodal.calibration/1" and entry["query_type"] == "text→image"
    assert entry["target"] == {"precision": 0.8} and entry["model"] == "syn"
    assert entry["fitted_on"]["fit_docs"] == 420 and entry["fitted_on"]["heldout_docs"] == 180
    assert entry["fitted_on"]["fit_negatives"] == 4200
    # the same fit from the oracle inputs (the encode_query vectors, not the stored ones)
    want = fit_pair_calibration(items, texts, precision=0.8, model="syn")
    assert entry["threshold"] == pytest.approx(want.threshold)
    assert abs(res.fit.heldout_precision - 0.8) <= 0.08  # the acceptance band
    # the held-out precision, recomputed by hand at the stored threshold
    rng = np.random.default_rng(0)
    order = rng.permutation(600)
    held = np.sort(order[:180])
    pair_scores(items, texts, np.sort(order[180:]), np.arange(600), 10, rng)  # same draws
    hp, hn = pair_scores(items, texts, held, np.arange(600), 10, rng)
    t = entry["threshold"]
    assert res.fit.heldout_precision == pytest.approx((hp >= t).sum() /
                                                      ((hp >= t).sum() + (hn >= t).sum()))
    assert threshold_for("lit", cal, query_modality="text") == entry["threshold"]
    assert threshold_for("lit", cal, query_modality="image") == 0.3  # no entry: the default


def test_duplicate_captions_are_never_negatives():
    rng = np.random.default_rng(3)
    items, texts = (rng.standard_normal((8, 4)) for _ in range(2))
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    rows = np.arange(8)
    _, neg = pair_scores(items, texts, rows, groups, 100, rng)
    want = sorted(float(texts[j] @ items[i]) for i in rows for j in rows
                  if groups[i] != groups[j])
    assert sorted(neg.tolist()) == pytest.approx(want)  # every cross-group pair, no other


def test_stored_vectors_when_the_model_does_not_load(tmp_path):
    uri, *_ = build_index(tmp_path / "idx", n=200)

    def load(name):
        raise OSError("no weights")

    with pytest.raises(ValueError, match="no threshold reaches precision"):
        calibrate_index(uri, precision=0.99, load=load)  # random stored vectors: no signal
    [res] = calibrate_index(uri, recall=0.5, load=load)
    assert res.text_vectors.startswith("stored (syn did not load: no weights")


def test_calibrate_cli_table_json_and_errors(tmp_path, monkeypatch):
    uri, _, _, _, enc = build_index(tmp_path / "idx", n=300, twins=20)
    monkeypatch.setattr("xmodal.encoders.load_encoder", lambda name, **how: enc)
    got = CliRunner().invoke(app, ["calibrate", "--index", uri, "--method", "platt",
                                   "--precision", "0.8", "--json"])
    assert got.exit_code == 0, got.output
    [row] = json.loads(got.stdout)
    assert row["collection"] == "syn.image" and row["method"] == "platt"
    assert row["counts"]["docs"] == 300 and row["heldout_gap"] is None
    table = CliRunner().invoke(app, ["calibrate", "--index", uri])
    assert table.exit_code == 0 and "syn.image" in table.stdout and "held-out P" in table.stdout
    bad = CliRunner().invoke(app, ["calibrate", "--index", uri, "--collection", "syn.text"])
    assert bad.exit_code == 2 and "not an image or audio collection" in bad.output
    both = CliRunner().invoke(app, ["calibrate", "--index", uri, "--precision", "0.8",
                                    "--recall", "0.5"])
    assert both.exit_code == 2 and "not both" in both.output


def test_searcher_hits_carry_calibrated_probabilities(tmp_path):
    uri, _, texts, _, enc = build_index(tmp_path / "idx", n=300)
    calibrate_index(uri, precision=0.8, load=lambda name: enc)
    with open_index(uri) as index:
        entry = index.collection("syn.image").info.calibration["text"]
        searcher = Searcher(index, load=lambda name: enc, router_model=None)
        result = searcher.search("doc 7", modalities=["image"], k=5)
        own = index.collection("syn.image").search(texts[7], k=5)[0]
        own_text = index.collection("syn.text").search(texts[7], k=5,
                                                       filter={"modality": "image"})[0]
        # the text collection has no calibration: calibrated fusion falls back to RRF
        fallback = searcher.search("doc 7", modalities=["image"], k=5, fusion="calibrated")
    assert "fused 2 lists with RRF (k=60, 1-based ranks)" in result.trace
    probs = dict(zip(own.ids, np.interp(own.scores.astype(np.float64), entry["knots_x"],
                                        entry["knots_y"]), strict=True))
    want = rrf_fuse([RankedList("syn.image", own.ids, own.scores),
                     RankedList("syn.text[image]", own_text.ids, own_text.scores)], limit=5)
    assert [h.id for h in result.hits] == [h.id for h in want]
    for hit in result.hits:
        if "syn.image" in hit.raw_scores:
            assert hit.calibrated == {"syn.image": pytest.approx(probs[hit.id])}
        else:
            assert hit.calibrated is None
    js = result.to_json()["hits"]
    assert all("calibrated" in h for h in js)
    assert js[0]["calibrated"] == (None if result.hits[0].calibrated is None
                                   else dict(result.hits[0].calibrated))
    assert any(s.startswith("calibrated fusion unavailable: no calibration for "
                            "['syn.text[image]']") for s in fallback.trace)
    assert [h.id for h in fallback.hits] == [h.id for h in result.hits]


def test_calibrated_fusion_when_every_list_is_calibrated(tmp_path):
    uri, _, texts, _, enc = build_index(tmp_path / "idx", n=300)
    calibrate_index(uri, precision=0.8, load=lambda name: enc)
    text_cal = Calibrator.from_pairs([0.5, 0.6, 0.7], [0.0, 0.1, 0.55], method="platt",
                                     model="syn", query_type="text→text")
    with open_index(uri) as index:
        index.collection("syn.text").set_calibration({"text": text_cal.to_dict()})
        img = Calibrator.from_dict(index.collection("syn.image").info.calibration["text"])
        result = Searcher(index, load=lambda name: enc, router_model=None).search(
            "doc 11", modalities=["image"], k=6, fusion="calibrated")
        a = index.collection("syn.image").search(texts[11], k=6)[0]
        b = index.collection("syn.text").search(texts[11], k=6, filter={"modality": "image"})[0]
    assert "fused 2 lists by calibrated probability (max)" in result.trace
    # oracle: max over lists of the calibrated probability (isotonic: interp; platt: sigmoid)
    best: dict[str, float] = {}
    for ids, scores, f in ((a.ids, a.scores, img), (b.ids, b.scores, text_cal)):
        for i, s in zip(ids, scores.astype(np.float64), strict=True):
            p = (np.interp(s, img.knots_x, img.knots_y) if f is img
                 else 1 / (1 + np.exp(-(text_cal.coef * s + text_cal.intercept))))
            best[i] = max(best.get(i, 0.0), float(p))
    got = [(h.id, h.score) for h in result.hits]
    assert [s for _, s in got] == pytest.approx(sorted(best.values(), reverse=True)[:6])
    assert all(h.fused and h.calibrated and max(h.calibrated.values()) == pytest.approx(h.score)
               for h in result.hits)


def test_fallback_reads_the_query_modality_entry(tmp_path):
    uri, _, _, _, enc = build_index(tmp_path / "idx", n=100)
    with open_index(uri) as index:
        for name in ("syn.image", "syn.text"):  # image queries only: text queries unaffected
            index.collection(name).set_calibration({"image": {"threshold": 0.99}})
        s = Searcher(index, load=lambda name: enc, router_model=None)
        assert s._threshold(index.collection("syn.image").info, "text") == 0.3
        assert s._threshold(index.collection("syn.image").info, "image") == 0.99


def test_fallback_uses_the_entry_of_the_query_modality(tmp_path):
    from tests.api.toy import loader, toy_encoders, write_corpus
    from xmodal.index.ingest import ingest

    encoders = toy_encoders()
    with open_index("exact:" + str(tmp_path / "toy")) as idx:
        ingest(idx, [write_corpus(tmp_path / "corpus")], encoders=encoders)
        for cal, expect in (({"image": {"threshold": 0.99}}, False),
                            ({"text": {"threshold": 0.99}}, True)):
            for name in ("toy-image.image", "toy-image.text"):
                idx.collection(name).set_calibration(cal)
            result = Searcher(idx, load=loader(encoders), router_model=None).search(
                "a photo of a heart", k=10)
            assert any(s.startswith("fallback") for s in result.trace) is expect
