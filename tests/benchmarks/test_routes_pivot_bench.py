"""The pivot benchmark runs end to end at a tiny size: every row of both directions on both sets
with figures in [0, 1], chance computed from the documents, the target lines, and a JSON of the
same figures. (The run itself stops when the pivot rebuilt from ``search/pivot.py``'s parts
differs from the searcher's, so a zero exit also says they agree.)"""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROWS = ("pivot (xmodal search)", "weighted, 1 text", "weighted, 5 texts", "weighted, 10 texts",
        "RRF, 5 texts", "own caption left out", "gold caption", "held-out captions")


def test_routes_pivot_benchmark_prints_a_table(tmp_path):
    saved = tmp_path / "pivot.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "routes_pivot.py"), "--limit", "8",
         "--backend", "exact", "--json", str(saved)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # the benchmark's own traceback
    figures = json.loads(saved.read_text())
    got = [(r["set"], r["direction"], r["row"]) for r in figures["results"]]
    assert got == [(s, d, row) for s in ("paired", "gcompris")
                   for d in ("image → audio", "audio → image") for row in ROWS]
    for r in figures["results"]:
        if r["row"] == "held-out captions":  # castanets, cello, clarinet among 8 instruments
            assert r["queries"] == 3
        else:  # 8 instruments (an image each) and 4 animals (a photo and a drawing each)
            assert r["queries"] == (16 if r["direction"] == "image → audio" else 12)
        assert 0.0 <= r["hit@10"] <= 1.0 and 0.0 <= r["mrr@10"] <= r["hit@10"]
        assert math.isclose(r["hit@10_se"], math.sqrt(r["hit@10"] * (1 - r["hit@10"])
                                                      / r["queries"]))
    paired = {(r["direction"], r["row"]): r for r in figures["results"] if r["set"] == "paired"}
    # chance: 12 sounds hold one relevant each; 16 images hold one (instruments) or two
    assert paired["image → audio", "gold caption"]["documents"] == 12
    assert math.isclose(paired["image → audio", "pivot (xmodal search)"]["chance"], 10 / 12)
    two = 1 - math.comb(14, 10) / math.comb(16, 10)
    assert math.isclose(paired["audio → image", "pivot (xmodal search)"]["chance"],
                        (8 * 10 / 16 + 4 * two) / 12)
    out = result.stdout
    assert "| set | direction | row |" in out
    assert figures["targets"] == [line for line in out.splitlines()
                                  if line.startswith(("PASS ", "FAIL "))]
    assert len(figures["targets"]) == 4
