"""open_clip checkpoint → transformers ``CLIPModel`` folder that ``hf-clip:PATH`` loads.

open_clip itself is not needed (it imports torchvision, which xmodal does not depend on): the
weights are read as a plain state dict (safetensors, or ``torch.load(weights_only=True)``; no
arbitrary pickles) and the architecture from open_clip's model config JSON (``--arch NAME`` reads
``model_configs/NAME.json`` from the installed package without importing it, or ``--config
FILE``). Only the OpenAI-style ViT + causal text transformer maps onto ``CLIPModel``; everything
else is refused by name (see :func:`check_config`).

Example:
    >>> from xmodal.encoders.convert_open_clip import convert_open_clip
    >>> result = convert_open_clip("open_clip_model.safetensors", "vit-b-32",
    ...                            arch="ViT-B-32")  # doctest: +SKIP
    >>> load_encoder(f"hf-clip:{result.out}")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._optional import require
from .clip_bpe import VOCAB_SIZE, clip_bpe_tokenizer, clip_image_processor, open_clip_dir
from .open_clip_config import ConvertError, TowerShape, check_config, preprocess_of

__all__ = ["ConvertError", "ConvertResult", "convert_open_clip", "load_state_dict",
           "map_state_dict", "read_config"]

WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
CONFIG_FILE = "open_clip_config.json"


@dataclass(frozen=True)
class ConvertResult:
    """What :func:`convert_open_clip` wrote: the folder and the facts a user checks first."""

    out: Path
    arch: str
    hidden_act: str
    projection_dim: int
    image_size: int
    context_length: int
    logit_scale: float


def read_config(arch: str | None = None, config: str | Path | None = None
                ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(model config, preprocessing config, name) from ``--config FILE`` or ``--arch NAME``.

    ``FILE`` is an open_clip model config (``{"embed_dim", "vision_cfg", "text_cfg"}``) or a hub
    ``open_clip_config.json`` (``{"model_cfg": ..., "preprocess_cfg": ...}``).

    Raises:
        ConvertError: Neither given, an unknown arch, or a file that is not such a config.
    """
    if config is not None:
        path = Path(config)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConvertError(f"cannot read the open_clip config {path}: {exc}") from exc
        name = arch or path.stem
    elif arch is not None:
        folder = open_clip_dir()
        if folder is None:
            raise ConvertError(f"--arch {arch} reads open_clip's model_configs/{arch}.json, but "
                               "open_clip is not installed: pip install --no-deps "
                               "open_clip_torch, or pass the config with --config FILE")
        path = folder / "model_configs" / f"{arch}.json"
        if not path.exists():
            known = sorted(p.stem for p in path.parent.glob("*.json"))
            raise ConvertError(f"unknown open_clip architecture {arch!r}; known: "
                               f"{', '.join(known)}")
        data, name = json.loads(path.read_text()), arch
    else:
        raise ConvertError("give the architecture: --arch NAME (an open_clip model config name, "
                           "e.g. ViT-B-32) or --config FILE")
    if not isinstance(data, dict):
        raise ConvertError(f"{path} is not an open_clip model config (not a JSON object)")
    model_cfg = data.get("model_cfg", data)
    preprocess = data.get("preprocess_cfg", {})
    if not isinstance(model_cfg, dict) or "vision_cfg" not in model_cfg:
        raise ConvertError(f"{path} is not an open_clip model config (no vision_cfg)")
    if name.endswith("-quickgelu"):
        model_cfg = {**model_cfg, "quick_gelu": True}
    return model_cfg, preprocess, name


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """The tensors of an open_clip checkpoint, without unpickling arbitrary objects.

    Accepts safetensors files and ``torch.save`` files that ``torch.load(weights_only=True)``
    reads: a bare state dict or a training checkpoint's ``{"state_dict": ...}``; the
    ``module.`` (DDP) and ``_orig_mod.`` (``torch.compile``) prefixes are removed.

    Raises:
        ConvertError: A missing file, a TorchScript archive, or a pickle that is more than
            tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"checkpoint not found: {path}")
    torch = require("torch", "hf")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise ConvertError(f"{path} is not a readable safetensors file: {exc}") from exc
    else:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if any(n.endswith("/code/") or "/code/" in n for n in archive.namelist()):
                    raise ConvertError(
                        f"{path} is a TorchScript archive (e.g. OpenAI's original .pt), not a "
                        "state dict: load it where open_clip runs and save "
                        "model.state_dict() with safetensors.torch.save_file")
        try:
            tensors = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
            raise ConvertError(
                f"refusing {path}: it is not a plain tensor checkpoint that torch.load("
                f"weights_only=True) reads (arbitrary pickles are never loaded): "
                f"{str(exc).splitlines()[0]}") from exc
    if isinstance(tensors, dict) and isinstance(tensors.get("state_dict"), dict):
        tensors = tensors["state_dict"]
    if not isinstance(tensors, dict) or not all(torch.is_tensor(v) for v in tensors.values()):
        raise ConvertError(f"{path} holds no state dict (a mapping of names to tensors)")
    out = {}
    for key, value in tensors.items():
        for prefix in ("module.", "_orig_mod."):
            key = key.removeprefix(prefix)
        out[key] = value
    return out


class _Source:
    """The checkpoint's tensors, taken by name: a missing one is an error naming it."""

    def __init__(self, tensors: dict[str, Any], arch: str) -> None:
        self.tensors, self.arch = dict(tensors), arch

    def take(self, key: str) -> Any:
        if key not in self.tensors:
            raise ConvertError(f"the checkpoint lacks {key!r}, which architecture {self.arch!r} "
                               "needs: wrong --arch/--config for this checkpoint?")
        return self.tensors.pop(key).float()

    def maybe(self, key: str) -> Any:
        return self.tensors.pop(key).float() if key in self.tensors else None


