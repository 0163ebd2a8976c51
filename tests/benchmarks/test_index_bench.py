"""The index benchmark runs end to end at a tiny size and prints its table and target lines."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_index_benchmark_prints_a_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "index.py"), "--sizes", "3000", "--dim", "64",
         "--queries", "50", "--time-cap", "10"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    out = result.stdout
    rows = [line for line in out.splitlines() if line.startswith("| synthetic")]
    backends = [line.split("|")[4].strip() for line in rows]
    # qdrant-local joins automatically at N <= 20,000; the raw-shard row carries the overhead
    assert backends == ["edge", "edge (raw EdgeShard)", "exact", "faiss", "qdrant-local"]
    assert all(line.count("|") == out.splitlines()[2].count("|") for line in rows)
    assert "HNSW indexed 3,000/3,000" in out  # the thresholds really put Edge on its HNSW
    assert "## Targets" in out
    targets = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(targets) == 4
    for what in ("recall@10 ≥ 0.95", "p50 ≤ 2 ms", "÷ raw EdgeShard ≤ 1.10×", "≤ 1.2 ×"):
        assert sum(what in line for line in targets) == 1, what
