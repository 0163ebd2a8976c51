"""The graph cache: exported once, found again, re-exported when stale or corrupt, atomic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xmodal.encoders import MissingDependencyError
from xmodal.encoders.runtime.graphs import (
    GraphSpec,
    cache_dir,
    cached_graph,
    export_graph,
    graph_key,
    intact,
    quantized_graph,
)
from xmodal.encoders.runtime.session import OnnxGraph

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'xmodal[onnx]'")

SPEC = GraphSpec("mlp", ("x",), ("y",), {"x": {0: "batch"}, "y": {0: "batch"}})


def mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 4)).eval()


def oracle(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """The MLP in float64 NumPy, from its weights."""
    w1, b1, w2, b2 = (p.detach().double().numpy() for p in module.parameters())
    return np.maximum(x @ w1.T + b1, 0) @ w2.T + b2


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("XMODAL_ONNX_DIR", str(tmp_path / "graphs"))
    return tmp_path / "graphs"


def test_export_runs_like_the_module_for_any_batch(fresh):
    module = mlp()
    got = export_graph(module, (torch.zeros(2, 8),), SPEC)
    assert got.exported and got.path.parent == cache_dir() == fresh and intact(got.path)
    graph = OnnxGraph(got.path, threads=1)
    for n in (1, 5):  # dynamic batch
        x = np.random.default_rng(n).normal(size=(n, 8))
        np.testing.assert_allclose(graph.run({"x": x.astype(np.float32)}), oracle(module, x),
                                   rtol=1e-4, atol=1e-5)


def test_second_export_is_a_cache_hit(fresh):
    first = export_graph(mlp(), (torch.zeros(1, 8),), SPEC)
    stamp = first.path.stat().st_mtime_ns
    again = export_graph(mlp(), (torch.zeros(1, 8),), SPEC)  # equal weights, another object
    assert not again.exported and again.path == first.path
    assert first.path.stat().st_mtime_ns == stamp


def test_key_follows_weights_and_settings():
    module = mlp()
    other = GraphSpec("mlp", ("x",), ("y",), {"x": {0: "n"}, "y": {0: "n"}})
    assert graph_key(module, SPEC) == graph_key(mlp(), SPEC)
    assert graph_key(module, SPEC) != graph_key(module, other)
    with torch.no_grad():
        module[0].bias[3] += 1e-6
    assert graph_key(module, SPEC) != graph_key(mlp(), SPEC)


def test_new_weights_replace_the_stale_graph(fresh):
    old = export_graph(mlp(0), (torch.zeros(1, 8),), SPEC).path
    new = export_graph(mlp(1), (torch.zeros(1, 8),), SPEC)
    assert new.exported and new.path != old
    assert not old.exists() and not old.with_suffix(".sha256").exists()
    assert sorted(p.name for p in fresh.iterdir()) == sorted(
        [new.path.name, new.path.with_suffix(".sha256").name])


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "no digest"])
def test_corrupt_graph_is_exported_again(fresh, damage):
    module = mlp()
    path = export_graph(module, (torch.zeros(1, 8),), SPEC).path
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    else:
        path.with_suffix(".sha256").unlink()
    assert not intact(path)
    again = export_graph(module, (torch.zeros(1, 8),), SPEC)
    assert again.exported and intact(path) and path.read_bytes() == data


def test_failed_write_leaves_nothing(fresh):
    target = fresh / "x-fp32-0.onnx"

    def write(tmp):
        tmp.write_bytes(b"half a graph")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError, match="exporter crashed"):
        cached_graph(target, write)
    assert list(fresh.iterdir()) == []


def test_int8_graph_is_cached_and_close(fresh):
    module = mlp()
    fp32 = export_graph(module, (torch.zeros(1, 8),), SPEC).path
    q = quantized_graph(fp32)
    assert q.exported and "-int8-" in q.path.name
    ops = {n.op_type for n in __import__("onnx").load(str(q.path)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # int8 weights, per-batch scales
    assert not quantized_graph(fp32).exported
    x = np.random.default_rng(0).normal(size=(32, 8))
    got = OnnxGraph(q.path, threads=1).run({"x": x.astype(np.float32)})
    ref = oracle(module, x)
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()  # int8: close, not equal
    assert fp32.exists()  # the int8 file does not count as a stale fp32 one


def test_missing_onnx_names_the_extra(fresh, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[onnx\]"):
        export_graph(mlp(), (torch.zeros(1, 8),), SPEC)
