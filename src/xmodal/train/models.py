"""What the trainer trains: a dual encoder split into CPU-side ``prepare`` and a differentiable
``embed``, with the parameters it may change.

The :class:`Trainer <xmodal.train.Trainer>` never looks inside a model. Each side (0: the item
side — image, audio or query text; 1: the text side) is used in two steps:

- ``prepare(side, items, step=...)`` turns raw items (paths, captions) into a *sliceable* batch
  (a tensor, or a :class:`TensorBatch` of tokenizer outputs): decoding, tokenising, tower
  features. GradCache slices it into mini-batches.
- ``embed(side, batch)`` maps a slice to L2-normalised ``(m, d)`` embeddings with autograd.
- optionally ``warm(side, items)``: per-item work done once for the whole dataset before the
  first step (a LiT model's frozen-tower features), so no step waits for it.

Adapters: :class:`TowerPair` (any two ``nn.Module`` over tensors: your own towers, and the tests'),
:class:`LiTTrainable` (xmodal's locked-tower models: frozen towers, cached features, trained
heads), :class:`HFDualTrainable` (fine-tuning a transformers CLIP or SigLIP model) and
:class:`SentenceTransformerTrainable` (fine-tuning a text–text model, one shared tower).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xmodal.modalities import Modality


@runtime_checkable
class DualModel(Protocol):
    """The trainer's view of a model (see the module docstring)."""

    modalities: tuple[Modality, Modality]  # (item side, text side)
    pretrained: bool  # fine-tuning guards apply (learning rate)
    module: nn.Module  # holds every parameter; trainable ones have requires_grad

    def prepare(self, side: int, items: list[Any], *, step: int = 0) -> Any: ...

    def embed(self, side: int, batch: Any) -> torch.Tensor: ...

    def freeze_layers(self, k: int) -> list[str]: ...

    def save(self, folder: str | Path, *, logit_scale: float, logit_bias: float | None,
             notes: dict[str, Any]) -> Path: ...


