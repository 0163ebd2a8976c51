"""Learnable temperature: CLIP's log-parameterised logit scale, clamped at 100.

CLIP (Radford et al. 2021, §2.5) learns the softmax temperature τ as a log-parameterised
multiplicative scale ``exp(t) = 1/τ``, initialised at τ = 0.07 (scale ≈ 14.3) and clipped so
logits are never multiplied by more than 100. SigLIP (Zhai et al. 2023) uses the same
parameterisation initialised at scale 10 (t' = log 10) together with a learnable bias b = -10.

The clamp holds on the parameter itself, not only in the forward pass: every ``LogitScale`` is
clamped to ``[log(min_scale), log(max_scale)]`` after each step of any ``torch.optim`` optimiser
(a global optimiser step hook, registered once), and its forward pass clamps as well, so the
loss never sees a scale above ``max_scale`` even between steps.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

_LIVE: weakref.WeakSet[LogitScale] = weakref.WeakSet()
_HOOK_REGISTERED = False


def _clamp_all_after_step(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
    for module in list(_LIVE):
        module.clamp_()


def _ensure_hook() -> None:
    global _HOOK_REGISTERED
    if not _HOOK_REGISTERED:
        register_optimizer_step_post_hook(_clamp_all_after_step)
        _HOOK_REGISTERED = True


class LogitScale(nn.Module):
    """A learnable logit scale ``exp(t)``, ``t`` clamped to ``[log(min_scale), log(max_scale)]``.

    Args:
        init_scale: Initial multiplicative scale; CLIP uses 1/0.07 ≈ 14.29, SigLIP 10.
        max_scale: Upper clamp of the scale (CLIP: 100).
        min_scale: Lower clamp of the scale (open_clip clamps the log at 0, i.e. scale 1).
        learnable: If False the scale is a buffer (a fixed temperature).

    Example:
        >>> ls = LogitScale()
        >>> round(ls.scale, 4), round(ls.temperature, 4)
        (14.2857, 0.07)
    """

    def __init__(
        self,
        init_scale: float = 1 / 0.07,
        *,
        max_scale: float = 100.0,
        min_scale: float = 1.0,
        learnable: bool = True,
    ) -> None:
        super().__init__()
        if not 0 < min_scale <= init_scale <= max_scale:
            raise ValueError(
                f"need 0 < min_scale <= init_scale <= max_scale, got {min_scale}, {init_scale}, "
                f"{max_scale}"
            )
        self.max_log = math.log(max_scale)
        self.min_log = math.log(min_scale)
        log_init = torch.tensor(math.log(init_scale), dtype=torch.float32)
        if learnable:
            self.log_scale = nn.Parameter(log_init)
        else:
            self.register_buffer("log_scale", log_init)
        _LIVE.add(self)
        _ensure_hook()

    @torch.no_grad()
    def clamp_(self) -> LogitScale:
        """Clamp the log-scale parameter in place (also done after every optimiser step)."""
        self.log_scale.clamp_(self.min_log, self.max_log)
        return self

    def forward(self) -> torch.Tensor:
        """The current multiplicative scale ``exp(clamp(t))`` as a 0-d tensor (differentiable)."""
        return self.log_scale.clamp(self.min_log, self.max_log).exp()

    @property
    def scale(self) -> float:
        """The current scale as a float."""
        return float(self.forward().detach())

    @property
    def temperature(self) -> float:
        """The current temperature τ = 1 / scale."""
        return 1.0 / self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale:.4g}, max_scale={math.exp(self.max_log):.4g}"
