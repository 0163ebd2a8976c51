"""``xmodal convert open-clip``: a tiny open_clip model, converted, loads as ``hf-clip:OUT`` and
embeds exactly as open_clip does (text through open_clip's tokenizer, images through the same
pixels); architectures and files that do not convert are refused by name."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from xmodal.cli import app
from xmodal.encoders import load_encoder
from xmodal.encoders.clip_bpe import OPENAI_MEAN, OPENAI_STD
from xmodal.encoders.convert_open_clip import ConvertError, convert_open_clip

from .open_clip_ref import open_clip_modules

TEXTS = ["a dog barking", "A photo of a RED car!", "the quick brown fox, it's 2024",
         "rain on the street " * 6]  # the last is cut at 16 tokens (end token kept) by both
LOGIT_SCALE = 7.5
CONTEXT = 16

TINY = {"embed_dim": 24,
        "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2,
                       "head_width": 16},
        "text_cfg": {"context_length": CONTEXT, "vocab_size": 49408, "width": 32, "heads": 2,
                     "layers": 2}}
VARIANTS = {
    "quickgelu": {**TINY, "quick_gelu": True},
    "gelu": TINY,
    # CustomTextCLIP (text under "text."), layer scale folded, mlp ratio 2, LayerNorm eps 1e-6
    "layerscale-customtext": {
        **TINY, "custom_text": True,
        "vision_cfg": {**TINY["vision_cfg"], "ls_init_value": 0.5, "mlp_ratio": 2.0,
                       "norm_kwargs": {"eps": 1e-6}},
        "text_cfg": {**TINY["text_cfg"], "ls_init_value": 0.5, "norm_kwargs": {"eps": 1e-6}}},
}


@pytest.fixture(scope="module")
def ref():
    with open_clip_modules() as modules:
        yield modules


def _build(ref, cfg, seed=0):
    """A random open_clip model: every weight moved off its init (biases, LN, gammas too)."""
    import torch

    model_mod, _ = ref
    torch.manual_seed(seed)
    kwargs = {k: v for k, v in cfg.items() if k != "custom_text"}
    cls = model_mod.CustomTextCLIP if cfg.get("custom_text") else model_mod.CLIP
    model = cls(**kwargs).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * (0.02 if "embedding" in name else 0.1))
        model.logit_scale.fill_(math.log(LOGIT_SCALE))
    return model


def _save(model, path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def _images(size=32, n=3):
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (size, size + (8 if size > 32 else 0), 3),
                                         dtype=np.uint8)) for _ in range(n)]


def _normed(t):
    return (t / t.norm(dim=-1, keepdim=True)).detach().numpy()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_converted_folder_embeds_as_open_clip(ref, tmp_path, variant):
    import torch

    cfg = VARIANTS[variant]
    model = _build(ref, cfg)
    ckpt = _save(model, tmp_path / "open_clip_model.safetensors")
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    out = tmp_path / "hf"
    if variant == "quickgelu":  # through the CLI
        result = CliRunner().invoke(app, ["convert", "open-clip", str(ckpt), str(out),
                                          "--config", str(tmp_path / "cfg.json")])
        assert result.exit_code == 0, result.output
        assert f"hf-clip:{out}" in result.output and "quick_gelu" in result.output
    else:  # through the function
        r = convert_open_clip(ckpt, out, config=tmp_path / "cfg.json")
        assert (r.hidden_act, r.projection_dim, r.image_size, r.context_length) == (
            "gelu", 24, 32, CONTEXT)
    saved = json.loads((out / "config.json").read_text())
    act = "quick_gelu" if cfg.get("quick_gelu") else "gelu"
    assert saved["text_config"]["hidden_act"] == saved["vision_config"]["hidden_act"] == act

    enc = load_encoder(f"hf-clip:{out}")
    assert enc.card.dim == 24 and enc.card.max_text_tokens == CONTEXT
    assert enc.card.logit_scale == pytest.approx(LOGIT_SCALE, rel=1e-6)

    # text: open_clip's own tokenizer gives the same ids; the embeddings agree
    ids = ref[1].SimpleTokenizer(context_length=CONTEXT)(TEXTS)  # (4, 16)
    hf_ids = enc.tokenizer(TEXTS, padding="max_length", truncation=True,
                           max_length=CONTEXT)["input_ids"]
    for row, hf_row in zip(ids.tolist(), hf_ids, strict=True):
        n = row.index(49407) + 1  # open_clip pads with 0, transformers with the end token
        assert row[:n] == hf_row[:n]
    with torch.no_grad():
        want = _normed(model.encode_text(ids))  # (4, 24)
    with pytest.warns(UserWarning, match="truncated 1 item"):
        got = enc.encode_text(TEXTS, batch_size=3)
    np.testing.assert_allclose(got, want, atol=1e-5)

    # images already at 32 px (no resize): xmodal's preprocessing is open_clip's ToTensor +
    # Normalize(OpenAI mean/std), computed by hand (open_clip's transform needs torchvision)
    images = _images()
    pixels = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])  # (3,32,32,3)
    pixels = (pixels - np.array(OPENAI_MEAN, np.float32)) / np.array(OPENAI_STD, np.float32)
    pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()  # (3, 3, 32, 32)
    processed = enc.image_processor(images=images, return_tensors="pt")["pixel_values"]
    np.testing.assert_allclose(processed.numpy(), pixels.numpy(), atol=1e-6)
    with torch.no_grad():
        want = _normed(model.encode_image(pixels))  # (3, 24)
    np.testing.assert_allclose(enc.encode_image(images, batch_size=2), want, atol=1e-5)

    # larger, non-square images: both models see the processor's pixels (resize + crop are
    # the processor's; open_clip's torchvision transform is not available to compare)
    big = _images(size=48, n=2)
    processed = enc.image_processor(images=big, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        want = _normed(model.encode_image(processed))  # (2, 24)
    np.testing.assert_allclose(enc.encode_image(big), want, atol=1e-5)


@pytest.mark.parametrize(("arch", "what"), [
    ("convnext_base", "timm model"),
    ("RN50", "ModifiedResNet"),
    ("ViT-H-14-CLIPA", "no_ln_pre"),
    ("coca_ViT-B-32", "CoCa"),
    ("ViT-B-16-SigLIP", "logit bias"),
    ("roberta-ViT-B-32", "Hugging Face model"),
    ("no-such-arch", "unknown open_clip architecture"),
])
def test_architectures_that_do_not_map_are_refused_by_name(tmp_path, arch, what):
    with pytest.raises(ConvertError, match=what) as info:
        convert_open_clip(tmp_path / "none.safetensors", tmp_path / "out", arch=arch)
    assert arch in str(info.value)


def test_refused_settings_in_a_config(tmp_path):
    for change, what in (({"attentional_pool": True}, "attention"),
                         ({"qk_norm": True}, "custom attention"),
                         ({"pool_type": "avg"}, "'avg'"),
                         ({"brand_new_option": 1}, "brand_new_option")):
        cfg = {**TINY, "vision_cfg": {**TINY["vision_cfg"], **change}}
        (tmp_path / "cfg.json").write_text(json.dumps(cfg))
        with pytest.raises(ConvertError, match=what):
            convert_open_clip(tmp_path / "x.safetensors", tmp_path / "out",
                              config=tmp_path / "cfg.json")
    cfg = {**TINY, "text_cfg": {**TINY["text_cfg"], "no_causal_mask": True}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(ConvertError, match="bidirectional"):
        convert_open_clip(tmp_path / "x.safetensors", tmp_path / "out",
                          config=tmp_path / "cfg.json")


class _NotATensor:
    pass


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_bad_checkpoints_are_refused_clearly(ref, tmp_path):
    import torch
    from safetensors.torch import load_file

    (tmp_path / "cfg.json").write_text(json.dumps(TINY))
    cfg = tmp_path / "cfg.json"
    tensors = load_file(str(_save(_build(ref, TINY), tmp_path / "ok.safetensors")))

    torch.save({"state_dict": tensors, "extra": _NotATensor()}, tmp_path / "pickle.pt")
    with pytest.raises(ConvertError, match="arbitrary pickles are never loaded"):
        convert_open_clip(tmp_path / "pickle.pt", tmp_path / "o1", config=cfg)

    missing = {k: v for k, v in tensors.items() if k != "visual.ln_post.weight"}
    torch.save({"state_dict": {f"module.{k}": v for k, v in missing.items()}},
               tmp_path / "missing.pt")  # a DDP training checkpoint: prefixes are dropped
    with pytest.raises(ConvertError, match=r"lacks 'visual\.ln_post\.weight'"):
        convert_open_clip(tmp_path / "missing.pt", tmp_path / "o2", config=cfg)

    torch.save({**tensors, "visual.extra": torch.zeros(2)}, tmp_path / "extra.bin")
    with pytest.raises(ConvertError, match=r"does not describe.*visual\.extra"):
        convert_open_clip(tmp_path / "extra.bin", tmp_path / "o3", config=cfg)

    with pytest.raises(ConvertError, match=r"lacks 'visual\.transformer\.resblocks\.2\."):
        convert_open_clip(tmp_path / "ok.safetensors", tmp_path / "o4", arch="ViT-B-32")

    wide = {**TINY, "embed_dim": 16}
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    with pytest.raises(ConvertError, match=r"visual_projection.weight.*\(24, 32\).*\(16, 32\)"):
        convert_open_clip(tmp_path / "ok.safetensors", tmp_path / "o5",
                          config=tmp_path / "wide.json")

    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "openai.pt")
    with pytest.raises(ConvertError, match="TorchScript"):
        convert_open_clip(tmp_path / "openai.pt", tmp_path / "o6", config=cfg)

    (tmp_path / "o7").mkdir()
    (tmp_path / "o7" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["convert", "open-clip", str(tmp_path / "ok.safetensors"),
                                      str(tmp_path / "o7"), "--config", str(cfg)])
    assert result.exit_code == 2 and "not empty" in result.output
    assert (tmp_path / "o7" / "keep.txt").read_text() == "mine"


def test_hub_snapshot_folder_and_forced_activation(ref, tmp_path):
    """A hub snapshot (weights + open_clip_config.json with its preprocess_cfg); --quick-gelu
    overrides the config (OpenAI's weights under a plain ViT name need it)."""
    snap = tmp_path / "snapshot"
    snap.mkdir()
    _save(_build(ref, TINY), snap / "open_clip_model.safetensors")
    preprocess = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bilinear"}
    (snap / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": TINY, "preprocess_cfg": preprocess}))
    result = CliRunner().invoke(app, ["convert", "open-clip", str(snap), str(tmp_path / "hf"),
                                      "--quick-gelu"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert saved["vision_config"]["hidden_act"] == "quick_gelu"
    proc = json.loads((tmp_path / "hf" / "preprocessor_config.json").read_text())
    assert proc["image_mean"] == proc["image_std"] == [0.5, 0.5, 0.5]
    assert proc["resample"] == 2  # PIL bilinear
    assert load_encoder(f"hf-clip:{tmp_path / 'hf'}").card.dim == 24
