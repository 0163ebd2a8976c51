"""The video indexing benchmark runs end to end on a tiny video and recording and prints its
table, query-by-example figures and targets."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_video_benchmark_prints_a_table_and_targets(tmp_path):
    pytest.importorskip("av")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "video.py"), "--minutes", "0.25",
         "--recording-minutes", "0.5", "--size", "160x90", "--cache", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    out = result.stdout
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    for name in ("decode fast", "decode naive (every frame)", "index video",
                 "index video, no soundtrack", "index recording", "image"):
        assert name in rows, out
    targets = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(targets) == 7  # time and memory for two runs, query by image and two by sound
    assert "PASS query by image" in out  # every shot's image finds its shot
