"""Training monitors for contrastive dual encoders (CLIP/SigLIP-style): catch a run going bad early.

What each monitor catches, and why it matters:

* **Embedding collapse.** A tower that maps every input to (nearly) the same vector makes every
  random pair look alike: the std of cos(x_i, x_j) over random pairs i≠j drops towards 0. The loss
  may plateau rather than explode, so collapse is easy to miss from the loss curve alone. It is
  watched across modalities (a_i, b_j) and within each one (a_i, a_j) and (b_i, b_j): one tower
  usually collapses first, which shows within its modality before the cross-modal std moves.
  Usual causes: a learning rate too high for fine-tuning pretrained towers, temperature collapse,
  too small a batch (too few negatives).
* **Temperature runaway.** The learnable logit scale (temperature = 1/scale) can run to its clamp
  (CLIP clamps the scale at 100): the logits become so sharp that gradients concentrate on a few
  pairs and training turns unstable, or, run the other way, so flat that nothing is learned. The
  temperature (and SigLIP's bias) are logged per step so the trend shows in
  :func:`~xmodal.train.plots.plot_metrics`.
* **Modality gap.** ``‖mean(a) − mean(b)‖₂`` (Liang et al. 2022, "Mind the Gap"): the two towers'
  embeddings live in separate cones of the sphere. Contrastive training keeps (or widens) the gap
  rather than closing it; a sudden jump means one tower drifted away from the other.

Positive-pair cosine against random-pair cosine tells whether the model separates matching pairs
from non-matching ones at all (``positive_cos`` should rise above ``random_cos_mean``).

:class:`TrainingMonitor` records a :class:`MonitorRecord` every ``MonitorConfig.every`` steps,
appends it as one JSON line to ``log_dir/metrics.jsonl`` and warns (or raises
:class:`EmbeddingCollapseError`) on collapse; :func:`~xmodal.train.plots.load_records` reads the
file back and :func:`~xmodal.train.plots.plot_metrics` draws it.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xmodal.diagnostics.findings import COLLAPSE_STD
from xmodal.diagnostics.stats import (
    modality_gap,
    random_pair_cosines,
    random_pair_indices,
    unit_rows,
)

__all__ = [
    "EmbeddingCollapseError",
    "EmbeddingStats",
    "MonitorConfig",
    "MonitorRecord",
    "TrainingMonitor",
    "embedding_stats",
]

METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class EmbeddingStats:
    """Statistics of a batch of paired embeddings; stds are population stds (ddof=0) over pairs."""

    positive_cos: float
    random_cos_mean: float
    random_cos_std: float
    random_cos_std_a: float
    random_cos_std_b: float
    modality_gap: float

    @property
    def collapse_std(self) -> float:
        """The smallest of the three random-pair cosine stds (collapse of any tower shows here)."""
        return min(self.random_cos_std, self.random_cos_std_a, self.random_cos_std_b)


class _TorchIntegers:
    """``numpy.random.Generator.integers`` drawn from a torch generator, so the training run
    samples its pairs as it always has and never consumes NumPy's or torch's global RNG."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        return torch.randint(low, high, (size,), generator=self.generator).numpy()


