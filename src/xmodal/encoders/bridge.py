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

A classifier trained on photos reads clip art through a few "style" classes whatever the
picture shows: on the starters' 21,615 training drawings, sprites and renders, *hook*,
*digital clock*, *plectrum*, *envelope* and *analog clock* are the top class of 27 %. With a
``prior`` (the mean class probability over the training images, fitted with the heads) the
bridge ranks classes by ``p(class | image) / p̄(class)`` — pointwise mutual information, the
usual correction for a shift in the label distribution — so the classes that are *specific* to
this picture lead. On the leave-one-family-out benchmark this alone raised training-free
ConSE's Hit@10 on every one of the six held-out families. The text side can meet the images
there too: :class:`TextClassMix` moves each text towards its nearest class names (``text`` in
the diagram above becomes ``TextClassMix(text)``); the starter-image model has both.

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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _check_classes(class_embeddings: torch.Tensor, top_k: int) -> None:
    """Refuse a class table that is not ``(C, d)`` with at least ``top_k`` classes."""
    if class_embeddings.ndim != 2 or not 1 <= top_k <= class_embeddings.shape[0]:
        raise ValueError(f"class_embeddings must be (C, d) with C >= top_k = {top_k}, got "
                         f"{tuple(class_embeddings.shape)}")


class ConseBridge(nn.Module):
    """Class probabilities ``(n, C)`` → unit vectors in the text space ``(n, d)``.

    Args:
        class_embeddings: ``(C, d)`` L2-normalised text embeddings of the class names.
        top_k: How many of the most probable classes are mixed (ConSE's ``T``; 10 here).
        power: The top probabilities are raised to this power before they are normalised
            into weights (ConSE: 1; below 1 flattens the mix towards the runner-up classes,
            whose names often describe an unfamiliar picture better than the top one).
        prior: ``(C,)`` positive class prior (the mean class probability over the training
            images; see :func:`class_prior`), or None for none. With a prior the classes are
            ranked and weighted by ``probs / prior``; it is a buffer saved with the model
            (set it with :meth:`set_prior` once the training images are known).
    """

    def __init__(self, class_embeddings: torch.Tensor, *, top_k: int = 10,
                 power: float = 1.0, prior: torch.Tensor | None = None) -> None:
        super().__init__()
        _check_classes(class_embeddings, top_k)
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power}")
        self.register_buffer("classes", class_embeddings.float().contiguous())  # (C, d)
        self.top_k, self.power = top_k, float(power)
        if prior is not None:
            self.register_buffer("prior", torch.empty(class_embeddings.shape[0]))  # (C,)
            self.set_prior(prior)

    @property
    def has_prior(self) -> bool:
        """Whether classes are ranked by ``probs / prior`` (the model was built with one)."""
        return getattr(self, "prior", None) is not None

    @torch.no_grad()
    def set_prior(self, prior: torch.Tensor) -> None:
        """Replace the class prior (``(C,)``, finite and > 0; only its ratios matter)."""
        if not self.has_prior:
            raise ValueError("this bridge was built without a class prior (prior=None)")
        prior = torch.as_tensor(prior, dtype=torch.float32)
        if prior.shape != self.prior.shape or not bool(torch.isfinite(prior).all()) \
                or not bool((prior > 0).all()):
            raise ValueError(f"the class prior must be {tuple(self.prior.shape)} finite values "
                             f"> 0, got shape {tuple(prior.shape)}")
        self.prior.copy_(prior / prior.sum())

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        # any positive rescaling of a row of probabilities gives the same vector
        if self.has_prior:
            probs = probs / self.prior.to(probs.dtype)  # (n, C): p(c|x) / p̄(c)
        top, idx = probs.topk(self.top_k, dim=-1)  # (n, k), (n, k)
        top = top.clamp_min(0) ** self.power  # (n, k)
        weights = top / top.sum(-1, keepdim=True).clamp_min(1e-12)  # (n, k)
        mixed = (weights.unsqueeze(-1) * self.classes.to(probs.dtype)[idx]).sum(1)  # (n, d)
        return F.normalize(mixed, dim=-1)  # (n, d)


