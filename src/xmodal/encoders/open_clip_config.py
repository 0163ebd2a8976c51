"""Which open_clip model configs map onto a transformers ``CLIPModel``, and their shapes.

A config maps when both towers are the OpenAI-style transformers ``CLIPModel`` re-implements:
a ViT with a class token, learned (or stored sin-cos) positions, ``ln_pre``, plain attention
blocks and class-token pooling; a causal text transformer over the CLIP BPE vocabulary pooled at
the end token. Everything else is refused by name, never converted approximately.

Example:
    >>> cfg = {"embed_dim": 24, "quick_gelu": True,
    ...        "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2,
    ...                       "head_width": 16},
    ...        "text_cfg": {"context_length": 16, "width": 32, "heads": 2, "layers": 2}}
    >>> vision, text = check_config(cfg, "tiny")
    >>> vision.heads, vision.act, text.context
    (2, 'quick_gelu', 16)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .clip_bpe import OPENAI_MEAN, OPENAI_STD, VOCAB_SIZE


class ConvertError(ValueError):
    """A checkpoint or architecture that does not convert; the message says what and why."""


@dataclass(frozen=True)
class TowerShape:
    """One tower's transformers settings, read from an open_clip config."""

    width: int
    layers: int
    heads: int
    mlp: int  # intermediate size
    act: str  # transformers hidden_act
    eps: float
    layer_scale: bool  # ls_1/ls_2 gammas in the checkpoint (folded into the projections)
    image_size: int = 0
    patch_size: int = 0
    context: int = 0
    vocab_size: int = 0


_TOP_OK = {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu", "custom_text",
           "init_logit_scale", "nonscalar_logit_scale"}
_TOP_REFUSED = {
    "multimodal_cfg": "a CoCa captioning model (its image side pools with attention)",
    "init_logit_bias": "a SigLIP-style model with a logit bias (transformers' CLIPModel has none)",
}
_TRANSFORMER_OK = {"width", "layers", "mlp_ratio", "ls_init_value", "output_tokens",
                   "final_ln_after_pool", "norm_kwargs", "act_kwargs", "block_type", "qk_norm",
                   "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn",
                   "scale_fc"}
_VISION_OK = _TRANSFORMER_OK | {"head_width", "patch_size", "image_size", "patch_dropout",
                                "pool_type", "pos_embed_type", "attentional_pool",
                                "attn_pooler_queries", "attn_pooler_heads", "no_ln_pre",
                                "timm_model_name", "timm_model_pretrained", "timm_pool",
                                "timm_proj", "timm_proj_bias", "timm_drop", "timm_drop_path"}
_TEXT_OK = _TRANSFORMER_OK | {"context_length", "vocab_size", "heads", "pad_id", "eos_id",
                              "pool_type", "proj_type", "proj_bias", "embed_cls",
                              "no_causal_mask", "hf_tokenizer_name", "tokenizer_mode",
                              "tokenizer_kwargs", "hf_model_name", "hf_model_pretrained",
                              "hf_proj_type", "hf_pooler_type"}
_CUSTOM_BLOCK = ("qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner",
                 "scale_attn", "scale_fc")


def _refuse(arch: str, what: str) -> ConvertError:
    return ConvertError(f"cannot convert {arch!r} to a transformers CLIPModel: {what}")


def _act(cfg: dict[str, Any], quick: bool, arch: str, tower: str) -> str:
    kwargs = cfg.get("act_kwargs") or {}
    if not kwargs:
        return "quick_gelu" if quick else "gelu"
    if kwargs == {"approximate": "tanh"} and not quick:
        return "gelu_pytorch_tanh"
    raise _refuse(arch, f"{tower} activation {'QuickGELU' if quick else 'GELU'}({kwargs}) has "
                        "no transformers equivalent")


def _eps(cfg: dict[str, Any], arch: str, tower: str) -> float:
    kwargs = cfg.get("norm_kwargs") or {}
    if set(kwargs) - {"eps"}:
        raise _refuse(arch, f"{tower} LayerNorm options {kwargs} (only eps maps)")
    return float(kwargs.get("eps", 1e-5))


