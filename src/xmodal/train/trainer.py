"""``Trainer``: one loop for every dual encoder — image–text, audio–text, text–text.

A step, read top to bottom (``Trainer._step``):

1. the global batch's indices come from a seeded :class:`~xmodal.data.batching.BatchOrder`
   (resumable by position; with ``sources``, a :class:`~xmodal.data.batching.SourceBatchOrder`:
   one source per batch); under ``torch.distributed`` each rank takes its contiguous shard;
2. the model *prepares* each side on the CPU (decode, tokenise, tower features) and, with hard
   negatives, a third side of ``M`` negative captions per row;
3. the loss (CLIP, SigLIP or InfoNCE from :mod:`xmodal.losses`; distributed: every rank's
   features are negatives) runs on the whole batch's embeddings. With ``mini_batch_size``
   smaller than the rank's batch it goes through :func:`~xmodal.train.gradcache.gradcache_step`,
   so the batch costs no activation memory; otherwise plain backprop;
4. gradients are averaged over ranks (what DDP does, done once per step so GradCache's replays
   sync once), AdamW steps, the LR schedule steps, the learnable temperature clamps itself.

Around it: guards before the first step, monitors every ``log_every`` steps (collapse alarm),
checkpoints every ``checkpoint_every`` steps (resume gives the same losses as an uninterrupted
run), and at the end the model, ``summary.json`` and ``metrics.png`` in the run folder.

Example (a toy pair of linear towers over looked-up vectors):
    >>> import tempfile, torch, warnings
    >>> from xmodal.data.pairs import PairDataset
    >>> from xmodal.train import TowerPair, TrainConfig, make_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> xa, xb = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)
    >>> data = PairDataset(anchors=tuple(range(64)), positives=tuple(f"t{i}" for i in range(64)),
    ...                    negatives=None, anchor_modality="image", name="toy")
    >>> model = TowerPair(torch.nn.Linear(8, 4), torch.nn.Linear(8, 4),
    ...                   lookup_a=lambda i: xa[i], lookup_b=lambda t: xb[int(t[1:])])
    >>> cfg = TrainConfig(data="toy", batch_size=32, steps=3, lr=1e-2, progress=False,
    ...                   out=tempfile.mkdtemp(), log_every=1)
    >>> with warnings.catch_warnings(record=True) as caught:  # the batch-below-256 guard
    ...     result = Trainer(model, make_loss(cfg), cfg, data=data).fit()
    >>> result.steps, len(result.losses), "below 256" in str(caught[0].message)
    (3, 3, True)
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from xmodal.data.batching import BatchOrder, BatchPosition, SourceBatchOrder, shard
from xmodal.data.dedup import normalize_caption
from xmodal.data.pairs import PairDataset
from xmodal.losses import (
    ClipLoss,
    HardNegativeCurriculum,
    InfoNCELoss,
    SigLipLoss,
)

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .gradcache import gradcache_step
from .guards import check_guards
from .models import DualModel
from .monitors import MonitorConfig, TrainingMonitor, embedding_stats
from .plots import plot_metrics

log = logging.getLogger("xmodal.train")


@dataclass(frozen=True)
class TrainResult:
    """What a run did."""

    steps: int  # optimiser steps done in total (including those before a resume)
    first_step: int  # the step this process started from (0, or a checkpoint's step)
    losses: tuple[float, ...]  # the loss of each step this process ran (mean over ranks)
    temperature: float  # 1 / logit scale at the end
    logit_bias: float | None  # SigLIP's learnt bias at the end
    warnings: tuple[str, ...]  # fine-tuning guard messages
    alarms: tuple[str, ...]  # monitor alarms (collapse)
    out: Path  # the run folder
    model_path: Path | None  # the saved model (rank 0), or None
    seconds: float  # wall time of this process's steps


def make_loss(config: TrainConfig, *, distributed: bool | None = None) -> nn.Module:
    """The loss module a config asks for (learnable or fixed temperature, negatives' ratio).

    Example:
        >>> make_loss(TrainConfig(loss="siglip")).__class__.__name__
        'SigLipLoss'
    """
    if distributed is None:
        distributed = _world()[1] > 1
    ratio: Any = config.hard_negative_ratio
    if ratio is not None and (config.hard_negative_warmup or config.hard_negative_ramp):
        ratio = HardNegativeCurriculum(ratio, config.hard_negative_warmup,
                                       config.hard_negative_ramp)
    learn = config.temperature is None
    if config.loss == "siglip":
        loss: nn.Module = SigLipLoss(
            init_scale=10.0 if learn else 1 / config.temperature,
            hard_negative_ratio=ratio, distributed=distributed)
        if not learn:
            loss.logit_scale.log_scale.requires_grad_(False)
        return loss
    kwargs = dict(init_scale=1 / 0.07 if learn else 1 / config.temperature, learnable=learn,
                  hard_negative_ratio=ratio, distributed=distributed)
    return ClipLoss(**kwargs) if config.loss == "clip" else InfoNCELoss(**kwargs)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _Rows:
    """A prepared batch of ``M`` negatives per row, sliceable by rows: rows s:e → (e-s)·M."""

    def __init__(self, flat: Any, per_row: int) -> None:
        self.flat, self.per_row = flat, per_row

    def __len__(self) -> int:
        return len(self.flat) // self.per_row

    def __getitem__(self, rows: slice) -> _Rows:
        start, stop, _ = rows.indices(len(self))
        return _Rows(self.flat[start * self.per_row : stop * self.per_row], self.per_row)


class Trainer:
    """Train a :class:`~xmodal.train.models.DualModel` with a contrastive loss.

    Args:
        model: The model adapter (:class:`TowerPair`, :class:`LiTTrainable`, …).
        loss: A loss module from :func:`make_loss` (or any of ``xmodal.losses``' modules).
        config: The run's :class:`TrainConfig`.
        data: Training pairs (anchors = side 0, positives = side 1), with optional negatives.
        negatives: Hard-negative captions per row ``(len(data), M)``, overriding the data's
            (mined or synthetic ones; see :mod:`xmodal.train.build`).
        group_ids: Rows sharing a group are never each other's negatives; default: rows with
            the same normalised caption share a group.
        sources: Each row's source (a dataset, a family of images): when given, every batch
            holds rows of one source only (:class:`~xmodal.data.batching.SourceBatchOrder`,
            at most ``batch_size`` rows), so in-batch negatives are of the positive's kind.
        callbacks: Called as ``fn(step, loss)`` after each step (``step`` = steps done).
    """

    def __init__(
        self,
        model: DualModel,
        loss: nn.Module,
        config: TrainConfig,
        *,
        data: PairDataset,
        negatives: Sequence[Sequence[str]] | None = None,
        group_ids: Sequence[int] | np.ndarray | None = None,
        sources: Sequence[Hashable] | None = None,
        callbacks: Sequence[Callable[[int, float], None]] = (),
    ) -> None:
        self.model, self.loss, self.config, self.data = model, loss, config, data
        self.rank, self.world = _world()
        if config.batch_size % self.world:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by the "
                             f"{self.world} processes")
        if config.batch_size > len(data):
            raise ValueError(f"batch_size {config.batch_size} is larger than the "
                             f"{len(data)} training pairs")
        self.local_batch = config.batch_size // self.world
        rows = negatives if negatives is not None else data.negatives
        if config.hard_negatives == "none":
            rows = None
        elif rows is None:
            raise ValueError(f"hard_negatives={config.hard_negatives!r} but the data has no "
                             "negatives and none were given")
        self.negatives = None if rows is None else [tuple(r) for r in rows]
        if group_ids is None:
            keys: dict[str, int] = {}
            group_ids = [keys.setdefault(normalize_caption(p), len(keys))
                         for p in data.positives]
        self.group_ids = torch.tensor(np.array(group_ids, dtype=np.int64))  # (n,)
        if sources is not None and len(sources) != len(data):
            raise ValueError(f"sources has {len(sources)} labels for {len(data)} training pairs")
        self.sources = None if sources is None else list(sources)
        if self.sources is not None:
            self._order(BatchPosition(0, 0))  # a source too small to batch fails here
        self.callbacks = list(callbacks)
        self.out = Path(config.out).expanduser()
        self.guard_messages = check_guards(
            lr=config.lr, pretrained=model.pretrained, effective_batch=config.batch_size,
            gradcache=self._gradcache)
        self.monitor = TrainingMonitor(
            MonitorConfig(every=config.log_every, collapse_threshold=config.collapse_threshold,
                          collapse_stop=config.collapse_stop),
            log_dir=self.out if self.rank == 0 else None)
        self.frozen = model.freeze_layers(config.freeze_layers) if config.freeze_layers else []
        self.optimizer = self._optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)

    @property
    def _gradcache(self) -> bool:
        mb = self.config.mini_batch_size
        return mb is not None and mb < self.config.batch_size // self.world

    def _params(self) -> list[nn.Parameter]:
        seen: dict[int, nn.Parameter] = {}
        for p in [*self.model.module.parameters(), *self.loss.parameters()]:
            if p.requires_grad:
                seen.setdefault(id(p), p)
        return list(seen.values())

    def _optimizer(self) -> torch.optim.Optimizer:
        loss_ids = {id(p) for p in self.loss.parameters()}
        params = self._params()
        decay = [p for p in params if p.ndim >= 2 and id(p) not in loss_ids]
        rest = [p for p in params if p.ndim < 2 or id(p) in loss_ids]
        groups = [{"params": decay, "weight_decay": self.config.weight_decay},
                  {"params": rest, "weight_decay": 0.0}]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=self.config.lr)

    def _order(self, start: BatchPosition) -> BatchOrder | SourceBatchOrder:
        cfg = self.config
        if self.sources is None:
            return BatchOrder(len(self.data), cfg.batch_size, seed=cfg.seed, start=start)
        return SourceBatchOrder(self.sources, cfg.batch_size, seed=cfg.seed,
                                multiple=self.world, start=start)

    def _lr_factor(self, step: int) -> float:
        cfg = self.config
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        span = max(1, cfg.steps - cfg.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / span)))

    # --- the loop

    def fit(self) -> TrainResult:
        """Run (or resume) the training; returns the run's :class:`TrainResult`."""
        cfg = self.config
        for message in self.guard_messages:
            warnings.warn(message, UserWarning, stacklevel=2)
            log.warning(message)
        start, position = 0, BatchPosition(0, 0)
        found = latest_checkpoint(self.out) if cfg.resume else None
        if found is not None:
            meta = load_checkpoint(found, module=self.model.module, optimizer=self.optimizer,
                                   loss=self.loss, scheduler=self.scheduler)
            start, position = int(meta["step"]), BatchPosition.from_dict(meta["position"])
            log.info("resumed from %s (step %d)", found, start)
        warm = getattr(self.model, "warm", None)  # models that cache per-item work (LiT)
        if warm is not None:
            warm(0, list(self.data.anchors))
            warm(1, [*self.data.positives, *(t for r in self.negatives or () for t in r)])
        adapt = getattr(self.model, "adapt", None)  # statistics fitted to the data (LiT's prior)
        if adapt is not None and start == 0:  # a resumed run keeps its checkpoint's
            adapt(list(self.data.anchors))
        order = iter(self._order(position))
        losses: list[float] = []
        bar = _progress(cfg.progress and self.rank == 0, cfg.steps, start)
        began = time.perf_counter()
        self.model.module.train()
        for step in range(start, cfg.steps):
            _, indices = next(order)
            loss, feats = self._step(step, shard(indices, rank=self.rank,
                                                 world_size=self.world))
            losses.append(loss)
            done = step + 1
            if self.monitor.should_log(done) or done == cfg.steps:
                self._record(done, loss, feats)
            if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                self._checkpoint(done, order.position)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4f}", tau=f"{self._temperature():.4f}")
                bar.update(1)
            for callback in self.callbacks:
                callback(done, loss)
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - began
        self.model.module.eval()
        model_path = self._finish(losses) if self.rank == 0 else None
        return TrainResult(
            steps=cfg.steps, first_step=start, losses=tuple(losses),
            temperature=self._temperature(), logit_bias=self._bias(),
            warnings=tuple(self.guard_messages), alarms=tuple(self.monitor.alarms),
            out=self.out, model_path=model_path, seconds=seconds)

    def _step(self, step: int, rows: np.ndarray) -> tuple[float, list[torch.Tensor]]:
        """One optimiser step on this rank's ``rows``; returns (global mean loss, features)."""
        model, data = self.model, self.data
        inputs = [model.prepare(0, [data.anchors[i] for i in rows], step=step),
                  model.prepare(1, [data.positives[i] for i in rows], step=step)]
        encoders: list[Callable[[Any], torch.Tensor]] = [
            lambda b: model.embed(0, b), lambda b: model.embed(1, b)]
        if self.negatives is not None:
            per_row = len(self.negatives[0])
            flat = [t for i in rows for t in self.negatives[i]]
            inputs.append(_Rows(model.prepare(1, flat, step=step), per_row))
            encoders.append(lambda r: model.embed(1, r.flat).reshape(len(r), r.per_row, -1))
        groups = self.group_ids[torch.as_tensor(rows)]  # (m,)
        kept: list[torch.Tensor] = []

        def loss_fn(*feats: torch.Tensor) -> torch.Tensor:
            kept[:] = [f.detach() for f in feats[:2]]
            kwargs: dict[str, Any] = {"group_ids": groups, "step": step}
            if len(feats) == 3:
                key = "negatives" if isinstance(self.loss, InfoNCELoss) else "text_negatives"
                kwargs[key] = feats[2]
            return self.loss(feats[0], feats[1], **kwargs)

        self.optimizer.zero_grad(set_to_none=True)
        if self._gradcache:
            value = gradcache_step(encoders, inputs, loss_fn,
                                   mini_batch_size=int(self.config.mini_batch_size or 1))
        else:
            value = loss_fn(*[enc(x) for enc, x in zip(encoders, inputs, strict=True)])
            value.backward()
        if self.world > 1:
            self._average_gradients()
            value = value.detach().clone()
            dist.all_reduce(value)
            value /= self.world
        self.optimizer.step()
        self.scheduler.step()
        return float(value.detach()), kept

    def _average_gradients(self) -> None:
        """All-reduce the mean of every gradient (DDP's reduction), in one flat buffer."""
        params = [p for p in self._params() if p.grad is not None]
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world
        at = 0
        for p in params:
            n = p.grad.numel()
            p.grad.copy_(flat[at : at + n].view_as(p.grad))
            at += n

    # --- monitors, checkpoints, the end

    def _temperature(self) -> float:
        return 1.0 / float(self.loss.logit_scale.scale)

    def _bias(self) -> float | None:
        bias = getattr(self.loss, "logit_bias", None)
        return None if bias is None else float(bias.detach())

    def _record(self, step: int, loss: float, feats: list[torch.Tensor]) -> None:
        if self.rank != 0:
            return
        stats = embedding_stats(feats[0], feats[1]) if len(feats) == 2 else None
        self.monitor.record(step, loss=loss, lr=self.scheduler.get_last_lr()[0],
                            temperature=self._temperature(), bias=self._bias(), stats=stats)

    def _checkpoint(self, step: int, position: BatchPosition) -> None:
        if self.rank == 0:
            save_checkpoint(
                self.out, step, module=self.model.module, optimizer=self.optimizer,
                loss=self.loss, scheduler=self.scheduler, keep=self.config.keep_checkpoints,
                state={"position": position.to_dict(), "config": self.config.to_dict()})
        if self.world > 1:
            dist.barrier()

    def _finish(self, losses: list[float]) -> Path:
        cfg = self.config
        notes = {"config": cfg.to_dict(), "final_loss": losses[-1] if losses else None,
                 "temperature": self._temperature(), "guards": self.guard_messages,
                 "frozen_layers": self.frozen}
        path = self.model.save(self.out / "model", logit_scale=1 / self._temperature(),
                               logit_bias=self._bias(), notes=notes)
        summary = {**notes, "steps": cfg.steps, "alarms": list(self.monitor.alarms),
                   "model": str(path)}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        try:
            plot_metrics(self.out / "metrics.jsonl", self.out / "metrics.png",
                         collapse_threshold=cfg.collapse_threshold)
        except ImportError as exc:  # matplotlib missing: the metrics are in metrics.jsonl
            log.warning("no plot: %s", exc)
        return path


def _progress(show: bool, total: int, initial: int) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step")