def _tower(src: _Source, prefix: str, out: str, shape: TowerShape) -> dict[str, Any]:
    """One transformer stack: ``{prefix}resblocks.N.*`` → ``{out}layers.N.*``.

    ``attn.in_proj_*`` (3w, ...) splits into q/k/v; layer scale (``ls_1``/``ls_2.gamma``, when
    the config has ``ls_init_value``) is folded into the output projections, since
    ``x + g * (W y + b) = x + (g[:, None] * W) y + g * b``.
    """
    sd = {}
    for i in range(shape.layers):
        s, d = f"{prefix}resblocks.{i}.", f"{out}layers.{i}."
        weight = src.take(s + "attn.in_proj_weight")  # (3w, w)
        bias = src.take(s + "attn.in_proj_bias")  # (3w,)
        for name, w, b in zip("qkv", weight.chunk(3, dim=0), bias.chunk(3, dim=0), strict=True):
            sd[f"{d}self_attn.{name}_proj.weight"], sd[f"{d}self_attn.{name}_proj.bias"] = w, b
        g1 = src.take(s + "ls_1.gamma") if shape.layer_scale else None  # (w,)
        g2 = src.take(s + "ls_2.gamma") if shape.layer_scale else None  # (w,)
        for src_name, dst_name, gamma in (("attn.out_proj", "self_attn.out_proj", g1),
                                          ("mlp.c_proj", "mlp.fc2", g2)):
            w, b = src.take(f"{s}{src_name}.weight"), src.take(f"{s}{src_name}.bias")  # (w, *)
            if gamma is not None:
                w, b = gamma[:, None] * w, gamma * b
            sd[f"{d}{dst_name}.weight"], sd[f"{d}{dst_name}.bias"] = w, b
        for src_name, dst_name in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                                   ("mlp.c_fc", "mlp.fc1")):
            for p in ("weight", "bias"):
                sd[f"{d}{dst_name}.{p}"] = src.take(f"{s}{src_name}.{p}")
    return sd


def map_state_dict(tensors: dict[str, Any], model_cfg: dict[str, Any], *, arch: str = "model"
                   ) -> dict[str, Any]:
    """open_clip ``CLIP`` / ``CustomTextCLIP`` names → transformers ``CLIPModel`` names.

    Raises:
        ConvertError: The config does not map (see :func:`check_config`), a tensor is
            missing, or the checkpoint holds tensors the config does not describe.
    """
    vision, text = check_config(model_cfg, arch)
    src = _Source(tensors, arch)
    t = "text." if model_cfg.get("custom_text") else ""
    sd = {
        "vision_model.embeddings.patch_embedding.weight": src.take("visual.conv1.weight"),
        "vision_model.embeddings.class_embedding": src.take("visual.class_embedding"),  # (w,)
        "vision_model.embeddings.position_embedding.weight":
            src.take("visual.positional_embedding"),  # (1 + patches, w)
        "visual_projection.weight": src.take("visual.proj").T,  # (w, d) → (d, w)
        "text_model.embeddings.token_embedding.weight": src.take(f"{t}token_embedding.weight"),
        "text_model.embeddings.position_embedding.weight":
            src.take(f"{t}positional_embedding"),  # (context, w)
        "text_projection.weight": src.take(f"{t}text_projection").T,  # (w, d) → (d, w)
        "logit_scale": src.take("logit_scale").reshape(()),  # () or (1,) → ()
    }
    for src_name, dst_name in (("visual.ln_pre", "vision_model.pre_layrnorm"),
                               ("visual.ln_post", "vision_model.post_layernorm"),
                               (f"{t}ln_final", "text_model.final_layer_norm")):
        for p in ("weight", "bias"):
            sd[f"{dst_name}.{p}"] = src.take(f"{src_name}.{p}")
    sd.update(_tower(src, "visual.transformer.", "vision_model.encoder.", vision))
    sd.update(_tower(src, f"{t}transformer.", "text_model.encoder.", text))
    src.maybe(f"{t}attn_mask")  # a causal mask buffer some checkpoints carry
    if src.tensors:
        names = sorted(src.tensors)
        raise ConvertError(f"the checkpoint holds {len(names)} tensors that architecture "
                           f"{arch!r} does not describe (e.g. {', '.join(names[:5])}): wrong "
                           "--arch/--config, or parts a transformers CLIPModel does not have")
    return sd


