"""When is the best hit too weak? Per-family default thresholds and the fallback test.

A raw cosine is only meaningful against its own model's distribution: CLIP's matching
text–image pairs score about 0.25–0.35, SigLIP's far lower (its sigmoid crosses 0.5 near
``-bias / scale`` ≈ 0.11), BGE-style text models compress everything into about [0.6, 1].
So a threshold belongs to one model and one query type (within- vs cross-modal). Until
calibration exists for a model, ``DEFAULT_THRESHOLDS`` gives a documented per-family guess;
every value is a **placeholder**, replaced by the per-model calibration (``threshold_for``
prefers it) once the measure step has fitted one.

A collection's calibration (``CollectionInfo.calibration``) is stored per *query* modality,
``{"text": {...}, "image": {...}}`` (``xmodal calibrate`` writes it; see
:mod:`xmodal.commands.calibrate`); :func:`calibration_for` picks the entry of one query modality.
The older flat form (``{"threshold": 0.3}``, one calibration for every query) is still read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from xmodal.modalities import MODALITIES

__all__ = ["DEFAULT_THRESHOLDS", "QUERY_MODALITIES", "calibration_for", "needs_fallback",
           "threshold_for"]

QUERY_MODALITIES = MODALITIES
"""The modalities a query can be (every modality: :data:`xmodal.modalities.MODALITIES`)."""

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


def calibration_for(calibration: Mapping[str, Any] | None,
                    query_modality: str | None) -> Mapping[str, Any] | None:
    """The calibration entry of one query modality in a collection's calibration dict.

    Args:
        calibration: ``CollectionInfo.calibration``: per query modality
            (``{"text": {...}, "image": {...}}``), or the older flat form (one dict for every
            query, e.g. ``{"threshold": 0.3}``), or None.
        query_modality: ``"text"``, ``"image"`` or ``"audio"`` (None: no per-modality entry).

    Returns:
        The entry (the flat form itself), or None when there is none for that modality.

    Example:
        >>> cal = {"text": {"threshold": 0.31}, "image": {"threshold": 0.8}}
        >>> calibration_for(cal, "image"), calibration_for(cal, "audio")
        ({'threshold': 0.8}, None)
        >>> calibration_for({"threshold": 0.3}, "audio")  # the old flat form
        {'threshold': 0.3}
    """
    if not calibration:
        return None
    nested = all(k in QUERY_MODALITIES and isinstance(v, Mapping)
                 for k, v in calibration.items())
    if not nested:
        return calibration
    return calibration.get(query_modality) if query_modality else None


def threshold_for(card_family: str, calibration: Mapping[str, Any] | None = None, *,
                  query_modality: str | None = None) -> float:
    """The raw-score threshold for a model: its calibration if any, else the family default.

    Args:
        card_family: ``ModelCard.family`` of the model that produced the scores.
        calibration: The model's calibration, if measured: per query modality (the entry of
            ``query_modality`` is read, see :func:`calibration_for`) or one flat dict. Read
            keys: ``"threshold"`` (a measured raw-score threshold, used as is), else
            ``"logit_scale"`` and ``"logit_bias"`` (sigmoid models: the cosine where the
            pair probability is 0.5, ``-bias / scale``).
        query_modality: The query's modality (picks the per-modality entry).

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
        >>> threshold_for("lit", {"text": {"threshold": 0.42}}, query_modality="text")
        0.42
        >>> threshold_for("lit", {"text": {"threshold": 0.42}}, query_modality="image")
        0.3
    """
    calibration = calibration_for(calibration, query_modality)
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
