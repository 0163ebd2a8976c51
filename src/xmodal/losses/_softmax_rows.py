"""Per-row softmax cross-entropy assembled from its O(N·d) parts (shared by InfoNCE and CLIP)."""

from __future__ import annotations

import torch

from ._backend import hard_logits
from .negatives import hard_negative_log_weights, random_negative_counts


def softmax_row_losses(
    pos: torch.Tensor,
    neg_lse: torch.Tensor,
    *,
    anchors: torch.Tensor,
    negatives: torch.Tensor | None,
    scale: torch.Tensor,
    ratio: float | None,
    n_cols: int,
    offset: int,
    groups_rows: torch.Tensor | None,
    groups_cols: torch.Tensor | None,
) -> torch.Tensor:
    """``-log softmax`` of each row's positive among {positive, in-batch, hard negatives}. (n,)

    Args:
        pos: Positive logits ``scale · a_i·b_i`` (n,).
        neg_lse: Log-sum-exp of the in-batch negative logits per row (n,), ``-inf`` if none.
        anchors: The row embeddings (n, d), for the hard-negative logits.
        negatives: Hard negatives per row (n, M, d) or None.
        scale: The logit scale (0-d).
        ratio: Hard : random ratio ρ (None: unweighted).
        n_cols: Number of in-batch columns; with ``offset`` and the groups, gives ``n_r``.
    """
    parts = [pos[:, None], neg_lse[:, None]]  # (n, 1) each
    if negatives is not None:
        h = scale * hard_logits(anchors, negatives)  # (n, M)
        n_random = random_negative_counts(
            anchors.shape[0],
            n_cols,
            offset=offset,
            groups_rows=groups_rows,
            groups_cols=groups_cols,
            device=anchors.device,
        )
        log_w = hard_negative_log_weights(ratio, n_random, negatives.shape[1], h.dtype)
        parts.append(h if log_w is None else h + log_w)
    return torch.logsumexp(torch.cat(parts, dim=1), dim=1) - pos  # (n,)
