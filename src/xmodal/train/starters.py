"""Train xmodal's starter models on the installed real data, and measure them.

Both starters are locked-tower models: frozen pretrained towers and heads trained by
:class:`~xmodal.train.Trainer` with CLIP's loss (exact duplicate pairs removed; rows sharing a
caption grouped, never each other's negatives), on every family of
:mod:`xmodal.train.starter_data`: emoji, Sweet Home 3D, Cataclysm DDA, Scratch, GCompris and
game-icons images; OpenTTD, Scratch, Widelands, GCompris, Minetest, LinCity-NG, Wesnoth, Flare
and instrument sounds. Image–text: EfficientNet-Lite0 (+ its ImageNet class probabilities) and
MiniLM, linear heads beside a ConSE label-space bridge (:mod:`xmodal.encoders.bridge`: classes
ranked against their mean probability on the training images, captions moved towards their
nearest class names), trained through the bridged cosine. Audio–text: aisfx + MiniLM, linear
heads. Pairs whose file does not decode are reported and skipped, near duplicates across
families go, and captions are split by hash (10 % held out), so one caption never straddles the
split. The held-out (in-domain)
figures, the training sources with their counts and, when given, the out-of-domain figures of
``benchmarks/generalisation.py`` go into the saved model's ``config.json`` (``notes``) and its
model card.

Run (what ``scripts/train-starters.sh`` does):
    python benchmarks/generalisation.py --modality image --json runs/generalisation-image.json
    python -m xmodal.train.starters image --out src/xmodal/starters/image \\
        --generalisation runs/generalisation-image.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.data import load_images
from xmodal.data.dedup import DedupResult, dedup_pairs
from xmodal.data.pairs import PairDataset
from xmodal.data.sources import (
    AudioClip,
    ImageText,
    load_emoji_datasource,
    load_fashion_mnist,
    load_freedesktop_sounds,
    load_gm_instruments,
    load_openmoji,
    load_sonic_pi,
)
from xmodal.encoders.lit import LiTEncoder
from xmodal.eval import DEFAULT_TEMPLATES, ZeroShotResult, zero_shot_classify

from .build import build_model
from .config import BridgeText, HeadKind, TrainConfig
from .evaluate import RetrievalFigures, retrieval_figures
from .starter_data import (
    AUDIO_FAMILIES,
    IMAGE_FAMILIES,
    StarterPair,
    caption_key,
    dedup_across,
    load_families,
)
from .trainer import Trainer, TrainResult, make_loss

HELD_OUT_BUCKET = 1  # captions whose hash % 10 is this are held out (bucket 0 chose the settings)


def held_out(caption: str) -> bool:
    """Whether a caption belongs to the held-out 10 %."""
    digest = hashlib.sha1(caption_key(caption).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 10 == HELD_OUT_BUCKET


def emoji_pairs() -> list[ImageText]:
    """OpenMoji and emoji-datasource items whose images decode (one OpenMoji flag does not)."""
    items = [*load_openmoji().items, *load_emoji_datasource().items]
    paths = [str(i.path) for i in items]
    bad: set[str] = set()
    for start in range(0, len(paths), 512):
        got = load_images(paths[start : start + 512], workers=2)
        bad |= {paths[start + p.index] for p in got.failed}
    return [i for i in items if str(i.path) not in bad]


def sound_pairs() -> list[AudioClip]:
    """Sonic Pi samples, freedesktop sounds and GM-instrument renders, with their captions."""
    return [*load_sonic_pi().items, *load_freedesktop_sounds().items,
            *load_gm_instruments().items]


def _pairs(items: list[ImageText] | list[AudioClip], modality: str, name: str) -> PairDataset:
    return PairDataset(anchors=tuple(str(i.path) for i in items),
                       positives=tuple(caption_key(i.caption) for i in items),
                       negatives=None, anchor_modality=modality, name=name)


@dataclass(frozen=True)
class FitSettings:
    """How a starter's heads are fitted (the defaults are the shipped starters')."""

    steps: int = 300  # optimiser steps (few: longer runs overfit the training sources)
    batch_size: int = 1024  # pairs per step (capped at the training set's size)
    lr: float = 5e-4  # peak learning rate (AdamW, cosine decay)
    weight_decay: float = 0.01  # AdamW, on the heads' weight matrices
    temperature: float | None = None  # a fixed softmax temperature; None: learnt from 0.07
    dim: int = 512  # width of the trained heads' space
    head: HeadKind = "linear"  # "linear" or "mlp"
    bridge_weight: float | None = None  # image: the ConSE bridge's share w; None: no bridge
    bridge_power: float = 1.0  # image: class probabilities ** power in the ConSE mix
    bridge_prior: bool = False  # image: classes ranked by p(class|image) / the training mean
    bridge_text: BridgeText = "plain"  # image: "classes" moves texts towards their nearest
    #                                    class names
    audio_augment: bool = False  # audio: train on 4 cached augmented variants per clip too
    image_augment: bool = False  # image: cached variants (crop, flip, background) per image
    augment_copies: int = 4  # augmented variants per item (audio_augment / image_augment)
    synthetic_negatives: bool = False  # attribute-swapped captions as hard negatives, 1:7
    caption_templates: tuple[str, ...] = ()  # e.g. ("{}", "a picture of {}"): one per pair
    family_power: float = 1.0  # a family's share of the batches ∝ its size ** power (1: as is;
    #                            0: every family alike), by repeating the smaller families' pairs
    family_repeat: tuple[tuple[str, int], ...] = ()  # e.g. (("emoji", 2),): those families'
    #                            pairs k times more (after family_power)
    family_batches: bool = False  # every batch from one family (in-batch negatives of its kind)
    image_tower: str = "efficientnet-lite0"  # image: the frozen tower ("efficientnet-lite2")
    text_tower: str = "minilm"  # the frozen text tower ("mpnet")
    seed: int = 0


PREVIOUS_SOURCES = {"image": ("openmoji", "emoji-datasource"),
                    "audio": ("sonic-pi", "freedesktop-sounds", "gm-instruments")}
"""What the starters were trained on before the everyday sources: their held-out figures are
reported apart, to compare with the earlier starters'."""
IMAGE_SETTINGS = FitSettings(bridge_weight=0.5, bridge_power=0.5, bridge_prior=True,
                             bridge_text="classes", text_tower="mpnet", lr=1e-3,
                             family_repeat=(("emoji", 2),))
