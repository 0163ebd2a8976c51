"""The runtime benchmark runs end to end on a tiny slice: every tower on every runtime, the
cosine to torch, and the starters' held-out Hit@10 per runtime."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'xmodal[onnx]'")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_runtime_benchmark_prints_both_tables(tmp_path):
    env = {**os.environ, "XMODAL_ONNX_DIR": str(tmp_path / "graphs")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "runtime.py"), "--items", "4", "--texts", "6",
         "--clips", "2", "--batch-size", "4", "--reps", "1", "--threads", "1",
         "--towers", "efficientnet-lite0,minilm,aisfx", "--hit10", "audio", "--hit-items", "6"],
        capture_output=True, text=True, timeout=900, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "## Runtimes (1 intra-op threads" in out
    for tower in ("efficientnet-lite0", "minilm", "aisfx"):
        for runtime in ("torch", "onnx", "onnx-int8"):
            row = re.search(rf"\| {tower} \| {runtime} \| (\d+) \| [\d.]+ \| [\d.]+ \| "
                            rf"([\d.]+) / ([\d.]+) \|", out)
            assert row, f"no row for {tower} on {runtime}"
            if runtime != "onnx-int8":  # fp32 ONNX holds the 0.9999 target
                assert float(row.group(2)) >= 0.9999
    hits = re.findall(r"\| audio \| (torch|onnx|onnx-int8) \| 6 \| \d+ \| ([\d.]+) \| ([\d.]+) \|",
                      out)
    assert [h[0] for h in hits] == ["torch", "onnx", "onnx-int8"]
    assert all(0.0 <= float(x) <= 1.0 for h in hits for x in h[1:])