def _float64(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A detached float64 NumPy view or copy on the CPU (the training graph is untouched)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def embedding_stats(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    *,
    n_random_pairs: int = 4096,
    generator: torch.Generator | None = None,
) -> EmbeddingStats:
    """Cosine statistics of a batch of paired embeddings ``a[i] <-> b[i]``.

    Computed in float64 on detached CPU copies (the training graph is untouched) by the same
    code as :func:`xmodal.diagnostics.diagnose` (:func:`~xmodal.diagnostics.stats.unit_rows`,
    :func:`~xmodal.diagnostics.stats.random_pair_cosines`). Random pairs (i, j), i≠j, are drawn
    uniformly with ``generator`` (default: a fresh generator seeded 0, so the global RNG of the
    training run is never consumed); when ``N*(N-1) <= n_random_pairs`` all off-diagonal pairs
    are used and the result is exact.

    Args:
        a: Embeddings of modality A, ``(N, d)``, rows L2-normalised (renormalised here anyway).
        b: Embeddings of modality B, ``(N, d)``, paired row by row with ``a``.
        n_random_pairs: How many random pairs to sample at most.
        generator: Torch generator for the sampling.

    Returns:
        The :class:`EmbeddingStats` of the batch.

    Raises:
        ValueError: Shapes differ, N < 2, or an input holds NaN/Inf or an all-zero row.

    Example:
        >>> a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> s = embedding_stats(a, a)
        >>> s.positive_cos, s.random_cos_mean, s.modality_gap
        (1.0, 0.0, 0.0)
    """
    if n_random_pairs < 1:
        raise ValueError(f"n_random_pairs must be >= 1, got {n_random_pairs}")
    ua = unit_rows("a", _float64(a))  # (N, d)
    ub = unit_rows("b", _float64(b))  # (N, d)
    if ua.shape != ub.shape:
        raise ValueError(f"a and b must have the same shape, got {ua.shape} and {ub.shape}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    i, j = random_pair_indices(ua.shape[0], n_random_pairs, _TorchIntegers(generator))  # (P,)
    pairs = random_pair_cosines(ua, ub, i, j)
    cross_std, std_a, std_b = pairs.stds
    return EmbeddingStats(
        positive_cos=float((ua * ub).sum(1).mean()),
        random_cos_mean=float(pairs.cross.mean()),
        random_cos_std=cross_std,
        random_cos_std_a=std_a,
        random_cos_std_b=std_b,
        modality_gap=modality_gap(ua, ub)[0],
    )


@dataclass(frozen=True)
class MonitorConfig:
    """How often to record and when to call it collapse.

    Args:
        every: Record every ``every`` steps (``should_log``).
        collapse_threshold: Collapse when ``EmbeddingStats.collapse_std`` falls below this.
        collapse_stop: Raise :class:`EmbeddingCollapseError` on collapse instead of only warning.
        n_random_pairs: Random pairs sampled per :func:`embedding_stats` call.
    """

    every: int = 50
    collapse_threshold: float = COLLAPSE_STD
    collapse_stop: bool = False
    n_random_pairs: int = 4096

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"every must be an int >= 1, got {self.every!r}")
        if not math.isfinite(self.collapse_threshold) or self.collapse_threshold < 0:
            raise ValueError(
                f"collapse_threshold must be finite and >= 0, got {self.collapse_threshold!r}"
            )
        if not isinstance(self.n_random_pairs, int) or self.n_random_pairs < 1:
            raise ValueError(f"n_random_pairs must be an int >= 1, got {self.n_random_pairs!r}")


def _collapse_message(step: int, stats: EmbeddingStats, threshold: float) -> str:
    stds = (stats.random_cos_std, stats.random_cos_std_a, stats.random_cos_std_b)
    return (
        "embedding collapse at step {}: random-pair cosine std cross={:.3g}, within a={:.3g}, "
        "within b={:.3g} (min {:.3g} < threshold {:g}). Usual causes: a learning rate too high "
        "for fine-tuning pretrained towers, temperature collapse (logit scale at its clamp), or "
        "too small a batch (too few negatives)."
    ).format(step, *stds, stats.collapse_std, threshold)


class EmbeddingCollapseError(RuntimeError):
    """Raised by :class:`TrainingMonitor` on collapse when ``MonitorConfig.collapse_stop`` is set.

    Example:
        >>> s = EmbeddingStats(0.99, 0.99, 0.001, 0.002, 0.5, 0.0)
        >>> "step 7" in str(EmbeddingCollapseError(7, s, 0.01))
        True
    """

    def __init__(self, step: int, stats: EmbeddingStats, threshold: float) -> None:
        super().__init__(_collapse_message(step, stats, threshold))
        self.step = step
        self.stats = stats
        self.threshold = threshold

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.stats, self.threshold))


