"""Measuring embeddings: zero-shot classification (retrieval metrics come with the eval issue)."""

from __future__ import annotations

from .zero_shot import DEFAULT_TEMPLATES, ZeroShotResult, class_embeddings, zero_shot_classify

__all__ = ["DEFAULT_TEMPLATES", "ZeroShotResult", "class_embeddings", "zero_shot_classify"]
