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
