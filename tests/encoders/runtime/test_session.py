"""An ONNX Runtime session with xmodal's threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xmodal.encoders.runtime.graphs import GraphSpec, export_graph
from xmodal.encoders.runtime.session import OnnxGraph, default_threads

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'xmodal[onnx]'")

SPEC = GraphSpec("lin", ("x",), ("y",), {"x": {0: "batch"}, "y": {0: "batch"}})


def test_threads_follow_torch_at_each_run_unless_given(monkeypatch):
    path = export_graph(torch.nn.Linear(3, 2).eval(), (torch.zeros(1, 3),), SPEC).path
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    graph = OnnxGraph(path)
    x = np.ones((2, 3), np.float32)
    for n in (3, 1, 3):  # e.g. a pipelined encoder lending a core to decoding, then back
        monkeypatch.setattr(torch, "get_num_threads", lambda n=n: n)
        assert default_threads() == n and graph.threads == n
        graph.run({"x": x})
        assert graph.session().get_session_options().intra_op_num_threads == n
    assert sorted(graph._sessions) == [1, 3]  # one session per thread count, reused
    fixed = OnnxGraph(path, threads=2)
    assert fixed.threads == 2 and fixed.session().get_session_options().intra_op_num_threads == 2


def test_run_takes_named_feeds_and_ignores_extras():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2).eval()
    graph = OnnxGraph(export_graph(lin, (torch.zeros(1, 3),), SPEC).path, threads=1)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    want = x.astype(np.float64) @ lin.weight.detach().double().numpy().T + lin.bias.detach(
    ).double().numpy()
    np.testing.assert_allclose(graph.run({"x": x, "unused": x}), want, rtol=1e-5, atol=1e-5)
    assert graph.inputs == ("x",)
