"""A label-space bridge (ConSE) beside a locked-tower model's trained heads.

An image classifier trained on ImageNet already "reads" an image as a distribution over 1,000
named classes. ConSE (Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic
Embeddings", ICLR 2014) embeds the image as the probability-weighted mean of its top-``k``
class *names*, embedded by a text model, so it lands in that text model's space with no
training at all. It generalises to content no head was trained on, where trained heads over
a few thousand captions do not; the heads, in turn, know the training data's own vocabulary.

A bridged LiT model keeps both and concatenates them into one unit vector per item::

    image: [√(1-w) · head(pooled), √w · conse(class probabilities)]
    text:  [√(1-w) · head(text),   √w · text]

so the cosine of an image and a text is ``(1-w) · cos_heads + w · cos_conse``: one vector per
item, one index, one search, scores fused inside the model. The class names' embeddings are
computed once by the text tower when the model is built and saved with the heads.

Example:
    >>> import torch
    >>> names = torch.nn.functional.normalize(torch.eye(4, 3), dim=-1)   # 4 classes in 3-d
    >>> bridge = ConseBridge(names, top_k=2)
    >>> probs = torch.tensor([[0.7, 0.2, 0.1, 0.0]])
    >>> [round(x, 3) for x in bridge(probs)[0].tolist()]   # 0.7·e0 + 0.2·e1, normalised
    [0.962, 0.275, 0.0]
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ConseBridge(nn.Module):
    """Class probabilities ``(n, C)`` → unit vectors in the text space ``(n, d)``.

    Args:
        class_embeddings: ``(C, d)`` L2-normalised text embeddings of the class names.
        top_k: How many of the most probable classes are mixed (ConSE's ``T``; 10 here).
        power: The top probabilities are raised to this power before they are normalised
            into weights (ConSE: 1; below 1 flattens the mix towards the runner-up classes,
            whose names often describe an unfamiliar picture better than the top one).
    """

    def __init__(self, class_embeddings: torch.Tensor, *, top_k: int = 10,
                 power: float = 1.0) -> None:
        super().__init__()
        if class_embeddings.ndim != 2 or not 1 <= top_k <= class_embeddings.shape[0]:
            raise ValueError(f"class_embeddings must be (C, d) with C >= top_k = {top_k}, got "
                             f"{tuple(class_embeddings.shape)}")
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power}")
        self.register_buffer("classes", class_embeddings.float().contiguous())  # (C, d)
        self.top_k, self.power = top_k, float(power)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        # any positive rescaling of a row of probabilities gives the same vector
        top, idx = probs.topk(self.top_k, dim=-1)  # (n, k), (n, k)
        top = top.clamp_min(0) ** self.power  # (n, k)
        weights = top / top.sum(-1, keepdim=True).clamp_min(1e-12)  # (n, k)
        mixed = (weights.unsqueeze(-1) * self.classes.to(probs.dtype)[idx]).sum(1)  # (n, d)
        return F.normalize(mixed, dim=-1)  # (n, d)


class BridgedHead(nn.Module):
    """One modality's head of a bridged model: ``[√(1-w) · head(x_main), √w · side(x)]``.

    ``x`` is the tower's feature vector; the first ``split`` columns feed the trained ``head``.
    For the image side, the rest are class probabilities that ``bridge`` maps into the text
    space; for the text side (``bridge=None``) the side part is the text feature itself.

    Args:
        head: The trained projection (``Linear`` or MLP) of the main features.
        split: Columns of the main features (the tower's whole width on the text side).
        weight: ``w`` in [0, 1], the bridge's share of the cosine.
        bridge: The :class:`ConseBridge` of the item side, or None for the text side.
    """

    def __init__(self, head: nn.Module, *, split: int, weight: float,
                 bridge: ConseBridge | None = None) -> None:
        super().__init__()
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"the bridge weight must be in [0, 1], got {weight}")
        self.head, self.split, self.bridge = head, split, bridge
        self.weight = weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = F.normalize(self.head(x[:, : self.split]), dim=-1)  # (n, dim)
        # the item side maps class probabilities; the text side is the text tower's own space
        side = (self.bridge(x[:, self.split :]) if self.bridge is not None
                else F.normalize(x, dim=-1))  # (n, d_text)
        w = self.weight
        return torch.cat([math.sqrt(1 - w) * main, math.sqrt(w) * side], dim=-1)
