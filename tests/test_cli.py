from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import xmodal
from xmodal.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_version_command():
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == xmodal.__version__


def test_no_arguments_shows_help():
    result = CliRunner().invoke(app, [])
    assert "version" in result.output


# --- xmodal train

TRAIN_ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory):
    from tests.encoders.conftest import build_tiny_st

    return build_tiny_st(tmp_path_factory.mktemp("tiny_st"))


@pytest.fixture
def text_config(tmp_path, tiny_st):
    """A JSON config (relative data and out paths) over 24 text pairs, and its run folder."""
    from tests.train.conftest import text_pairs, write_jsonl

    write_jsonl(tmp_path / "pairs.jsonl", text_pairs(24))
    config = {"data": "pairs.jsonl", "out": "run", "model": f"st:{tiny_st}", "holdout": 0.2,
              "steps": 50, "batch_size": 64, "lr": 1e-4, "progress": False, "resume": False,
              "checkpoint_every": 50}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path, tmp_path / "run"


def test_train_command_with_overrides(text_config):
    config, out = text_config
    result = CliRunner().invoke(app, ["train", str(config), "--steps", "2", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "trained 2 steps" in result.output  # the overrides won over the file
    assert f"model: {out / 'model'}" in result.output
    assert (out / "model").is_dir()
    assert "held-out R@1:" in result.output and "held-out R@10:" in result.output
    assert "chance R@10" in result.output


def test_train_command_rejects_an_unknown_override(text_config):
    config, out = text_config
    result = CliRunner().invoke(app, ["train", str(config), "--nope", "1"])
    assert result.exit_code == 2
    assert "nope" in result.output and "unknown" in result.output
    assert not out.exists()


def test_train_command_rejects_a_bad_value(text_config):
    result = CliRunner().invoke(app, ["train", str(text_config[0]), "--steps", "ten"])
    assert result.exit_code == 2 and "steps" in result.output


def test_train_command_missing_config(tmp_path):
    result = CliRunner().invoke(app, ["train", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "absent.yaml" in result.output


def test_python_dash_m_xmodal_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "xmodal", "version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == xmodal.__version__


def test_train_under_torchrun_two_processes(text_config):
    config, out = text_config
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, **TRAIN_ENV, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "xmodal", "train", str(config), "--steps", "2", "--batch-size", "4"],
        capture_output=True, text=True, timeout=240, check=False, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (out / "model").is_dir()
    assert done.stdout.count("model: ") == 1  # rank 0 only saves
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2


# --- --device and --batch-size (index, search, serve, mcp)

MODEL_COMMANDS = ("index", "search", "serve", "mcp")


class Recorder:
    """Captures ``load_encoder(spec, device=...)`` calls and the ``batch_size`` each
    ``encode_*`` call got; answers with the toy encoders (which take no batch size)."""

    def __init__(self, toys: dict) -> None:
        self.by_name = {e.card.name: e for e in toys.values()}
        self.devices: dict[str, str] = {}
        self.batch_sizes: set[int | None] = set()

    def load(self, spec: str, *, device: str = "cpu", **how: object) -> object:
        self.devices[spec] = device
        toy, batch_sizes = self.by_name[spec], self.batch_sizes

        class Batched:
            card = toy.card

            def __getattr__(self, name: str) -> object:
                method = getattr(toy, name)

                def call(items, *, batch_size=None, **kwargs):
                    batch_sizes.add(batch_size)
                    kwargs.pop("workers", None)
                    return method(items, **kwargs)

                return call if name.startswith("encode_") else method

        return Batched()


@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_device_and_batch_size_are_listed_in_help(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "--device" in result.output and "--batch-size" in result.output


@pytest.mark.parametrize("command", MODEL_COMMANDS)
@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "CUDA is not available (torch.cuda.is_available() is False)"),
    ("mps", "MPS is not available (torch.backends.mps.is_available() is False)")])
def test_absent_device_exits_2_before_any_model_loads(command, device, message, monkeypatch,
                                                      tmp_path):
    import torch

    import xmodal.encoders

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(xmodal.encoders, "load_encoder", pytest.fail)  # never reached
    args = {"index": [str(tmp_path)], "search": ["a cat"]}.get(command, [])
    result = CliRunner().invoke(app, [command, *args, "--index", str(tmp_path / "idx"),
                                      "--device", device])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "idx").exists()  # nor was the index opened


def test_unknown_device_exits_2():
    result = CliRunner().invoke(app, ["search", "a cat", "--device", "tpu"])
    assert result.exit_code == 2
    assert "unknown device 'tpu'" in result.stderr


def test_device_and_batch_size_reach_the_encoders_of_index_and_search(monkeypatch, tmp_path):
    import torch

    import xmodal.encoders
    from tests.api.toy import toy_encoders, write_corpus

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the toys run anywhere
    recorder = Recorder(toy_encoders())
    monkeypatch.setattr(xmodal.encoders, "load_encoder", recorder.load)
    uri = "exact:" + str(tmp_path / "idx")
    models = ["--image-model", "toy-image", "--audio-model", "toy-audio",
              "--text-model", "toy-text"]
    result = CliRunner().invoke(app, ["index", str(write_corpus(tmp_path / "corpus")),
                                      "--index", uri, *models, "--device", "cuda",
                                      "--batch-size", "7"])
    assert result.exit_code == 0, result.output
    assert recorder.devices == dict.fromkeys(("toy-image", "toy-audio", "toy-text"), "cuda")
    assert recorder.batch_sizes == {7}
    recorder.devices.clear(), recorder.batch_sizes.clear()
    result = CliRunner().invoke(app, ["search", "a red heart", "--index", uri, "--no-route",
                                      "--device", "auto", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert set(recorder.devices.values()) == {"cuda"}  # auto: cuda, when it is there
    assert recorder.batch_sizes == {3}


@pytest.mark.parametrize(("command", "module", "function"), [
    ("serve", "xmodal.api.http", "run_serve"), ("mcp", "xmodal.api.mcp", "run_mcp")])
def test_device_and_batch_size_reach_serve_and_mcp(command, module, function, monkeypatch):
    import importlib

    pytest.importorskip("fastapi") if command == "serve" else pytest.importorskip("mcp")
    seen: dict[str, object] = {}

    def run(*args: object, **kwargs: object) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(importlib.import_module(module), function, run)
    result = CliRunner().invoke(app, [command, "--device", "cpu", "--batch-size", "5"])
    assert result.exit_code == 0, result.output
    assert (seen["device"], seen["batch_size"]) == ("cpu", 5)