def clip_config(model_cfg: dict[str, Any]) -> Any:
    """The transformers ``CLIPConfig`` for a checked open_clip model config."""
    tf = require("transformers", "hf")
    vision, text = check_config(model_cfg, "model")
    return tf.CLIPConfig(
        text_config=dict(vocab_size=text.vocab_size, hidden_size=text.width,
                         intermediate_size=text.mlp, num_hidden_layers=text.layers,
                         num_attention_heads=text.heads, max_position_embeddings=text.context,
                         layer_norm_eps=text.eps, hidden_act=text.act,
                         bos_token_id=VOCAB_SIZE - 2, eos_token_id=VOCAB_SIZE - 1,
                         pad_token_id=VOCAB_SIZE - 1),
        vision_config=dict(hidden_size=vision.width, intermediate_size=vision.mlp,
                           num_hidden_layers=vision.layers, num_attention_heads=vision.heads,
                           image_size=vision.image_size, patch_size=vision.patch_size,
                           layer_norm_eps=vision.eps, hidden_act=vision.act),
        projection_dim=int(model_cfg["embed_dim"]),
    )


def _find_parts(checkpoint: Path, arch: str | None, config: str | Path | None
                ) -> tuple[Path, str | Path | None]:
    """A hub snapshot folder → its weights file (and its ``open_clip_config.json``)."""
    if not checkpoint.is_dir():
        return checkpoint, config
    weights = next((checkpoint / n for n in WEIGHT_FILES if (checkpoint / n).is_file()), None)
    if weights is None:
        raise ConvertError(f"{checkpoint} holds none of {', '.join(WEIGHT_FILES)}")
    if config is None and arch is None and (checkpoint / CONFIG_FILE).is_file():
        config = checkpoint / CONFIG_FILE
    return weights, config


def convert_open_clip(checkpoint: str | Path, out: str | Path, *, arch: str | None = None,
                      config: str | Path | None = None, quick_gelu: bool | None = None,
                      bpe: str | Path | None = None, overwrite: bool = False) -> ConvertResult:
    """Write a transformers CLIP folder (model, tokenizer, image processor) for ``hf-clip:OUT``.

    Args:
        checkpoint: open_clip weights (``.safetensors``, or a ``.bin``/``.pt`` state dict), or
            a hub snapshot folder holding ``open_clip_model.safetensors`` and
            ``open_clip_config.json``.
        out: The folder to write (must be empty or absent unless ``overwrite``).
        arch: open_clip model config name (``ViT-B-32``, ``ViT-L-14-quickgelu``, ...).
        config: Or an open_clip model config / ``open_clip_config.json`` file.
        quick_gelu: Force the activation (OpenAI's own weights were trained with QuickGELU even
            under the plain ``ViT-B-32`` name); default: the config's ``quick_gelu``.
        bpe: The CLIP BPE merges file; default: the copy inside the installed open_clip.
        overwrite: Replace the files of an existing non-empty ``out``.

    Returns:
        What was written: the folder, activation, embedding size, image size, context, scale.

    Raises:
        ConvertError: The architecture does not map onto ``CLIPModel``, the checkpoint does not
            fit it, or it is not a plain tensor file.

    Example:
        >>> r = convert_open_clip("ckpt.safetensors", "out", arch="ViT-B-32-quickgelu")
        ... # doctest: +SKIP
        >>> r.hidden_act, r.projection_dim  # doctest: +SKIP
        ('quick_gelu', 512)
    """
    torch = require("torch", "hf")
    tf = require("transformers", "hf")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ConvertError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    weights, config = _find_parts(Path(checkpoint), arch, config)
    model_cfg, preprocess, name = read_config(arch, config)
    if quick_gelu is not None:
        model_cfg = {**model_cfg, "quick_gelu": quick_gelu}
    vision, text = check_config(model_cfg, name)
    size, mean, std, interpolation, resize_mode = preprocess_of(preprocess, vision.image_size)
    try:
        processor = clip_image_processor(size, mean=mean, std=std, interpolation=interpolation,
                                         resize_mode=resize_mode)
        tokenizer = clip_bpe_tokenizer(text.context, bpe)
    except (ValueError, FileNotFoundError) as exc:
        raise ConvertError(str(exc)) from exc
    sd = map_state_dict(load_state_dict(weights), model_cfg, arch=name)
    model = tf.CLIPModel(clip_config(model_cfg)).eval()
    expected = model.state_dict()
    for key, value in sd.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ConvertError(f"{key}: the checkpoint's tensor has shape {tuple(value.shape)}, "
                               f"architecture {name!r} needs {tuple(expected[key].shape)}: "
                               "wrong --arch/--config for this checkpoint?")
    with torch.no_grad():
        missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:  # a mapping bug, not a user error
        raise RuntimeError(f"open_clip → CLIPModel mapping incomplete: missing {missing}, "
                           f"unexpected {unexpected}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    processor.save_pretrained(out)
    return ConvertResult(out=out, arch=name, hidden_act=vision.act,
                         projection_dim=int(model_cfg["embed_dim"]), image_size=vision.image_size,
                         context_length=text.context,
                         logit_scale=float(model.logit_scale.detach().exp()))
