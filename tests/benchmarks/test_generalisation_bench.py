"""The out-of-domain benchmark runs end to end on a slice of every family: one fold per family
left out, the tables, and a JSON whose summary is the mean of the folds it lists."""

from __future__ import annotations

import json
import pathlib
import statistics
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = "bridge-trained w=0.5 p=0.5 + class prior + text class mix"
IMAGE_ROWS = ("heads", "bridge-trained w=0.5", "bridge-trained w=0.5 p=0.5", SHIPPED,
              "shipped + family batches",
              "shipped + MiniLM + lr 5e-4 + emoji ×1 (the previous starter)",
              "bridge-trained + image augmentation",
              "bridge-trained + synthetic negatives 1:7", "bridge-trained + caption templates")


@pytest.mark.parametrize(("modality", "row", "folds"), [
    ("audio", "heads", "openttd,minetest"),
    ("image", SHIPPED, "sweethome3d,scratch"),
])
def test_generalisation_benchmark_prints_tables_and_a_summary(tmp_path, modality, row, folds):
    out = tmp_path / "result.json"
    variants = "heads" if modality == "audio" else ",".join(IMAGE_ROWS)
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generalisation.py"), "--modality", modality,
         "--limit", "12", "--steps", "3", "--families", folds, "--variants", variants,
         "--cache", str(tmp_path / "features"), "--json", str(out)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # the benchmark's own traceback
    assert "leave one family out; draws of 300 items" in result.stdout
    assert "the whole family as candidates" in result.stdout
    saved = json.loads(out.read_text())
    assert saved["folds"] == folds.split(",")
    summary = saved["summary"]
    assert summary["row"] == row and summary["folds"] == saved["folds"]
    # the headline is the plain mean of the per-fold figures (each fold: its draws' mean)
    per_fold = [statistics.mean(f["to_text"]["10"] for f in saved["results"][fold][row])
                for fold in saved["folds"]]
    assert summary["to_text"] == pytest.approx(statistics.mean(per_fold))
    for fold in saved["folds"]:
        for figures in saved["results"][fold][row]:
            assert figures["n_items"] <= 12 and 0.0 <= figures["from_text"]["10"] <= 1.0
    assert "in-domain" in saved["results"]
    if modality == "image":  # the training-free baseline comes with the heads' fit
        rows = set(saved["results"][saved["folds"][0]])
        assert {"conse", "rrf(heads, conse)", "bridge w=0.5", *IMAGE_ROWS} <= rows