def _blocks(cfg: dict[str, Any], arch: str, tower: str) -> None:
    custom = [k for k in _CUSTOM_BLOCK if cfg.get(k)]
    if custom or cfg.get("block_type") not in (None, "default"):
        raise _refuse(arch, f"{tower} uses open_clip's custom attention blocks "
                            f"({', '.join(custom) or 'block_type=' + str(cfg['block_type'])})")


def _unknown(cfg: dict[str, Any], ok: set[str], arch: str, where: str) -> None:
    extra = sorted(set(cfg) - ok)
    if extra:
        raise _refuse(arch, f"{where} has settings this converter does not know "
                            f"({', '.join(extra)}); refusing rather than guessing")


def _square(value: Any, arch: str, what: str) -> int:
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise _refuse(arch, f"non-square {what} {list(value)}")
        value = value[0]
    return int(value)


def _vision(cfg: dict[str, Any], quick: bool, arch: str) -> TowerShape:
    if cfg.get("timm_model_name"):
        raise _refuse(arch, f"its image tower is a timm model ({cfg['timm_model_name']}: "
                            "e.g. ConvNeXt, EVA, SigLIP ViTs), not open_clip's own ViT")
    layers = cfg.get("layers", 12)
    if isinstance(layers, (list, tuple)):
        raise _refuse(arch, f"its image tower is a ModifiedResNet (layers {list(layers)}), "
                            "which transformers' CLIPModel does not implement")
    _unknown(cfg, _VISION_OK, arch, "vision_cfg")
    if cfg.get("attentional_pool"):
        raise _refuse(arch, "its image tower pools with attention (attentional_pool)")
    if cfg.get("no_ln_pre"):
        raise _refuse(arch, "its image tower has no ln_pre (no_ln_pre); CLIPModel always has one")
    if cfg.get("pool_type", "tok") != "tok":
        raise _refuse(arch, f"image pooling {cfg['pool_type']!r} (CLIPModel pools the class "
                            "token, 'tok')")
    if cfg.get("pos_embed_type", "learnable") not in ("learnable", "sin_cos_2d"):
        raise _refuse(arch, f"image position embedding {cfg['pos_embed_type']!r}")
    _blocks(cfg, arch, "the image tower")
    width, head_width = int(cfg.get("width", 768)), int(cfg.get("head_width", 64))
    if width % head_width:
        raise _refuse(arch, f"image width {width} is not a multiple of head_width {head_width}")
    return TowerShape(
        width=width, layers=int(layers), heads=width // head_width,
        mlp=int(width * float(cfg.get("mlp_ratio", 4.0))), act=_act(cfg, quick, arch, "image"),
        eps=_eps(cfg, arch, "image"), layer_scale=cfg.get("ls_init_value") is not None,
        image_size=_square(cfg.get("image_size", 224), arch, "image size"),
        patch_size=_square(cfg.get("patch_size", 16), arch, "patch size"))


