"""Fit a LiT model's heads and logit scale on paired items, over cached frozen-tower features.

The towers run once per item content (through a :class:`~xmodal.encoders.FeatureCache` when one
is given); then only the small heads and the temperature train, with CLIP's symmetric InfoNCE
loss (:func:`xmodal.losses.clip_loss`) and AdamW. Everything is deterministic from ``seed``.
This is the minimal fit that makes the starter models testable; the full trainer (GradCache,
hard negatives, guards, checkpoints) lives in ``xmodal.train``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xmodal.losses import clip_loss

from .card import Modality
from .feature_cache import FeatureCache
from .lit import LiTModel


@dataclass(frozen=True)
class FitResult:
    """What a head fit did."""

    losses: tuple[float, ...]  # training loss at each step
    logit_scale: float  # learnt multiplicative logit scale exp(t) at the end
    temperature: float  # 1 / logit_scale
    n_pairs: int  # training pairs used

    @property
    def steps(self) -> int:
        """Number of optimiser steps taken."""
        return len(self.losses)


def fit_heads(
    model: LiTModel,
    items_a: Sequence[object],
    items_b: Sequence[object],
    *,
    modality_a: Modality,
    modality_b: Modality = "text",
    steps: int = 300,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    cache: FeatureCache | str | Path | None = None,
    group_ids: Sequence[int] | None = None,
    seed: int = 0,
) -> FitResult:
    """Train ``model``'s heads for ``modality_a``/``modality_b`` and its logit scale, in place.

    Args:
        model: The LiT model; its towers stay frozen.
        items_a: Items of ``modality_a`` (e.g. image paths); ``items_a[i]`` pairs with
            ``items_b[i]``.
        items_b: Items of ``modality_b`` (e.g. captions).
        modality_a: ``"image"``, ``"audio"`` or ``"text"``.
        modality_b: The other modality (default ``"text"``).
        steps: Optimiser steps (each on one batch; batches walk through seeded permutations).
        batch_size: Pairs per step (capped at the number of pairs).
        lr: AdamW learning rate. Heads start from scratch, so it is higher than the 5e-4
            fine-tuning guard of the trainer (that guard is for pretrained weights).
        weight_decay: AdamW weight decay of the head weights (not of biases or the scale).
        cache: A :class:`FeatureCache` (or its folder) so a later fit skips the towers.
        group_ids: Optional label per pair; pairs sharing a label (the same caption for two
            images) are not used as each other's negatives.
        seed: Seeds the batch order.

    Returns:
        A :class:`FitResult` with the loss of every step and the learnt temperature.

    Example (needs towers; ``tests/encoders/test_lit.py`` runs it with tiny ones)::

        model = LiTModel.build(LiTConfig(towers={"image": "efficientnet-lite0",
                                                 "text": "minilm"}))
        result = fit_heads(model, image_paths, captions, modality_a="image",
                           cache="~/.cache/xmodal/features")
        model.save("my-lit")
    """
    n = len(items_a)
    if n != len(items_b):
        raise ValueError(f"items_a has {n} items but items_b has {len(items_b)}: pass pairs")
    if n < 2:
        raise ValueError("a contrastive fit needs at least 2 pairs")
    if modality_a == modality_b:
        raise ValueError(f"modality_a and modality_b are both {modality_a!r}")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    if isinstance(cache, (str, Path)):
        cache = FeatureCache(cache)
    groups = None if group_ids is None else torch.as_tensor(list(group_ids), dtype=torch.int64)
    if groups is not None and groups.shape != (n,):
        raise ValueError(f"group_ids must have {n} labels, got {tuple(groups.shape)}")

    head_a, head_b = model.heads[modality_a], model.heads[modality_b]
    device = next(head_a.parameters()).device
    feats_a = _features(model, modality_a, items_a, cache, device)  # (n, t_a)
    feats_b = _features(model, modality_b, items_b, cache, device)  # (n, t_b)

    params = [*head_a.parameters(), *head_b.parameters()]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0},
         {"params": list(model.logit_scale.parameters()), "weight_decay": 0.0}],
        lr=lr,
    )
    generator = torch.Generator().manual_seed(seed)
    batch = min(batch_size, n)
    order = torch.randperm(n, generator=generator)
    position = 0
    losses: list[float] = []
    model.train()
    for _ in range(steps):
        if position + batch > n:  # next epoch: a fresh permutation, no short last batch
            order, position = torch.randperm(n, generator=generator), 0
        idx = order[position : position + batch]  # (B,)
        position += batch
        emb_a = model.project(modality_a, feats_a[idx])  # (B, dim)
        emb_b = model.project(modality_b, feats_b[idx])  # (B, dim)
        loss = clip_loss(
            emb_a, emb_b, logit_scale=model.logit_scale(),
            group_ids=None if groups is None else groups[idx],
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()  # LogitScale clamps itself after every step
        losses.append(float(loss.detach()))
    model.eval()
    scale = model.logit_scale.scale
    return FitResult(losses=tuple(losses), logit_scale=scale, temperature=1.0 / scale,
                     n_pairs=n)


def _features(
    model: LiTModel, modality: Modality, items: Sequence[object], cache: FeatureCache | None,
    device: torch.device,
) -> torch.Tensor:
    feats = model.tower_features(modality, list(items), cache=cache)  # (n, tower_dim)
    return torch.as_tensor(np.asarray(feats, dtype=np.float32), device=device)
