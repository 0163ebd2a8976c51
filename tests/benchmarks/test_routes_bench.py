"""The routes benchmark runs end to end at a tiny size: its table has the reference and the
documents row, image → documents equals image → captions (the target passes), and the indexing
cost section and JSON carry the demo estimate."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_routes_benchmark_prints_a_table(tmp_path):
    saved = tmp_path / "routes.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "routes.py"), "--n", "6", "--faq-queries",
         "5", "--faq", "3", "--media", "2", "--repeats", "1", "--json", str(saved)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    rows = [line.split("|")[1:-1] for line in out.splitlines()
            if line.startswith("| image → ")]
    assert [(r[0].strip(), r[1].strip(), int(r[2])) for r in rows] == [
        ("image → captions", "starter-image.text[image]", 6),
        ("image → documents", "starter-image.text[text]", 6)]
    assert rows[0][3:6] == rows[1][3:6]  # Hit@10, MRR@10, chance: the same texts, same model
    assert "PASS image → documents equals image → captions" in out and "6/6 queries" in out
    faq = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| text → ")]
    assert [(r[0].strip(), r[1].strip(), int(r[2])) for r in faq] == [
        ("text → documents, text model", "minilm.text", 5),
        ("text → documents, every space", "every text collection, fused", 5)]
    assert all(0.0 <= float(v) <= 1.0 for r in faq for v in r[3:5])
    figures = json.loads(saved.read_text())
    assert [len(rows) for rows in figures["tables"].values()] == [2, 2]
    assert figures["agree"] == 6 and figures["max_cosine_diff"] < 1e-5
    cost = figures["index_cost"]
    assert cost["faq"] == 3 and cost["text_spaces_s"] > 0 and cost["text_s"] > 0
    assert cost["demo_extra_s"] == pytest.approx(173 * (cost["text_spaces_s"] - cost["text_s"]))
