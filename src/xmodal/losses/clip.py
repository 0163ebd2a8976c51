"""CLIP's symmetric contrastive loss with a learnable temperature.

What it is: the logit matrix ``S = s · image @ text.T`` is scored by cross-entropy along its rows
(each image must pick its caption) and along its columns (each caption must pick its image):

    L = (L_image→text + L_text→image) / 2,   L_image→text = mean_i -log softmax_j(S_ij)[i]

with ``s = exp(t)`` learned (:class:`LogitScale`: τ initialised at 0.07, scale clamped at 100).
Optional hard negatives (NegCLIP): extra captions per image (``text_negatives``) enter the
image→text rows, extra images per caption (``image_negatives``) the text→image rows, weighted
to the hard : random ratio of :mod:`xmodal.losses.negatives`.

When to use it: image–text or audio–text pre-training and fine-tuning where retrieval runs in both
directions. For one direction (query → document) use :func:`info_nce`; when the batch-wide
softmax is a burden (small batches, many devices) use :func:`siglip_loss`.

Memory: ``mode="tiled"`` never materialises the N × N matrix (O(N·d) memory), so CLIP's batch of
32,768 fits in about a gigabyte on a CPU.

Citation: Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision", ICML 2021, arXiv:2103.00020.
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


def clip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    *,
    logit_scale: torch.Tensor | float,
    text_negatives: torch.Tensor | None = None,
    image_negatives: torch.Tensor | None = None,
    group_ids: torch.Tensor | None = None,
    hard_negative_ratio: float | HardNegativeSchedule | None = DEFAULT_HARD_NEGATIVE_RATIO,
    step: int | None = None,
    mode: Mode = "auto",
    tile_size: int = DEFAULT_TILE_SIZE,
    distributed: bool = False,
) -> torch.Tensor:
    """CLIP's symmetric loss ``(L_image→text + L_text→image) / 2`` over L2-normalised embeddings.

    Args:
        image: Image (or audio) embeddings, (N, d), L2-normalised.
        text: Matching text embeddings, (N, d); row i describes image i.
        logit_scale: Multiplicative scale exp(t) (e.g. ``LogitScale()()``, 100.0), not its log.
        text_negatives: Hard-negative captions per image, (N, M, d), in the image→text rows.
        image_negatives: Hard-negative images per caption, (N, M', d), in the text→image rows.
        group_ids: (N,) integer labels; pairs sharing a group are not negatives of each other.
        hard_negative_ratio: Hard : random weight ratio ρ (default 1/7), a schedule, or None.
        step: Optimiser step, required when ``hard_negative_ratio`` is a schedule.
        mode: ``"direct"``, ``"tiled"`` (memory-linear) or ``"auto"``.
        tile_size: Tile edge of the tiled implementation.
        distributed: Use every ``torch.distributed`` rank's features as negatives; the loss is
            the mean over this rank's rows (see :mod:`xmodal.losses.distributed`).

    Returns:
        The scalar loss.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> img = F.normalize(torch.randn(8, 16), dim=-1)
        >>> txt = F.normalize(img + 0.1 * torch.randn(8, 16), dim=-1)
        >>> float(clip_loss(img, txt, logit_scale=100.0)) < 0.01
        True
    """
    inp = check_loss_inputs(
        ("image", "text"), image, text, logit_scale=logit_scale,
        negatives=((text_negatives, image), (image_negatives, text)), group_ids=group_ids,
        hard_negative_ratio=hard_negative_ratio, step=step,
    )
    scale, groups = inp.scale, inp.groups
    common = {"mode": mode, "tile_size": tile_size, "groups_a": groups}
    texts = dist_utils.columns(text, groups, distributed=distributed)
    if distributed:  # each direction: this rank's rows against every rank's columns
        images = dist_utils.columns(image, None, distributed=True)  # groups: texts.groups
        lse_i2t, _ = negatives_lse(
            image, texts.features, scale, offset=texts.offset, groups_b=texts.groups, **common
        )
        lse_t2i, _ = negatives_lse(
            text, images.features, scale, offset=images.offset, groups_b=texts.groups, **common
        )
    else:  # one pass over the N × N matrix serves both directions
        lse_i2t, lse_t2i = negatives_lse(
            image, text, scale, groups_b=groups, need_cols=True, **common
        )
    pos = scale * rowwise_dot(image, text)  # (n,)
    rows = {"scale": scale, "ratio": inp.ratio, "n_cols": texts.features.shape[0],
            "offset": texts.offset, "groups_rows": groups, "groups_cols": texts.groups}
    loss_i2t = softmax_row_losses(pos, lse_i2t, anchors=image, negatives=text_negatives, **rows)
    loss_t2i = softmax_row_losses(pos, lse_t2i, anchors=text, negatives=image_negatives, **rows)
    return (loss_i2t.mean() + loss_t2i.mean()) / 2


class ClipLoss(nn.Module):
    """:func:`clip_loss` holding CLIP's learnable temperature.

    Args:
        init_scale: Initial logit scale (CLIP: 1/0.07).
        max_scale: Clamp of the scale (CLIP: 100).
        learnable: Learn the temperature (default) or keep it fixed.
        hard_negative_ratio: Hard : random ratio or schedule (see :func:`clip_loss`).
        mode: ``"auto"``, ``"direct"`` or ``"tiled"``.
        tile_size: Tile edge of the tiled implementation.
        distributed: Use every rank's features as negatives.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> loss_fn = ClipLoss()
        >>> img, txt = (F.normalize(torch.randn(4, 8), dim=-1) for _ in range(2))
        >>> loss_fn(img, txt).backward()
        >>> loss_fn.logit_scale.log_scale.grad is not None
        True
    """

    def __init__(
        self,
        *,
        init_scale: float = 1 / 0.07,
        max_scale: float = 100.0,
        learnable: bool = True,
        hard_negative_ratio: float | HardNegativeSchedule | None = DEFAULT_HARD_NEGATIVE_RATIO,
        mode: Mode = "auto",
        tile_size: int = DEFAULT_TILE_SIZE,
        distributed: bool = False,
    ) -> None:
        super().__init__()
        self.logit_scale = LogitScale(init_scale, max_scale=max_scale, learnable=learnable)
        resolve_ratio(hard_negative_ratio, 0)  # validate early
        self.hard_negative_ratio = hard_negative_ratio
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
        return clip_loss(
            image, text, logit_scale=self.logit_scale(), text_negatives=text_negatives,
            image_negatives=image_negatives, group_ids=group_ids,
            hard_negative_ratio=self.hard_negative_ratio, step=step, mode=self.mode,
            tile_size=self.tile_size, distributed=self.distributed,
        )
