"""Training pairs: folders with side-cars, JSONL / CSV / Parquet files, sources, bad rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xmodal.data.pairs import PairDataset, load_pairs


def _png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (2, 2), (255, 0, 0)).save(path)
    return path


def _wav(path):
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(80, dtype=np.float32), 8000)
    return path


def _jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
                    encoding="utf-8")
    return path


def test_dataset_validation_and_subset():
    data = PairDataset(anchors=["a", "b", "c"], positives=["x", "y", "z"], negatives=None,
                       anchor_modality="text", name="t")
    assert data.anchors == ("a", "b", "c") and len(data) == 3 and data.num_negatives == 0
    sub = data.subset(np.array([2, 0]))
    assert sub.anchors == ("c", "a") and sub.positives == ("z", "x") and sub.name == "t"
    with pytest.raises(ValueError, match="anchors but"):
        PairDataset(("a",), ("x", "y"), None, "text", "t")
    with pytest.raises(ValueError, match="same number"):
        PairDataset(("a", "b"), ("x", "y"), (("n",), ("n", "m")), "text", "t")
    with pytest.raises(ValueError, match="same number"):
        PairDataset(("a",), ("x",), ((),), "text", "t")
    with pytest.raises(ValueError, match="anchor_modality"):
        PairDataset(("a",), ("x",), None, "video", "t")  # type: ignore[arg-type]


def test_folder_with_side_cars(tmp_path):
    a = _png(tmp_path / "b" / "cat.png")
    (tmp_path / "b" / "cat.txt").write_text("a cat\n\n  a small cat  \n", encoding="utf-8")
    d = _png(tmp_path / "a" / "dog.jpg")
    (tmp_path / "a" / "dog.json").write_text(json.dumps({"caption": "a dog"}))
    f = _png(tmp_path / "fox.webp")
    (tmp_path / "fox.json").write_text(json.dumps({"captions": ["a fox", "red fox"]}))
    _png(tmp_path / "lonely.png")
    (tmp_path / "notes.md").write_text("ignored")
    data = load_pairs(tmp_path)
    assert data.anchor_modality == "image" and data.negatives is None
    assert data.anchors == (str(d), str(a), str(a), str(f), str(f))
    assert data.positives == ("a dog", "a cat", "a small cat", "a fox", "red fox")
    assert [(p.item, p.reason) for p in data.problems] == [
        (str(tmp_path / "lonely.png"), "no caption side-car (lonely.txt or lonely.json)")]
    assert load_pairs(tmp_path, limit=2).positives == ("a dog", "a cat")


def test_folder_audio_and_errors(tmp_path):
    clip = _wav(tmp_path / "s" / "beep.wav")
    (tmp_path / "s" / "beep.txt").write_text("a beep\nbad\x00line\n")
    data = load_pairs(tmp_path / "s")
    assert data.anchor_modality == "audio" and data.anchors == (str(clip),)
    assert data.problems[0].item == f"{tmp_path / 's' / 'beep.txt'}:2"
    assert "NUL" in data.problems[0].reason
    with pytest.raises(ValueError, match="not text"):
        load_pairs(tmp_path / "s", modality="text")
    _png(tmp_path / "s" / "x.png")
    with pytest.raises(ValueError, match="mixes images and audio"):
        load_pairs(tmp_path / "s")
    _png(tmp_path / "bad" / "x.png")
    (tmp_path / "bad" / "x.json").write_text("{nope")
    with pytest.raises(ValueError, match=r"no usable pairs.*not valid JSON"):
        load_pairs(tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image or audio files"):
        load_pairs(tmp_path / "empty")


def test_jsonl_text_triples_and_problems(tmp_path):
    path = _jsonl(tmp_path / "p.jsonl", [
        {"q": "how to sort", "d": "use sorted()", "neg": ["use len()", "use max()"]},
        "",
        "{not json",
        {"q": "no doc"},
        {"q": "  ", "d": "empty query", "neg": ["a", "b"]},
        {"q": "one neg", "d": "doc", "neg": ["only"]},
        {"q": "string neg", "d": "doc", "neg": "x"},
        {"q": "absent neg", "d": "doc"},
        ["a", "list"],
        {"q": "how to loop", "d": "use for", "neg": ["use if", "use def"]},
    ])
    data = load_pairs(path, anchor="q", positive="d", negatives="neg")
    assert data.anchor_modality == "text" and data.name == "p.jsonl"
    assert data.anchors == ("how to sort", "how to loop")
    assert data.negatives == (("use len()", "use max()"), ("use if", "use def"))
    lines = [(int(p.item.rsplit(":", 1)[1]), p.index) for p in data.problems]
    assert lines == [(3, 2), (4, 3), (5, 4), (6, 5), (7, 6), (8, 7), (9, 8)]
    reasons = [p.reason for p in data.problems]
    assert "missing field 'd'" in reasons[1] and "anchor is empty" in reasons[2]
    assert "1 negatives, expected 2" in reasons[3] and "list of strings" in reasons[4]
    assert "no negatives" in reasons[5] and "JSON object" in reasons[6]
    assert all(p.item.startswith(str(path)) for p in data.problems)


def test_jsonl_media_paths_resolve_against_the_file(tmp_path):
    img = _png(tmp_path / "imgs" / "a.png")
    _png(tmp_path / "imgs" / "b.png")
    path = _jsonl(tmp_path / "pairs.jsonl", [
        {"anchor": "imgs/a.png", "positive": "red square"},
        {"anchor": "imgs/missing.png", "positive": "gone"},
        {"anchor": str(tmp_path / "imgs" / "b.png"), "positive": "absolute"},
        {"anchor": "a caption, not a file", "positive": "text"},
    ])
    data = load_pairs(path)
    assert data.anchor_modality == "image"
    assert data.anchors == (str(img), str(tmp_path / "imgs" / "b.png"))
    assert [p.index for p in data.problems] == [1, 3]
    assert "image file not found" in data.problems[0].reason
    assert "not an image file" in data.problems[1].reason
    unchecked = load_pairs(path, check_files=False)
    assert unchecked.anchors[1] == str(tmp_path / "imgs" / "missing.png")
    as_text = load_pairs(path, modality="text")
    assert as_text.anchors[0] == "imgs/a.png" and not as_text.problems


def test_csv_negatives_json_and_pipes(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(
        'anchor,positive,negatives\n'
        'q1,d1,"[""n1"", ""n2""]"\n'
        'q2,d2,n3 | n4\n'
        'q3,"multi\nline",n5|n6\n'
        'q4,d4,[broken\n'
        'q5,,n7|n8\n'
        'q6,d6,n9|\n'
        'q7,d7\n',
        encoding="utf-8")
    data = load_pairs(path)
    assert data.anchors == ("q1", "q2", "q3")
    assert data.positives == ("d1", "d2", "multi\nline")
    assert data.negatives == (("n1", "n2"), ("n3", "n4"), ("n5", "n6"))
    where = [p.item.rsplit(":", 1)[1] for p in data.problems]
    assert where == ["6", "7", "8", "9"]  # the quoted newline makes q3 two lines
    reasons = [p.reason for p in data.problems]
    assert "JSON list" in reasons[0] and "positive is empty" in reasons[1]
    assert "negatives[1] is empty" in reasons[2] and "cells" in reasons[3]
    plain = tmp_path / "plain.csv"
    plain.write_text("question,answer\nq,a\n")
    assert load_pairs(plain, anchor="question", positive="answer").negatives is None
    with pytest.raises(ValueError, match="no column 'anchor'"):
        load_pairs(plain)


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _wav(tmp_path / "sounds" / "a.wav")
    table = pa.table({
        "anchor": ["sounds/a.wav", None, "sounds/a.wav"],
        "positive": ["beep", "orphan", "beep again"],
        "negatives": pa.array([["boop"], ["x"], None], type=pa.list_(pa.string())),
    })
    pq.write_table(table, tmp_path / "pairs.parquet")
    data = load_pairs(tmp_path / "pairs.parquet")
    assert data.anchor_modality == "audio"
    assert data.anchors == (str(tmp_path / "sounds" / "a.wav"),)
    assert data.negatives == (("boop",),)
    assert [p.item for p in data.problems] == [f"{tmp_path / 'pairs.parquet'}[row {i}]"
                                               for i in (1, 2)]
    assert "missing" in data.problems[0].reason and "no negatives" in data.problems[1].reason


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_pairs(tmp_path / "nowhere.jsonl")
    (tmp_path / "pairs.tsv").write_text("a\tb\n")
    with pytest.raises(ValueError, match=r"\.jsonl, \.csv, \.parquet"):
        load_pairs(tmp_path / "pairs.tsv")
    with pytest.raises(ValueError, match="zero-shot"):
        load_pairs("source:fashion-mnist")
    with pytest.raises(ValueError, match="ratings"):
        load_pairs("source:wordsim353")
    with pytest.raises(ValueError, match="unknown source"):
        load_pairs("source:nope")
    with pytest.raises(ValueError, match="limit"):
        load_pairs(tmp_path / "pairs.tsv", limit=0)


def test_source_sonic_pi():
    data = load_pairs("source:sonic-pi", limit=5)
    assert len(data) == 5 and data.anchor_modality == "audio" and data.name == "sonic-pi"
    assert data.positives[1] == "ambient dark woosh"
    assert all(a.endswith(".flac") or a.endswith(".wav") for a in data.anchors)


def test_source_python_faq():
    data = load_pairs("source:python-faq", limit=5)
    assert len(data) == 5 and data.anchor_modality == "text" and data.negatives is None
    assert all(isinstance(q, str) and q and d for q, d in zip(data.anchors, data.positives,
                                                              strict=True))


def test_source_files_keep_their_own_extensions():
    data = load_pairs("source:freedesktop-sounds", limit=2)  # .oga files, trusted as audio
    assert len(data) == 2 and data.anchor_modality == "audio" and not data.problems
