"""Lists that lead the fusion (``search/lead.py``): a query by example ranks by its own
modality's lists first, the caption lists breaking ties and adding their hits after.

Oracle: a hand-built index whose image list and caption list disagree (hand-computed RRF with
the lead weights, 64 per leading list), and long recordings of known tones
(``tests/index/recordings.py``) whose excerpt must bring its recording first although short
captioned sounds rank in both lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.index.recordings import write_excerpt, write_recording
from tests.search.test_segment_search import RECORDINGS, TextTone
from xmodal.index import Index, open_index
from xmodal.index.ingest import ingest, manifest_path
from xmodal.search.lead import LEAD_FACTOR, lead_weight
from xmodal.search.searcher import Searcher

DIM = 4
QUERY = np.array([1.0, 0.0, 0.0, 0.0])
IMAGE = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}  # m.image: cosine to the query
CAPTION = {"d": 0.5, "c": 0.4, "b": 0.3, "e": 0.2}  # m.text[image]: the opposite order
TWIN = {"b": 0.9, "a": 0.8, "c": 0.7, "d": 0.6}  # n.image: a and b swapped


def at(cosine: float, axis: int = 1) -> np.ndarray:
    """A unit vector at ``cosine`` to :data:`QUERY`."""
    v = np.zeros(DIM)
    v[0], v[axis] = cosine, np.sqrt(1 - cosine**2)
    return v


class Fixed:
    """Embeds every image (and text) as :data:`QUERY`."""

    def encode_image(self, items: Sequence[Any]) -> np.ndarray:
        return np.tile(QUERY, (len(items), 1)).astype(np.float32)

    encode_query = encode_image


def add(index: Index, name: str, modality: str, cosines: dict[str, float]) -> None:
    model = name.split(".")[0]
    card = {"name": model, "family": "lit", "dim": DIM, "modalities": ["text", "image"]}
    col = index.create_collection(name, dim=DIM, model=model, modality=modality, card=card)
    col.upsert(list(cosines), np.stack([at(c) for c in cosines.values()]),
               [{"path": f"/x/{i}.png", "modality": "image"} for i in cosines])


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    with open_index("exact:" + str(tmp_path / "i")) as idx:
        add(idx, "m.image", "image", IMAGE)
        add(idx, "m.text", "text", CAPTION)
        yield idx


def searcher(index: Index) -> Searcher:
    return Searcher(index, load=lambda name: Fixed(), router_model=None)


def rrf(*lists: tuple[dict[str, float], float]) -> dict[str, float]:
    """Hand-computed RRF (k = 60): ``Σ weight / (60 + rank)`` over the lists holding a doc."""
    out: dict[str, float] = {}
    for cosines, weight in lists:
        for rank, doc in enumerate(sorted(cosines, key=cosines.__getitem__, reverse=True), 1):
            out[doc] = out.get(doc, 0.0) + weight / (60 + rank)
    return out


def test_the_image_list_leads_and_the_captions_add_their_hits_after(index):
    result = searcher(index).search(image="q.png")
    oracle = rrf((IMAGE, LEAD_FACTOR), (CAPTION, 1.0))
    assert [h.id for h in result.hits] == ["a", "b", "c", "d", "e"]  # the image order, then e
    assert [h.score for h in result.hits] == pytest.approx([oracle[h.id] for h in result.hits])
    assert result.hits[0].score == pytest.approx(64 / 61)
    line = next(t for t in result.trace if t.startswith("m.image weighted ×64"))
    assert "query by image" in line and "['m.text[image]']" in line
    assert any("weights m.image ×64" in t for t in result.trace)
    equal = rrf((IMAGE, 1.0), (CAPTION, 1.0))  # what equal weights gave: the caption's d first
    assert max(equal, key=equal.__getitem__) == "d"


def test_two_image_models_lead_together_and_the_captions_break_their_tie(index):
    add(index, "n.image", "image", TWIN)
    result = searcher(index).search(image="q.png")
    weight = lead_weight([1.0])
    assert [h.id for h in result.hits] == ["b", "a", "c", "d", "e"]  # a ≈ b: b has a caption
    oracle = rrf((IMAGE, weight), (TWIN, weight), (CAPTION, 1.0))
    assert [h.score for h in result.hits] == pytest.approx([oracle[h.id] for h in result.hits])
    assert oracle["b"] - oracle["a"] == pytest.approx(1 / 63)  # only the caption differs
    assert any(t.startswith("m.image, n.image weighted ×64: ") and "their order leads" in t
               for t in result.trace)


def test_the_callers_weights_are_kept(index):
    s = searcher(index)
    given = s.search(image="q.png", weights={"m.image": 1.0})  # equal: no lead
    equal = rrf((IMAGE, 1.0), (CAPTION, 1.0))
    assert [h.id for h in given.hits][:1] == ["d"]
    assert [h.score for h in given.hits] == pytest.approx([equal[h.id] for h in given.hits])
    assert not any("weighted ×" in t for t in given.trace)
    captions = s.search(image="q.png", weights={"m.text": 2.0})  # it leads 2: ×128
    assert any(t.startswith("m.image weighted ×128") for t in captions.trace)
    assert [h.id for h in captions.hits] == ["a", "b", "c", "d", "e"]
    add(index, "n.image", "image", TWIN)
    one = searcher(index).search(image="q.png", weights={"n.image": 0.5})
    assert any(t.startswith("m.image weighted ×96") and "['n.image'] weighted as given" in t
               for t in one.trace)  # the unweighted image list leads the other two (1.5)


def test_a_text_query_and_a_lone_list_get_no_lead(index):
    s = searcher(index)
    text = s.search("anything", modalities=["image"])
    assert [h.id for h in text.hits][:1] == ["d"] and not any("×" in t for t in text.trace)
    alone = s.search(image="q.png", collections=["m.image"])
    assert not alone.hits[0].fused and not any("×" in t for t in alone.trace)


def test_calibrated_fusion_gets_no_lead(index):
    from xmodal.calibration import Calibrator

    cal = Calibrator.from_pairs([0.9, 0.7, 0.5], [0.2, 0.4, 0.6], model="m").to_dict()
    for name in ("m.image", "m.text"):
        index.collection(name).set_calibration({"image": {**cal, "threshold": 0.1}})
    result = searcher(index).search(image="q.png", fusion="calibrated")
    assert any(t.startswith("no image lead: calibrated fusion") for t in result.trace)
    assert all(h.score <= 1.0 for h in result.hits)


def test_an_excerpt_finds_its_recording_first_above_captioned_sounds(tmp_path):
    corpus = tmp_path / "c"
    spans = write_recording(corpus / "talk.wav", RECORDINGS["talk"])
    for name, parts in {"chirp": [(5, 6.0), (27, 4.0)], "tweet": [(5, 5.0), (30, 5.0)]}.items():
        write_recording(corpus / f"{name}.wav", parts, seed=7)
        (corpus / f"{name}.txt").write_text("b5")  # their captions name the query's tone
    t0, t1 = spans[1]  # the band-5 part
    query = write_excerpt(tmp_path / "q.wav", corpus / "talk.wav", (t0 + t1) / 2 - 10, 20.0)
    encoder, uri = TextTone(), "exact:" + str(tmp_path / "i")
    with open_index(uri) as index:
        ingest(index, [corpus], encoders={"audio": encoder}, manifest=manifest_path(uri))
        s = Searcher(index, load=lambda name: encoder, router_model=None)
        led = s.search(audio=str(query), k=3)
        equal = s.search(audio=str(query), k=3, weights={"ttone.audio": 1.0})
    def stems(hits: Sequence[Any]) -> list[str]:
        return [Path(h.payload["path"]).stem for h in hits]

    top = led.hits[0]
    assert stems(led.hits) == ["talk", "chirp", "tweet"]  # the audio list's order
    assert top.ranks == {"ttone.audio": 1} and t0 - 10 <= top.t_start < top.t_end <= t1 + 10
    assert stems(equal.hits)[-1] == "talk"  # equal weights: behind both captioned sounds
    assert any(t.startswith("ttone.audio weighted ×64: a query by audio") for t in led.trace)


def test_the_fallback_fuses_with_equal_weights(index):
    for name in ("m.image", "m.text"):
        index.collection(name).set_calibration({"threshold": 0.99})
    result = searcher(index).search(image="q.png")
    at = next(n for n, t in enumerate(result.trace) if t.startswith("fallback"))
    assert any(t.startswith("m.image weighted ×64") for t in result.trace[:at])
    assert "no image lead in the fallback: no list was confident, so its lists keep their weights" \
        in result.trace[at:]
    equal = rrf((IMAGE, 1.0), (CAPTION, 1.0))
    assert [h.score for h in result.hits] == pytest.approx([equal[h.id] for h in result.hits])
