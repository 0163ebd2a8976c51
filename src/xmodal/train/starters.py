"""Train xmodal's starter models on the installed real data, and measure them.

Both starters are locked-tower models: frozen pretrained towers, linear heads into a 512-d
space, trained by :class:`~xmodal.train.Trainer` with CLIP's loss (exact duplicate pairs
removed; rows sharing a caption grouped, never each other's negatives). Image–text:
EfficientNet-Lite0 + MiniLM on OpenMoji and emoji-datasource captions. Audio–text: aisfx +
MiniLM on Sonic Pi samples, freedesktop sounds and rendered General-MIDI notes (instrument,
register, dynamics). Pairs are split by a hash of the caption (10 %: held out), so one caption
never straddles the split. The held-out figures (and, for the image model, zero-shot accuracy
on Fashion-MNIST with a prompt ensemble) are written into the saved model's ``config.json``
(``notes``).

Run (what ``scripts/train-starters.sh`` does):
    python -m xmodal.train.starters image --out src/xmodal/starters/image
    python -m xmodal.train.starters audio --out src/xmodal/starters/audio
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xmodal.data import load_images
from xmodal.data.dedup import dedup_pairs
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
from .config import TrainConfig
from .evaluate import RetrievalFigures, retrieval_figures
from .trainer import Trainer, TrainResult, make_loss

HELD_OUT_BUCKET = 1  # captions whose hash % 10 is this are held out (bucket 0 chose the settings)


def caption_key(caption: str) -> str:
    """The caption as compared and split: lower-case, trimmed."""
    return caption.lower().strip()


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


def fashion_mnist_zero_shot(encoder: Any, limit: int = 2000) -> ZeroShotResult:
    """Zero-shot top-1 on the first ``limit`` Fashion-MNIST test images, prompt ensemble."""
    from PIL import Image

    data = load_fashion_mnist("test", limit=limit).items[0]
    images = [Image.fromarray(a, mode="L") for a in data.images]
    return zero_shot_classify(encoder, images, data.class_names, labels=data.labels)


@dataclass(frozen=True)
class StarterReport:
    """What training a starter measured."""

    held_out: RetrievalFigures
    zero_shot_accuracy: float | None  # Fashion-MNIST (image starter), else None
    zero_shot_chance: float | None
    train: TrainResult


def train_starter(
    which: str, out: str | Path, *, steps: int = 300, dim: int = 512, lr: float = 5e-4,
    batch_size: int = 1024, seed: int = 0, cache: str | Path = "~/.cache/xmodal/features",
    run_dir: str | Path | None = None, zero_shot_images: int = 2000,
) -> StarterReport:
    """Train with :class:`~xmodal.train.Trainer`, measure on the held-out captions, save.

    ``which`` is ``"image"`` or ``"audio"``; the run (metrics, plot, checkpoints) goes to
    ``run_dir`` (default: a ``runs/starter-WHICH`` folder), the model to ``out``.
    """
    if which == "image":
        items, modality, tower = emoji_pairs(), "image", "efficientnet-lite0"
        data = "OpenMoji 17.0.0 + emoji-datasource-google 16.0.0 captions (annotation/name)"
    else:
        items, modality, tower = sound_pairs(), "audio", "aisfx"
        data = "Sonic Pi samples + freedesktop sounds + TimGM6mb General-MIDI renders"
    train = _pairs([i for i in items if not held_out(i.caption)], modality, f"starter-{which}")
    test = _pairs([i for i in items if held_out(i.caption)], modality, f"held-out-{which}")
    dedup = dedup_pairs(list(train.anchors), list(train.positives), modality=modality)
    train = train.subset(dedup.keep)
    config = TrainConfig(
        data=f"starter-{which}", towers=(tower, "minilm"), dim=dim, steps=steps, lr=lr,
        batch_size=min(batch_size, len(train)), seed=seed, feature_cache=str(cache),
        out=str(run_dir or Path("runs") / f"starter-{which}"), log_every=25,
        checkpoint_every=steps, resume=False,
    )
    model = build_model(config, modality)
    result = Trainer(model, make_loss(config), config, data=train,
                     group_ids=dedup.group_ids).fit()
    figures = retrieval_figures(model, test)
    zero_shot = None
    if which == "image" and zero_shot_images:
        zero_shot = fashion_mnist_zero_shot(LiTEncoder(model.lit, name="starter-image"),
                                            limit=zero_shot_images)
    notes = {
        "data": data,
        "split": f"held out: captions with sha1 % 10 == {HELD_OUT_BUCKET}",
        "trainer": "xmodal.train.Trainer (CLIP loss, AdamW, cosine LR)",
        "train_pairs": len(train), "dedup": dedup.report(max_lines=0).splitlines()[0],
        "steps": steps, "lr": lr, "batch_size": config.batch_size, "seed": seed,
        "final_loss": result.losses[-1], "temperature": result.temperature,
        "held_out": asdict(figures),
    }
    if zero_shot is not None:
        notes["zero_shot_fashion_mnist"] = {
            "images": zero_shot_images, "accuracy": zero_shot.accuracy,
            "chance": zero_shot.chance, "templates": len(DEFAULT_TEMPLATES)}
    model.save(out, logit_scale=1 / result.temperature, logit_bias=None, notes=notes)
    return StarterReport(
        held_out=figures, train=result,
        zero_shot_accuracy=None if zero_shot is None else zero_shot.accuracy,
        zero_shot_chance=None if zero_shot is None else zero_shot.chance)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train xmodal's starter models.")
    ap.add_argument("which", choices=["image", "audio"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--cache", default="~/.cache/xmodal/features")
    ap.add_argument("--run-dir", default=None, help="metrics, plot and checkpoints")
    args = ap.parse_args(argv)
    report = train_starter(args.which, args.out, steps=args.steps, cache=args.cache,
                           run_dir=args.run_dir)
    figures, what = report.held_out, args.which
    print(f"held out: {figures.n_items} {what} items, {figures.n_captions} captions "
          f"(chance R@10 {what}→text {figures.chance_to_text_at_10:.3f})")
    for k in (1, 5, 10):
        print(f"R@{k}: {what}→text {figures.to_text[k]:.3f}  "
              f"text→{what} {figures.from_text[k]:.3f}")
    if report.zero_shot_accuracy is not None:
        print(f"zero-shot Fashion-MNIST (prompt ensemble): {report.zero_shot_accuracy:.3f} "
              f"(chance {report.zero_shot_chance:.3f})")


if __name__ == "__main__":
    main()