def _text(cfg: dict[str, Any], quick: bool, arch: str) -> TowerShape:
    if cfg.get("hf_model_name"):
        raise _refuse(arch, f"its text tower is a Hugging Face model ({cfg['hf_model_name']}), "
                            "not open_clip's causal text transformer")
    _unknown(cfg, _TEXT_OK, arch, "text_cfg")
    if cfg.get("hf_tokenizer_name") or cfg.get("tokenizer_mode"):
        raise _refuse(arch, "its text uses another tokenizer "
                            f"({cfg.get('hf_tokenizer_name') or cfg.get('tokenizer_mode')}), "
                            "not OpenAI's CLIP BPE")
    clean = (cfg.get("tokenizer_kwargs") or {}).get("clean", "lower")
    if set(cfg.get("tokenizer_kwargs") or {}) - {"clean"} or clean != "lower":
        raise _refuse(arch, f"tokenizer options {cfg['tokenizer_kwargs']} (CLIPTokenizer "
                            "lower-cases, nothing else)")
    vocab = int(cfg.get("vocab_size", VOCAB_SIZE))
    if vocab != VOCAB_SIZE:
        raise _refuse(arch, f"text vocabulary of {vocab} tokens, not the CLIP BPE's {VOCAB_SIZE}")
    for key, what in (("no_causal_mask", "bidirectional text attention (no_causal_mask)"),
                      ("embed_cls", "a text class token (embed_cls)"),
                      ("proj_bias", "a text projection with bias (proj_bias)")):
        if cfg.get(key):
            raise _refuse(arch, what)
    pool = cfg.get("pool_type", "argmax")
    if not (pool == "argmax" or (pool == "eos" and cfg.get("eos_id") == VOCAB_SIZE - 1)):
        raise _refuse(arch, f"text pooling {pool!r} (CLIPModel pools the end token)")
    if cfg.get("proj_type", "linear") != "linear":
        raise _refuse(arch, f"text projection {cfg['proj_type']!r}")
    _blocks(cfg, arch, "the text tower")
    width = int(cfg.get("width", 512))
    heads = int(cfg.get("heads", 8))
    if width % heads:
        raise _refuse(arch, f"text width {width} is not a multiple of {heads} heads")
    return TowerShape(
        width=width, layers=int(cfg.get("layers", 12)), heads=heads,
        mlp=int(width * float(cfg.get("mlp_ratio", 4.0))), act=_act(cfg, quick, arch, "text"),
        eps=_eps(cfg, arch, "text"), layer_scale=cfg.get("ls_init_value") is not None,
        context=int(cfg.get("context_length", 77)), vocab_size=vocab)


def check_config(model_cfg: dict[str, Any], arch: str) -> tuple[TowerShape, TowerShape]:
    """(vision, text) shapes of an open_clip model config that maps onto ``CLIPModel``.

    Raises:
        ConvertError: Naming what does not map (timm/ConvNeXt/ResNet image towers, attentional
            pooling, no ``ln_pre``, custom attention blocks, Hugging Face text towers, other
            tokenizers, bidirectional text, CoCa, a logit bias, unknown settings).
    """
    for key, what in _TOP_REFUSED.items():
        if model_cfg.get(key) is not None:
            raise _refuse(arch, f"it is {what} ({key})")
    _unknown(model_cfg, _TOP_OK, arch, "the model config")
    if "embed_dim" not in model_cfg or "text_cfg" not in model_cfg:
        raise ConvertError(f"{arch!r}: the model config lacks embed_dim or text_cfg")
    quick = bool(model_cfg.get("quick_gelu", False))
    return (_vision(model_cfg.get("vision_cfg") or {}, quick, arch),
            _text(model_cfg["text_cfg"] or {}, quick, arch))


def preprocess_of(preprocess: dict[str, Any], image_size: int
                  ) -> tuple[int, tuple[float, ...], tuple[float, ...], str, str]:
    """(size, mean, std, interpolation, resize mode) from an ``open_clip_config.json``'s
    ``preprocess_cfg`` (open_clip's defaults: OpenAI mean/std, bicubic, shortest side).

    Raises:
        ConvertError: A size other than the model's, or a mode other than RGB.
    """
    size = _square(preprocess.get("size", image_size), "preprocess_cfg", "size")
    if size != image_size:
        raise ConvertError(f"preprocess_cfg size {size} differs from the model's image size "
                           f"{image_size}")
    if preprocess.get("mode", "RGB") != "RGB":
        raise ConvertError(f"preprocess_cfg mode {preprocess['mode']!r} (only RGB converts)")
    return (size, tuple(preprocess.get("mean", OPENAI_MEAN)),
            tuple(preprocess.get("std", OPENAI_STD)),
            str(preprocess.get("interpolation", "bicubic")),
            str(preprocess.get("resize_mode", "shortest")))
