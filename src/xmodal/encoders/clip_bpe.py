"""OpenAI CLIP's tokenizer and image preprocessing as transformers objects, built offline.

open_clip ships the CLIP byte-pair vocabulary (``bpe_simple_vocab_16e6.txt.gz``) and
preprocesses images as OpenAI did (bicubic resize of the shorter side, centre crop, OpenAI's
mean/std). The functions here rebuild both for a transformers ``CLIPModel`` folder, so a
converted open_clip checkpoint loads through ``hf-clip:PATH`` without a hub.

Example:
    >>> tok = clip_bpe_tokenizer(77)  # doctest: +SKIP
    >>> tok("a dog")["input_ids"]  # doctest: +SKIP
    [49406, 320, 1929, 49407]
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._optional import require

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2  # merges OpenAI's tokenizer uses (the file holds more)
VOCAB_SIZE = 256 * 2 + N_MERGES + 2  # bytes, bytes + "</w>", merges, <start>, <end>: 49408
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
RESAMPLE = {"nearest": 0, "bilinear": 2, "bicubic": 3}  # PIL.Image.Resampling values


def open_clip_dir() -> Path | None:
    """The installed open_clip package folder, found without importing it (it needs torchvision)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_bpe_path() -> Path:
    """open_clip's copy of the CLIP BPE merges, or ``FileNotFoundError`` saying how to give one."""
    folder = open_clip_dir()
    if folder is None or not (folder / BPE_FILE).exists():
        raise FileNotFoundError(
            f"the CLIP BPE vocabulary ({BPE_FILE}) ships with open_clip, which is not installed: "
            "pip install --no-deps open_clip_torch, or pass the file with --bpe"
        )
    return folder / BPE_FILE


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte → printable character table (the first 256 vocabulary entries).

    Example:
        >>> table = bytes_to_unicode()
        >>> table[ord("a")], table[ord(" ")]
        ('a', 'Ġ')
    """
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def read_bpe(path: str | Path | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The CLIP vocabulary (token → id, 49,408 entries) and its merges, as OpenAI builds them.

    Args:
        path: ``bpe_simple_vocab_16e6.txt.gz`` (gzip or plain text); default: open_clip's copy.

    Raises:
        ValueError: The file holds too few merges to be the CLIP vocabulary.
    """
    path = Path(path) if path is not None else default_bpe_path()
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode("utf-8") if raw[:2] == b"\x1f\x8b" else raw.decode("utf-8")
    lines = text.split("\n")[1 : N_MERGES + 1]  # line 0 is a version header
    merges = [tuple(line.split()) for line in lines]
    if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError(f"{path} is not the CLIP BPE file: expected {N_MERGES} merges after "
                         f"a header line, got {len(merges)}")
    chars = list(bytes_to_unicode().values())
    tokens = [*chars, *(c + "</w>" for c in chars), *("".join(m) for m in merges), BOS, EOS]
    return {t: i for i, t in enumerate(tokens)}, merges  # type: ignore[misc]


def clip_bpe_tokenizer(context_length: int, bpe_path: str | Path | None = None) -> Any:
    """A transformers ``CLIPTokenizer`` with OpenAI CLIP's vocabulary and ``context_length``.

    It gives the ids open_clip's ``SimpleTokenizer`` gives (start 49406, end 49407, lower-cased)
    and pads with the end token, as OpenAI's hub tokenizers do; a causal text tower never looks
    past the first end token, so the padding id does not change an embedding.

    Args:
        context_length: The text tower's positions (the tokenizer's ``model_max_length``).
        bpe_path: The merges file; default: the copy inside the installed open_clip.
    """
    tf = require("transformers", "hf")
    vocab, merges = read_bpe(bpe_path)
    return tf.CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=int(context_length),
                            bos_token=BOS, eos_token=EOS, pad_token=EOS, unk_token=EOS)


def clip_image_processor(size: int, *, mean: tuple[float, ...] = OPENAI_MEAN,
                         std: tuple[float, ...] = OPENAI_STD, interpolation: str = "bicubic",
                         resize_mode: str = "shortest") -> Any:
    """A ``CLIPImageProcessor`` doing open_clip's inference transform for a ``size`` px model.

    ``shortest`` (open_clip's default): resize the shorter side to ``size``, centre-crop
    ``size`` × ``size``; ``squash``: resize to ``size`` × ``size``. Then RGB, ``/ 255`` and
    ``(x - mean) / std`` per channel.

    Raises:
        ValueError: A resize mode or interpolation the CLIP processor cannot do (``longest``
            pads, which it does not).
    """
    tf = require("transformers", "hf")
    if interpolation not in RESAMPLE:
        raise ValueError(f"image interpolation {interpolation!r} is not one of {sorted(RESAMPLE)}")
    common = dict(image_mean=list(mean), image_std=list(std), resample=RESAMPLE[interpolation],
                  do_convert_rgb=True, do_rescale=True, do_normalize=True)
    if resize_mode == "shortest":
        return tf.CLIPImageProcessor(size={"shortest_edge": size}, do_center_crop=True,
                                     crop_size={"height": size, "width": size}, **common)
    if resize_mode == "squash":
        return tf.CLIPImageProcessor(size={"height": size, "width": size}, do_center_crop=False,
                                     **common)
    raise ValueError(f"image resize mode {resize_mode!r} has no CLIPImageProcessor equivalent "
                     "(shortest and squash do)")
