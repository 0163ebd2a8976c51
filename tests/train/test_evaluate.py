"""Held-out retrieval figures against a brute-force loop over every query."""

from __future__ import annotations

import numpy as np
import torch

from xmodal.data.pairs import PairDataset
from xmodal.train.evaluate import retrieval_figures
from xmodal.train.models import TowerPair


def _oracle(a: np.ndarray, t: np.ndarray, own: np.ndarray, k: int) -> tuple[float, float]:
    """Any positive strictly above all but fewer than k negatives, per query (loops)."""
    hits_i = []
    for i in range(a.shape[0]):
        s = [float(a[i] @ t[j]) for j in range(t.shape[0])]
        best = max(s[j] for j in range(t.shape[0]) if own[i, j])
        above = sum(1 for j in range(t.shape[0]) if not own[i, j] and s[j] > best)
        hits_i.append(above < k)
    hits_t = []
    for j in range(t.shape[0]):
        s = [float(a[i] @ t[j]) for i in range(a.shape[0])]
        best = max(s[i] for i in range(a.shape[0]) if own[i, j])
        above = sum(1 for i in range(a.shape[0]) if not own[i, j] and s[i] > best)
        hits_t.append(above < k)
    return float(np.mean(hits_i)), float(np.mean(hits_t))


def test_recall_matches_the_loop_with_shared_captions_and_repeated_items():
    rng = np.random.default_rng(0)
    xa = torch.tensor(rng.standard_normal((30, 5)), dtype=torch.float32)
    xt = torch.tensor(rng.standard_normal((12, 5)), dtype=torch.float32)
    anchors = [int(i) for i in rng.integers(0, 30, 40)]  # items repeat
    captions = [f"{int(c)}" for c in rng.integers(0, 12, 40)]  # captions shared
    captions[3] = "  7 "  # normalised like "7"
    data = PairDataset(anchors=tuple(anchors), positives=tuple(captions), negatives=None,
                       anchor_modality="image", name="toy")
    model = TowerPair(torch.nn.Identity(), torch.nn.Identity(),
                      lookup_a=lambda i: xa[i], lookup_b=lambda t: xt[int(t)])
    got = retrieval_figures(model, data, ks=(1, 3, 5))
    items = list(dict.fromkeys(anchors))
    caps = sorted({c.strip() for c in captions})
    a = torch.nn.functional.normalize(xa[items], dim=-1).numpy()
    t = torch.nn.functional.normalize(xt[[int(c) for c in caps]], dim=-1).numpy()
    own = np.zeros((len(items), len(caps)), dtype=bool)
    for i, c in zip(anchors, captions, strict=True):
        own[items.index(i), caps.index(c.strip())] = True
    for k in (1, 3, 5):
        assert (got.to_text[k], got.from_text[k]) == _oracle(a, t, own, k)
    assert got.n_items == len(items) and got.n_captions == len(caps)
