"""Locked-tower (LiT-style) models: frozen pretrained towers plus trained projection heads.

A LiT model (Zhai et al., "LiT: Zero-Shot Transfer with Locked-image text Tuning", CVPR 2022)
keeps one pretrained encoder per modality *locked* and learns only what maps their features
into one shared space. Here each modality has a tower (any :func:`~xmodal.encoders.load_encoder`
spec: ``"minilm"`` for text, ``"efficientnet-lite0"`` for images, ``"aisfx"`` for audio) and a
small head (linear, or a 2-layer MLP) into ``dim`` dimensions, and the pair shares one learnable
:class:`~xmodal.losses.LogitScale`. Towers are never trained: their features come through their
own ``Encoder.encode_*`` (decoding, windows, error reports included), so they can be cached
(:mod:`xmodal.encoders.feature_cache`) and heads trained in seconds by
:class:`xmodal.train.Trainer` through :class:`xmodal.train.LiTTrainable` (training code lives in
``xmodal.train``; inference never imports it).

On disk a model is a folder: ``config.json`` (the :class:`LiTConfig`) and ``model.safetensors``
(heads and logit scale; never pickle). The towers are referenced by spec, not copied, and loaded
by the :data:`TowerLoader` the caller passes (``load_encoder``: this module never imports the
registry, which imports it). Load one as an encoder with ``load_encoder("lit:FOLDER")``;
``tests/encoders/test_lit.py`` shows the round trip with tiny towers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from xmodal.data.images import DEFAULT_MAX_PIXELS
from xmodal.losses import LogitScale
from xmodal.modalities import MODALITIES

from .base import Encoder, EncoderLoadError, Errors, UnsupportedModalityError, _checked
from .card import Modality, ModelCard
from .feature_cache import FeatureCache
from .report import EncodeReport

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "xmodal-lit/1"

TowerLoader = Callable[..., Encoder]
"""Loads a tower from its spec: ``load_tower(spec, device=...)`` (e.g.
:func:`xmodal.encoders.load_encoder`)."""


@dataclass(frozen=True)
class LiTConfig:
    """What a LiT model is made of (saved as ``config.json``).

    Example:
        >>> cfg = LiTConfig(towers={"text": "minilm", "image": "efficientnet-lite0"}, dim=256)
        >>> LiTConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    towers: dict[Modality, str]  # modality -> frozen tower's load_encoder spec (2+ modalities)
    dim: int = 256  # shared embedding dimension the heads project into
    head: Literal["linear", "mlp"] = "linear"  # per-modality head: Linear, or Linear-GELU-Linear
    hidden: int = 512  # hidden width of the "mlp" head (unused by "linear")
    init_scale: float = 1 / 0.07  # initial logit scale exp(t) (CLIP's τ = 0.07)
    max_scale: float = 100.0  # clamp of the learnt logit scale (CLIP: 100)
    # ConSE label-space bridge (xmodal.encoders.bridge): "imagenet" needs an item tower giving
    # ImageNet class probabilities after its features (efficientnet-lite0+classes)
    bridge: Literal["imagenet"] | None = None
    bridge_weight: float = 0.5  # the bridge's share w of the cosine: (1-w)·heads + w·ConSE
    bridge_top_k: int = 10  # classes mixed per item
    bridge_power: float = 1.0  # class probabilities raised to this power before mixing
    bridge_prior: bool = False  # rank classes by p(class|item) / the training items' mean
    #                             (a buffer fitted with the heads; xmodal.encoders.bridge)
    # the text side of the bridge: the text's own vector, or moved towards its nearest class
    # names ("classes": bridge.TextClassMix, top 10, τ 0.1)
    bridge_text: Literal["plain", "classes"] = "plain"
    notes: dict[str, Any] = field(default_factory=dict)  # free-form: training data, metrics…

    def __post_init__(self) -> None:
        towers = dict(self.towers)
        bad = [m for m in towers if m not in MODALITIES]
        if bad or len(towers) < 2:
            raise ValueError(
                f"towers must map 2 or 3 of {MODALITIES} to tower specs, got {sorted(towers)}"
            )
        if not all(isinstance(s, str) and s for s in towers.values()):
            raise ValueError(f"every tower spec must be a non-empty string, got {towers}")
        if self.head not in ("linear", "mlp"):
            raise ValueError(f"head must be 'linear' or 'mlp', got {self.head!r}")
        if self.dim < 1 or self.hidden < 1:
            raise ValueError(f"dim and hidden must be >= 1, got {self.dim}, {self.hidden}")
        if self.bridge_text not in ("plain", "classes"):
            raise ValueError(f"bridge_text must be 'plain' or 'classes', got {self.bridge_text!r}")
        if self.bridge not in (None, "imagenet"):
            raise ValueError(f"bridge must be None or 'imagenet', got {self.bridge!r}")
        if self.bridge and ("text" not in towers or len(towers) != 2):
            raise ValueError("a bridged LiT model has one item tower and a text tower")
        if (not 0.0 <= self.bridge_weight <= 1.0 or self.bridge_top_k < 1
                or not self.bridge_power > 0):
            raise ValueError(f"bridge_weight must be in [0, 1], bridge_top_k >= 1 and "
                             f"bridge_power > 0, got {self.bridge_weight}, {self.bridge_top_k}, "
                             f"{self.bridge_power}")
        object.__setattr__(self, "towers", {m: towers[m] for m in MODALITIES if m in towers})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiTConfig:
        """The inverse of :meth:`to_dict`; refuses an unknown format."""
        data = dict(data)
        fmt = data.pop("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"not a LiT config of format {FORMAT!r}: {fmt!r}")
        return cls(**data)


def make_head(config: LiTConfig, tower_dim: int) -> nn.Module:
    """The projection head of one modality: ``tower_dim`` -> ``config.dim``."""
    if config.head == "linear":
        return nn.Linear(tower_dim, config.dim)
    return nn.Sequential(
        nn.Linear(tower_dim, config.hidden), nn.GELU(), nn.Linear(config.hidden, config.dim)
    )


def load_towers(config: LiTConfig, load_tower: TowerLoader, *, device: str = "cpu"
                ) -> dict[Modality, Encoder]:
    """Load each tower once per distinct spec with ``load_tower``; a failure is an
    :class:`EncoderLoadError`."""
    loaded: dict[str, Encoder] = {}
    towers: dict[Modality, Encoder] = {}
    for modality, spec in config.towers.items():
        if spec not in loaded:
            try:
                loaded[spec] = load_tower(spec, device=device)
            except Exception as exc:  # unknown spec, missing folder or package, bad weights
                raise EncoderLoadError(
                    f"LiT {modality} tower {spec!r} could not be loaded: {exc}"
                ) from exc
        if not loaded[spec].card.supports(modality):
            raise EncoderLoadError(
                f"LiT {modality} tower {spec!r} does not embed {modality} "
                f"(it embeds {', '.join(loaded[spec].card.modalities)})"
            )
        towers[modality] = loaded[spec]
    return towers


class LiTModel(nn.Module):
    """Frozen towers + trainable heads + a logit scale.

    Args:
        config: The model's :class:`LiTConfig`.
        towers: The loaded towers per modality (:func:`load_towers`); only their heads train.
        seed: Seeds the heads' initialisation.
    """

    def __init__(
        self, config: LiTConfig, towers: dict[Modality, Encoder], *, seed: int = 0,
        class_embeddings: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if set(towers) != set(config.towers):
            raise ValueError(f"towers for {sorted(towers)}, config for {sorted(config.towers)}")
        self.config = config
        self.towers = dict(towers)  # plain dict: not submodules, never trained nor saved
        widths = _head_widths(config, self.towers)
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.heads = nn.ModuleDict({m: make_head(config, widths[m]) for m in towers})
        torch.random.set_rng_state(generator_state)
        if config.bridge:
            self.heads = _bridged(config, self.towers, self.heads, class_embeddings)
        self.logit_scale = LogitScale(config.init_scale, max_scale=config.max_scale)

    @property
    def out_dim(self) -> int:
        """Width of the embeddings: ``dim``, plus the text tower's width when bridged."""
        bridge = self.towers["text"].card.dim if self.config.bridge else 0
        return self.config.dim + bridge

    @classmethod
    def build(cls, config: LiTConfig, *, load_tower: TowerLoader, seed: int = 0,
              device: str = "cpu") -> LiTModel:
        """A new model with freshly initialised heads over the config's towers, loaded with
        ``load_tower`` (a bridge's class names are embedded by the text tower here, once)."""
        towers = load_towers(config, load_tower, device=device)
        names = None
        if config.bridge:
            from .towers.efficientnet import imagenet_classes

            names = torch.from_numpy(
                towers["text"].encode_text(list(imagenet_classes()), progress=False))
        return cls(config, towers, seed=seed, class_embeddings=names).to(device)

    def project(self, modality: Modality, features: torch.Tensor) -> torch.Tensor:
        """Tower features ``(n, tower_dim)`` -> L2-normalised embeddings ``(n, dim)``."""
        return F.normalize(self.heads[modality](features), dim=-1)  # (n, dim)

    def tower_features(
        self, modality: Modality, items: list[Any], *, cache: FeatureCache | None = None,
        batch_size: int = 32,
    ) -> np.ndarray:
        """The frozen tower's ``(n, tower_dim)`` features (raises on a bad item), via ``cache``."""
        tower = self._tower(modality)

        def compute(batch: list[Any]) -> np.ndarray:
            return getattr(tower, f"encode_{modality}")(batch, batch_size=batch_size)

        if cache is None:
            return compute(list(items))
        return cache.get_or_compute(
            items, compute, tower_id=self.config.towers[modality], modality=modality
        )

    @torch.no_grad()
    def embed_features(self, modality: Modality, features: np.ndarray) -> np.ndarray:
        """Project tower features to ``(n, dim)`` float32 L2-normalised vectors."""
        head = self.heads[modality]
        param = next(head.parameters())
        x = torch.as_tensor(np.asarray(features, np.float32), device=param.device)  # (n, t)
        return self.project(modality, x.to(param.dtype)).float().cpu().numpy()  # (n, dim)

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (heads and logit scale) to ``folder``."""
        out = Path(folder).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        safetensors.torch.save_file(state, str(out / WEIGHTS_FILE), metadata={"format": FORMAT})
        text = json.dumps(self.config.to_dict(), indent=2, sort_keys=True)
        (out / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | Path, *, load_tower: TowerLoader, device: str = "cpu"
             ) -> LiTModel:
        """Load a folder written by :meth:`save`, loading its towers by spec with ``load_tower``."""
        path = Path(folder).expanduser()
        if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
            raise EncoderLoadError(
                f"{path} is not a LiT model folder: it needs {CONFIG_FILE} and {WEIGHTS_FILE} "
                "(written by LiTModel.save)"
            )
        try:
            config = LiTConfig.from_dict(json.loads((path / CONFIG_FILE).read_text("utf-8")))
        except (ValueError, TypeError) as exc:
            raise EncoderLoadError(f"{path / CONFIG_FILE} is not a LiT config: {exc}") from exc
        state = safetensors.torch.load_file(str(path / WEIGHTS_FILE))
        model = cls(config, load_towers(config, load_tower, device=device))
        expected = model.state_dict()
        if set(state) != set(expected):
            raise EncoderLoadError(
                f"{path / WEIGHTS_FILE} holds {sorted(state)}, but the config's model has "
                f"{sorted(expected)}"
            )
        for key, tensor in state.items():
            if tensor.shape != expected[key].shape:
                tower = ""
                if key.startswith("heads."):
                    modality = key.split(".")[1]
                    tower = (f" (its {modality} tower {config.towers[modality]!r} gives "
                             f"{model.towers[modality].card.dim}-d features)")
                raise EncoderLoadError(
                    f"{path}: saved {key} has shape {tuple(tensor.shape)}, the model expects "
                    f"{tuple(expected[key].shape)}{tower}: the heads were fitted to other towers"
                )
        model.load_state_dict(state)
        return model.to(device).eval()

    def _tower(self, modality: Modality) -> Encoder:
        if modality not in self.towers:
            raise UnsupportedModalityError(
                f"this LiT model embeds {', '.join(self.towers)}, not {modality}"
            )
        return self.towers[modality]


def _head_widths(config: LiTConfig, towers: dict[Modality, Encoder]) -> dict[Modality, int]:
    """Input width of each head: the tower's, less the class probabilities a bridge takes."""
    from .towers.efficientnet import CLASSES

    widths = {m: t.card.dim for m, t in towers.items()}
    if config.bridge:
        item = next(m for m in towers if m != "text")
        widths[item] -= CLASSES
        if widths[item] < 1:
            raise EncoderLoadError(
                f"bridge {config.bridge!r} needs an {item} tower that gives features followed "
                f"by {CLASSES} ImageNet class probabilities (efficientnet-lite0+classes or "
                f"efficientnet-lite2+classes); "
                f"{config.towers[item]!r} gives {towers[item].card.dim}-d vectors")
    return widths


def _bridged(config: LiTConfig, towers: dict[Modality, Encoder], heads: nn.ModuleDict,
             class_embeddings: torch.Tensor | None) -> nn.ModuleDict:
    """Wrap the heads of a bridged model (see :mod:`xmodal.encoders.bridge`)."""
    from .bridge import BridgedHead, ConseBridge, TextClassMix
    from .towers.efficientnet import CLASSES

    item = next(m for m in towers if m != "text")
    text_dim = towers["text"].card.dim
    if class_embeddings is None:  # loading: the saved buffer replaces these zeros
        class_embeddings = torch.zeros(CLASSES, text_dim)
    w = config.bridge_weight
    prior = torch.full((CLASSES,), 1.0 / CLASSES) if config.bridge_prior else None
    bridge = ConseBridge(class_embeddings, top_k=config.bridge_top_k,
                         power=config.bridge_power, prior=prior)
    return nn.ModuleDict({
        item: BridgedHead(heads[item], split=towers[item].card.dim - CLASSES, weight=w,
                          bridge=bridge),
        "text": BridgedHead(heads["text"], split=text_dim, weight=w, bridge=(
            TextClassMix(class_embeddings) if config.bridge_text == "classes" else None)),
    })


class LiTEncoder:
    """A :class:`LiTModel` behind the :class:`~xmodal.encoders.Encoder` protocol.

    Each ``encode_*`` runs the tower's own ``encode_*`` (so its decoding, truncation and bad-item
    reports apply), then the head. Load one with ``load_encoder("lit:FOLDER")``.
    """

    def __init__(self, model: LiTModel, *, name: str) -> None:
        self.model = model.eval()
        towers = model.towers
        audio = towers.get("audio")
        self.card = ModelCard(
            name=name, family="lit", dim=model.out_dim, modalities=tuple(towers),
            logit_scale=model.logit_scale.scale,
            max_text_tokens=towers["text"].card.max_text_tokens if "text" in towers else None,
            audio_window_s=audio.card.audio_window_s if audio else None,
            sample_rate=audio.card.sample_rate if audio else None,
            training_sources=tuple((str(k), int(v)) for k, v in
                                   model.config.notes.get("sources", {}).items()),
            figures=tuple((str(k), float(v)) for k, v in
                          model.config.notes.get("figures", {}).items()),
        )

    @classmethod
    def from_path(cls, path: str | Path, *, load_tower: TowerLoader, name: str | None = None,
                  device: str = "cpu") -> LiTEncoder:
        """Load a LiT model folder (see :meth:`LiTModel.load`)."""
        return cls(LiTModel.load(path, load_tower=load_tower, device=device),
                   name=name or f"lit:{path}")

    @property
    def max_pixels(self) -> int:
        """Largest image (width × height) the image tower decodes (``EncoderBase.max_pixels``);
        setting it sets the tower's."""
        return getattr(self.model.towers.get("image"), "max_pixels", DEFAULT_MAX_PIXELS)

    @max_pixels.setter
    def max_pixels(self, value: int) -> None:
        tower = self.model.towers.get("image")
        if tower is not None and hasattr(tower, "max_pixels"):
            tower.max_pixels = value

    def encode_text(self, texts, *, batch_size=32, progress=None, errors: Errors = "raise"):
        """Embed texts through the text tower and head (see ``Encoder.encode_text``)."""
        return self._run("text", "encode_text", texts, batch_size, progress, errors)

    def encode_query(self, texts, *, batch_size=32, progress=None, errors: Errors = "raise"):
        """Embed queries (with the text tower's query prompt, if it has one)."""
        return self._run("text", "encode_query", texts, batch_size, progress, errors)

    def encode_document(self, texts, *, batch_size=32, progress=None, errors: Errors = "raise"):
        """Embed documents (with the text tower's document prompt, if it has one)."""
        return self._run("text", "encode_document", texts, batch_size, progress, errors)

    def encode_image(self, images, *, batch_size=32, progress=None, errors: Errors = "raise",
                     workers: int = 0):
        """Embed images through the image tower and head (see ``Encoder.encode_image``)."""
        return self._run("image", "encode_image", images, batch_size, progress, errors, workers)

    def encode_audio(self, clips, *, batch_size=32, progress=None, errors: Errors = "raise",
                     workers: int = 0):
        """Embed audio through the audio tower and head (see ``Encoder.encode_audio``)."""
        return self._run("audio", "encode_audio", clips, batch_size, progress, errors, workers)

    def _run(self, modality: Modality, method: str, items, batch_size, progress, errors,
             workers: int = 0):
        if not self.card.supports(modality):
            raise UnsupportedModalityError(
                f"{self.card.name} (lit) embeds {', '.join(self.card.modalities)}, not {modality}"
            )
        tower = self.model.towers[modality]
        extra = {"workers": workers} if workers else {}  # decode workers, for towers that have them
        got = getattr(tower, method)(items, batch_size=batch_size, progress=progress,
                                     errors=errors, **extra)
        features = got.vectors if isinstance(got, EncodeReport) else got  # (n_good, tower_dim)
        vectors = self.model.embed_features(modality, features)  # (n_good, dim)
        good = list(items)
        if isinstance(got, EncodeReport):
            good = [good[i] for i in got.indices]
        vectors = _checked(vectors, good, self.card)
        if not isinstance(got, EncodeReport):
            return vectors
        return EncodeReport(vectors=vectors, indices=got.indices, failed=got.failed,
                            truncated=got.truncated)
