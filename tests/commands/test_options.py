"""``--runtime``: checked while the line is parsed, and the default of every model load after."""

from __future__ import annotations

import os
import sys

import pytest
from typer.testing import CliRunner

from xmodal.cli import app
from xmodal.encoders.runtime import RUNTIME_ENV, default_runtime

COMMANDS = ("index", "search", "serve", "mcp", "demo")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv(RUNTIME_ENV, raising=False)  # restored after each test


@pytest.mark.parametrize("command", COMMANDS)
def test_runtime_is_listed_in_help(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0 and "--runtime" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_runtime_exits_2_before_any_model_loads(command, monkeypatch, tmp_path):
    import xmodal.encoders

    monkeypatch.setattr(xmodal.encoders, "load_encoder", pytest.fail)  # never reached
    args = {"index": [str(tmp_path)], "search": ["a cat"]}.get(command, [])
    result = CliRunner().invoke(app, [command, *args, "--index", str(tmp_path / "idx"),
                                      "--runtime", "tensorrt"])
    assert result.exit_code == 2, result.output
    assert "--runtime: use one of auto, torch, onnx, onnx-int8, not 'tensorrt'" in result.stderr
    assert not (tmp_path / "idx").exists()


def test_missing_onnxruntime_exits_2_naming_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = CliRunner().invoke(app, ["search", "a cat", "--index", str(tmp_path / "idx"),
                                      "--runtime", "onnx"])
    assert result.exit_code == 2
    assert "pip install 'xmodal[onnx]'" in result.stderr


def test_index_loads_its_models_on_the_runtime(monkeypatch, tmp_path):
    import xmodal.encoders
    from tests.api.toy import toy_encoders, write_corpus

    pytest.importorskip("onnxruntime")
    toys = {e.card.name: e for e in toy_encoders().values()}
    seen: dict[str, str] = {}

    def load(spec, **how):
        seen[spec] = default_runtime()  # what load_encoder would use for this model
        return toys[spec]

    monkeypatch.setattr(xmodal.encoders, "load_encoder", load)
    models = ["--image-model", "toy-image", "--audio-model", "toy-audio",
              "--text-model", "toy-text"]
    result = CliRunner().invoke(app, ["index", str(write_corpus(tmp_path / "corpus")),
                                      "--index", "exact:" + str(tmp_path / "idx"), *models,
                                      "--runtime", "onnx"])
    assert result.exit_code == 0, result.output
    assert seen == dict.fromkeys(("toy-image", "toy-audio", "toy-text"), "onnx")


def test_environment_default_reaches_load_encoder(monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime")
    from xmodal.encoders import load_encoder

    monkeypatch.setenv("XMODAL_ONNX_DIR", str(tmp_path))
    monkeypatch.setenv(RUNTIME_ENV, "onnx")
    assert load_encoder("aisfx").graph is not None
    assert load_encoder("aisfx", runtime="torch").graph is None  # an explicit choice wins
    monkeypatch.setenv(RUNTIME_ENV, "gpu")
    with pytest.raises(ValueError, match="XMODAL_RUNTIME='gpu'"):
        load_encoder("aisfx")


def test_runtime_not_given_leaves_the_environment_alone(monkeypatch, tmp_path):
    """Without --runtime a command keeps XMODAL_RUNTIME (else load_encoder's auto)."""
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    result = CliRunner().invoke(app, ["search", "x", "--index", "exact:" + str(tmp_path / "none")])
    assert result.exit_code != 0  # no such index; the option was parsed all the same
    assert os.environ[RUNTIME_ENV] == "torch"
    monkeypatch.delenv(RUNTIME_ENV)
    CliRunner().invoke(app, ["search", "x", "--index", "exact:" + str(tmp_path / "none"),
                             "--runtime", "auto"])
    assert os.environ[RUNTIME_ENV] == "auto" and default_runtime() == "auto"