@dataclass(frozen=True)
class MonitorRecord:
    """One logged step; ``collapsed`` is False when no ``stats`` were given."""

    step: int
    loss: float
    lr: float
    temperature: float | None = None
    bias: float | None = None
    stats: EmbeddingStats | None = None
    extra: dict[str, float] | None = None
    collapsed: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MonitorRecord:
        """Build a record from :func:`dataclasses.asdict` output (a parsed JSON line)."""
        stats = d.get("stats")
        return cls(**{**d, "stats": EmbeddingStats(**stats) if stats is not None else None})


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


class TrainingMonitor:
    """Records metrics every ``config.every`` steps and raises the alarm on embedding collapse.

    Args:
        config: The :class:`MonitorConfig`.
        log_dir: Folder for ``metrics.jsonl`` (created; an existing file is appended to, so a
            resumed run continues it). ``None`` keeps records in memory only.

    Example:
        >>> import tempfile
        >>> mon = TrainingMonitor(MonitorConfig(every=10))
        >>> mon.should_log(20), mon.should_log(21)
        (True, False)
        >>> g = torch.Generator().manual_seed(0)
        >>> a = torch.nn.functional.normalize(torch.randn(8, 4, generator=g), dim=1)  # (N, d)
        >>> rec = mon.record(20, loss=1.5, lr=1e-4, temperature=0.07, stats=embedding_stats(a, a))
        >>> rec.collapsed, len(mon.records), mon.alarms
        (False, 1, [])
        >>> from xmodal.train.plots import load_records
        >>> with tempfile.TemporaryDirectory() as d:
        ...     mon = TrainingMonitor(MonitorConfig(), log_dir=d)
        ...     _ = mon.record(0, loss=2.0, lr=1e-3)
        ...     load_records(Path(d) / "metrics.jsonl") == list(mon.records)
        True
    """

    def __init__(self, config: MonitorConfig | None = None, *, log_dir: str | Path | None = None):
        self.config = config if config is not None else MonitorConfig()
        self.path: Path | None = None
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            self.path = Path(log_dir) / METRICS_FILE
        self._records: list[MonitorRecord] = []
        self.alarms: list[str] = []
        self._in_collapse = False

    @property
    def records(self) -> tuple[MonitorRecord, ...]:
        """All records made so far, oldest first."""
        return tuple(self._records)

    def should_log(self, step: int) -> bool:
        """Whether ``step`` is a logging step (a multiple of ``config.every``)."""
        return step % self.config.every == 0

    def record(
        self,
        step: int,
        *,
        loss: float,
        lr: float,
        temperature: float | None = None,
        bias: float | None = None,
        stats: EmbeddingStats | None = None,
        extra: dict[str, float] | None = None,
    ) -> MonitorRecord:
        """Record one step: keep it, append it to ``metrics.jsonl``, check for collapse.

        Scalars may be 0-d tensors (converted with ``float``). On collapse a ``RuntimeWarning``
        is issued once per run of consecutive collapsed records (records without ``stats`` neither
        start nor end such a run), or :class:`EmbeddingCollapseError` is raised, after the record
        is written, when ``config.collapse_stop`` is set.

        Returns:
            The new :class:`MonitorRecord`.
        """
        collapsed = stats is not None and stats.collapse_std < self.config.collapse_threshold
        rec = MonitorRecord(
            step=int(step),
            loss=float(loss),
            lr=float(lr),
            temperature=_opt_float(temperature),
            bias=_opt_float(bias),
            stats=stats,
            extra=None if extra is None else {str(k): float(v) for k, v in extra.items()},
            collapsed=collapsed,
        )
        self._records.append(rec)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(asdict(rec)) + "\n")
                f.flush()
        if stats is not None:
            if collapsed:
                threshold = self.config.collapse_threshold
                if self.config.collapse_stop:
                    err = EmbeddingCollapseError(rec.step, stats, threshold)
                    self.alarms.append(str(err))
                    raise err
                if not self._in_collapse:
                    msg = _collapse_message(rec.step, stats, threshold)
                    self.alarms.append(msg)
                    warnings.warn(msg, RuntimeWarning, stacklevel=2)
            self._in_collapse = collapsed
        return rec
