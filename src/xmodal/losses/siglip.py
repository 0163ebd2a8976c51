"""SigLIP's pairwise sigmoid loss with a learnable temperature and bias.

What it is: every (image, text) pair of the batch is an independent binary decision, +1 for the
matching pair and -1 for the others, on the logit ``l_ij = s · x_i·y_j + b``:

    L = -(1/N) Σ_i Σ_j log σ(z_ij · l_ij),   z_ij = +1 if i = j else -1   (paper, Algorithm 1)

with ``s = exp(t')`` and ``b`` learned, initialised at ``t' = log 10`` and ``b = -10`` so the
~N² negatives do not swamp the first steps. Given ``group_ids``, pairs that share a group are
labelled +1 too (multi-positive). Hard negatives (``text_negatives`` per image,
``image_negatives`` per text) add terms ``w · softplus(l)`` with the hard : random weight ``w``.

Normalisation: ``"paper"`` divides the sum over pairs by N (per image, as in the paper);
``"pairs"`` divides by N·N (the per-pair mean). The gradient of the paper's form is N times
larger, so with plain SGD its learning rate should be N times smaller; Adam-type optimisers are
(nearly) invariant to this constant, which is why the paper's form trains with the usual rates.

When to use it: small or medium batches, many devices (no batch-wide normaliser), or data with
several positives per item. For a softmax over the batch use :func:`clip_loss`.

Memory: ``mode="tiled"`` is O(N·d) and does the same three GEMMs as the full-matrix formula.

Citation: Zhai, Mustafa, Kolesnikov, Beyer, "Sigmoid Loss for Language Image Pre-Training",
ICCV 2023, arXiv:2303.15343.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed as dist_utils
from ._backend import DEFAULT_TILE_SIZE, Mode, hard_logits, pair_sum, rowwise_dot
from ._checks import as_scale, check_loss_inputs
from .logit_scale import LogitScale
from .negatives import (
    DEFAULT_HARD_NEGATIVE_RATIO,
    HardNegativeSchedule,
    random_negative_counts,
    resolve_ratio,
)

Normalization = Literal["paper", "pairs"]


def siglip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    *,
    logit_scale: torch.Tensor | float,
    logit_bias: torch.Tensor | float,
    text_negatives: torch.Tensor | None = None,
    image_negatives: torch.Tensor | None = None,
    group_ids: torch.Tensor | None = None,
    hard_negative_ratio: float | HardNegativeSchedule | None = DEFAULT_HARD_NEGATIVE_RATIO,
    step: int | None = None,
    normalization: Normalization = "paper",
    mode: Mode = "auto",
    tile_size: int = DEFAULT_TILE_SIZE,
    distributed: bool = False,
) -> torch.Tensor:
    """The sigmoid loss over L2-normalised embeddings.

    Args:
        image: Image (or audio) embeddings, (N, d), L2-normalised.
        text: Matching text embeddings, (N, d); row i describes image i.
        logit_scale: Multiplicative scale exp(t') (SigLIP init 10), not its log.
        logit_bias: Additive bias b (SigLIP init -10).
        text_negatives: Hard-negative captions per image, (N, M, d).
        image_negatives: Hard-negative images per caption, (N, M', d).
        group_ids: (N,) integer labels; pairs sharing a group are positives (label +1).
        hard_negative_ratio: Hard : random weight ratio ρ (default 1/7), a schedule, or None.
        step: Optimiser step, required when ``hard_negative_ratio`` is a schedule.
        normalization: ``"paper"`` (sum / N) or ``"pairs"`` (sum / N²).
        mode: ``"direct"``, ``"tiled"`` (memory-linear) or ``"auto"``.
        tile_size: Tile edge of the tiled implementation.
        distributed: Score this rank's images against every rank's texts; the loss is this
            rank's sum normalised by its own row count.

    Returns:
        The scalar loss.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> img = F.normalize(torch.randn(8, 16), dim=-1)
        >>> txt = F.normalize(img + 0.1 * torch.randn(8, 16), dim=-1)
        >>> good = siglip_loss(img, txt, logit_scale=10.0, logit_bias=-5.0)
        >>> bool(good < siglip_loss(img, txt.roll(1, 0), logit_scale=10.0, logit_bias=-5.0))
        True
    """
    inp = check_loss_inputs(
        ("image", "text"), image, text, logit_scale=logit_scale,
        negatives=((text_negatives, image), (image_negatives, text)), group_ids=group_ids,
        hard_negative_ratio=hard_negative_ratio, step=step,
    )
    bias = as_scale(logit_bias, "logit_bias", image)
    if normalization not in ("paper", "pairs"):
        raise ValueError(f"normalization must be 'paper' or 'pairs', got {normalization!r}")
    scale, groups, ratio = inp.scale, inp.groups, inp.ratio
    cols = dist_utils.columns(text, groups, distributed=distributed)
    offset, col_groups = cols.offset, cols.groups
    n, k = image.shape[0], cols.features.shape[0]

    total = pair_sum(
        image, cols.features, scale, bias, mode=mode, tile_size=tile_size, offset=offset,
        groups_a=groups, groups_b=col_groups,
    )
    total = total + F.softplus(-(scale * rowwise_dot(image, text) + bias)).sum()  # positives
    counts = {"offset": offset, "groups_rows": groups, "groups_cols": col_groups}
    for anchors, negs in ((image, text_negatives), (text, image_negatives)):
        if negs is not None:
            total = total + _hard_terms(anchors, negs, scale, bias, ratio, k, counts)
    return total / (n if normalization == "paper" else n * k)


def _hard_terms(
    anchors: torch.Tensor,
    negatives: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
    ratio: float | None,
    n_cols: int,
    counts: dict,
) -> torch.Tensor:
    """Σ_i w_i Σ_m softplus(l_im) for the hard negatives of each anchor, w_i = ρ · n_r(i) / M."""
    sp = F.softplus(scale * hard_logits(anchors, negatives) + bias)  # (n, M)
    if ratio is None:
        return sp.sum()
    n_random = random_negative_counts(
        anchors.shape[0], n_cols, device=anchors.device, **counts
    )  # (n,)
    w = (ratio * n_random.to(sp.dtype) / negatives.shape[1])[:, None]  # (n, 1)
    return (w * sp).sum()


class SigLipLoss(nn.Module):
    """:func:`siglip_loss` holding SigLIP's learnable temperature and bias.

    Args:
        init_scale: Initial scale exp(t') (paper: 10).
        init_bias: Initial bias b (paper: -10).
        max_scale: Clamp of the scale (100, as in open_clip's training loop).
        hard_negative_ratio: Hard : random ratio or schedule (see :func:`siglip_loss`).
        normalization: ``"paper"`` (sum / N) or ``"pairs"`` (sum / N²).
        mode: ``"auto"``, ``"direct"`` or ``"tiled"``.
        tile_size: Tile edge of the tiled implementation.
        distributed: Score against every rank's texts.

    Example:
        >>> loss_fn = SigLipLoss()
        >>> round(loss_fn.logit_scale.scale, 4), loss_fn.logit_bias.item()
        (10.0, -10.0)
    """

    def __init__(
        self,
        *,
        init_scale: float = 10.0,
        init_bias: float = -10.0,
        max_scale: float = 100.0,
        hard_negative_ratio: float | HardNegativeSchedule | None = DEFAULT_HARD_NEGATIVE_RATIO,
        normalization: Normalization = "paper",
        mode: Mode = "auto",
        tile_size: int = DEFAULT_TILE_SIZE,
        distributed: bool = False,
    ) -> None:
        super().__init__()
        if not math.isfinite(init_bias):
            raise ValueError(f"init_bias must be finite, got {init_bias}")
        self.logit_scale = LogitScale(init_scale, max_scale=max_scale)
        self.logit_bias = nn.Parameter(torch.tensor(float(init_bias)))
        resolve_ratio(hard_negative_ratio, 0)  # validate early
        self.hard_negative_ratio = hard_negative_ratio
        self.normalization: Normalization = normalization
        self.mode, self.tile_size, self.distributed = mode, tile_size, distributed

    def forward(
        self,
        image: torch.Tensor,
        text: torch.Tensor,
        *,
        text_negatives: torch.Tensor | None = None,
        image_negatives: torch.Tensor | None = None,
        group_ids: torch.Tensor | None = None,
        step: int | None = None,
    ) -> torch.Tensor:
        return siglip_loss(
            image, text, logit_scale=self.logit_scale(), logit_bias=self.logit_bias,
            text_negatives=text_negatives, image_negatives=image_negatives, group_ids=group_ids,
            hard_negative_ratio=self.hard_negative_ratio, step=step,
            normalization=self.normalization, mode=self.mode, tile_size=self.tile_size,
            distributed=self.distributed,
        )