def class_prior(probs: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The mean class distribution of ``probs`` ``(n, C)`` (each row rescaled to sum 1 first:
    rows may be stored L2-normalised), floored at ``1e-8`` so that no class divides by zero.

    Example:
        >>> class_prior(torch.tensor([[3.0, 1.0], [1.0, 1.0]])).tolist()
        [0.625, 0.375]
    """
    p = torch.as_tensor(np.asarray(probs, np.float64))  # (n, C)
    if p.ndim != 2 or p.shape[0] == 0 or not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
        raise ValueError(f"class probabilities must be a non-empty (n, C) array of finite values "
                         f">= 0, got shape {tuple(p.shape)}")
    rows = p / p.sum(-1, keepdim=True).clamp_min(1e-30)  # (n, C)
    return rows.mean(0).clamp_min(1e-8).float()  # (C,)


class TextClassMix(nn.Module):
    """The text side of a bridge that meets the images among the class names: a text's unit
    vector plus the softmax-weighted (temperature ``tau``) mean of its ``top_k`` nearest class
    names, renormalised.

    An image's ConSE vector is a mix of class names; a caption's raw text vector is not, and
    its cosine to that mix rewards captions near the class names' region of the text space
    in general. Moving each caption towards its own nearest class names (ConSE run from the
    text side) lets the image's class names meet the caption's: on the leave-one-family-out
    benchmark, training-free ConSE's image→text Hit@10 rose 0.260 → 0.291 (text→image flat).

    Args:
        class_embeddings: ``(C, d)`` L2-normalised text embeddings of the class names.
        top_k: How many of the text's nearest class names are mixed.
        tau: Softmax temperature over their cosines.

    Example:
        >>> names = torch.eye(3)   # 3 classes along the axes of a 3-d text space
        >>> mix = TextClassMix(names, top_k=1)
        >>> [round(x, 3) for x in mix(torch.tensor([[0.8, 0.6, 0.0]]))[0].tolist()]
        [0.949, 0.316, 0.0]
    """

    def __init__(self, class_embeddings: torch.Tensor, *, top_k: int = 10,
                 tau: float = 0.1) -> None:
        super().__init__()
        _check_classes(class_embeddings, top_k)
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        # its own copy: the item side's ConseBridge holds the same names (saved apart)
        self.register_buffer("classes", class_embeddings.float().clone())  # (C, d)
        self.top_k, self.tau = top_k, float(tau)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        t = F.normalize(text, dim=-1)  # (n, d)
        classes = self.classes.to(t.dtype)  # (C, d)
        top, idx = (t @ classes.T).topk(self.top_k, dim=-1)  # (n, k), (n, k)
        weights = torch.softmax(top / self.tau, dim=-1)  # (n, k)
        mix = F.normalize((weights.unsqueeze(-1) * classes[idx]).sum(1), dim=-1)  # (n, d)
        return F.normalize(t + mix, dim=-1)  # (n, d)


class BridgedHead(nn.Module):
    """One modality's head of a bridged model: ``[√(1-w) · head(x_main), √w · side(x)]``.

    ``x`` is the tower's feature vector; the first ``split`` columns feed the trained ``head``.
    For the image side, the rest are class probabilities that ``bridge`` maps into the text
    space; for the text side (``bridge=None``) the side part is the text feature itself.

    Args:
        head: The trained projection (``Linear`` or MLP) of the main features.
        split: Columns of the main features (the tower's whole width on the text side).
        weight: ``w`` in [0, 1], the bridge's share of the cosine.
        bridge: The :class:`ConseBridge` of the item side (fed the columns after ``split``);
            on the text side None (the text's own unit vector) or a :class:`TextClassMix`
            (fed the whole text feature).
    """

    def __init__(self, head: nn.Module, *, split: int, weight: float,
                 bridge: ConseBridge | TextClassMix | None = None) -> None:
        super().__init__()
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"the bridge weight must be in [0, 1], got {weight}")
        self.head, self.split, self.bridge = head, split, bridge
        self.weight = weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = F.normalize(self.head(x[:, : self.split]), dim=-1)  # (n, dim)
        # the item side maps class probabilities; the text side is the text tower's own space
        if isinstance(self.bridge, ConseBridge):
            side = self.bridge(x[:, self.split :])  # (n, d_text)
        elif self.bridge is not None:
            side = self.bridge(x)  # (n, d_text)
        else:
            side = F.normalize(x, dim=-1)  # (n, d_text)
        w = self.weight
        return torch.cat([math.sqrt(1 - w) * main, math.sqrt(w) * side], dim=-1)
