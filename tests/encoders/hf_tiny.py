"""Tiny random-weight CLIP, SigLIP and CLAP models with tokenizers built offline.

Each builder saves a model folder with ``save_pretrained`` (model, tokenizer, image processor or
feature extractor) exactly as a real checkpoint is laid out, so tests load it back through
``load_encoder`` like a user's local folder.
"""

from __future__ import annotations

import math
from pathlib import Path

WORDS = ["a", "dog", "cat", "bird", "barking", "red", "car", "the", "quick", "brown", "fox",
         "photo", "of", "music", "sound", "rain", "on", "street"]
LOGIT_SCALE = 7.5  # exp(t) read back from the weights
LOGIT_BIAS = -3.25
CLAP_RATE = 4000  # Hz: tiny, so a 25 s test clip is 100k samples


def _byte_chars() -> list[str]:
    from tokenizers import pre_tokenizers

    return sorted(pre_tokenizers.ByteLevel.alphabet())


def build_tiny_clip(folder: Path, *, context: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    chars = _byte_chars()
    special = ["<|startoftext|>", "<|endoftext|>"]
    tokens = [*special, *chars, *(c + "</w>" for c in chars), *(w + "</w>" for w in WORDS)]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=context)
    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=context, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=24,
    )
    model = CLIPModel(cfg).eval()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(LOGIT_SCALE))
    out = folder / "clip"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                       ).save_pretrained(out)
    return out


def siglip_tokenizer(context: int):
    """A word-level fast tokenizer with no lower-casing of its own (sentencepiece-free)."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = [*WORDS, *(w.upper() for w in WORDS), "A", "DOG"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(["<pad>", "<unk>", "</s>", *words]))}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                   eos_token="</s>", model_max_length=context)


def build_tiny_siglip(folder: Path, *, context: int = 16, tokenizer_context: int | None = None,
                      seed: int = 0) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    tok = siglip_tokenizer(tokenizer_context or context)
    torch.manual_seed(seed)
    cfg = SiglipConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=context, pad_token_id=0, eos_token_id=2,
                         bos_token_id=2),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8),
    )
    model = SiglipModel(cfg).eval()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(LOGIT_SCALE))
        model.logit_bias.fill_(LOGIT_BIAS)
    out = folder / "siglip"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def build_tiny_clap(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, RobertaTokenizer

    chars = _byte_chars()
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys([*special, *chars]))}
    tok = RobertaTokenizer(vocab=vocab, merges=[], model_max_length=30)
    torch.manual_seed(seed)
    cfg = ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=32, pad_token_id=1),
        audio_config=dict(spec_size=64, num_mel_bins=16, patch_size=4, patch_stride=[4, 4],
                          window_size=4, depths=[1, 1], num_attention_heads=[2, 2],
                          patch_embeds_hidden_size=16, hidden_size=32),
        projection_dim=24,
    )
    model = ClapModel(cfg).eval()
    with torch.no_grad():
        model.logit_scale_a.fill_(math.log(LOGIT_SCALE))
    out = folder / "clap"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    ClapFeatureExtractor(feature_size=16, sampling_rate=CLAP_RATE, hop_length=200,
                         fft_window_size=256, frequency_max=2000, max_length_s=10,
                         ).save_pretrained(out)
    return out


def build_tiny_siglip2(folder: Path, *, context: int = 16, seed: int = 0) -> Path:
    """SigLIP 2 (NaFlex images: pixel mask and spatial shapes go through unchanged)."""
    import torch
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model

    tok = siglip_tokenizer(context)
    torch.manual_seed(seed)
    cfg = Siglip2Config(
        text_config=dict(vocab_size=len(tok) + 8, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=context, pad_token_id=0, eos_token_id=2,
                         bos_token_id=2),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, patch_size=8, num_patches=16),
    )
    out = folder / "siglip2"
    Siglip2Model(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)  # loads back as a Siglip2Tokenizer (+ <bos>, <mask>): hence + 8
    Siglip2ImageProcessor(patch_size=8, max_num_patches=16).save_pretrained(out)
    return out
