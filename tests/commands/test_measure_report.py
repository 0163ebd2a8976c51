"""xmodal diagnose: Recall@K curves (equal to eval.paired's numbers) and --calibrate (the
calibration section, its thresholds and curve) in the JSON and the HTML report."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from xmodal.calibration.fit import fit_pair_calibration
from xmodal.cli import app
from xmodal.eval import paired_retrieval_metrics

pytest.importorskip("matplotlib")


def _pairs(n: int = 300, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d))
    b = a + 0.9 * rng.standard_normal((n, d))
    return a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1,
                                                                          keepdims=True)


def test_diagnose_reports_recall_curves_and_calibration(tmp_path):
    a, b = _pairs()
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    html = tmp_path / "r.html"
    got = CliRunner().invoke(app, ["diagnose", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                   "--json", "--calibrate", "--html", str(html)])
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    curves = out["recall_curves"]
    assert set(curves) == {"a→b", "b→a"} and len(curves["a→b"]) == 100
    diag = [{i} for i in range(300)]
    for k in (1, 5, 10, 50, 100):  # the oracle: eval.paired on each direction
        assert curves["a→b"][k - 1] == paired_retrieval_metrics(a, b, diag, ks=(k,))[f"recall@{k}"]
        assert curves["b→a"][k - 1] == paired_retrieval_metrics(b, a, diag, ks=(k,))[f"recall@{k}"]
    assert all(x <= y for x, y in zip(curves["a→b"], curves["a→b"][1:], strict=False))
    cal = out["calibration"]
    want = fit_pair_calibration(a, b, precision=0.8, query_type="b→a")
    assert cal["threshold"] == pytest.approx(want.threshold)
    assert cal["heldout_precision"] == pytest.approx(want.heldout_precision)
    assert cal["thresholds"]["precision>=0.8"] == pytest.approx(want.threshold)
    assert set(cal["thresholds"]) == {f"{k}>={t}" for k in ("precision", "recall")
                                      for t in (0.5, 0.8, 0.9)}
    probs = cal["curve"]["probability"]
    assert len(probs) == 21 and all(x <= y + 1e-12 for x, y in itertools.pairwise(probs))
    text = html.read_text()
    assert "<h2>Recall@K</h2>" in text and 'alt="Recall@K curves"' in text
    assert "<h2>Calibration</h2>" in text and 'alt="calibration curve"' in text
    assert "precision&gt;=0.8" in text and text.count("<img") == 4


def test_diagnose_without_pairs_has_no_curves_and_calibrate_needs_pairs(tmp_path):
    a, _ = _pairs(60)
    np.save(tmp_path / "a.npy", a)
    got = CliRunner().invoke(app, ["diagnose", str(tmp_path / "a.npy"), "--json"])
    assert got.exit_code == 0 and "recall_curves" not in json.loads(got.stdout)
    bad = CliRunner().invoke(app, ["diagnose", str(tmp_path / "a.npy"), "--calibrate"])
    assert bad.exit_code == 2 and "matched pairs" in bad.output


def test_diagnose_text_output_mentions_the_calibration(tmp_path):
    a, b = _pairs(200, seed=1)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    got = CliRunner().invoke(app, ["diagnose", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                   "--calibrate"])
    assert got.exit_code in (0, 1) and "calibration (isotonic): threshold" in got.stdout
