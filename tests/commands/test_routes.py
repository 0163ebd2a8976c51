"""Every query reaches text documents through the CLI: ``xmodal index FOLDER`` of ``.txt``
files, then ``xmodal search --image/--audio FILE --modality text --json``; ``--routes`` prints
the matrix; ``--remove-model`` takes a model out. Toy encoders of ``tests/api/toy.py`` are
patched in (no packaged model is loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.api.toy import embed
from xmodal.cli import app

DOCS = {"valentine.txt": "red heart love letter", "pets.txt": "cat kitten red dog loop",
        "music.txt": "drum beat violin heart"}  # no two documents tie for either query


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Text documents only (.txt), and two query files beside the folder."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    (tmp_path / "heart.png").write_text("heart red love")
    (tmp_path / "drum.wav").write_text("drum beat loop")
    return docs


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def ranked(query: str) -> list[tuple[str, float]]:
    """The documents by float64 cosine to the toy embedding of ``query``, best first."""
    q = embed(query).astype(np.float64)
    scores = [(n, float(q @ embed(t).astype(np.float64))) for n, t in DOCS.items()]
    return sorted(scores, key=lambda x: -x[1])


@pytest.mark.parametrize(("option", "file", "content", "model"), [
    ("--image", "heart.png", "heart red love", "toy-image"),
    ("--audio", "drum.wav", "drum beat loop", "toy-audio")])
def test_image_and_audio_queries_return_text_documents(encoders, folder, uri, option, file,
                                                       content, model):
    indexed = invoke("index", str(folder), "--index", uri, "--json")
    assert indexed.exit_code == 0, indexed.output
    assert {"toy-text.text", "toy-image.text", "toy-audio.text"} <= set(
        json.loads(indexed.stdout)["collections"])
    result = invoke("search", option, str(folder.parent / file), "--index", uri, "--json",
                    "--modality", "text", "--k", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    want = ranked(content)[:2]
    assert want[0][1] > want[1][1] > ranked(content)[2][1]  # an order the search must find
    assert [(Path(h["path"]).name, h["modality"]) for h in data["hits"]] == [
        (name, "text") for name, _ in want]
    for hit, (_, score) in zip(data["hits"], want, strict=True):
        assert hit["path"] == str(folder / Path(hit["path"]).name)
        assert hit["raw_scores"] == {f"{model}.text[text]": pytest.approx(score, abs=1e-6)}
    assert data["errors"] == []


def test_routes_prints_the_matrix(encoders, folder, uri):
    assert invoke("index", str(folder), "--index", uri).exit_code == 0
    table = invoke("search", "--routes", "--index", uri)
    assert table.exit_code == 0, table.output
    assert "image → text   direct  image queries embedded by toy-image: " \
        "toy-image.text[text]" in table.stdout
    assert "image → audio  none    no audio documents in this index (index some)" in table.stdout
    data = json.loads(invoke("search", "--routes", "--index", uri, "--json").stdout)["routes"]
    assert len(data) == 9 and data[0]["lists"] == ["toy-audio.text[text]",
                                                   "toy-image.text[text]", "toy-text.text[text]"]


def test_a_search_that_cannot_reach_says_so(encoders, folder, uri):
    assert invoke("index", str(folder), "--index", uri).exit_code == 0
    result = invoke("search", "--image", str(folder.parent / "heart.png"), "--index", uri,
                    "--json", "--modality", "audio")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    line = "unreachable: image → audio: no audio documents in this index (index some)"
    assert data["hits"] == [] and line in data["errors"] and line in data["trace"]
    assert f"error: {line}" in result.stderr


def test_remove_model_and_text_model_only(encoders, folder, uri):
    assert invoke("index", str(folder), "--index", uri).exit_code == 0
    removed = invoke("index", "--remove-model", "toy-audio", "--index", uri)
    assert removed.exit_code == 0 and "removed toy-audio: toy-audio.text" in removed.stdout
    result = invoke("search", "--audio", str(folder.parent / "drum.wav"), "--index", uri,
                    "--modality", "text")
    assert result.exit_code == 2
    assert "embeds audio queries: add one (xmodal index FOLDER --audio-model " \
        "starter-audio)" in result.stderr
    assert invoke("index", "--remove-model", "nope", "--index", uri).exit_code == 2
    assert invoke("index", "--index", uri).exit_code == 2  # nothing to do
    only = invoke("index", str(folder), "--index", "exact:" + str(folder.parent / "only"),
                  "--no-cross-modal-text", "--json")
    assert json.loads(only.stdout)["collections"] == ["toy-text.text"]
