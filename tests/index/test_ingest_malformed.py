"""``xmodal index`` over a corpus of malformed files (``tests/index/malformed_corpus.py``):
every bad file is reported by path with a fitting reason, every good file is indexed, the
process neither crashes nor hangs, exits 0, and its memory stays bounded (the 400-megapixel
decompression bombs are refused from their header, never allocated).

The ingest runs in a subprocess (a FIFO opened by mistake would block it: the timeout turns a
hang into a failure) with xmodal's real image and audio decoders and NumPy "models".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from tests.index.crash_worker import ROOT
from tests.index.malformed_corpus import (
    KINDS,
    Expected,
    bomb_png,
    build_malformed_corpus,
    reason_ok,
)
from xmodal.data.corpus import file_sha256
from xmodal.data.images import load_image
from xmodal.index import document_id, open_index

PEAK_RSS_GROWTH_MB = 500


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Expected, dict, dict, Path]:
    """Build the corpus, index it once in a subprocess: (expected, report, memory, index)."""
    root = tmp_path_factory.mktemp("malformed")
    expected = build_malformed_corpus(root)
    index, memfile = root / "idx", root / "mem.json"
    result = subprocess.run(
        [sys.executable, "-m", "tests.index.malformed_worker", str(expected.corpus),
         str(index), str(memfile)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return expected, json.loads(result.stdout), json.loads(memfile.read_text()), index


def test_the_corpus_has_enough_of_every_kind(run):
    expected = run[0]
    for kind in KINDS:
        assert expected.count(kind) >= (2 if kind == "socket" else 20), kind
    assert all(len(files) >= 10 for files in expected.good.values())


def test_every_bad_file_is_reported_with_its_reason(run):
    expected, report, _, _ = run
    reported = {p["path"]: p["reason"] for p in (*report["failed"], *report["skipped"])}
    assert sorted(set(expected.bad) - set(reported)) == []  # none missed
    assert sorted(set(reported) - set(expected.bad)) == []  # no good file reported
    wrong = {p: (expected.bad[p], reported[p]) for p in expected.bad
             if not reason_ok(expected.bad[p], reported[p])}
    assert wrong == {}


def test_every_good_file_is_indexed_and_nothing_else(run):
    expected, report, memory, index_dir = run
    good = expected.good
    assert memory["code"] == 0
    assert report["indexed"] == sum(len(files) for files in good.values())
    with open_index(str(index_dir)) as index:
        for modality, name in (("image", "dec-image.image"), ("audio", "dec-audio.audio"),
                               ("text", "dec-text.text")):
            col = index.collection(name)
            ids = [document_id(str(p), file_sha256(p)) for p in good[modality]]
            records = col.get(ids)
            assert None not in records and col.count() == len(ids), name
            assert all(Path(r.payload["path"]).is_relative_to(expected.corpus) for r in records)
        for modality in ("image", "audio"):
            col = index.collection(f"dec-{modality}.text")
            captioned = [p for p in good[modality] if p in expected.captions]
            records = col.get([document_id(str(p), file_sha256(p)) for p in captioned])
            assert [r.payload["caption"] for r in records] == [
                expected.captions[p] for p in captioned]
            # the captions, and the text documents in this model's text space (issue 17)
            assert col.count() == len(captioned) + len(good["text"])
        texts = index.collection("dec-text.text")  # search works on what was stored
        first = document_id(str(good["text"][0]), file_sha256(good["text"][0]))
        assert texts.search(texts.get([first])[0].vector, k=3)[0].ids[0] == first


def test_memory_stays_bounded(run):
    memory = run[2]
    growth_mb = (memory["peak_kb"] - memory["baseline_kb"]) / 1024
    assert growth_mb < PEAK_RSS_GROWTH_MB, memory


def test_the_bomb_is_refused_from_its_header_without_allocating():
    import PIL.Image

    data = bomb_png()
    limit = PIL.Image.MAX_IMAGE_PIXELS
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="decompression bomb: 20000×20000"):
            load_image(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) < 100_000 and peak < 10 * 2**20  # a 400 MP decode would be 400 MB+
    assert limit == PIL.Image.MAX_IMAGE_PIXELS  # PIL's global limit restored
