"""Training: one trainer for every dual encoder, its guards, negatives and checkpoints.

``Trainer(model, loss, config, data=...)`` trains a :class:`DualModel` adapter
(:class:`TowerPair`, :class:`LiTTrainable`, :class:`HFDualTrainable`,
:class:`SentenceTransformerTrainable`) with a loss from :func:`make_loss`; ``xmodal train
CONFIG.yaml`` builds all of it from a :class:`TrainConfig` (see :mod:`xmodal.train.build`).
Inference code never imports this package.
"""

from __future__ import annotations

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .gradcache import GradCache, gradcache_step
from .guards import check_guards
from .mining import MinedNegatives, mine_hard_negatives
from .models import (
    DualModel,
    HFDualTrainable,
    LiTTrainable,
    SentenceTransformerTrainable,
    TensorBatch,
    TowerPair,
)
from .monitors import EmbeddingCollapseError, EmbeddingStats, TrainingMonitor, embedding_stats
from .synthetic import RuleBasedNegatives, synthesize_negatives
from .trainer import Trainer, TrainResult, make_loss

__all__ = [
    "DualModel",
    "EmbeddingCollapseError",
    "EmbeddingStats",
    "GradCache",
    "HFDualTrainable",
    "LiTTrainable",
    "MinedNegatives",
    "RuleBasedNegatives",
    "SentenceTransformerTrainable",
    "TensorBatch",
    "TowerPair",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingMonitor",
    "check_guards",
    "embedding_stats",
    "gradcache_step",
    "latest_checkpoint",
    "load_checkpoint",
    "make_loss",
    "mine_hard_negatives",
    "save_checkpoint",
    "synthesize_negatives",
]
