"""Contrastive losses: InfoNCE, CLIP (symmetric softmax), SigLIP (sigmoid), memory-linear.

All take L2-normalised embeddings ``(N, d)`` and a multiplicative ``logit_scale`` (exp of the
learnable log-temperature, as in open_clip) and return a scalar. Each has an ``nn.Module`` form
holding its learnable parameters. ``mode="tiled"`` (chosen automatically for large batches)
never materialises the N × N logit matrix.

Example:
    >>> import torch, torch.nn.functional as F
    >>> from xmodal.losses import clip_loss, LogitScale
    >>> img, txt = (F.normalize(torch.randn(16, 32), dim=-1) for _ in range(2))
    >>> clip_loss(img, txt, logit_scale=LogitScale()()).ndim
    0
"""

from __future__ import annotations

from .clip import ClipLoss, clip_loss
from .info_nce import InfoNCELoss, info_nce
from .logit_scale import LogitScale
from .negatives import (
    DEFAULT_HARD_NEGATIVE_RATIO,
    HardNegativeCurriculum,
    HardNegativeSchedule,
)
from .siglip import SigLipLoss, siglip_loss

__all__ = [
    "DEFAULT_HARD_NEGATIVE_RATIO",
    "ClipLoss",
    "HardNegativeCurriculum",
    "HardNegativeSchedule",
    "InfoNCELoss",
    "LogitScale",
    "SigLipLoss",
    "clip_loss",
    "info_nce",
    "siglip_loss",
]
