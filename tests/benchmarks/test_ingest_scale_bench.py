"""The ingest-at-scale benchmark runs end to end at a tiny size and prints its tables and
target lines."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_ingest_scale_benchmark_prints_its_tables():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest_scale.py"), "--sizes", "150", "300",
         "--reference-max", "150", "--open-dim", "32", "--open-collections", "2",
         "--repeats", "1", "--photos", "4", "--photo-mb", "0.5"],
        capture_output=True, text=True, timeout=240, check=True,
    )
    out = result.stdout.splitlines()
    rows = [line.split("|")[1:-1] for line in out if line.startswith("| 150 ")
            or line.startswith("| 300 ")]
    runs = [(r[0].strip(), r[1].strip(), r[2].strip()) for r in rows if len(r) == 6]
    assert runs == [("150", "sqlite (ours)", "new"), ("150", "json, whole (before)", "new"),
                    ("150", "sqlite (ours)", "re-run"), ("150", "json, whole (before)", "re-run"),
                    ("300", "sqlite (ours)", "new"), ("300", "sqlite (ours)", "re-run")]
    assert sum(line.startswith("| open + read 2 stored 32-d projections") for line in out) == 1
    assert sum(line.startswith("| load the manifest of 300 files") for line in out) == 1
    assert sum(line.startswith("| trusting recorded size + mtime") for line in out) == 1
    targets = [line for line in out if line.startswith(("PASS ", "FAIL ", "SKIP "))]
    assert len(targets) == 2 and "time per file flat" in targets[0]
    assert targets[1].startswith("SKIP re-run over 100,000")
