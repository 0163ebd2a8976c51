"""Training: the starter models (more of the trainer comes with the training issue)."""

from __future__ import annotations
