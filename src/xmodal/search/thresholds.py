"""When is the best hit too weak? Per-family default thresholds and the fallback test.

A raw cosine is only meaningful against its own model's distribution: CLIP's matching
text–image pairs score about 0.25–0.35, SigLIP's far lower (its sigmoid crosses 0.5 near
``-bias / scale`` ≈ 0.11), BGE-style text models compress everything into about [0.6, 1].
So a threshold belongs to one model and one query type (within- vs cross-modal). Until
calibration exists for a model, ``DEFAULT_THRESHOLDS`` gives a documented per-family guess;
every value is a **placeholder**, replaced by the per-model calibration (``threshold_for``
prefers it) once the measure step has fitted one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DEFAULT_THRESHOLDS", "needs_fallback", "threshold_for"]

DEFAULT_THRESHOLDS: Mapping[str, float] = MappingProxyType({
    # Cross-modal text→image cosine; the common CLIP ViT-B heuristic (matches ≈ 0.25–0.35).
    "clip": 0.25,
    # Cosine where sigmoid(scale·cos + bias) = 0.5 for SigLIP base (≈ 12.9 / 117 ≈ 0.11).
    "siglip": 0.11,
    # Text→audio cosine of LAION-CLAP-style models; matches usually score above ≈ 0.3.
    "clap": 0.3,
    # Text→text cosine for MiniLM/mpnet-style models. Too low for BGE (calibrate per model).
    "sentence-transformers": 0.3,
    # xmodal's LiT starters: a placeholder near where held-out matches begin on the emoji set;
    # replaced by each starter's calibration as soon as it is measured.
    "lit": 0.3,
    # Frozen single-modality towers (image↔image, audio↔audio): pooled features of related
    # items are highly similar, so within-modal thresholds sit higher.
    "efficientnet": 0.5,
    "aisfx": 0.5,
})


def needs_fallback(top_raw_score: float | None, threshold: float) -> bool:
    """Whether a search should fall back (other modality, other model, or "no good match").

    Args:
        top_raw_score: The best hit's *raw* cosine from one model (never a fused score),
            or None when the search returned nothing.
        threshold: That model's threshold for this query type (see ``threshold_for``).

    Returns:
        True when there is no hit, the score is NaN, or it is below the threshold.

    Example:
        >>> needs_fallback(0.31, 0.25), needs_fallback(0.12, 0.25), needs_fallback(None, 0.25)
        (False, True, True)
    """
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    if top_raw_score is None or math.isnan(top_raw_score):
        return True
    return top_raw_score < threshold


def threshold_for(card_family: str, calibration: Mapping[str, float] | None = None) -> float:
    """The raw-score threshold for a model: its calibration if any, else the family default.

    Args:
        card_family: ``ModelCard.family`` of the model that produced the scores.
        calibration: The model's calibration for this query type, if measured. Read keys:
            ``"threshold"`` (a measured raw-score threshold, used as is), else
            ``"logit_scale"`` and ``"logit_bias"`` (sigmoid models: the cosine where the
            pair probability is 0.5, ``-bias / scale``).

    Returns:
        The threshold on the raw cosine.

    Raises:
        ValueError: unknown family with no usable calibration, or a calibration without a
            usable key.

    Example:
        >>> threshold_for("clip", None), threshold_for("lit", {"threshold": 0.42})
        (0.25, 0.42)
        >>> round(threshold_for("siglip", {"logit_scale": 100.0, "logit_bias": -10.0}), 3)
        0.1
    """
    if calibration:
        if "threshold" in calibration:
            return float(calibration["threshold"])
        if "logit_scale" in calibration and "logit_bias" in calibration:
            scale = float(calibration["logit_scale"])
            if scale <= 0:
                raise ValueError(f"logit_scale must be > 0, got {scale}")
            return -float(calibration["logit_bias"]) / scale
        raise ValueError(f"calibration for {card_family!r} has neither 'threshold' nor "
                         f"'logit_scale' and 'logit_bias': {sorted(calibration)}")
    if card_family not in DEFAULT_THRESHOLDS:
        raise ValueError(f"no default threshold for family {card_family!r}; "
                         f"known: {sorted(DEFAULT_THRESHOLDS)}; pass a calibration")
    return DEFAULT_THRESHOLDS[card_family]