"""The shipped image starter's settings: the bridge with both corrections, MPNet as the text
tower, and the emoji family (the earlier starter's whole domain) twice in every epoch."""
AUDIO_SETTINGS = FitSettings(steps=100, batch_size=256)


def towers_for(modality: str, settings: FitSettings) -> tuple[str, str]:
    """The (item, text) tower specs of a starter."""
    if modality == "audio":
        return ("aisfx", settings.text_tower)
    bridged = settings.bridge_weight is not None
    return (settings.image_tower + ("+classes" if bridged else ""), settings.text_tower)


def build_trainable(modality: str, settings: FitSettings, *, cache: str | Path,
                    run_dir: str | Path) -> tuple[Any, TrainConfig]:
    """A fresh :class:`~xmodal.train.LiTTrainable` and the run's config (batch size to be
    capped by :func:`fit` once the data is known)."""
    known = IMAGE_FAMILIES if modality == "image" else AUDIO_FAMILIES
    unknown = sorted({f for f, _ in settings.family_repeat} - set(known))
    if unknown:  # a misspelt family would be repeated nowhere, silently
        raise ValueError(f"family_repeat names {unknown}: no {modality} family of that name "
                         f"(have {sorted(known)})")
    bridged = settings.bridge_weight is not None
    config = TrainConfig(
        data=f"starter-{modality}", towers=towers_for(modality, settings), dim=settings.dim,
        head=settings.head, bridge="imagenet" if bridged else "none",
        bridge_weight=settings.bridge_weight if bridged else 0.5,
        bridge_power=settings.bridge_power, bridge_prior=settings.bridge_prior,
        bridge_text=settings.bridge_text,
        steps=settings.steps,
        lr=settings.lr, weight_decay=settings.weight_decay, temperature=settings.temperature,
        batch_size=settings.batch_size, seed=settings.seed,
        audio_augment=settings.audio_augment, image_augment=settings.image_augment,
        augment_copies=settings.augment_copies,
        hard_negatives="synthetic" if settings.synthetic_negatives else "none",
        hard_negative_ratio=1 / 7,
        extra={"caption_templates": list(settings.caption_templates),
               "family_power": settings.family_power,
               "family_repeat": [list(fr) for fr in settings.family_repeat],
               "family_batches": settings.family_batches},
        feature_cache=str(cache), out=str(run_dir), log_every=25,
        checkpoint_every=settings.steps, resume=False, progress=False,
    )
    return build_model(config, modality), config


