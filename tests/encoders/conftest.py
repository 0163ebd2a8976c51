"""A tiny random-weight sentence-transformers model, built offline, saved with save_pretrained."""

from __future__ import annotations

import pytest

WORDS = [
    "a", "dog", "cat", "bird", "barking", "meowing", "singing", "red", "blue", "green", "car",
    "street", "parked", "on", "the", "in", "of", "big", "small", "quick", "brown", "fox",
    "jumps", "over", "lazy", "music", "sound", "image", "text", "query", "passage",
]


def build_tiny_st(folder, *, prompts=None, max_seq_length=16, seed=0):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st_models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, BertTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {tok: i for i, tok in enumerate([*special, *WORDS, ":", "##s"])}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    hf_tok = BertTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    hf_dir = folder / "hf"
    BertModel(cfg).save_pretrained(hf_dir)
    hf_tok.save_pretrained(hf_dir)
    word = st_models.Transformer(str(hf_dir), max_seq_length=max_seq_length)
    pool = st_models.Pooling(word.get_embedding_dimension(), "mean")
    model = SentenceTransformer(modules=[word, pool], prompts=prompts or {})
    out = folder / "st"
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_st(tmp_path_factory):
    return build_tiny_st(tmp_path_factory.mktemp("tiny_st"))


@pytest.fixture(scope="session")
def tiny_st_prompts(tmp_path_factory):
    return build_tiny_st(
        tmp_path_factory.mktemp("tiny_st_prompts"),
        prompts={"query": "query: ", "document": "passage: "},
    )


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    from .hf_tiny import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_siglip(tmp_path_factory):
    from .hf_tiny import build_tiny_siglip

    return build_tiny_siglip(tmp_path_factory.mktemp("tiny_siglip"))


@pytest.fixture(scope="session")
def tiny_clap(tmp_path_factory):
    from .hf_tiny import build_tiny_clap

    return build_tiny_clap(tmp_path_factory.mktemp("tiny_clap"))
