"""The video decoding benchmark runs end to end on a short, small video and prints its targets."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_video_benchmark_prints_a_table_and_targets():
    pytest.importorskip("av")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "video_decode.py"), "--minutes", "0.25",
         "--size", "160x90", "--preset", "ultrafast"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    out = result.stdout
    rows = {line.split("|")[1].strip(): line.split("|") for line in out.splitlines()
            if line.startswith(("| fast ", "| naive "))}
    assert set(rows) == {"fast", "naive"}
    for cells in rows.values():
        found, cuts = cells[9].strip().split("/")
        assert found == cuts and int(cuts) > 0  # every composed cut found within ±0.5 s
        assert cells[12].strip() == "0"  # no keyframe at a cut
    assert int(rows["fast"][6].replace(",", "")) < int(rows["naive"][6].replace(",", ""))
    targets = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(targets) == 6
    assert all(line.startswith("PASS") for line in targets
               if "cut" in line or "same segments" in line)
