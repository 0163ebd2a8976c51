"""Input validation shared by every loss: fail fast, name the tensor and the row."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .negatives import HardNegativeSchedule, resolve_ratio

# |‖x‖ - 1| allowed for an "L2-normalised" row, by dtype (half precision rounds more).
_NORM_TOL = {torch.float64: 1e-6, torch.float32: 1e-3, torch.float16: 1e-2, torch.bfloat16: 2e-2}


def check_embeddings(name: str, x: torch.Tensor, *, dim: int | None = None) -> None:
    """Raise ``ValueError`` unless ``x`` is a finite, L2-normalised ``(N, d)`` float tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: a contrastive loss needs at least one pair")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} has dimension {x.shape[1]}, expected {dim}")
    with torch.no_grad():
        xd = x.detach()
        finite = torch.isfinite(xd).all(dim=1)  # (N,)
        if not bool(finite.all()):
            row = int((~finite).nonzero()[0])
            raise ValueError(f"{name} row {row} contains NaN or Inf")
        norms = torch.linalg.vector_norm(xd.float(), dim=1)  # (N,)
        bad = (norms - 1).abs() > _NORM_TOL.get(x.dtype, 1e-3)
        if bool(bad.any()):
            row = int(bad.nonzero()[0])
            raise ValueError(
                f"{name} row {row} has L2 norm {float(norms[row]):.4g}; the losses take "
                "L2-normalised embeddings: pass torch.nn.functional.normalize(x, dim=-1)"
            )


def check_pairs(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Validate two matched ``(N, d)`` embedding tensors (same shape, dtype, device)."""
    check_embeddings(name_a, a)
    check_embeddings(name_b, b, dim=a.shape[1])
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}: "
            "row i of each must be a pair"
        )
    if a.dtype != b.dtype or a.device != b.device:
        raise ValueError(
            f"{name_a} ({a.dtype}, {a.device}) and {name_b} ({b.dtype}, {b.device}) "
            "must share dtype and device"
        )


def check_negatives(negatives: torch.Tensor, anchors: torch.Tensor) -> None:
    """Validate explicit hard negatives ``(N, M, d)`` for ``anchors`` ``(N, d)``."""
    if negatives.ndim != 3 or negatives.shape[0] != anchors.shape[0]:
        raise ValueError(
            f"negatives must have shape (N, M, d) = ({anchors.shape[0]}, M, {anchors.shape[1]}), "
            f"got {tuple(negatives.shape)}"
        )
    if negatives.shape[1] == 0:
        raise ValueError("negatives has M = 0 hard negatives per anchor; pass None instead")
    if negatives.dtype != anchors.dtype or negatives.device != anchors.device:
        raise ValueError("negatives must share dtype and device with the anchors")
    check_embeddings("negatives", negatives.reshape(-1, negatives.shape[-1]), dim=anchors.shape[1])


def check_group_ids(group_ids: torch.Tensor, n: int) -> torch.Tensor:
    """Validate ``group_ids`` ``(N,)`` integer labels; returns them as int64."""
    if not isinstance(group_ids, torch.Tensor):
        group_ids = torch.as_tensor(group_ids)
    if group_ids.ndim != 1 or group_ids.shape[0] != n:
        raise ValueError(f"group_ids must have shape ({n},), got {tuple(group_ids.shape)}")
    if group_ids.is_floating_point() or group_ids.is_complex():
        raise ValueError(f"group_ids must be integers, got {group_ids.dtype}")
    return group_ids.to(torch.int64)


def as_scale(value: torch.Tensor | float, name: str, ref: torch.Tensor) -> torch.Tensor:
    """Turn a Python float or 0-d tensor into a 0-d tensor on ``ref``'s device and dtype."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(value.shape)}")
        t = value.reshape(())
        if t.dtype != ref.dtype or t.device != ref.device:
            t = t.to(device=ref.device, dtype=ref.dtype)
    else:
        t = torch.tensor(float(value), dtype=ref.dtype, device=ref.device)
    if not bool(torch.isfinite(t.detach())):
        raise ValueError(f"{name} must be finite, got {float(t)}")
    return t


def check_logit_scale(scale: torch.Tensor) -> None:
    """``logit_scale`` is the multiplicative scale exp(t) (e.g. 1/0.07 or 100), never its log."""
    if float(scale.detach()) <= 0:
        raise ValueError(
            f"logit_scale must be > 0 (it multiplies the cosine similarities), got {float(scale)}; "
            "pass the scale itself (e.g. LogitScale()() or 100.0), not its logarithm"
        )


@dataclass(frozen=True)
class LossInputs:
    """What every loss needs after validation."""

    scale: torch.Tensor  # 0-d multiplicative logit scale, on the embeddings' device and dtype
    groups: torch.Tensor | None  # (N,) int64 group ids, or None
    ratio: float | None  # hard : random ratio in force, or None (unweighted)


def check_loss_inputs(
    names: tuple[str, str],
    rows: torch.Tensor,
    cols: torch.Tensor,
    *,
    logit_scale: torch.Tensor | float,
    negatives: tuple[tuple[torch.Tensor | None, torch.Tensor], ...] = (),
    group_ids: torch.Tensor | None,
    hard_negative_ratio: float | HardNegativeSchedule | None,
    step: int | None,
) -> LossInputs:
    """Validate a loss's inputs; ``negatives`` pairs each hard-negative tensor with its anchors."""
    check_pairs(names[0], rows, names[1], cols)
    scale = as_scale(logit_scale, "logit_scale", rows)
    check_logit_scale(scale)
    for negs, owner in negatives:
        if negs is not None:
            check_negatives(negs, owner)
    groups = check_group_ids(group_ids, rows.shape[0]) if group_ids is not None else None
    return LossInputs(scale=scale, groups=groups, ratio=resolve_ratio(hard_negative_ratio, step))
