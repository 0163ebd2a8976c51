"""The encoding benchmark runs end to end on a tiny slice of the real data and prints its table."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_encode_benchmark_prints_a_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "encode.py"), "--images", "8", "--clips", "2",
         "--texts", "16", "--batch-size", "4", "--reps", "1", "--workers", "1"],
        capture_output=True, text=True, timeout=600, check=True,
    )
    for tower in ("minilm", "efficientnet-lite0", "aisfx"):
        assert f"| {tower} | raw |" in result.stdout
    assert "encode (workers=1)" in result.stdout and "## Target" in result.stdout
