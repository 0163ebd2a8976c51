"""GradCache: a contrastive step whose effective batch does not cost activation memory.

What it is: the contrastive loss couples every pair in the batch, so plain backprop must keep the
encoders' activations for all N examples at once. GradCache (Gao et al. 2021) splits the step:

1. encode every mini-batch without grad (activations freed at once), remembering the RNG state
   before each mini-batch so dropout can be replayed;
2. compute the loss on the concatenated features as leaf tensors and backpropagate it: the loss's
   own parameters (a learnable logit scale, a bias) get their gradients, and ``features.grad`` is
   the gradient cache ∂L/∂f;
3. re-encode each mini-batch with grad under its saved RNG state and backpropagate the surrogate
   ``(f_mb * cache_mb).sum()``, whose parameter gradient is that mini-batch's share of ∂L/∂θ.

Parameter gradients then equal plain backprop over the same mini-batch forwards (one encoder
forward is repeated, ≈ +1/3 compute); activation memory is that of one mini-batch. Layers whose
output depends on the other rows of a mini-batch (BatchNorm) make the result depend on
``mini_batch_size``, as with any micro-batching; their running statistics are updated twice.

RNG: at the end the RNG state current after the loss (step 2) is restored, so the caller's
random stream is as if one forward and backward had run (the replay draws are undone).

Citation: Gao, Zhang, Han, Callan, "Scaling Deep Contrastive Learning Batch Size under Memory
Limited Setup", RepL4NLP 2021, arXiv:2101.06983. Mirrors sentence-transformers'
``CachedMultipleNegativesRankingLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["GradCache", "gradcache_step"]

_RngState = tuple[torch.Tensor, list[torch.Tensor] | None]


def _get_rng() -> _RngState:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return torch.get_rng_state(), cuda


def _set_rng(state: _RngState) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _encode(
    encoder: Callable[[Any], torch.Tensor], batch: Any, side: int, start: int, size: int
) -> torch.Tensor:
    feats = encoder(batch)
    if not isinstance(feats, torch.Tensor) or feats.ndim < 1 or feats.shape[0] != size:
        got = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__
        raise ValueError(
            f"encoder of side {side} returned {got} for the mini-batch of rows "
            f"{start}:{start + size}; expected first dimension {size}"
        )
    return feats


def gradcache_step(
    encoders: Sequence[Callable[[Any], torch.Tensor]],
    inputs: Sequence[Sequence[Any]],
    loss_fn: Callable[..., torch.Tensor],
    *,
    mini_batch_size: int,
) -> torch.Tensor:
    """One GradCache forward + backward: gradients accumulate in ``.grad``; no optimiser step.

    Args:
        encoders: One callable per side, mapping a mini-batch of that side's inputs (a slice of
            ``inputs[k]``) to features ``(m, d)``, e.g. a model followed by L2-normalisation.
        inputs: Per side, the full batch: a tensor ``(N, ...)`` or a list of length N (any
            sliceable sequence). Every side has the same N.
        loss_fn: ``loss_fn(*features)`` → scalar loss on the full-batch features, in the order of
            ``encoders``. It may hold parameters (a learnable logit scale); they get gradients.
        mini_batch_size: Rows per encoder forward; the last mini-batch may be smaller.

    Returns:
        The loss, detached (equal to ``loss_fn`` of the plain full-batch features).

    Raises:
        ValueError: ``mini_batch_size < 1``, no sides, a different number of encoders and inputs,
            sides of different batch sizes, or an encoder output of the wrong first dimension.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> from xmodal.losses import LogitScale, clip_loss
        >>> _ = torch.manual_seed(0)
        >>> img_net, txt_net, ls = torch.nn.Linear(6, 4), torch.nn.Linear(3, 4), LogitScale()
        >>> encoders = [lambda x: F.normalize(img_net(x), dim=-1),
        ...             lambda x: F.normalize(txt_net(x), dim=-1)]
        >>> x, y = torch.randn(10, 6), torch.randn(10, 3)
        >>> loss = gradcache_step(encoders, [x, y], lambda a, b: clip_loss(a, b, logit_scale=ls()),
        ...                       mini_batch_size=4)
        >>> loss.shape, img_net.weight.grad.shape, ls.log_scale.grad is not None
        (torch.Size([]), torch.Size([4, 6]), True)
    """
    if mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")
    if not encoders or len(encoders) != len(inputs):
        raise ValueError(f"need one input per encoder, got {len(encoders)} and {len(inputs)}")
    sizes = [len(side) for side in inputs]
    if len(set(sizes)) != 1:
        raise ValueError(f"all sides need the same batch size, got {sizes}")
    n = sizes[0]
    starts = range(0, n, mini_batch_size)

    # (1) forward without grad, one RNG snapshot per (side, mini-batch)
    states: list[list[_RngState]] = []
    feats: list[torch.Tensor] = []
    for k, (encoder, side) in enumerate(zip(encoders, inputs, strict=True)):
        states.append([])
        chunks = []
        for s in starts:
            m = min(mini_batch_size, n - s)
            states[k].append(_get_rng())
            with torch.no_grad():
                chunks.append(_encode(encoder, side[s : s + m], k, s, m))  # (m, d)
        feats.append(torch.cat(chunks).detach().requires_grad_())  # (N, d), a leaf

    # (2) full-batch loss; loss-parameter grads accumulate, feats[k].grad is the cache
    loss = loss_fn(*feats)
    if loss.ndim != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    loss.backward()
    after = _get_rng()

    # (3) replay each mini-batch with grad and backpropagate the cached feature gradient
    try:
        for k, (encoder, side) in enumerate(zip(encoders, inputs, strict=True)):
            cache = feats[k].grad  # (N, d); None when the loss ignores this side
            if cache is None:
                continue
            for j, s in enumerate(starts):
                m = min(mini_batch_size, n - s)
                _set_rng(states[k][j])
                f = _encode(encoder, side[s : s + m], k, s, m)  # (m, d)
                if f.requires_grad:
                    (f * cache[s : s + m]).sum().backward()
    finally:
        _set_rng(after)
    return loss.detach()


@dataclass(frozen=True)
class GradCache:
    """:func:`gradcache_step` with its configuration bound.

    Args:
        mini_batch_size: Rows per encoder forward.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> from xmodal.losses import info_nce
        >>> net = torch.nn.Linear(5, 3)
        >>> enc = lambda x: F.normalize(net(x), dim=-1)
        >>> step = GradCache(mini_batch_size=2)
        >>> loss = step([enc, enc], [torch.randn(6, 5), torch.randn(6, 5)],
        ...             lambda q, p: info_nce(q, p, logit_scale=20.0))
        >>> net.weight.grad.shape
        torch.Size([3, 5])
    """

    mini_batch_size: int

    def __post_init__(self) -> None:
        if self.mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1, got {self.mini_batch_size}")

    def __call__(
        self,
        encoders: Sequence[Callable[[Any], torch.Tensor]],
        inputs: Sequence[Sequence[Any]],
        loss_fn: Callable[..., torch.Tensor],
    ) -> torch.Tensor:
        """Run :func:`gradcache_step` with ``mini_batch_size``; returns the detached loss."""
        return gradcache_step(encoders, inputs, loss_fn, mini_batch_size=self.mini_batch_size)
