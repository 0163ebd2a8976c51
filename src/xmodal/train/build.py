"""From a :class:`TrainConfig` to a running :class:`Trainer`: data, split, dedup, model,
negatives, loss — what ``xmodal train CONFIG`` does.

- Data: :func:`~xmodal.data.pairs.load_pairs` of ``config.data``; the held-out split takes whole
  captions (a hash of the normalised caption), so no caption straddles train and test.
- Dedup (``config.dedup``): exact duplicate pairs removed, rows sharing content or caption in
  one group (never each other's negatives); with ``dedup_threshold``, items whose embeddings
  (LiT: frozen tower features) have a cosine at or above it are near duplicates, merged the
  same way. The report goes to the log and ``dedup.txt``.
- Model: ``lit`` builds fresh heads over the config's towers; ``lit:PATH`` continues a saved
  LiT model; ``hf-clip:``/``hf-siglip:``/``st:`` load a pretrained model to fine-tune.
- Negatives: the data's own (``data``), attribute swaps of each caption (``synthetic``; rows
  with too few swaps are topped up with other captions, seeded), or mined with a preliminary
  model from ranks 2–200 with a false-negative margin (``mined``).

Example (YAML or JSON config; any field can be overridden on the command line)::

    data: source:sonic-pi
    towers: [aisfx, minilm]
    batch_size: 128
    steps: 200
    holdout: 0.1
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.data.dedup import DedupResult, dedup_pairs, normalize_caption
from xmodal.data.pairs import PairDataset, load_pairs

from .config import TrainConfig
from .evaluate import RetrievalFigures, retrieval_figures
from .models import DualModel
from .trainer import Trainer, TrainResult, make_loss

log = logging.getLogger("xmodal.train")


@dataclass(frozen=True)
class Run:
    """The pieces of a run built from a config."""

    trainer: Trainer
    train: PairDataset  # the training pairs (after split and dedup)
    held_out: PairDataset | None  # the held-out pairs, if ``holdout`` > 0
    dedup: DedupResult | None  # what dedup removed and grouped


def split_holdout(data: PairDataset, fraction: float) -> tuple[PairDataset, PairDataset | None]:
    """Split by caption: a caption is held out when its hash falls below ``fraction``.

    Example:
        >>> d = PairDataset(anchors=tuple("abcdefgh"), positives=tuple("ABCDEFGH"),
        ...                 negatives=None, anchor_modality="text", name="x")
        >>> train, test = split_holdout(d, 0.5)
        >>> len(train) + len(test), set(train.positives) & set(test.positives)
        (8, set())
    """
    if fraction <= 0:
        return data, None
    bucket = np.array([_unit_hash(normalize_caption(p)) < fraction for p in data.positives])
    test = np.flatnonzero(bucket)
    if len(test) == 0 or len(test) == len(data):
        raise ValueError(f"holdout={fraction} leaves {len(data) - len(test)} training and "
                         f"{len(test)} held-out pairs: use more data or another fraction")
    return data.subset(np.flatnonzero(~bucket)), data.subset(test)


def _unit_hash(text: str) -> float:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:13], 16) / 16**13


def build_model(config: TrainConfig, modality: str) -> DualModel:
    """The model adapter ``config.model`` names, for items of ``modality``."""
    from xmodal.encoders import load_encoder

    from .models import HFDualTrainable, LiTTrainable, SentenceTransformerTrainable

    prefix, _, path = config.model.partition(":")
    if prefix == "lit":
        from xmodal.encoders.feature_cache import FeatureCache
        from xmodal.encoders.lit import LiTConfig, LiTModel

        if path:
            lit = LiTModel.load(path, load_tower=load_encoder, device=config.device)
        else:
            if modality == "text":
                raise ValueError("a LiT model pairs an image or audio tower with text; for "
                                 "text–text data fine-tune a text model with model: st:PATH")
            bridge = None if config.bridge == "none" else config.bridge
            lit = LiTModel.build(
                LiTConfig(towers={modality: config.towers[0], "text": config.towers[1]},
                          dim=config.dim, head=config.head, bridge=bridge,
                          bridge_weight=config.bridge_weight,
                          bridge_power=config.bridge_power,
                          bridge_prior=config.bridge_prior,
                          bridge_text=config.bridge_text),
                load_tower=load_encoder, seed=config.seed, device=config.device)
        cache = FeatureCache(config.feature_cache) if config.feature_cache else None
        augment = _augmentation(config, modality)
        model: DualModel = LiTTrainable(lit, cache=cache, augment=augment,
                                        copies=config.augment_copies, seed=config.seed)
    elif prefix in ("hf-clip", "hf-siglip"):
        model = HFDualTrainable(load_encoder(config.model, device=config.device))
    else:
        model = SentenceTransformerTrainable(load_encoder(config.model, device=config.device))
    if model.modalities[0] != modality:
        raise ValueError(f"the data's items are {modality}, but {config.model!r} embeds "
                         f"{model.modalities[0]} and {model.modalities[1]}")
    return model


def _augmentation(config: TrainConfig, modality: str) -> Any:
    """The item side's augmentation (``audio_augment`` / ``image_augment``), or None."""
    asked = [m for m, on in (("audio", config.audio_augment),
                             ("image", config.image_augment)) if on]
    if not asked:
        return None
    if asked != [modality]:
        raise ValueError(f"{' and '.join(m + '_augment' for m in asked)} cannot augment "
                         f"{modality} items")
    if modality == "audio":
        from xmodal.data.augment import AudioAugment

        return AudioAugment()
    from xmodal.data.image_augment import ImageAugment

    return ImageAugment()