def usable(trainable: Any, items: list[str], chunk: int = 256
           ) -> tuple[list[int], np.ndarray, list[tuple[str, str]]]:
    """Tower features of the items that decode: ``(kept indices, (n_kept, t) features,
    [(item, reason)] for the rest)``. A run over many files reports the bad ones and goes on."""
    keep, parts, bad = [], [], []
    for start in range(0, len(items), chunk):
        part = list(range(start, min(start + chunk, len(items))))
        try:
            parts.append(trainable.tower_features(0, [items[i] for i in part]))
            keep += part
        except Exception:  # one bad file in the chunk: find it, keep the rest
            for i in part:
                try:
                    parts.append(trainable.tower_features(0, [items[i]]))
                    keep.append(i)
                except Exception as exc:
                    bad.append((items[i], f"{type(exc).__name__}: {exc}"))
    width = trainable.lit.towers[trainable.modalities[0]].card.dim
    feats = np.concatenate(parts) if parts else np.zeros((0, width), np.float32)
    return keep, feats, bad


def unit_main_features(features: np.ndarray, modality: str) -> np.ndarray:
    """The tower's own unit features (without class probabilities), for near-duplicate search."""
    from xmodal.encoders.towers.efficientnet import POOLED

    if modality == "image" and features.shape[1] > POOLED:
        features = features[:, :POOLED]  # efficientnet-lite*+classes: [pooled, probs] / √2
    return features / np.linalg.norm(features, axis=1, keepdims=True).clip(1e-12)


def starter_pairs(trainable: Any, pairs: list[StarterPair]
                  ) -> tuple[list[StarterPair], list[tuple[str, str]], int]:
    """The pairs a starter is fitted and measured on: those whose file decodes (the rest
    reported on stderr and returned), less near duplicates across families.

    Returns:
        ``(pairs, [(item, reason)] skipped, cross-family duplicates removed)``.
    """
    keep, feats, bad = usable(trainable, [p.item for p in pairs])
    for item, why in bad:
        print(f"skipped {item}: {why}", file=sys.stderr)
    pairs = [pairs[i] for i in keep]
    kept = dedup_across(pairs, unit_main_features(feats, trainable.modalities[0]))
    return [pairs[i] for i in kept], bad, len(pairs) - len(kept)


def fit(trainable: Any, config: TrainConfig, pairs: Sequence[StarterPair], name: str
        ) -> tuple[TrainResult, Any]:
    """Train the heads on ``pairs`` (exact duplicates removed, same captions grouped).

    With caption templates (``config.extra["caption_templates"]``), each pair's caption is
    written into one of them, chosen by the item's hash; the groups stay those of the plain
    captions, so two renderings of one caption are never each other's negatives. With
    ``config.hard_negatives == "synthetic"``, each row gets an attribute-swapped caption
    (:func:`~xmodal.train.build.build_negatives`) weighted 1:7 against in-batch negatives.
    With ``config.extra["family_batches"]``, every batch holds one family's pairs.
    """
    from .build import build_negatives

    family_of = {p.item: p.family for p in pairs}
    data, dedup = training_data(pairs, trainable.modalities[0], name,
                                templates=tuple(config.extra.get("caption_templates", ())))
    groups = np.asarray(dedup.group_ids)
    power = float(config.extra.get("family_power", 1.0))
    repeat = {str(f): int(k) for f, k in config.extra.get("family_repeat", ())}
    if power != 1.0 or repeat:
        rows = family_repeats([family_of[a] for a in data.anchors], power, repeat)
        data, groups = data.subset(rows), groups[rows]
    config = dataclasses.replace(config, batch_size=min(config.batch_size, len(data)))
    negatives = build_negatives(config, data, groups)
    sources = ([family_of[a] for a in data.anchors]
               if config.extra.get("family_batches", False) else None)
    result = Trainer(trainable, make_loss(config), config, data=data, negatives=negatives,
                     group_ids=groups, sources=sources).fit()
    return result, dedup


