"""``TrainConfig``: every setting of a training run, in one frozen dataclass.

A run is described by a YAML or JSON file of these fields (any subset: the rest keep their
defaults), and any field can be overridden on the command line (``xmodal train run.yaml
--batch-size 256 --lr 1e-4``). The config is validated when it is built, so a typo or an
impossible combination fails before a model loads.

Example:
    >>> cfg = TrainConfig(data="source:sonic-pi", steps=10)
    >>> cfg.with_overrides(["--batch-size", "64", "--lr=1e-4"]).batch_size
    64
    >>> TrainConfig(loss="softmax")
    Traceback (most recent call last):
    ...
    ValueError: loss must be one of 'clip', 'siglip', 'infonce', got 'softmax'
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xmodal.diagnostics.findings import COLLAPSE_STD

from .._optional import require

LossName = Literal["clip", "siglip", "infonce"]
NegativeSource = Literal["none", "data", "synthetic", "mined"]
Schedule = Literal["cosine", "constant"]
HeadKind = Literal["linear", "mlp"]
Bridge = Literal["none", "imagenet"]
BridgeText = Literal["plain", "classes"]


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Every field has a default except the data.

    The defaults train a locked-tower image–text model (EfficientNet-Lite0 + MiniLM heads) with
    CLIP's loss at batch 1,024, as the starter models are trained.
    """

    # --- data
    data: str = ""  # pairs: a folder, .jsonl/.csv/.parquet file, or "source:NAME"
    data_limit: int | None = None  # use only the first N rows (quick runs)
    holdout: float = 0.0  # fraction of distinct captions held out for evaluation (0: none)
    dedup: bool = True  # drop exact duplicate pairs; same caption or item → one group
    dedup_threshold: float | None = None  # also link near-duplicate items: cosine of their
    #                                       embeddings (LiT: tower features) at or above this
    # --- model
    model: str = "lit"  # "lit" (new heads over frozen towers), "lit:PATH" (continue one),
    #                     or a pretrained model to fine-tune: "hf-clip:PATH", "hf-siglip:PATH",
    #                     "st:PATH" (text–text, sentence-transformers)
    towers: tuple[str, ...] = ("efficientnet-lite0", "minilm")  # lit: (item tower, text tower)
    dim: int = 512  # lit: shared embedding dimension
    head: HeadKind = "linear"  # lit: projection heads, Linear or Linear-GELU-Linear
    bridge: Bridge = "none"  # lit: "imagenet" adds a ConSE label-space bridge beside the heads
    #                          (item tower efficientnet-lite0+classes; xmodal.encoders.bridge)
    bridge_weight: float = 0.5  # lit: the bridge's share w of the cosine
    bridge_power: float = 1.0  # lit: class probabilities ** power before the ConSE mix
    bridge_prior: bool = False  # lit: rank classes by p(class|item) / the training items' mean
    bridge_text: BridgeText = "plain"  # lit: "classes" moves texts towards their nearest class
    #                                    names on the bridge's side (bridge.TextClassMix)
    freeze_layers: int = 0  # fine-tuning: freeze the first K layers of each tower
    feature_cache: str = "~/.cache/xmodal/features"  # lit: frozen-tower features, by content
    # --- loss
    loss: LossName = "clip"  # symmetric softmax (CLIP), sigmoid (SigLIP) or one-way InfoNCE
    temperature: float | None = None  # a fixed τ (not learnt); None: learnt from τ = 0.07
    #                                   (SigLIP: from scale 10, bias -10)
    # --- negatives
    hard_negatives: NegativeSource = "none"  # "data" (the triples' negatives), "synthetic"
    #                                          (attribute swaps of the caption), "mined"
    negatives_per_row: int = 1  # hard negatives per pair (synthetic, mined)
    mine_with: str = ""  # mined: the preliminary model that ranks captions (a load_encoder
    #                      spec, e.g. "starter-image" or "lit:PATH")
    hard_negative_ratio: float | None = 1 / 7  # hard : random weight; None: unweighted (MNRL)
    hard_negative_warmup: int = 0  # steps with random in-batch negatives only
    hard_negative_ramp: int = 0  # steps over which the ratio then ramps up linearly
    # --- optimisation
    batch_size: int = 1024  # effective (global) batch: pairs per optimiser step
    mini_batch_size: int | None = None  # rows per encoder forward; smaller than the
    #                                     per-process batch turns GradCache on
    steps: int = 300  # optimiser steps
    lr: float = 5e-4  # peak learning rate (AdamW)
    weight_decay: float = 0.01  # on weight matrices only (not biases, norms, temperature)
    warmup_steps: int = 0  # linear LR warm-up
    schedule: Schedule = "cosine"  # LR after the warm-up: cosine decay to 0, or constant
    seed: int = 0  # batch order, head initialisation, augmentation, dropout
    device: str = "cpu"  # torch device
    # --- augmentation (training only; inference never augments)
    audio_augment: bool = False  # time stretch, pitch shift, noise at an SNR, gain
    image_augment: bool = False  # lit: random crop, flip, colour under transparency
    augment_copies: int = 4  # lit: augmented variants per item whose features are cached
    # --- monitoring and checkpoints
    log_every: int = 50  # monitors every N steps (loss, τ, bias, collapse, gap, LR)
    collapse_threshold: float = COLLAPSE_STD  # alarm when the random-pair cosine std falls below
    collapse_stop: bool = False  # stop the run on collapse instead of warning
    out: str = "runs/xmodal"  # run folder: checkpoints, metrics.jsonl, plots, final model
    checkpoint_every: int = 100  # steps between checkpoints (and one at the end)
    keep_checkpoints: int = 2  # newest checkpoints kept
    resume: bool = True  # continue from the newest checkpoint in ``out`` if there is one
    progress: bool = True  # progress bar with ETA
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes saved with the run

    def __post_init__(self) -> None:
        _check_choice("loss", self.loss, LossName)
        _check_choice("hard_negatives", self.hard_negatives, NegativeSource)
        _check_choice("schedule", self.schedule, Schedule)
        _check_choice("head", self.head, HeadKind)
        _check_choice("bridge", self.bridge, Bridge)
        _check_choice("bridge_text", self.bridge_text, BridgeText)
        if not 0.0 <= self.bridge_weight <= 1.0:
            raise ValueError(f"bridge_weight must be in [0, 1], got {self.bridge_weight}")
        if not self.bridge_power > 0:
            raise ValueError(f"bridge_power must be > 0, got {self.bridge_power}")
        for name in ("steps", "batch_size", "dim", "log_every", "checkpoint_every",
                     "keep_checkpoints", "negatives_per_row", "augment_copies"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("freeze_layers", "warmup_steps", "hard_negative_warmup",
                     "hard_negative_ramp"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (contrastive), got {self.batch_size}")
        if self.mini_batch_size is not None and not self.mini_batch_size >= 1:
            raise ValueError(f"mini_batch_size must be >= 1, got {self.mini_batch_size}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got {self.lr}, "
                             f"{self.weight_decay}")
        if not 0 <= self.holdout < 1:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout}")
        if self.temperature is not None and not 0 < self.temperature <= 1:
            raise ValueError(f"temperature must be in (0, 1], got {self.temperature}")
        if self.hard_negative_ratio is not None and not self.hard_negative_ratio >= 0:
            raise ValueError(f"hard_negative_ratio must be >= 0, got {self.hard_negative_ratio}")
        if self.dedup_threshold is not None and not 0 < self.dedup_threshold <= 1:
            raise ValueError(f"dedup_threshold must be in (0, 1], got {self.dedup_threshold}")
        if self.data_limit is not None and self.data_limit < 2:
            raise ValueError(f"data_limit must be >= 2, got {self.data_limit}")
        if not self.collapse_threshold > 0:
            raise ValueError(f"collapse_threshold must be > 0, got {self.collapse_threshold}")
        if self.model == "lit" and len(self.towers) != 2:
            raise ValueError(f"towers must name 2 towers (item, text), got {self.towers!r}")
        if self.hard_negatives == "mined" and not self.mine_with:
            raise ValueError("hard_negatives='mined' needs mine_with: the preliminary model "
                             "(a load_encoder spec) that ranks the candidate captions")
        prefix = self.model.partition(":")[0]
        if prefix not in ("lit", "hf-clip", "hf-siglip", "st"):
            raise ValueError(
                f"model must be 'lit', 'lit:PATH', 'hf-clip:PATH', 'hf-siglip:PATH' or "
                f"'st:PATH', got {self.model!r}"
            )

    # --- reading and overriding

    @classmethod
    def from_file(cls, path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
        """Read a ``.yaml``/``.yml`` or ``.json`` config, then apply command-line overrides.

        Relative ``data`` and ``out`` paths are resolved against the config file's folder.

        Raises:
            FileNotFoundError: No such file.
            ValueError: Unknown fields, wrong types or invalid values (naming the field).
        """
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"no config file {str(file)!r}")
        text = file.read_text("utf-8")
        if file.suffix.lower() in (".yaml", ".yml"):
            yaml = require("yaml", "train")
            raw = yaml.safe_load(text) or {}
        elif file.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            raise ValueError(f"{file}: a config is a .yaml, .yml or .json file")
        if not isinstance(raw, dict):
            raise ValueError(f"{file}: expected a mapping of fields, got {type(raw).__name__}")
        values = {k.replace("-", "_"): v for k, v in raw.items()}
        for key in ("data", "out"):
            value = values.get(key)
            if isinstance(value, str) and value and not value.startswith("source:"):
                candidate = Path(value).expanduser()
                if not candidate.is_absolute():
                    values[key] = str(file.parent / candidate)
        return cls.from_dict(values).with_overrides(overrides or [])

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a mapping, converting each value to its field's type."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; known: {sorted(fields)}")
        hints = typing.get_type_hints(cls)
        return cls(**{k: _convert(k, v, hints[k]) for k, v in values.items()})

    def with_overrides(self, args: list[str]) -> TrainConfig:
        """Apply ``--field value`` / ``--field=value`` overrides (dashes or underscores)."""
        changes: dict[str, Any] = {}
        i = 0
        while i < len(args):
            arg = args[i]
            if not arg.startswith("--"):
                raise ValueError(f"unexpected argument {arg!r}: overrides are --field value")
            key, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 >= len(args):
                    raise ValueError(f"--{key} needs a value")
                value, i = args[i + 1], i + 1
            changes[key.replace("-", "_")] = _parse_text(value)
            i += 1
        if not changes:
            return self
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (tuples as lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _parse_text(value: str) -> Any:
    """A command-line value: JSON when it parses (numbers, true/false/null, lists), else text."""
    lowered = value.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _convert(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the field's type, or a ValueError naming the field."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        return _convert(name, value, others[0])
    if origin is Literal:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"{name} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{name} must be a string, got {value!r}")
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} must be a list of strings, got {value!r}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a mapping, got {value!r}")
        return dict(value)
    return value


def _check_choice(name: str, value: Any, options: Any) -> None:
    allowed = typing.get_args(options)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value
