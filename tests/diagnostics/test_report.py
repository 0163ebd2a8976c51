"""write_report: findings table, embedded plots, escaping, missing matplotlib."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from xmodal._optional import MissingDependencyError
from xmodal.diagnostics import Calibrator, diagnose, write_report

pytest.importorskip("matplotlib")


def _pairs(n: int = 400, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    offset = np.zeros(dim)
    offset[0] = 3.0
    a = rng.normal(size=(n, dim)) + offset
    b = a + 0.8 * rng.normal(size=(n, dim)) - offset + np.roll(offset, 1)
    return a, b


def test_full_report_has_findings_and_plots(tmp_path: Path) -> None:
    a, b = _pairs()
    d = diagnose(a, b)
    ua = a / np.linalg.norm(a, axis=1, keepdims=True)
    ub = b / np.linalg.norm(b, axis=1, keepdims=True)
    matched = (ua * ub).sum(1)
    random = (ua * np.roll(ub, 1, axis=0)).sum(1)
    cal = Calibrator.from_pairs(matched, random, model="toy", query_type="text→image")
    cal = cal.with_threshold(cal.threshold_for_precision(0.8))
    out = write_report(d, tmp_path / "sub" / "report.html", a=a, b=b, calibrator=cal)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<img") == 4 and "data:image/png;base64," in text
    for f in d.findings:
        assert f.code in text
    assert "modality_gap" in text and "GapProjection" in text  # the gap warning and remedy
    assert "effective_rank" in text and "gap_cosine" in text


def test_given_scores_and_one_set(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(100, 8))
    cal = Calibrator.fit([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], method="platt")
    out = write_report(diagnose(x), tmp_path / "r.html", a=x, matched_scores=[0.3, 0.4],
                       random_scores=[0.0, 0.1, 0.2], calibrator=cal)
    assert out.read_text(encoding="utf-8").count("<img") == 3


def test_no_inputs_no_plots_and_escaping(tmp_path: Path) -> None:
    x = np.ones((20, 4)) + 1e-6 * np.random.default_rng(2).normal(size=(20, 4))
    d = diagnose(x)  # collapse: its message holds "<"
    text = write_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<img" not in text and "no plots" in text
    assert "collapse" in text and "&lt; 0.01" in text and "error" in text


def test_missing_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    x = np.random.default_rng(3).normal(size=(10, 4))
    with pytest.raises(MissingDependencyError, match=r"xmodal\[train\]"):
        write_report(diagnose(x), tmp_path / "r.html", a=x)
