"""The rerank benchmark runs end to end at a tiny size on a tiny random cross-encoder: its table
has the first stage and a lead, an equal and a ×W row per depth with figures in [0, 1], its target
line, and a JSON of the same figures; without any cross-encoder it measures nothing (exit 2)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.search.test_rerank import build_tiny_cross_encoder

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "benchmarks" / "rerank.py")

pytest.importorskip("sentence_transformers")


def test_rerank_benchmark_prints_a_table(tmp_path):
    ce = build_tiny_cross_encoder(tmp_path / "ce")
    saved = tmp_path / "rerank.json"
    result = subprocess.run(
        [sys.executable, SCRIPT, "--model", str(ce), "--limit", "8", "--depths", "3,6",
         "--weights", "2", "--backend", "exact", "--json", str(saved)],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| row ")]
    names = ["first stage", *(f"rerank@{d} ({k})" for d in (6, 3)
                              for k in ("lead", "equal", "×2"))]
    assert [r[0].strip() for r in rows] == names
    for r in rows:
        assert all(0.0 <= float(v) <= 1.0 for v in r[1:3]), r
    assert rows[1][5].strip() != "" and rows[2][5].strip() == "(scores reused)"
    figures = json.loads(saved.read_text())
    assert list(figures["rows"]) == names and figures["queries"] == 8
    assert set(figures["first_stage_recall_at_depth"]) == {"recall@6", "recall@3"}
    for row in names[1:]:  # the paired difference is the difference of the means
        assert figures["mrr_delta"][row][0] == pytest.approx(
            figures["rows"][row]["mrr@10"] - figures["rows"]["first stage"]["mrr@10"])
    target = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(target) == 1 and "rerank@6 (lead)" in target[0]


def test_without_a_cross_encoder_nothing_is_measured(tmp_path):
    env = {**os.environ, "XMODAL_MODELS_DIR": str(tmp_path / "models"),
           "HF_HUB_CACHE": str(tmp_path / "hub")}
    result = subprocess.run([sys.executable, SCRIPT, "--depths", "20"], capture_output=True,
                            text=True, timeout=300, check=False, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Nothing was measured" in result.stdout and "rerank@20 (lead)" in result.stdout