def family_repeats(families: Sequence[str], power: float,
                   repeat: dict[str, int] | None = None) -> np.ndarray:
    """Row indices that give each family a share of the rows ∝ ``size ** power``: every row of
    the largest family once, the others' rows repeated ``round((largest / size) ** (1 - power))``
    times (at least once); a family named in ``repeat`` has that count multiplied by its value
    (one absent from ``families``, e.g. left out of a fold, is ignored).

    ``power`` above 1 would need rows dropped (shares are made by repeating, never by
    discarding data): name the families to favour in ``repeat`` instead.

    Example:
        >>> family_repeats(["a"] * 4 + ["b"], 0.0).tolist()
        [0, 1, 2, 3, 4, 4, 4, 4]
        >>> family_repeats(["a", "b", "b"], 1.0, {"a": 3}).tolist()
        [0, 0, 0, 1, 2]
    """
    if not 0.0 <= power <= 1.0:
        raise ValueError(f"family_power must be in [0, 1], got {power}: shares are made by "
                         "repeating smaller families' pairs; to favour a family, repeat it "
                         "with family_repeat")
    repeat = repeat or {}
    names, counts = np.unique(np.asarray(families), return_counts=True)
    size = dict(zip(names.tolist(), counts.tolist(), strict=True))
    for f, k in repeat.items():
        if k < 1:
            raise ValueError(f"family_repeat {f!r}: {k}: a repeat count must be ≥ 1")
    largest = max(size.values())
    reps = {f: max(1, round((largest / n) ** (1.0 - power))) * repeat.get(f, 1)
            for f, n in size.items()}
    return np.asarray([i for i, f in enumerate(families) for _ in range(reps[f])], np.int64)


def training_data(pairs: Sequence[StarterPair], modality: str, name: str, *,
                  templates: tuple[str, ...] = ()) -> tuple[PairDataset, DedupResult]:
    """The pairs as fitted: exact duplicates removed (the result's ``group_ids`` group rows of
    one caption), each caption written into one of ``templates`` chosen by a hash of its item's
    file name (the same choice on every machine).

    Example:
        >>> import pathlib, tempfile
        >>> from PIL import Image
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> pairs = []
        >>> for i, (colour, caption) in enumerate([("red", "a cat"), ("blue", "a dog"),
        ...                                        ("green", "a cat")]):
        ...     Image.new("RGB", (4, 4), colour).save(folder / f"{i}.png")
        ...     pairs.append(StarterPair(str(folder / f"{i}.png"), caption, "f", "s", ""))
        >>> data, dedup = training_data(pairs, "image", "demo", templates=("{}", "an icon of {}"))
        >>> data.positives, bool(dedup.group_ids[0] == dedup.group_ids[2])
        (('a cat', 'a dog', 'an icon of a cat'), True)
    """
    data = _dataset(pairs, modality, name)
    dedup = dedup_pairs(list(data.anchors), list(data.positives), modality=modality)
    data = data.subset(dedup.keep)
    if templates:
        data = dataclasses.replace(data, positives=tuple(
            templates[_hash(Path(a).name) % len(templates)].format(c)
            for a, c in zip(data.anchors, data.positives, strict=True)))
    return data, dedup


def _hash(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)


def fashion_mnist_zero_shot(encoder: Any, limit: int = 2000) -> ZeroShotResult:
    """Zero-shot top-1 on the first ``limit`` Fashion-MNIST test images, prompt ensemble."""
    from PIL import Image

    data = load_fashion_mnist("test", limit=limit).items[0]
    images = [Image.fromarray(a, mode="L") for a in data.images]
    return zero_shot_classify(encoder, images, data.class_names, labels=data.labels)


@dataclass(frozen=True)
class StarterReport:
    """What training a starter measured."""

    held_out: RetrievalFigures  # every family's held-out captions
    held_out_previous: RetrievalFigures | None  # the previous starters' sources only
    zero_shot_accuracy: float | None  # Fashion-MNIST (image starter), else None
    zero_shot_chance: float | None
    train: TrainResult


