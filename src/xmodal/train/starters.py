"""Train xmodal's starter models on the installed real data, and measure them.

Both starters are locked-tower models: frozen pretrained towers, linear heads into a 512-d
space, fitted with CLIP's loss. Image–text: EfficientNet-Lite0 + MiniLM on OpenMoji and
emoji-datasource captions. Audio–text: aisfx + MiniLM on Sonic Pi samples, freedesktop sounds
and rendered General-MIDI notes (instrument, register, dynamics). Pairs are split by a hash of
the caption (10 %: held out), so one caption never straddles the split. The held-out figures are
written into the saved model's ``config.json`` (``notes``).

Run (what ``scripts/train-starters.sh`` does):
    python -m xmodal.train.starters image --out src/xmodal/starters/image
    python -m xmodal.train.starters audio --out src/xmodal/starters/audio
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from xmodal.data import load_images
from xmodal.data.sources import (
    AudioClip,
    ImageText,
    load_emoji_datasource,
    load_freedesktop_sounds,
    load_gm_instruments,
    load_openmoji,
    load_sonic_pi,
)
from xmodal.encoders.feature_cache import FeatureCache
from xmodal.encoders.lit import LiTConfig, LiTModel
from xmodal.encoders.lit_fit import fit_heads

HELD_OUT_BUCKET = 1  # captions whose hash % 10 is this are held out (bucket 0 chose the settings)


@dataclass(frozen=True)
class RetrievalFigures:
    """Held-out Recall@K (any positive in the top K) both ways, beside chance."""

    n_items: int  # held-out images or clips
    n_captions: int  # their distinct captions
    to_text: dict[int, float]  # K -> hit rate, item → caption
    from_text: dict[int, float]  # K -> hit rate, caption → item
    chance_to_text_at_10: float


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


def evaluate(
    model: LiTModel, items: list[ImageText] | list[AudioClip], cache: FeatureCache,
    modality: str = "image",
) -> RetrievalFigures:
    """Recall@1/5/10 both ways on ``items`` (their distinct captions are the text side)."""
    captions = sorted({caption_key(i.caption) for i in items})
    where = {c: k for k, c in enumerate(captions)}
    img = model.embed_features(modality, model.tower_features(
        modality, [str(i.path) for i in items], cache=cache))  # (n_items, dim)
    txt = model.embed_features("text", model.tower_features(
        "text", captions, cache=cache))  # (n_cap, dim)
    own = np.array([where[caption_key(i.caption)] for i in items])  # (n_img,)
    scores = img @ txt.T  # (n_img, n_cap)
    i2t_rank = (scores > scores[np.arange(len(items)), own][:, None]).sum(axis=1)  # (n_img,)
    by_caption = [np.flatnonzero(own == c) for c in range(len(captions))]
    t2i_rank = np.array([  # rank of the best-ranked matching image, per caption
        (scores[:, c][:, None] > scores[rows, c][None, :]).sum(axis=0).min()
        for c, rows in enumerate(by_caption)
    ])
    ks = (1, 5, 10)
    return RetrievalFigures(
        n_items=len(items), n_captions=len(captions),
        to_text={k: float((i2t_rank < k).mean()) for k in ks},
        from_text={k: float((t2i_rank < k).mean()) for k in ks},
        chance_to_text_at_10=10 / len(captions),
    )


def train_starter(
    which: str, out: str | Path, *, steps: int = 300, dim: int = 512, lr: float = 5e-4,
    seed: int = 0, cache: str | Path = "~/.cache/xmodal/features",
) -> RetrievalFigures:
    """Fit, measure on the held-out captions, and save a starter (``"image"`` or ``"audio"``)."""
    if which == "image":
        items, modality, tower = emoji_pairs(), "image", "efficientnet-lite0"
        data = "OpenMoji 17.0.0 + emoji-datasource-google 16.0.0 captions (annotation/name)"
    else:
        items, modality, tower = sound_pairs(), "audio", "aisfx"
        data = "Sonic Pi samples + freedesktop sounds + TimGM6mb General-MIDI renders"
    train = [i for i in items if not held_out(i.caption)]
    test = [i for i in items if held_out(i.caption)]
    groups = {c: k for k, c in enumerate(sorted({caption_key(i.caption) for i in items}))}
    feature_cache = FeatureCache(Path(cache).expanduser())
    config = LiTConfig(towers={modality: tower, "text": "minilm"}, dim=dim)
    model = LiTModel.build(config, seed=seed)
    fit = fit_heads(
        model, [str(i.path) for i in train], [caption_key(i.caption) for i in train],
        modality_a=modality, steps=steps, batch_size=1024, lr=lr, cache=feature_cache,
        group_ids=[groups[caption_key(i.caption)] for i in train], seed=seed,
    )
    figures = evaluate(model, test, feature_cache, modality)
    notes = {
        "data": data,
        "split": f"held out: captions with sha1 % 10 == {HELD_OUT_BUCKET}",
        "train_pairs": len(train), "steps": steps, "lr": lr, "seed": seed,
        "final_loss": fit.losses[-1], "temperature": fit.temperature,
        "held_out": asdict(figures),
    }
    model.config = LiTConfig(**{**asdict(config), "notes": notes})
    model.save(out)
    return figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train xmodal's starter models.")
    ap.add_argument("which", choices=["image", "audio"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--cache", default="~/.cache/xmodal/features")
    args = ap.parse_args(argv)
    figures = train_starter(args.which, args.out, steps=args.steps, cache=args.cache)
    what = args.which
    print(f"held out: {figures.n_items} {what} items, {figures.n_captions} captions "
          f"(chance R@10 {what}→text {figures.chance_to_text_at_10:.3f})")
    for k in (1, 5, 10):
        print(f"R@{k}: {what}→text {figures.to_text[k]:.3f}  "
              f"text→{what} {figures.from_text[k]:.3f}")


if __name__ == "__main__":
    main()
