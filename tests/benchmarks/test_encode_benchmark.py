"""The encoding benchmark runs end to end on a tiny slice of the real data and prints its tables:
the towers beside their raw models, and xmodal beside the naive pipeline (issue 16)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_encode_benchmark_prints_its_tables():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "encode.py"), "--images", "8", "--clips", "2",
         "--texts", "16", "--batch-size", "4", "--reps", "1", "--workers", "1",
         "--camera", "2", "--camera-size", "640x480", "--pngs", "3", "--long-audio", "1",
         "--audio-seconds", "5"],
        capture_output=True, text=True, timeout=900, check=True,
    )
    out = result.stdout
    for tower in ("minilm", "efficientnet-lite0", "aisfx"):
        assert f"| {tower} | raw |" in out
    assert "encode (workers=1)" in out and "## Target:" in out
    for workload, n in (("camera JPEG", 2), ("small PNG", 3), ("long audio", 1)):
        row = next(line for line in out.splitlines() if line.startswith(f"| {workload} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert int(cells[1]) == n and cells[4].endswith("×")
        assert float(cells[7]) > 0.99  # the features' cosine to the naive pipeline's
        assert f"{workload}: " in out.split("## Targets (issue 16)")[1]
