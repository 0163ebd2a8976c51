"""``xmodal index`` / ``xmodal search`` through typer's CliRunner, with the toy encoders of
``tests/api/toy.py`` patched in (no packaged model is loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import xmodal.encoders
from tests.api.toy import ToyEncoder, loader
from xmodal.cli import app
from xmodal.commands import index as index_command
from xmodal.commands import search as search_command

HIT_KEYS = {"id", "path", "modality", "collection", "rank", "score", "fused", "raw_scores",
            "ranks"}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_index_json_reports_failed_files(encoders, corpus, uri):
    result = invoke("index", str(corpus), "--index", uri, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("indexed", "unchanged", "replaced", "pruned")} == {
        "indexed": 7, "unchanged": 0, "replaced": 0, "pruned": 0}
    broken = str((corpus / "images/broken.png").resolve())
    assert [f["path"] for f in data["failed"]] == [broken]
    assert f"failed: {broken}: undecodable" in result.stderr
    assert [Path(s["path"]).name for s in data["skipped"]] == ["data.bin"]
    assert "toy-image.image" in data["collections"] and data["seconds"] >= 0

    again = json.loads(invoke("index", str(corpus), "--index", uri, "--json").stdout)
    assert (again["indexed"], again["unchanged"]) == (0, 7)


def test_index_table_and_prune(encoders, corpus, uri):
    assert invoke("index", str(corpus), "--index", uri).exit_code == 0
    (corpus / "sounds/drum.wav").unlink()
    result = invoke("index", str(corpus), "--index", uri, "--prune")
    assert result.exit_code == 0
    assert "indexed 0, unchanged 6, replaced 0, pruned 1, failed 1" in result.stdout
    assert "skipped: " in result.stderr and "data.bin" in result.stderr


def test_index_only_bad_files_exits_1(encoders, tmp_path, uri):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/x.png").write_bytes(b"BAD")
    result = invoke("index", str(tmp_path / "bad"), "--index", uri, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed"][0]["path"].endswith("x.png")


def test_index_missing_folder_exits_2(encoders, tmp_path, uri):
    result = invoke("index", str(tmp_path / "nope"), "--index", uri)
    assert result.exit_code == 2 and "no such file or folder" in result.stderr


@pytest.fixture
def indexed(encoders, corpus, uri) -> str:
    assert invoke("index", str(corpus), "--index", uri).exit_code == 0
    return uri


def test_search_json(indexed):
    result = invoke("search", "a photo of a red heart", "--index", indexed, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"hits", "trace", "errors"} and data["errors"] == []
    hits = data["hits"]
    assert hits and Path(hits[0]["path"]).name == "heart.png"
    for rank, hit in enumerate(hits, 1):
        assert set(hit) >= HIT_KEYS and hit["rank"] == rank and hit["modality"] == "image"
        assert set(hit["raw_scores"]) == set(hit["ranks"])
    assert hits[0]["fused"] is True
    # the dense lists, and the lexical list (the file name "heart" matches the query's word)
    assert set(hits[0]["raw_scores"]) == {"toy-image.image", "toy-image.text[image]", "bm25"}
    # the router's zero-shot model ("minilm") is not a toy: rules only, and the trace says so
    assert any(s.startswith("router: no zero-shot") for s in data["trace"])


def test_search_k_and_modality(indexed):
    result = invoke("search", "red heart", "--index", indexed, "--json", "--k", "3",
                    "--modality", "image")
    assert len(json.loads(result.stdout)["hits"]) == 3
    audio = json.loads(invoke("search", "drum", "--index", indexed, "--json", "--modality",
                              "audio").stdout)
    assert [Path(h["path"]).name for h in audio["hits"]] == ["drum.wav", "violin.wav"]
    # one dense list (toy-audio.audio) plus the lexical list ("drum" is drum.wav's file name)
    assert audio["hits"][0]["fused"] is True and "bm25" in audio["hits"][0]["raw_scores"]


def test_search_by_example_and_table(indexed, corpus):
    result = invoke("search", "--image", str(corpus / "images/cat.png"), "--index", indexed)
    assert result.exit_code == 0
    first = result.stdout.strip().splitlines()[1]
    assert first.lstrip().startswith("1. a cat with whiskers")


def test_search_missing_query_exits_2(indexed):
    result = invoke("search", "--index", indexed, "--json")
    assert result.exit_code == 2
    assert "give a query" in result.stderr
    both = invoke("search", "cat", "--image", "x.png", "--index", indexed)
    assert both.exit_code == 2


def test_search_bad_k_exits_2(indexed):
    result = invoke("search", "cat", "--index", indexed, "--k", "0")
    assert result.exit_code == 2 and "k must be" in result.stderr


def test_run_search_with_a_given_searcher(indexed, encoders, capsys):
    from xmodal.index import open_index
    from xmodal.search.request import SearchRequest
    from xmodal.search.searcher import Searcher

    with open_index(indexed) as index:
        searcher = Searcher(index, load=loader(encoders), router_model=None)
        code = search_command.run_search(SearchRequest("violin", k=2), index_uri=indexed,
                                         as_json=True, searcher=searcher)
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert Path(data["hits"][0]["path"]).name == "violin.wav" and len(data["hits"]) == 2


def test_index_model_that_cannot_load_exits_2(monkeypatch, corpus, uri):
    from xmodal.encoders import EncoderLoadError

    def load(spec: str, **how: object) -> ToyEncoder:
        raise EncoderLoadError(f"no weights for {spec!r}")

    monkeypatch.setattr(xmodal.encoders, "load_encoder", load)
    result = invoke("index", str(corpus), "--index", uri, "--image-model", "nope")
    assert result.exit_code == 2, result.output
    assert "error: no weights for" in result.stderr


def test_search_empty_index_exits_2(encoders, uri):
    result = invoke("search", "a cat", "--index", uri)
    assert result.exit_code == 2
    assert "no collection in this index" in result.stderr


def test_index_quantization_flag(encoders, corpus, uri):
    from xmodal.index import open_index

    bad = invoke("index", str(corpus), "--index", uri, "--quantization", "int4")
    assert bad.exit_code == 2
    assert "--quantization: quantization 'int4': use one of 'none', 'scalar', 'binary'" in (
        bad.output)
    assert invoke("index", str(corpus), "--index", uri, "--quantization", "binary",
                  "--json").exit_code == 0
    with open_index(uri) as index:
        assert {c.quantization for c in index.collections()} == {"binary"}
    (corpus / "new.md").write_text("a new memo")
    other = invoke("index", str(corpus), "--index", uri, "--quantization", "scalar")
    assert other.exit_code == 2
    assert "is stored with quantization 'binary'; asked for 'scalar'" in other.output
    assert invoke("index", str(corpus), "--index", uri).exit_code == 0  # keeps its setting
    assert invoke("index", str(corpus), "--index", uri, "--quantization", "binary").exit_code == 0


def test_index_json_lists_the_warnings_of_a_truncated_video(monkeypatch, tmp_path):
    pytest.importorskip("av")
    from tests.index.video_toys import video_encoders, write_video

    monkeypatch.setattr(index_command, "_encoders", lambda models, wanted, **how: video_encoders())
    video = tmp_path / "c" / "cut.mkv"
    write_video(video)
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    result = invoke("index", str(tmp_path / "c"), "--index", str(tmp_path / "idx"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    path = str(video.resolve())
    assert (data["indexed"], data["failed"]) == (1, [])
    assert {w["path"] for w in data["warnings"]} == {path}
    assert any(w["reason"].startswith("truncated: ") for w in data["warnings"])
    assert f"warning: {path}: truncated: " in result.stderr
