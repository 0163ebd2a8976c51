"""The media-beside-searches benchmark runs end to end at its smoke size: a real ``xmodal serve``
on indexed emoji, 20 parallel ``GET /media/ID`` per round without and beside a search load; its
table prints, and every media request is answered 200 in both phases (the issue's target: media
never take a search work slot)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_serve_media_smoke_answers_every_media_request():
    pytest.importorskip("uvicorn")
    from xmodal.data.sources import SourceMissingError, load_source

    try:
        load_source("emoji-datasource", limit=1)
    except SourceMissingError:
        pytest.skip("emoji-datasource is not installed")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_media.py"), "--smoke"],
        capture_output=True, text=True, timeout=600, check=True,
    )
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in result.stdout.splitlines() if line.startswith("| ") and "phase" not in line]
    assert [r[0] for r in rows] == ["no search load", "2 search clients"], result.stdout
    for r in rows:
        assert r[1] == r[2] == "60" and r[3] == r[4] == "0", r  # 60 requests, all 200
    assert "PASS every media request" in result.stdout
