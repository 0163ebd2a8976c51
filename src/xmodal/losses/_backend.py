"""Choosing between the direct (full-matrix) and tiled (memory-linear) implementations."""

from __future__ import annotations

from typing import Literal

import torch

from .tiled_sigmoid import pair_sum_direct, pair_sum_tiled
from .tiled_softmax import negatives_lse_direct, negatives_lse_tiled

Mode = Literal["auto", "direct", "tiled"]

AUTO_TILED_MIN_ENTRIES = 1024 * 1024
"""``mode="auto"`` tiles once the logit matrix would hold this many entries (4 MiB in fp32).

Measured on 2 CPU cores (d = 512, forward + backward): the tiled path is already as fast at
N = 1,024 (CLIP 22 vs 24 ms) and faster beyond (N = 4,096: 250 vs 487 ms); below that the
direct path keeps PyTorch's own autograd (double backward included)."""

DEFAULT_TILE_SIZE = 2048


def use_tiled(mode: Mode, n_rows: int, n_cols: int) -> bool:
    """Whether ``mode`` selects the tiled implementation for an (n_rows × n_cols) logit matrix."""
    if mode == "tiled":
        return True
    if mode == "direct":
        return False
    if mode == "auto":
        return n_rows * n_cols >= AUTO_TILED_MIN_ENTRIES
    raise ValueError(f"mode must be 'auto', 'direct' or 'tiled', got {mode!r}")


def negatives_lse(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    *,
    mode: Mode,
    tile_size: int,
    offset: int = 0,
    groups_a: torch.Tensor | None = None,
    groups_b: torch.Tensor | None = None,
    need_cols: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Row (and column) log-sum-exp over in-batch negatives, by the selected implementation."""
    kw = {"offset": offset, "groups_a": groups_a, "groups_b": groups_b, "need_cols": need_cols}
    if use_tiled(mode, a.shape[0], b.shape[0]):
        return negatives_lse_tiled(a, b, scale, tile_size=tile_size, **kw)
    return negatives_lse_direct(a, b, scale, **kw)


def pair_sum(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
    *,
    mode: Mode,
    tile_size: int,
    offset: int = 0,
    groups_a: torch.Tensor | None = None,
    groups_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sigmoid-loss sum over all non-positive in-batch pairs, by the selected implementation."""
    kw = {"offset": offset, "groups_a": groups_a, "groups_b": groups_b}
    if use_tiled(mode, a.shape[0], b.shape[0]):
        return pair_sum_tiled(a, b, scale, bias, tile_size=tile_size, **kw)
    return pair_sum_direct(a, b, scale, bias, **kw)


def rowwise_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a_i · b_i`` for every row: (n, d), (n, d) -> (n,)."""
    return (a * b).sum(dim=-1)


def hard_logits(anchors: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """``anchors_i · negatives_im``: (n, d), (n, M, d) -> (n, M)."""
    return torch.bmm(negatives, anchors[:, :, None])[:, :, 0]
