"""Hub ids (``PREFIX:ORG/NAME[@REVISION]``) against a loopback Hub: download once, then offline.

The suite runs offline (``tests/conftest.py``); the ``hub`` fixture turns the network on for one
test, pointed at :class:`~tests.encoders.hub_server.LoopbackHub` with a fresh ``HF_HOME``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from xmodal.encoders import load_encoder
from xmodal.encoders.base import EncoderLoadError

from .hub_server import LoopbackHub

FAMILIES = {"st": "tiny_st", "hf-clip": "tiny_clip", "hf-siglip": "tiny_siglip",
            "hf-clap": "tiny_clap"}
TEXTS = ["a dog barking", "the quick brown fox", "rain on the street"]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LoopbackHub]:
    """Online against a loopback Hub, with an empty cache in ``tmp_path / "hf-home"``."""
    with LoopbackHub() as server:
        server.patch_env(monkeypatch, tmp_path / "hf-home")
        yield server


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HF_HUB_OFFLINE=1`` as a user sets it (env, and the constant read at import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def vectors(encoder) -> np.ndarray:
    """Text vectors, and image vectors of two images for the image families."""
    out = [encoder.encode_text(TEXTS)]
    if "image" in encoder.card.modalities:
        from PIL import Image

        out.append(encoder.encode_image([Image.new("RGB", (40, 30), c)
                                         for c in ("red", "navy")]))
    return np.concatenate(out)


@pytest.mark.parametrize("prefix", FAMILIES)
def test_a_hub_id_downloads_once_then_loads_from_the_cache_offline(prefix, request, hub,
                                                                    monkeypatch):
    folder = request.getfixturevalue(FAMILIES[prefix])
    hub.add("org/tiny", folder)
    expected = vectors(load_encoder(f"{prefix}:{folder}"))

    online = load_encoder(f"{prefix}:org/tiny")
    assert online.card.name == f"{prefix}:org/tiny"
    assert hub.requested("/api/models/org/tiny/revision/main")  # model info: the commit
    assert hub.requested("/org/tiny/resolve/") and hub.requested("/cdn/")  # files, LFS weights
    np.testing.assert_allclose(vectors(online), expected, atol=1e-6)

    seen = len(hub.requests)
    go_offline(monkeypatch)
    cached = load_encoder(f"{prefix}:org/tiny")
    assert len(hub.requests) == seen  # not one request
    np.testing.assert_allclose(vectors(cached), expected, atol=1e-6)


def test_offline_with_an_empty_cache_names_offline_mode_and_the_cache(hub, monkeypatch,
                                                                      tiny_st, tmp_path):
    hub.add("org/tiny-st", tiny_st)
    with pytest.raises(EncoderLoadError, match=r"offline mode is on \(offline=True") as info:
        load_encoder("st:org/tiny-st", offline=True)  # the argument, the env online
    assert str(tmp_path / "hf-home" / "hub") in str(info.value)
    go_offline(monkeypatch)
    with pytest.raises(EncoderLoadError, match=r"offline mode is on \(HF_HUB_OFFLINE=1") as info:
        load_encoder("st:org/tiny-st")
    assert "st:org/tiny-st is not in the Hugging Face cache" in str(info.value)
    assert hub.requests == []


def test_a_revision_pin_resolves_that_revision(hub, tiny_clip, tmp_path):
    from .hf_tiny import build_tiny_clip

    other = build_tiny_clip(tmp_path / "v1", seed=1)
    hub.add("org/clip", tiny_clip)
    commit = hub.add("org/clip", other, revisions=("v1",))
    main = vectors(load_encoder("hf-clip:org/clip"))
    v1 = vectors(load_encoder("hf-clip:org/clip@v1"))
    assert hub.requested("/api/models/org/clip/revision/v1")
    np.testing.assert_allclose(v1, vectors(load_encoder(f"hf-clip:{other}")), atol=1e-6)
    np.testing.assert_allclose(main, vectors(load_encoder(f"hf-clip:{tiny_clip}")), atol=1e-6)
    assert not np.allclose(main, v1)
    by_commit = load_encoder(f"hf-clip:org/clip@{commit}")
    assert by_commit.card.name == f"hf-clip:org/clip@{commit}"
    np.testing.assert_allclose(vectors(by_commit), v1, atol=1e-6)


def test_an_unknown_repo_or_revision_is_named(hub, tiny_st):
    hub.add("org/tiny-st", tiny_st)
    with pytest.raises(EncoderLoadError, match="no Hub model 'org/missing'"):
        load_encoder("st:org/missing")
    with pytest.raises(EncoderLoadError, match="'org/tiny-st' has no revision 'nope'"):
        load_encoder("hf-siglip:org/tiny-st@nope")


def test_pickled_weights_are_never_downloaded_and_a_pickle_only_repo_is_refused(
        hub, tiny_clip, tmp_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(tiny_clip / "config.json", pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"a pickle xmodal must not fetch")
    hub.add("org/pickled", pickled)
    with pytest.raises(EncoderLoadError, match="no safetensors weights"):
        load_encoder("hf-clip:org/pickled")
    assert hub.requested("config.json") and not hub.requested(".bin")


def test_a_local_folder_of_the_same_name_wins(hub, tiny_clip, tmp_path, monkeypatch):
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "tiny").symlink_to(tiny_clip)
    monkeypatch.chdir(tmp_path)
    assert load_encoder("hf-clip:org/tiny").card.family == "clip"
    assert hub.requests == []


def test_serve_fetches_hub_models_at_start_and_requests_read_the_cache(hub, tiny_st,
                                                                       tmp_path):
    from xmodal.api.service import SearchService
    from xmodal.index import open_index

    hub.add("org/tiny-st", tiny_st)
    docs = ["a dog barking", "a red car parked on the street"]
    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as index:
        col = index.create_collection("tiny.text", dim=32, model="st:org/tiny-st",
                                      modality="text", card={"modalities": ["text"]})
        col.upsert(["dog", "car"], load_encoder(f"st:{tiny_st}").encode_document(docs),
                   [{"modality": "text", "caption": d} for d in docs])
    with SearchService(uri, router_model=None) as service:
        assert hub.requested("/api/models/org/tiny-st/revision/main")  # at start
        seen = len(hub.requests)
        hits = service.search(query="a dog barking", k=2)["hits"]
        assert hits[0]["id"] == "dog" and len(hub.requests) == seen  # no request then


def test_serve_refuses_to_start_when_a_hub_model_cannot_be_had(hub, tmp_path, monkeypatch):
    from xmodal.api.service import SearchService
    from xmodal.index import open_index

    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as index:
        index.create_collection("gone.text", dim=4, model="hf-clip:org/gone", modality="text")
    with pytest.raises(EncoderLoadError, match="no Hub model 'org/gone'"):
        SearchService(uri, router_model=None)


def test_cli_offline_flag_names_offline_mode(hub, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from xmodal.cli import app

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a dog barking")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # restored after the test: --offline sets it
    result = CliRunner().invoke(app, ["index", str(tmp_path / "docs"), "--index",
                                      str(tmp_path / "idx"), "--text-model", "st:org/tiny-st",
                                      "--offline"])
    assert result.exit_code == 2, result.output
    assert "offline mode is on (HF_HUB_OFFLINE=1 or --offline)" in result.output
    assert hub.requests == []


@pytest.mark.parametrize("command", ["serve", "mcp"])
def test_servers_stop_at_start_on_a_hub_model_they_cannot_have(command, hub, tmp_path):
    from typer.testing import CliRunner

    from xmodal.cli import app
    from xmodal.index import open_index

    pytest.importorskip("uvicorn" if command == "serve" else "mcp")
    with open_index(str(tmp_path / "idx")) as index:
        index.create_collection("gone.text", dim=4, model="st:org/gone", modality="text")
    result = CliRunner().invoke(app, [command, "--index", str(tmp_path / "idx"),
                                      "--router-model", ""])
    assert result.exit_code == 2, result.output
    assert "no Hub model 'org/gone'" in result.output
