"""Choosing a runtime: refusals before loading, and towers without an ONNX path."""

from __future__ import annotations

import sys

import pytest

import xmodal.encoders.runtime as runtime_module
from xmodal.encoders import MissingDependencyError, load_encoder
from xmodal.encoders.runtime import (
    CHOICES,
    RUNTIME_ENV,
    RUNTIMES,
    check_runtime,
    resolve_runtime,
    use_runtime,
)

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'xmodal[onnx]'")


def test_runtimes():
    assert RUNTIMES == ("torch", "onnx", "onnx-int8")
    assert ("auto", *RUNTIMES) == CHOICES


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"runtime": "tensorrt"}, "runtime must be one of (auto, )?torch, onnx, onnx-int8"),
    ({"runtime": "onnx", "device": "cuda"}, "runs on the CPU.*'cuda'"),
    ({"runtime": "onnx-int8", "dtype": "float16"}, "float32 graphs"),
])
def test_refused_before_any_model_loads(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_runtime(**kwargs)
    with pytest.raises(ValueError, match=message):
        load_encoder("no-such-model", **kwargs)  # the runtime is checked before the spec


def test_the_suites_torch_default_switches_and_back():
    enc = load_encoder("aisfx")  # tests/conftest.py sets XMODAL_RUNTIME=torch
    assert enc.graph is None
    assert use_runtime(enc, "onnx").graph is not None
    assert use_runtime(enc, "torch").graph is None


def test_a_model_without_an_onnx_path_is_named(tiny_clip):
    enc = load_encoder(f"hf-clip:{tiny_clip}")
    with pytest.raises(ValueError, match=r"runs on torch only; ONNX Runtime serves"):
        use_runtime(enc, "onnx")
    with pytest.raises(ValueError, match=r"runs on torch only"):
        load_encoder(f"hf-clip:{tiny_clip}", runtime="onnx")


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'xmodal\[onnx\]'"):
        load_encoder("aisfx", runtime="onnx")


def test_auto_is_onnx_on_the_cpu_where_installed(monkeypatch, tmp_path):
    monkeypatch.setenv("XMODAL_ONNX_DIR", str(tmp_path))
    monkeypatch.delenv(RUNTIME_ENV)  # a user's default
    assert resolve_runtime("auto") == "onnx"
    assert load_encoder("aisfx").graph is not None
    assert load_encoder("starter-audio").model.towers["audio"].graph is not None
    assert resolve_runtime("auto", device="cuda:0") == "torch"  # ONNX here is CPU only
    assert resolve_runtime("auto", dtype="float16") == "torch"  # graphs are float32
    monkeypatch.setattr(runtime_module, "onnx_installed", lambda: False)
    assert resolve_runtime("auto") == "torch"
    assert load_encoder("aisfx").graph is None  # torch is the fallback, never an error


def test_auto_keeps_a_model_without_an_onnx_path_on_torch(monkeypatch, tiny_clip):
    monkeypatch.delenv(RUNTIME_ENV)
    enc = load_encoder(f"hf-clip:{tiny_clip}")  # no graph for it: no error either
    assert enc.card.family == "clip" and getattr(enc, "graph", None) is None
