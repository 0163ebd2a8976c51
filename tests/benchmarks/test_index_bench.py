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
    assert backends == ["edge", "edge (raw EdgeShard)", "edge (filter 1 %)", "edge-scalar",
                        "edge-binary", "exact", "faiss", "qdrant-local"]
    assert all(line.count("|") == out.splitlines()[2].count("|") for line in rows)
    assert "HNSW indexed 3,000/3,000" in out  # the thresholds really put Edge on its HNSW
    assert "## Targets" in out
    targets = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(targets) == 7
    for what in ("edge: recall@10 ≥ 0.95", "p50 ≤ 2 ms", "÷ raw EdgeShard ≤ 1.10×", "≤ 1.2 ×",
                 "edge-scalar: recall@10 ≥ 0.95", "≥ 3× less vector memory",
                 "1 % filter ≤ 1.5 × unfiltered"):
        assert sum(what in line for line in targets) == 1, what
    # vector memory is measured from the store's files: the codes are smaller than float32
    mb = {line.split("|")[4].strip(): line.split("|")[14].strip() for line in rows}
    assert float(mb["edge-scalar"]) * 3 < float(mb["edge"])
    assert float(mb["edge-binary"]) * 3 < float(mb["edge-scalar"])
