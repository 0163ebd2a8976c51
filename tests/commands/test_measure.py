"""xmodal eval / xmodal diagnose through the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from xmodal.cli import app
from xmodal.diagnostics import diagnose
from xmodal.eval import retrieval_metrics


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_eval_scores_a_run_against_qrels(tmp_path):
    qrels = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}}
    run = {"q1": {"a": 0.9, "x": 0.8, "b": 0.1}, "q2": {"y": 0.5, "c": 0.4}}
    (tmp_path / "qrels.json").write_text(json.dumps(qrels))
    (tmp_path / "run.json").write_text(json.dumps(run))
    got = CliRunner().invoke(app, ["eval", "--run", str(tmp_path / "run.json"), "--qrels",
                                   str(tmp_path / "qrels.json"), "--metrics",
                                   "recall@2,mrr@10,ndcg@3", "--json"])
    assert got.exit_code == 0, got.output
    values = json.loads(got.stdout)["run"]
    assert values == retrieval_metrics(qrels, run, metrics=["recall@2", "mrr@10", "ndcg@3"])
    assert values["recall@2"] == pytest.approx((1 / 2 + 1) / 2)  # q1: a of {a, b}; q2: c
    assert values["mrr@10"] == pytest.approx((1 + 1 / 2) / 2)


def test_eval_without_inputs_exits_2():
    got = CliRunner().invoke(app, ["eval"])
    assert got.exit_code == 2 and "--run and --qrels" in got.output


def test_diagnose_files_prints_json_and_writes_the_report(tmp_path):
    rng = np.random.default_rng(0)
    a = _unit(rng.standard_normal((60, 16)))
    b = _unit(a + 0.3 * rng.standard_normal((60, 16)))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    got = CliRunner().invoke(app, ["diagnose", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                   "--json", "--html", str(tmp_path / "r.html")])
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    want = diagnose(a, b)
    assert out["gap"] == pytest.approx(want.gap) and out["n"] == 60
    assert out["random_pair_std"] == pytest.approx(want.random_pair_std)
    assert {f["code"] for f in out["findings"]} >= {"collapse", "modality_gap"}
    assert "<img" in (tmp_path / "r.html").read_text()


def test_diagnose_exits_1_on_collapse(tmp_path):
    rng = np.random.default_rng(1)
    same = _unit(np.ones((40, 8)) + 1e-4 * rng.standard_normal((40, 8)))
    np.save(tmp_path / "c.npy", same)
    got = CliRunner().invoke(app, ["diagnose", str(tmp_path / "c.npy")])
    assert got.exit_code == 1 and "collapse" in got.stdout


def test_diagnose_without_inputs_exits_2():
    assert CliRunner().invoke(app, ["diagnose"]).exit_code == 2