def item_embeddings(model: DualModel, items: list[Any]) -> np.ndarray:
    """Unit vectors of the items for near-duplicate search: a LiT model's frozen tower features
    (its heads are untrained), otherwise the model's own item embeddings."""
    from .evaluate import embed_all
    from .models import LiTTrainable

    if isinstance(model, LiTTrainable):
        feats = model.tower_features(0, items).astype(np.float64)  # (n, t)
        feats /= np.linalg.norm(feats, axis=1, keepdims=True)
        return feats
    return embed_all(model, 0, items).astype(np.float64)  # (n, d)


def build_negatives(config: TrainConfig, data: PairDataset,
                    group_ids: np.ndarray) -> list[tuple[str, ...]] | None:
    """Hard-negative captions per row for ``config.hard_negatives`` (None: the data's/none)."""
    m = config.negatives_per_row
    if config.hard_negatives == "synthetic":
        from .synthetic import synthesize_negatives

        made = synthesize_negatives(list(data.positives), n=m, seed=config.seed)
        rows = [list(r) for r in made.negatives]
        log.info("synthetic negatives: %d of %d captions had fewer than %d swaps (topped up "
                 "with other captions)", len(made.missing), len(data), m)
        return _top_up(rows, data, group_ids, m, config.seed)
    if config.hard_negatives == "mined":
        return _mined(config, data, group_ids)
    return None


def _top_up(rows: list[list[str]], data: PairDataset, group_ids: np.ndarray, m: int,
            seed: int) -> list[tuple[str, ...]]:
    """Fill rows short of ``m`` negatives with captions of other groups (a random negative)."""
    rng = np.random.default_rng([seed, 7])
    n = len(data)
    for i, row in enumerate(rows):
        tries = 0
        while len(row) < m:
            j = int(rng.integers(0, n))
            if group_ids[j] != group_ids[i] and data.positives[j] not in row:
                row.append(data.positives[j])
            tries += 1
            if tries > 50 * m and len(row) < m:  # few other groups: search them all once
                others = [data.positives[k] for k in range(n) if group_ids[k] != group_ids[i]
                          and data.positives[k] not in row]
                if len(others) < m - len(row):
                    raise ValueError(f"row {i} needs {m} negatives but only "
                                     f"{len(row) + len(others)} captions of other groups exist")
                picks = rng.choice(len(others), size=m - len(row), replace=False)
                row.extend(others[k] for k in picks)
    return [tuple(r) for r in rows]


def _mined(config: TrainConfig, data: PairDataset,
           group_ids: np.ndarray) -> list[tuple[str, ...]]:
    from xmodal.encoders import load_encoder

    from .mining import mine_hard_negatives

    encoder = load_encoder(config.mine_with, device=config.device)
    captions = list(dict.fromkeys(data.positives))
    where = {c: i for i, c in enumerate(captions)}
    items = list(dict.fromkeys(data.anchors))
    encode = getattr(encoder, f"encode_{data.anchor_modality}")
    queries = encode(items, batch_size=64)  # (n_items, d)
    corpus = encoder.encode_text(captions, batch_size=64)  # (n_cap, d)
    row_of = {a: i for i, a in enumerate(items)}
    same: dict[int, set[int]] = {}
    for anchor, caption in zip(data.anchors, data.positives, strict=True):
        same.setdefault(row_of[anchor], set()).add(where[caption])
    mined = mine_hard_negatives(queries, corpus, [sorted(same[i]) for i in range(len(items))],
                                num_negatives=config.negatives_per_row, seed=config.seed)
    log.info("mined negatives: %d false-negative candidates dropped, %d items short",
             mined.dropped_as_false_negatives, mined.num_short)
    rows = [[captions[j] for j in mined.indices[row_of[a]] if j >= 0] for a in data.anchors]
    return _top_up(rows, data, group_ids, config.negatives_per_row, config.seed)


def build_run(config: TrainConfig, *, callbacks: Any = ()) -> Run:
    """Load the data, split, dedup, build model, negatives and loss; return the pieces."""
    if not config.data:
        raise ValueError("the config names no data (data: a folder, a pairs file or "
                         "source:NAME)")
    data = load_pairs(config.data, limit=config.data_limit)
    if data.problems:
        shown = "; ".join(f"{p.item}: {p.reason}" for p in data.problems[:3])
        log.warning("%d rows of %s skipped: %s", len(data.problems), config.data, shown)
    train, held_out = split_holdout(data, config.holdout)
    result = None
    model = build_model(config, train.anchor_modality)
    if config.dedup:
        embeddings = None
        if config.dedup_threshold is not None:
            embeddings = item_embeddings(model, list(train.anchors))
        result = dedup_pairs(list(train.anchors), list(train.positives),
                             modality=train.anchor_modality, embeddings=embeddings,
                             threshold=config.dedup_threshold or 0.95)
        log.info(result.report())
        out = Path(config.out).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        (out / "dedup.txt").write_text(result.report(max_lines=200) + "\n", encoding="utf-8")
        train = train.subset(result.keep)
        groups = np.asarray(result.group_ids)
    else:
        keys: dict[str, int] = {}
        groups = np.array([keys.setdefault(normalize_caption(p), len(keys))
                           for p in train.positives])
    negatives = build_negatives(config, train, groups)
    trainer = Trainer(model, make_loss(config), config, data=train, negatives=negatives,
                      group_ids=groups, callbacks=callbacks)
    return Run(trainer=trainer, train=train, held_out=held_out, dedup=result)


def train_from_config(config: TrainConfig) -> tuple[TrainResult, RetrievalFigures | None]:
    """Build and run; measure the held-out split (if any) at the end."""
    run = build_run(config)
    result = run.trainer.fit()
    figures = None
    if run.held_out is not None and run.trainer.rank == 0:
        figures = retrieval_figures(run.trainer.model, run.held_out)
    return result, figures
