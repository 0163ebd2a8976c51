"""Calibration on real data (issue 6): the threshold chosen for precision 0.8 on a calibration
split keeps its precision on held-out documents, within ±0.08.

Data: the Python FAQ's 178 question → answer pairs (Debian ``python3.11-doc``), embedded by the
packaged MiniLM (questions as queries, answers as documents): text→text, a real query type.
One split holds out only 53 questions, so one split's held-out precision is noisy (0.71–0.87
over seeds 0–4 here); the check is on the mean over ten seeded splits (repeated hold-out). The
held-out counting itself is checked against a hand recount in
tests/calibration/test_calibrate_store.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.calibration.fit import fit_pair_calibration
from xmodal.data.sources import load_source


@pytest.fixture(scope="module")
def faq() -> tuple[np.ndarray, np.ndarray]:
    from xmodal.encoders import load_encoder

    items = load_source("python-faq").items
    enc = load_encoder("minilm")
    queries = enc.encode_query([p.query for p in items])  # (178, 384)
    answers = enc.encode_document([p.document for p in items])  # (178, 384)
    return np.asarray(answers, np.float64), np.asarray(queries, np.float64)


def test_precision_threshold_holds_on_held_out_questions(faq) -> None:
    answers, queries = faq
    n = len(answers)
    held: list[float] = []
    for seed in range(10):
        fit = fit_pair_calibration(answers, queries, precision=0.8, query_type="text→text",
                                   model="minilm", seed=seed)
        assert fit.counts["docs"] == n and fit.counts["heldout_docs"] == round(0.3 * n)
        assert fit.heldout_recall > 0.5  # a threshold that keeps most matches, not a trivial one
        held.append(fit.heldout_precision)
    assert abs(np.mean(held) - 0.8) <= 0.08, held
