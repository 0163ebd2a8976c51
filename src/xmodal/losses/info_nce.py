"""InfoNCE: one-directional softmax contrastive loss with in-batch and hard negatives.

What it is: for each anchor ``a_i`` the positive ``p_i`` must win a softmax over the batch's other
positives (in-batch negatives) and, optionally, ``M`` explicit hard negatives of its own:

    L = mean_i -log e^{s·a_i·p_i} / (e^{s·a_i·p_i} + Σ_{j≠i} e^{s·a_i·p_j} + Σ_m w_i e^{s·a_i·n_im})

with ``s`` the logit scale (1/temperature) and ``w_i`` the hard-negative weight that holds the
hard : random ratio (:mod:`xmodal.losses.negatives`).

When to use it: asymmetric retrieval (query → document), text–text fine-tuning with mined
negatives (sentence-transformers' MultipleNegativesRankingLoss is this loss with a fixed scale
of 20). For image–text pairs where both directions matter use :func:`clip_loss`; to score pairs
independently (no batch-wide softmax) use :func:`siglip_loss`.

Citation: van den Oord, Li, Vinyals, "Representation Learning with Contrastive Predictive
Coding", arXiv:1807.03748 (2018).
"""

from __future__ import annotations

import torch
from torch import nn

from . import distributed as dist_utils
from ._backend import DEFAULT_TILE_SIZE, Mode, negatives_lse, rowwise_dot
from ._checks import check_loss_inputs
from ._softmax_rows import softmax_row_losses
from .logit_scale import LogitScale
from .negatives import DEFAULT_HARD_NEGATIVE_RATIO, HardNegativeSchedule, resolve_ratio


def info_nce(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    *,
    logit_scale: torch.Tensor | float,
    negatives: torch.Tensor | None = None,
    group_ids: torch.Tensor | None = None,
    hard_negative_ratio: float | HardNegativeSchedule | None = DEFAULT_HARD_NEGATIVE_RATIO,
    step: int | None = None,
    mode: Mode = "auto",
    tile_size: int = DEFAULT_TILE_SIZE,
    distributed: bool = False,
) -> torch.Tensor:
    """One-directional InfoNCE over L2-normalised embeddings.

    Args:
        anchors: Queries, (N, d), L2-normalised.
        positives: Their positives, (N, d), L2-normalised; row i matches anchor i.
        logit_scale: Multiplicative scale 1/τ (e.g. ``LogitScale()()`` or 20.0), not its log.
        negatives: Explicit hard negatives per anchor, (N, M, d), L2-normalised; appended to the
            in-batch negatives of their anchor only.
        group_ids: (N,) integer labels; positives sharing the anchor's group are not used as its
            negatives (duplicates, same caption).
        hard_negative_ratio: Hard : random weight ratio ρ (default 1/7), a schedule of the step,
            or None to append the hard negatives unweighted.
        step: Optimiser step, required when ``hard_negative_ratio`` is a schedule.
        mode: ``"direct"`` (full N×N matrix), ``"tiled"`` (memory-linear) or ``"auto"``.
        tile_size: Tile edge of the tiled implementation.
        distributed: Gather the positives of every ``torch.distributed`` rank as negatives; the
            loss is the mean over this rank's anchors.

    Returns:
        The scalar loss.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> q = F.normalize(torch.randn(8, 16), dim=-1)
        >>> p = F.normalize(q + 0.1 * torch.randn(8, 16), dim=-1)
        >>> loss = info_nce(q, p, logit_scale=20.0)
        >>> loss.shape, bool(loss < info_nce(q, p.roll(1, 0), logit_scale=20.0))
        (torch.Size([]), True)
    """
    inp = check_loss_inputs(
        ("anchors", "positives"), anchors, positives, logit_scale=logit_scale,
        negatives=((negatives, anchors),), group_ids=group_ids,
        hard_negative_ratio=hard_negative_ratio, step=step,
    )
    cols = dist_utils.columns(positives, inp.groups, distributed=distributed)
    neg_lse, _ = negatives_lse(
        anchors, cols.features, inp.scale, mode=mode, tile_size=tile_size, offset=cols.offset,
        groups_a=inp.groups, groups_b=cols.groups,
    )  # (n,)
    pos = inp.scale * rowwise_dot(anchors, positives)  # (n,)
    rows = softmax_row_losses(
        pos, neg_lse, anchors=anchors, negatives=negatives, scale=inp.scale, ratio=inp.ratio,
        n_cols=cols.features.shape[0], offset=cols.offset, groups_rows=inp.groups,
        groups_cols=cols.groups,
    )
    return rows.mean()


class InfoNCELoss(nn.Module):
    """:func:`info_nce` with its temperature as a (learnable) :class:`LogitScale`.

    Args:
        init_scale: Initial scale 1/τ (default 1/0.07; sentence-transformers uses a fixed 20).
        learnable: Learn the temperature (default) or keep it fixed.
        max_scale: Clamp of the learnable scale.
        hard_negative_ratio: Hard : random ratio or schedule (see :func:`info_nce`).
        mode: ``"auto"``, ``"direct"`` or ``"tiled"``.
        tile_size: Tile edge of the tiled implementation.
        distributed: Use every rank's positives as negatives.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> loss_fn = InfoNCELoss(init_scale=20.0, learnable=False)
        >>> q, p = (F.normalize(torch.randn(4, 8), dim=-1) for _ in range(2))
        >>> loss_fn(q, p).ndim
        0
    """

    def __init__(
        self,
        *,
        init_scale: float = 1 / 0.07,
        learnable: bool = True,
        max_scale: float = 100.0,
        hard_negative_ratio: float | HardNegativeSchedule | None = DEFAULT_HARD_NEGATIVE_RATIO,
        mode: Mode = "auto",
        tile_size: int = DEFAULT_TILE_SIZE,
        distributed: bool = False,
    ) -> None:
        super().__init__()
        self.logit_scale = LogitScale(
            init_scale, max_scale=max(max_scale, init_scale), learnable=learnable
        )
        resolve_ratio(hard_negative_ratio, 0)  # validate early
        self.hard_negative_ratio = hard_negative_ratio
        self.mode, self.tile_size, self.distributed = mode, tile_size, distributed

    def forward(
        self,
        anchors: torch.Tensor,
        positives: torch.Tensor,
        *,
        negatives: torch.Tensor | None = None,
        group_ids: torch.Tensor | None = None,
        step: int | None = None,
    ) -> torch.Tensor:
        return info_nce(
            anchors, positives, logit_scale=self.logit_scale(), negatives=negatives,
            group_ids=group_ids, hard_negative_ratio=self.hard_negative_ratio, step=step,
            mode=self.mode, tile_size=self.tile_size, distributed=self.distributed,
        )
