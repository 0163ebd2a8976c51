"""Decoding in worker processes ahead of the model gives the same result as in process."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from xmodal.encoders import load_encoder


def _image_files(folder, n):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (30 + i, 40, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("batch_size", [2, 5])  # each batch is split between the 2 workers
def test_image_workers_match_in_process_decoding(tiny_clip, tmp_path, batch_size):
    enc = load_encoder(f"hf-clip:{tiny_clip}")
    paths = _image_files(tmp_path, 7)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    items = [*paths[:3], str(tmp_path / "broken.png"), *paths[3:]]
    inline = enc.encode_image(items, batch_size=batch_size, errors="report")
    pooled = enc.encode_image(items, batch_size=batch_size, errors="report", workers=2)
    np.testing.assert_array_equal(inline.indices, pooled.indices)
    np.testing.assert_allclose(inline.vectors, pooled.vectors, atol=1e-6)
    assert [p.index for p in pooled.failed] == [3]
    with pytest.raises(ValueError, match="item 3"):
        enc.encode_image(items, batch_size=batch_size, workers=2)
    with pytest.raises(ValueError, match="workers must be"):
        enc.encode_image(items, workers=-1)


def test_audio_workers_match_in_process_decoding(tiny_clap, tmp_path):
    enc = load_encoder(f"hf-clap:{tiny_clap}")
    rng = np.random.default_rng(1)
    paths = []
    for i in range(4):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, rng.standard_normal(8000 + 4000 * i).astype(np.float32) * 0.1, 16000)
        paths.append(str(path))
    inline = enc.encode_audio(paths, batch_size=3)
    pooled = enc.encode_audio(paths, batch_size=3, workers=2)
    np.testing.assert_allclose(inline, pooled, atol=1e-6)