@dataclass(frozen=True)
class TensorBatch:
    """Named tensors sharing their first dimension (tokenizer outputs), sliceable by rows.

    Example:
        >>> b = TensorBatch({"input_ids": torch.zeros(5, 3, dtype=torch.long)})
        >>> len(b), len(b[1:3]), b[1:3]["input_ids"].shape
        (5, 2, torch.Size([2, 3]))
    """

    tensors: Mapping[str, torch.Tensor]

    def __len__(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.tensors[key]
        return TensorBatch({k: v[key] for k, v in self.tensors.items()})

    def to(self, device: Any) -> TensorBatch:
        """The same batch on ``device``."""
        return TensorBatch({k: v.to(device) for k, v in self.tensors.items()})


class TowerPair:
    """Two towers over tensors: any pair of ``nn.Module`` mapping ``(m, ...)`` → ``(m, d)``.

    Items are looked up with ``lookup_a`` / ``lookup_b`` (item → tensor row), so a dataset of ids
    or captions can train towers over precomputed inputs. Outputs are L2-normalised here.

    Args:
        tower_a: The item-side tower.
        tower_b: The text-side tower (may be ``tower_a`` for a shared tower).
        lookup_a: Item → input tensor for side 0.
        lookup_b: Item → input tensor for side 1.
        modalities: What the sides hold (for the card of the saved model).
        pretrained: Whether the fine-tuning guards apply.

    Example:
        >>> a, b = nn.Linear(4, 3), nn.Linear(2, 3)
        >>> pair = TowerPair(a, b, lookup_a=lambda i: torch.ones(4),
        ...                  lookup_b=lambda t: torch.ones(2))
        >>> pair.embed(0, pair.prepare(0, ["x", "y"])).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        tower_a: nn.Module,
        tower_b: nn.Module,
        *,
        lookup_a: Callable[[Any], torch.Tensor],
        lookup_b: Callable[[Any], torch.Tensor],
        modalities: tuple[Modality, Modality] = ("image", "text"),
        pretrained: bool = False,
    ) -> None:
        self.module = nn.ModuleList([tower_a, tower_b])
        self.lookups = (lookup_a, lookup_b)
        self.modalities = modalities
        self.pretrained = pretrained

    def prepare(self, side: int, items: list[Any], *, step: int = 0) -> torch.Tensor:
        return torch.stack([torch.as_tensor(self.lookups[side](i)) for i in items])  # (m, ...)

    def embed(self, side: int, batch: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.module[side](batch), dim=-1)  # (m, d)

    def freeze_layers(self, k: int) -> list[str]:
        return _freeze_children(self.module, k)

    def save(self, folder: str | Path, *, logit_scale: float, logit_bias: float | None,
             notes: dict[str, Any]) -> Path:
        import json

        import safetensors.torch

        out = Path(folder).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}
        safetensors.torch.save_file(state, str(out / "model.safetensors"))
        meta = {"logit_scale": logit_scale, "logit_bias": logit_bias, "notes": notes}
        (out / "config.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        return out


def _freeze_children(module: nn.Module, k: int) -> list[str]:
    """Freeze the first ``k`` direct children of each tower in ``module`` (a ModuleList)."""
    frozen = []
    for t, tower in enumerate(module):
        for name, child in list(tower.named_children())[:k]:
            child.requires_grad_(False)
            frozen.append(f"tower{t}.{name}")
    return frozen


class LiTTrainable:
    """A locked-tower model: frozen towers (features cached on disk and in memory), trained heads.

    Tower features are computed once per item content through a
    :class:`~xmodal.encoders.FeatureCache` and kept in memory, so a step costs only the heads.
    With ``augment`` (an :class:`~xmodal.data.augment.AudioAugment` for an audio tower, an
    :class:`~xmodal.data.image_augment.ImageAugment` for an image tower), each item also gets
    ``copies`` augmented variants whose features are cached the same way; every step then uses
    the original or one variant per item, chosen from ``(seed, step, item)`` — augmentation of a
    frozen tower without re-running it every epoch.

    Args:
        model: The :class:`~xmodal.encoders.LiTModel` (its heads train).
        cache: Feature cache (None: features are computed in memory only).
        augment: Augmentation of the item side (training only), or None.
        copies: Augmented variants per item.
        seed: Seeds the variants and the per-step choice.
    """

    pretrained = False

    def __init__(self, model: Any, *, cache: Any = None, augment: Any = None, copies: int = 4,
                 seed: int = 0) -> None:
        modalities = [m for m in model.config.towers if m != "text"]
        if len(modalities) != 1 or "text" not in model.config.towers:
            raise ValueError(f"a LiT model to train needs one item tower and a text tower, got "
                             f"{sorted(model.config.towers)}")
        self.lit = model
        self.module = model
        self.modalities = (modalities[0], "text")
        self.cache = cache
        if augment is not None:
            from xmodal.data.augment import AudioAugment
            from xmodal.data.image_augment import ImageAugment

            kind = {"audio": AudioAugment, "image": ImageAugment}.get(modalities[0])
            if kind is None or not isinstance(augment, kind):
                raise ValueError(f"{type(augment).__name__} cannot augment the "
                                 f"{modalities[0]} tower")
        self.augment = augment
        self.copies = copies
        self.seed = seed
        self._memo: list[dict[Any, np.ndarray]] = [{}, {}]
        for tower in model.towers.values():  # frozen
            inner = getattr(tower, "model", None)
            if isinstance(inner, nn.Module):
                inner.requires_grad_(False)

    def warm(self, side: int, items: Sequence[Any]) -> None:
        """Compute (or read from the cache) the tower features of ``items`` in one pass."""
        todo = list(dict.fromkeys(i for i in items if _key(i) not in self._memo[side]))
        if todo:
            modality = self.modalities[side]
            feats = self.lit.tower_features(modality, todo, cache=self.cache)  # (n, t)
            for item, row in zip(todo, feats, strict=True):
                self._memo[side][_key(item)] = row
        if side == 0 and self.augment is not None:
            self._warm_variants(list(dict.fromkeys(items)))

    def _warm_variants(self, items: list[Any], chunk: int = 256) -> None:
        modality = self.modalities[0]
        todo = [(i, c) for i in items for c in range(1, self.copies + 1)
                if (_key(i), c) not in self._memo[0]]
        for start in range(0, len(todo), chunk):  # decoded variants held a chunk at a time
            part = todo[start : start + chunk]
            variants = [self._variant(modality, item, copy) for item, copy in part]
            feats = self.lit.tower_features(modality, variants, cache=self.cache)  # (n, t)
            for (item, copy), row in zip(part, feats, strict=True):
                self._memo[0][(_key(item), copy)] = row

    def _variant(self, modality: str, item: Any, copy: int) -> Any:
        """Augmented variant ``copy`` of ``item``: a function of ``(seed, copy, item)``."""
        rng = np.random.default_rng([self.seed, copy, _stable(item)])
        if modality == "image":
            return self.augment(item, rng=rng)
        from xmodal.data import load_audio

        rate = self.lit.towers["audio"].card.sample_rate
        wave = load_audio(item, sample_rate=rate)
        return (self.augment(wave, sample_rate=rate, rng=rng), rate)

    def adapt(self, items: Sequence[Any]) -> None:
        """Fit what the model learns from the training items alone, before the first step: a
        bridge's class prior (``LiTConfig.bridge_prior``), the mean class probabilities of the
        items' un-augmented features."""
        head = self.lit.heads[self.modalities[0]]
        bridge = getattr(head, "bridge", None)
        if bridge is None or not bridge.has_prior:
            return
        from xmodal.encoders.bridge import class_prior

        feats = self.tower_features(0, items)  # (n, t)
        bridge.set_prior(class_prior(feats[:, head.split :]))

    def tower_features(self, side: int, items: Sequence[Any]) -> np.ndarray:
        """The frozen tower's ``(n, t)`` features of ``items`` (un-augmented), via the memo."""
        self.warm(side, items)
        return np.stack([self._memo[side][_key(i)] for i in items])  # (n, t)

    def prepare(self, side: int, items: list[Any], *, step: int = 0) -> torch.Tensor:
        self.warm(side, items)
        rows = []
        for item in items:
            key = _key(item)
            if side == 0 and self.augment is not None:
                pick = int(np.random.default_rng([self.seed, step, _stable(item)]).integers(
                    0, self.copies + 1))
                key = key if pick == 0 else (key, pick)
            rows.append(self._memo[side][key])
        param = next(self.lit.heads.parameters())
        return torch.as_tensor(np.stack(rows), dtype=param.dtype, device=param.device)  # (m, t)

    def embed(self, side: int, batch: torch.Tensor) -> torch.Tensor:
        return self.lit.project(self.modalities[side], batch)  # (m, dim)

    def freeze_layers(self, k: int) -> list[str]:
        return []  # the towers are frozen already; heads are single layers

    def save(self, folder: str | Path, *, logit_scale: float, logit_bias: float | None,
             notes: dict[str, Any]) -> Path:
        from dataclasses import asdict

        from xmodal.encoders.lit import LiTConfig

        with torch.no_grad():
            self.lit.logit_scale.log_scale.fill_(float(np.log(logit_scale)))
        extra = dict(notes)
        if logit_bias is not None:
            extra["logit_bias"] = logit_bias
        self.lit.config = LiTConfig(**{**asdict(self.lit.config), "notes": extra})
        return self.lit.save(folder)


def _key(item: Any) -> Any:
    return item if isinstance(item, str | int) else str(item)


def _stable(item: Any) -> int:
    import hashlib

    return int(hashlib.sha1(str(item).encode("utf-8")).hexdigest()[:12], 16)


class HFDualTrainable:
    """Fine-tune a transformers CLIP or SigLIP model (loaded by ``hf-clip:``/``hf-siglip:``).

    Text is tokenised exactly as the encoder does at inference (SigLIP: lower-cased, padded to
    max length); images are decoded with xmodal's limits and go through the folder's processor.

    Args:
        encoder: A :class:`~xmodal.encoders.hf_clip.CLIPEncoder` or ``SiglipEncoder``.
    """

    pretrained = True

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.module = encoder.model
        self.modalities: tuple[Modality, Modality] = ("image", "text")
        self.module.train()

    def prepare(self, side: int, items: list[Any], *, step: int = 0) -> TensorBatch:
        enc = self.encoder
        if side == 1:
            batch = enc.tokenizer(enc._texts(list(items), None), return_tensors="pt",
                                  truncation=True, **enc.text_kwargs)
            return TensorBatch(dict(batch))
        from xmodal.data import load_images

        got = load_images(list(items))
        if got.failed:
            p = got.failed[0]
            raise ValueError(f"training image {p.item!r} cannot be used: {p.reason}")
        inputs = dict(enc.image_processor(images=list(got.images), return_tensors="pt"))
        inputs["pixel_values"] = inputs["pixel_values"].to(self.module.dtype)
        return TensorBatch(inputs)  # SigLIP 2 (NaFlex): + pixel_attention_mask, spatial_shapes

    def embed(self, side: int, batch: TensorBatch) -> torch.Tensor:
        from xmodal.encoders.hf_dual import pooled

        inputs = dict(batch.to(self.module.device).tensors)
        if side == 1:
            out = pooled(self.module.get_text_features(**inputs))  # (m, d)
        else:
            out = pooled(self.module.get_image_features(**inputs))  # (m, d)
        return F.normalize(out.float(), dim=-1)

    def freeze_layers(self, k: int) -> list[str]:
        frozen = []
        for name in ("vision_model", "text_model"):
            tower = getattr(self.module, name)
            tower.embeddings.requires_grad_(False)
            for i, layer in enumerate(tower.encoder.layers[:k]):
                layer.requires_grad_(False)
                frozen.append(f"{name}.encoder.layers.{i}")
            frozen.append(f"{name}.embeddings")
        return frozen

    def save(self, folder: str | Path, *, logit_scale: float, logit_bias: float | None,
             notes: dict[str, Any]) -> Path:
        out = Path(folder).expanduser()
        with torch.no_grad():
            self.module.logit_scale.fill_(float(np.log(logit_scale)))
            if logit_bias is not None and hasattr(self.module, "logit_bias"):
                self.module.logit_bias.fill_(logit_bias)
        self.module.save_pretrained(out, safe_serialization=True)
        self.encoder.tokenizer.save_pretrained(out)
        self.encoder.image_processor.save_pretrained(out)
        return out


class SentenceTransformerTrainable:
    """Fine-tune a sentence-transformers model on (query, document) pairs: one shared tower.

    Args:
        encoder: A :class:`~xmodal.encoders.sentence_transformers.SentenceTransformerEncoder`.
    """

    pretrained = True

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.module = encoder.model
        self.modalities: tuple[Modality, Modality] = ("text", "text")
        self.module.train()

    def prepare(self, side: int, items: list[Any], *, step: int = 0) -> TensorBatch:
        card = self.encoder.card
        prompt = card.query_prompt if side == 0 else card.document_prompt
        if hasattr(self.module, "preprocess"):  # sentence-transformers >= 6: as encode() does
            features = self.module.preprocess(list(items), prompt=prompt or None)
        else:
            features = self.module.tokenize([prompt + t for t in items] if prompt
                                            else list(items))
        # Only row-sliceable tensors: v6 adds "modality" (a str, not needed by forward) and
        # "prompt_length" (an int for pooling without the prompt; kept as one value per row).
        tensors = {k: v for k, v in features.items() if isinstance(v, torch.Tensor)}
        if isinstance(features.get("prompt_length"), int):
            tensors["prompt_length"] = torch.full((len(items),), features["prompt_length"])
        return TensorBatch(tensors)

    def embed(self, side: int, batch: TensorBatch) -> torch.Tensor:
        features = dict(batch.to(self.module.device).tensors)
        return F.normalize(self.module(features)["sentence_embedding"], dim=-1)  # (m, d)

    def freeze_layers(self, k: int) -> list[str]:
        inner = self.module[0].auto_model
        inner.embeddings.requires_grad_(False)
        frozen = ["embeddings"]
        for i, layer in enumerate(inner.encoder.layer[:k]):
            layer.requires_grad_(False)
            frozen.append(f"encoder.layer.{i}")
        return frozen

    def save(self, folder: str | Path, *, logit_scale: float, logit_bias: float | None,
             notes: dict[str, Any]) -> Path:
        out = Path(folder).expanduser()
        self.module.save_pretrained(str(out), safe_serialization=True)
        return out
