"""Measuring embeddings: retrieval metrics (trec_eval definitions), chunked paired retrieval,
zero-shot classification, and a bridge to MTEB and local BEIR-layout tasks."""

from __future__ import annotations

from .metrics import (
    DEFAULT_METRICS,
    CutoffRecall,
    RetrievalReport,
    rank_documents,
    recall_at_cutoff,
    retrieval_metrics,
    retrieval_report,
)
from .mteb_adapter import (
    LocalRetrievalTask,
    MtebEncoder,
    evaluate_local_retrieval,
    load_beir_folder,
    local_retrieval_task,
    mteb_split_scores,
    run_mteb,
)
from .paired import both_directions, exact_top_k, paired_retrieval_metrics
from .zero_shot import DEFAULT_TEMPLATES, ZeroShotResult, class_embeddings, zero_shot_classify

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_TEMPLATES",
    "CutoffRecall",
    "LocalRetrievalTask",
    "MtebEncoder",
    "RetrievalReport",
    "ZeroShotResult",
    "both_directions",
    "class_embeddings",
    "evaluate_local_retrieval",
    "exact_top_k",
    "load_beir_folder",
    "local_retrieval_task",
    "mteb_split_scores",
    "paired_retrieval_metrics",
    "rank_documents",
    "recall_at_cutoff",
    "retrieval_metrics",
    "retrieval_report",
    "run_mteb",
    "zero_shot_classify",
]
