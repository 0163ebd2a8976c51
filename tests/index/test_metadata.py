"""Metadata at ingest: automatic keys checked by hand on files written here, side-cars (good,
bad JSON, bad key, system key, too big) reported per file and never losing the file, and a
side-car edit rewriting the payloads without re-encoding."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.api.toy import toy_encoders
from xmodal.index import open_index
from xmodal.index.ingest import ingest, manifest_path
from xmodal.index.metadata import MAX_SIDECAR_BYTES, payload_metadata


def write_png(path: Path, size: tuple[int, int], taken: str | None = None) -> None:
    from PIL import Image

    img = Image.new("RGB", size, (200, 10, 10))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
        exif.get_ifd(0x8769)[0x9011] = "+02:00"
    img.save(path, exif=exif) if path.suffix == ".jpg" else img.save(path)


def build(root: Path) -> None:
    (root / "pics" / "sub").mkdir(parents=True)
    write_png(root / "pics" / "red.png", (7, 5))
    write_png(root / "pics" / "sub" / "cam.jpg", (4, 3), taken="2026:12:06 10:00:00")
    (root / "pics" / "red.txt").write_text("a red heart")
    (root / "pics" / "red.json").write_text(json.dumps({"tags": ["love", "red"], "rating": 4}))
    (root / "pics" / "sub" / "cam.json").write_text("{not json")
    import soundfile

    soundfile.write(root / "beep.wav", np.zeros(8000, np.float32), 16000)  # 0.5 s
    (root / "beep.json").write_text(json.dumps({"Bad Key": 1}))
    (root / "memo.md").write_text("python copy file")
    (root / "memo.json").write_text(json.dumps({"path": "/elsewhere"}))
    os.utime(root / "memo.md", (1796544000, 1796544000))  # 2026-12-06T08:00:00Z


def stored(uri: str) -> dict[str, dict]:
    """Payload metadata of every stored point, by file name and collection."""
    out = {}
    with open_index(uri) as idx:
        for info in idx.collections():
            col = idx.collection(info.name)
            hits = col.search(np.ones(info.dim, np.float32), k=100, normalize=True)[0]
            for p in hits.payloads:
                out[(Path(p["path"]).name, info.name)] = payload_metadata(p)
    return out


def test_automatic_keys_side_cars_and_problems(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    build(root)
    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as idx:
        report = ingest(idx, [root], encoders=toy_encoders(), manifest=manifest_path(uri))
    reasons = {Path(p.item).name: p.reason for p in report.skipped}
    assert set(reasons) == {"cam.json", "beep.json", "memo.json"}  # no side-car is a document
    assert "not JSON" in reasons["cam.json"] and "cam.jpg is indexed" in reasons["cam.json"]
    assert "'Bad Key' is not a valid name" in reasons["beep.json"]
    assert "'path' is a system key" in reasons["memo.json"]
    assert report.indexed == 4 and not report.failed  # every file indexed all the same
    got = stored(uri)
    red = got[("red.png", "toy-image.image")]
    assert {k: red[k] for k in ("folder", "ext", "width", "height", "tags", "rating")} == {
        "folder": "pics", "ext": "png", "width": 7, "height": 5, "tags": ["love", "red"],
        "rating": 4}
    assert red["size_bytes"] == (root / "pics" / "red.png").stat().st_size
    assert got[("red.png", "toy-image.text")] == red  # the caption carries the same metadata
    cam = got[("cam.jpg", "toy-image.image")]
    assert (cam["folder"], cam["ext"], cam["taken_at"]) == ("pics/sub", "jpg",
                                                            "2026-12-06T08:00:00Z")
    assert "rating" not in cam
    beep = got[("beep.wav", "toy-audio.audio")]
    assert (beep["duration_s"], beep["folder"], beep["ext"]) == (0.5, ".", "wav")
    memo = got[("memo.md", "toy-text.text")]
    assert memo["mtime"] == "2026-12-06T08:00:00Z" and "path" not in memo


def test_side_car_edit_rewrites_payloads_without_encoding(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    build(root)
    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as idx:
        ingest(idx, [root], encoders=toy_encoders(), manifest=manifest_path(uri))
    (root / "pics" / "red.json").write_text(json.dumps({"tags": ["blue"]}))
    encoders = toy_encoders()
    with open_index(uri) as idx:
        report = ingest(idx, [root], encoders=encoders, manifest=manifest_path(uri))
    assert (report.indexed, report.unchanged) == (0, 4)
    assert sum(sum(e.items.values()) for e in encoders.values()) == 0  # nothing re-encoded
    got = stored(uri)
    for col in ("toy-image.image", "toy-image.text"):
        assert got[("red.png", col)]["tags"] == ["blue"] and "rating" not in got[("red.png", col)]


@pytest.mark.parametrize(("side_car", "reason"), [
    ([1, 2], "expected a JSON object"),
    ({"mtime": 5}, "'mtime' is automatic"),
    ({"x": {"nested": 1}}, "is not a string, number"),
    ({"x": [1, "a"]}, "is not a string, number"),
    ({"x": "y" * 1001}, "the limit is 1000"),
    ({"x": "y" * (MAX_SIDECAR_BYTES + 1)}, "-byte limit"),
])
def test_bad_side_car_is_reported_and_the_file_kept(tmp_path, side_car, reason):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "memo.md").write_text("python copy file")
    (root / "memo.json").write_text(json.dumps(side_car))
    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as idx:
        report = ingest(idx, [root], encoders=toy_encoders(), manifest=manifest_path(uri))
    assert report.indexed == 1
    assert len(report.skipped) == 1 and reason in report.skipped[0].reason
