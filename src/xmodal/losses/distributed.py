"""Losses over all ranks of ``torch.distributed``: gather features with their gradients.

Each rank holds a local batch of ``n`` pairs. The loss functions, given ``distributed=True``,
all-gather the features of every rank *with gradient* (:class:`AllGatherWithGrad`: its
backward sums the gradients every rank computed for each slice and returns them to the owner),
then compute only their local rows against all ``W · n`` columns — the "local loss" of CLIP
§2.5 and open_clip. Each rank's loss is the mean over its local rows, so the mean of the ranks'
losses is the loss of one process holding the whole batch, and DDP's averaging of parameter
gradients gives exactly that process's gradients.

Every rank must hold the same number of pairs (all-gather needs equal shapes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class RankSlice:
    """Where this rank's rows sit in the gathered batch."""

    rank: int  # this process's rank
    world_size: int  # number of processes
    offset: int  # index of this rank's first row in the gathered batch


def rank_slice(local_n: int) -> RankSlice:
    """This rank's position; raises unless ``torch.distributed`` is initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "distributed=True needs an initialised torch.distributed process group "
            "(torch.distributed.init_process_group, e.g. under torchrun)"
        )
    rank, world = dist.get_rank(), dist.get_world_size()
    return RankSlice(rank=rank, world_size=world, offset=rank * local_n)


class AllGatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward: all-reduce (sum) the gradient, keep this rank's slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts, dim=0)  # (W·n, ...)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every rank's gradient for every slice, summed
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All-gather ``x`` (n, ...) from every rank into (W·n, ...), differentiably."""
    world = dist.get_world_size()
    sizes = [torch.zeros(1, dtype=torch.int64, device=x.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    if len({int(s) for s in sizes}) != 1:
        raise ValueError(
            f"every rank must hold the same number of pairs, got {[int(s) for s in sizes]}"
        )
    return AllGatherWithGrad.apply(x.contiguous())


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """All-gather ``x`` (n, ...) from every rank into (W·n, ...), without gradient."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


@dataclass(frozen=True)
class Columns:
    """The in-batch columns this rank scores its rows against."""

    features: torch.Tensor  # (K, d): local (K = n) or gathered from every rank (K = W·n)
    groups: torch.Tensor | None  # (K,) group ids of the columns, or None
    offset: int  # column of this rank's first positive


def columns(x: torch.Tensor, groups: torch.Tensor | None, *, distributed: bool) -> Columns:
    """``x`` and its groups as they are, or gathered over every rank when ``distributed``."""
    if not distributed:
        return Columns(features=x, groups=groups, offset=0)
    offset = rank_slice(x.shape[0]).offset
    gathered = gather_no_grad(groups) if groups is not None else None
    return Columns(features=gather_with_grad(x), groups=gathered, offset=offset)
