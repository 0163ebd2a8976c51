"""The loss benchmark runs end to end at a tiny size and prints its table."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_benchmark_prints_a_table(tmp_path):
    out = tmp_path / "points.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "losses.py"), "--sizes", "256",
         "--impls", "xmodal_clip_tiled,xmodal_siglip_tiled,open_clip_clip,gemm_floor",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    assert "xmodal_clip_tiled" in result.stdout and "gemm_floor" in result.stdout
    points = json.loads(out.read_text())
    records = points["records"]
    assert any(p["impl"] == "xmodal_siglip_tiled" and p["status"] == "ok" for p in records)
