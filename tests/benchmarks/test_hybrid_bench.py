"""The hybrid benchmark runs end to end at a tiny size: its table has a dense, a bm25 and a fused
row per set with figures in [0, 1], its target lines, and a JSON of the same figures."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETS = ("python-faq", "planted keywords", "emoji names", "emoji names (held-out)")


def test_hybrid_benchmark_prints_a_table(tmp_path):
    saved = tmp_path / "hybrid.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "hybrid.py"), "--limit", "12", "--planted",
         "3", "--json", str(saved)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # the benchmark's own traceback
    out = result.stdout
    rows = [line.split("|")[1:-1] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| set ")]
    assert [(r[0].strip(), r[3].strip()) for r in rows] == [
        (s, row) for s in SETS for row in ("dense", "bm25", "fused")]
    for r in rows:
        assert int(r[1]) == 12  # documents: the FAQ answers (planted among them), the emoji
        assert all(0.0 <= float(v) <= 1.0 for v in r[4:7]), r
    assert [int(r[2]) for r in rows[3:6]] == [12] * 3  # 3 planted answers, 4 queries each
    targets = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(targets) == 5 and "planted keywords: fused Hit@1 ≥ 0.95" in targets[-1]
    assert "## Where fusion ranks the relevant document lower" in out
    figures = json.loads(saved.read_text())
    assert set(figures["results"]) == set(SETS) and figures["targets"] == targets
    planted = figures["results"]["planted keywords"]["rows"]
    # the lexical list finds every planted id or word: the set is built so that it can
    assert planted["bm25"]["recall@10"] == 1.0
    # the emoji documents carry no caption: their lexical text is the code-point file name
    assert figures["results"]["emoji names"]["rows"]["bm25"]["recall@10"] == 0.0
