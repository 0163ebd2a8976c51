"""Choosing a runtime: refusals before loading, and towers without an ONNX path."""

from __future__ import annotations

import sys

import pytest

from xmodal.encoders import MissingDependencyError, load_encoder
from xmodal.encoders.runtime import RUNTIMES, check_runtime, use_runtime

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'xmodal[onnx]'")


def test_runtimes():
    assert RUNTIMES == ("torch", "onnx", "onnx-int8")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"runtime": "tensorrt"}, "runtime must be one of torch, onnx, onnx-int8"),
    ({"runtime": "onnx", "device": "cuda"}, "runs on the CPU.*'cuda'"),
    ({"runtime": "onnx-int8", "dtype": "float16"}, "float32 graphs"),
])
def test_refused_before_any_model_loads(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_runtime(**kwargs)
    with pytest.raises(ValueError, match=message):
        load_encoder("no-such-model", **kwargs)  # the runtime is checked before the spec


def test_torch_stays_the_default_and_switches_back():
    enc = load_encoder("aisfx")
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
