"""A toy dual encoder over fixed random vectors, shared by the trainer tests and their
subprocesses (a killed run, torch.distributed ranks)."""

from __future__ import annotations

import torch
from torch import nn

from xmodal.data.pairs import PairDataset
from xmodal.train import TowerPair, TrainConfig

N, D_IN, D_OUT = 300, 12, 6


def toy_data(n: int = 96, *, negatives: int = 0) -> PairDataset:
    negs = None
    if negatives:
        negs = tuple(tuple(f"t{(i + 1 + k) % n}" for k in range(negatives)) for i in range(n))
    return PairDataset(anchors=tuple(range(n)), positives=tuple(f"t{i}" for i in range(n)),
                       negatives=negs, anchor_modality="image", name="toy")


def toy_model(*, dropout: float = 0.0, seed: int = 0) -> TowerPair:
    g = torch.Generator().manual_seed(1234)
    xa = torch.randn(N, D_IN, generator=g)  # (N, D_IN) item inputs
    xb = xa @ torch.randn(D_IN, D_IN, generator=g) + 0.5 * torch.randn(N, D_IN, generator=g)
    torch.manual_seed(seed)
    tower_a = nn.Sequential(nn.Linear(D_IN, 16), nn.Tanh(), nn.Dropout(dropout),
                            nn.Linear(16, D_OUT))
    tower_b = nn.Sequential(nn.Linear(D_IN, 16), nn.Tanh(), nn.Linear(16, D_OUT))
    return TowerPair(tower_a, tower_b, lookup_a=lambda i: xa[int(i)],
                     lookup_b=lambda t: xb[int(t[1:])])


def toy_config(out, **overrides) -> TrainConfig:
    base = dict(data="toy", batch_size=32, steps=10, lr=5e-3, progress=False, out=str(out),
                log_every=1, checkpoint_every=5, warmup_steps=2)
    return TrainConfig(**{**base, **overrides})