def train_starter(
    which: str, out: str | Path, *, settings: FitSettings | None = None,
    cache: str | Path = "~/.cache/xmodal/features", run_dir: str | Path | None = None,
    zero_shot_images: int = 2000, generalisation: dict[str, Any] | None = None,
) -> StarterReport:
    """Train on every family of :mod:`xmodal.train.starter_data`, measure, save.

    Pairs whose item does not decode are reported and skipped; near duplicates across families
    go before the split; captions are held out by hash (:func:`held_out`). ``which`` is
    ``"image"`` or ``"audio"``; the run (metrics, plot, checkpoints) goes to ``run_dir``
    (default ``runs/starter-WHICH``), the model to ``out``. ``generalisation``: the
    out-of-domain figures of ``benchmarks/generalisation.py`` (its JSON's ``summary``) for
    the model card.
    """
    modality = which
    settings = settings or (IMAGE_SETTINGS if which == "image" else AUDIO_SETTINGS)
    trainable, config = build_trainable(
        modality, settings, cache=cache, run_dir=run_dir or Path("runs") / f"starter-{which}")
    pairs, bad, removed = starter_pairs(trainable, load_families(modality))
    train = [p for p in pairs if not held_out(p.caption)]
    test = [p for p in pairs if held_out(p.caption)]
    result, dedup = fit(trainable, config, train, name=f"starter-{which}")
    figures = retrieval_figures(trainable, _dataset(test, modality))
    before = [p for p in test if p.source in PREVIOUS_SOURCES[modality]]
    before_figures = retrieval_figures(trainable, _dataset(before, modality)) if before else None
    zero_shot = None
    if which == "image" and zero_shot_images:
        zero_shot = fashion_mnist_zero_shot(LiTEncoder(trainable.lit, name="starter-image"),
                                            limit=zero_shot_images)
    notes: dict[str, Any] = {
        "sources": dict(Counter(p.source for p in train)),
        "families": dict(Counter(p.family for p in train)),
        "licenses": dict(Counter(p.license for p in train)),
        "split": f"held out: captions with sha1 % 10 == {HELD_OUT_BUCKET}",
        "trainer": "xmodal.train.Trainer (CLIP loss, AdamW, cosine LR)",
        "train_pairs": len(train), "skipped_undecodable": len(bad),
        "cross_family_duplicates_removed": removed,
        "dedup": dedup.report(max_lines=0).splitlines()[0],
        "settings": asdict(settings), "final_loss": result.losses[-1],
        "temperature": result.temperature, "held_out": asdict(figures),
    }
    w = modality
    card_figures = {f"in-domain hit@10 {w}→text": figures.to_text[10],
                    f"in-domain hit@10 text→{w}": figures.from_text[10]}
    if before_figures is not None:
        notes["held_out_previous_sources"] = asdict(before_figures)
    if generalisation:
        notes["out_of_domain"] = generalisation
        card_figures[f"out-of-domain hit@10 {w}→text"] = generalisation["to_text"]
        card_figures[f"out-of-domain hit@10 text→{w}"] = generalisation["from_text"]
    if zero_shot is not None:
        notes["zero_shot_fashion_mnist"] = {
            "images": zero_shot_images, "accuracy": zero_shot.accuracy,
            "chance": zero_shot.chance, "templates": len(DEFAULT_TEMPLATES)}
        card_figures["zero-shot fashion-mnist accuracy"] = zero_shot.accuracy
    notes["figures"] = card_figures
    trainable.save(out, logit_scale=1 / result.temperature, logit_bias=None, notes=notes)
    return StarterReport(
        held_out=figures, held_out_previous=before_figures, train=result,
        zero_shot_accuracy=None if zero_shot is None else zero_shot.accuracy,
        zero_shot_chance=None if zero_shot is None else zero_shot.chance)


def _dataset(pairs: Sequence[StarterPair], modality: str, name: str = "held-out"
             ) -> PairDataset:
    return PairDataset(anchors=tuple(p.item for p in pairs),
                       positives=tuple(p.caption for p in pairs), negatives=None,
                       anchor_modality=modality, name=name)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train xmodal's starter models.")
    ap.add_argument("which", choices=["image", "audio"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=None, help="override the shipped setting")
    ap.add_argument("--cache", default="~/.cache/xmodal/features")
    ap.add_argument("--run-dir", default=None, help="metrics, plot and checkpoints")
    ap.add_argument("--generalisation", default=None,
                    help="JSON written by benchmarks/generalisation.py --json (for the card)")
    args = ap.parse_args(argv)
    settings = IMAGE_SETTINGS if args.which == "image" else AUDIO_SETTINGS
    if args.steps:
        settings = dataclasses.replace(settings, steps=args.steps)
    ood = None
    if args.generalisation:
        import json

        ood = json.loads(Path(args.generalisation).read_text("utf-8"))["summary"]
    report = train_starter(args.which, args.out, settings=settings, cache=args.cache,
                           run_dir=args.run_dir, generalisation=ood)
    what = args.which
    for label, figures in (("held out (all families)", report.held_out),
                           ("held out (previous sources)", report.held_out_previous)):
        if figures is None:
            continue
        print(f"{label}: {figures.n_items} {what} items, {figures.n_captions} captions "
              f"(chance R@10 {what}→text {figures.chance_to_text_at_10:.3f})")
        for k in (1, 5, 10):
            print(f"  R@{k}: {what}→text {figures.to_text[k]:.3f}  "
                  f"text→{what} {figures.from_text[k]:.3f}")
    if report.zero_shot_accuracy is not None:
        print(f"zero-shot Fashion-MNIST (prompt ensemble): {report.zero_shot_accuracy:.3f} "
              f"(chance {report.zero_shot_chance:.3f})")


if __name__ == "__main__":
    main()
