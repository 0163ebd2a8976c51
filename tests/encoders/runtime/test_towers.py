"""Each packaged tower on ONNX Runtime gives torch's vectors (cosine >= 0.9999) for any batch,
text length and audio length; the starters' towers switch with them; int8 stays close."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xmodal.encoders import EncoderLoadError, load_encoder
from xmodal.encoders.runtime.graphs import GraphSpec, export_graph
from xmodal.encoders.runtime.session import OnnxGraph
from xmodal.encoders.runtime.towers import MIN_COSINE, check_against_torch, row_cosines

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'xmodal[onnx]'")

SR = 44100


def images():
    """Sizes and shapes the preprocessing treats differently (small, wide, tall, grey)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
           for w, h in ((64, 48), (300, 200), (120, 400))]
    return [*out, Image.new("L", (90, 90), 128)]


def clips():
    """A clip shorter than a block, one of ~2 blocks and one of 7.3 s (several blocks)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(7.3 * SR), dtype=np.float32) / SR
    chirp = np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(t.size)
    return [chirp[: SR // 2], chirp[: 4 * SR] * 0.3, chirp.astype(np.float32)]


TEXTS = ["a dog", "ok", "a red car parked on a quiet street at night, seen from above",
         "word " * 400,  # over MiniLM's 256 tokens: truncated the same way
         "émoji 🐶 and CJK 狗"]


def same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == np.float32
    assert row_cosines(a, b).min() >= MIN_COSINE


@pytest.mark.parametrize("spec", ["efficientnet-lite0", "efficientnet-lite2+classes"])
def test_efficientnet_onnx_equals_torch(spec):
    ref = load_encoder(spec)
    onnx = load_encoder(spec, runtime="onnx")
    assert onnx.graph is not None and ref.graph is None
    for batch in (1, 3):  # dynamic batch, and a last batch of another size
        same(onnx.encode_image(images(), batch_size=batch), ref.encode_image(images()))


def test_aisfx_onnx_equals_torch_for_any_length():
    ref, onnx = load_encoder("aisfx"), load_encoder("aisfx", runtime="onnx")
    same(onnx.encode_audio(clips(), batch_size=2), ref.encode_audio(clips()))
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(2, 160, 96)).astype(np.float32))
    with torch.inference_mode():  # the graph's frames axis is dynamic too
        want = ref.model.get_embedding(x).numpy()
    assert row_cosines(onnx.graph.run({"blocks": x.numpy()}), want).min() >= MIN_COSINE


@pytest.mark.filterwarnings("ignore:truncated 1 item")
def test_minilm_onnx_equals_torch_in_input_order():
    ref, onnx = load_encoder("minilm"), load_encoder("minilm", runtime="onnx")
    for batch in (2, 32):  # several length-sorted batches, returned in input order
        same(onnx.encode_text(TEXTS, batch_size=batch), ref.encode_text(TEXTS))
    with pytest.warns(UserWarning, match="truncated"):  # the same report as torch's
        onnx.encode_text(TEXTS)


def test_st_text_model_with_prompts(tiny_st_prompts):
    ref = load_encoder(f"st:{tiny_st_prompts}")
    onnx = load_encoder(f"st:{tiny_st_prompts}", runtime="onnx")
    texts = ["a dog barking", "the quick brown fox jumps over the lazy dog", "red"]
    same(onnx.encode_query(texts), ref.encode_query(texts))  # "query: " prepended
    same(onnx.encode_document(texts), ref.encode_document(texts))
    assert row_cosines(onnx.encode_query(texts), onnx.encode_document(texts)).min() < 0.9999


def test_starter_towers_switch_with_the_runtime():
    ref = load_encoder("starter-image")
    onnx = load_encoder("starter-image", runtime="onnx")
    assert all(t.graph is not None for t in onnx.model.towers.values())
    same(onnx.encode_image(images()), ref.encode_image(images()))
    same(onnx.encode_text(TEXTS[:3]), ref.encode_text(TEXTS[:3]))


@pytest.mark.filterwarnings("ignore:truncated 1 item")
@pytest.mark.parametrize(("spec", "kind"), [("minilm", "text"), ("aisfx", "audio")])
def test_int8_is_close_not_equal(spec, kind):
    ref, q = load_encoder(spec), load_encoder(spec, runtime="onnx-int8")
    assert "-int8-" in q.graph.path.name
    encode = (lambda e: e.encode_text(TEXTS)) if kind == "text" else (
        lambda e: e.encode_audio(clips()))
    cos = row_cosines(encode(q), encode(ref))
    assert cos.min() > 0.9 and cos.min() < 1 - 1e-7  # quantised: near torch, not equal


def test_a_graph_that_disagrees_is_refused():
    torch.manual_seed(0)
    lin, other = torch.nn.Linear(4, 3).eval(), torch.nn.Linear(4, 3).eval()
    spec = GraphSpec("lin", ("x",), ("y",), {"x": {0: "n"}, "y": {0: "n"}})
    graph = OnnxGraph(export_graph(lin, (torch.zeros(1, 4),), spec).path, threads=1)
    example = (torch.randn(3, 4),)
    assert check_against_torch(graph, lin, example, ("x",), "lin") >= MIN_COSINE
    with pytest.raises(EncoderLoadError, match=r"differs from torch.*runtime='torch'"):
        check_against_torch(graph, other, example, ("x",), "other")


def test_cached_graph_is_reused_by_the_next_load(graph_cache):
    load_encoder("aisfx", runtime="onnx")
    files = {p: p.stat().st_mtime_ns for p in graph_cache.glob("aisfx-fp32-*.onnx")}
    assert len(files) == 1
    again = load_encoder("aisfx", runtime="onnx")
    assert again.graph.path in files and again.graph.path.stat().st_mtime_ns == files[
        again.graph.path]
