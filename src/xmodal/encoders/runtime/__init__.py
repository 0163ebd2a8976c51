"""Model runtimes: the packaged towers on torch or on ONNX Runtime.

``load_encoder(spec, runtime="onnx")`` (``--runtime onnx`` on the CLI) runs the network of
EfficientNet-Lite0/Lite2, aisfx and sentence-transformers text models (the packaged MiniLM,
``mpnet``, ``st:`` text models; inside the starters too) through ONNX Runtime;
``runtime="onnx-int8"`` runs an int8 dynamic quantisation of the same graph (faster on some
towers, at a retrieval cost ``benchmarks/runtime.py`` measures; never chosen for you). Decoding,
preprocessing, tokenisation and pooling over windows are unchanged, so only the network's
arithmetic differs: fp32 vectors agree with torch's to cosine >= 0.9999 (checked on every
export). Graphs are exported on first use and cached (:mod:`.graphs`); ONNX Runtime runs on
the CPU with torch's thread count (:mod:`.session`).

The default, ``"auto"``, is ONNX Runtime where it can serve (onnxruntime and onnx installed,
the CPU, no dtype, a tower with a graph; 2-12x torch's speed on 2 cores, see
``benchmarks/runtime.py``) and torch everywhere else: torch is the fallback, never an error.
Install with ``pip install 'xmodal[onnx]'`` (onnxruntime, and onnx for the exporter).
``XMODAL_RUNTIME`` (what ``--runtime`` sets) overrides the default in a process: the
commands' models, a server's and a search's, load on it.

Example:
    >>> from xmodal.encoders import load_encoder
    >>> load_encoder("aisfx", runtime="cuda")
    Traceback (most recent call last):
    ...
    ValueError: runtime must be one of auto, torch, onnx, onnx-int8, got 'cuda'
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Literal, cast, get_args

Runtime = Literal["torch", "onnx", "onnx-int8"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
RuntimeChoice = Literal["auto", "torch", "onnx", "onnx-int8"]
CHOICES: tuple[str, ...] = get_args(RuntimeChoice)
RUNTIME_ENV = "XMODAL_RUNTIME"
"""Environment variable holding the default runtime (``auto`` when unset)."""


def default_runtime() -> RuntimeChoice:
    """The runtime ``load_encoder`` uses when none is passed: ``$XMODAL_RUNTIME`` or auto.

    Raises:
        ValueError: ``XMODAL_RUNTIME`` names no runtime.

    Example:
        >>> saved = os.environ.pop(RUNTIME_ENV, None)
        >>> default_runtime()
        'auto'
        >>> os.environ.update({RUNTIME_ENV: saved} if saved else {})
    """
    value = os.environ.get(RUNTIME_ENV, "").strip() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{RUNTIME_ENV}={value!r}: use one of {', '.join(CHOICES)}")
    return cast(RuntimeChoice, value)


def onnx_installed() -> bool:
    """Whether ONNX Runtime and the exporter's ``onnx`` are importable (extra ``onnx``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def resolve_runtime(choice: str, *, device: str = "cpu", dtype: Any = None) -> Runtime:
    """The runtime a choice means here: ``auto`` is ONNX Runtime on the CPU, without a dtype,
    when installed, else torch; any other choice is itself (checked by :func:`check_runtime`).

    Raises:
        ValueError: ``choice`` is no runtime.

    Example:
        >>> resolve_runtime("auto", device="cuda:0")
        'torch'
        >>> resolve_runtime("onnx-int8")
        'onnx-int8'
    """
    if choice not in CHOICES:
        raise ValueError(f"runtime must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice != "auto":
        return cast(Runtime, choice)
    usable = str(device) == "cpu" and dtype is None and onnx_installed()
    return "onnx" if usable else "torch"


def check_runtime(runtime: str, *, device: str = "cpu", dtype: Any = None) -> None:
    """Refuse a runtime that cannot run as asked, before any model loads.

    Raises:
        ValueError: an unknown runtime, or ONNX Runtime with a device other than the CPU or a
            dtype (the graphs are float32; ``onnxruntime`` here has the CPU provider only).

    Example:
        >>> check_runtime("onnx")
        >>> check_runtime("onnx", device="cuda:0")
        Traceback (most recent call last):
        ...
        ValueError: runtime='onnx' runs on the CPU; use device='cpu' or runtime='torch' for 'cuda:0'
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime != "torch" and str(device) != "cpu":
        raise ValueError(f"runtime={runtime!r} runs on the CPU; use device='cpu' or "
                         f"runtime='torch' for {device!r}")
    if runtime != "torch" and dtype is not None:
        raise ValueError(f"runtime={runtime!r} runs float32 graphs; leave dtype unset")


def use_runtime(encoder: Any, runtime: Runtime, *, threads: int | None = None) -> Any:
    """Switch a loaded tower's network to ``runtime`` (in place; returns the encoder).

    Args:
        encoder: An EfficientNet-Lite, aisfx or text-only sentence-transformers encoder.
        runtime: ``"torch"`` (nothing changes), ``"onnx"`` or ``"onnx-int8"``.
        threads: ONNX Runtime intra-op threads (default: ``torch.get_num_threads()``).

    Raises:
        ValueError: The encoder has no ONNX path (the message names those that do).
        MissingDependencyError: onnxruntime or onnx is not installed (extra ``onnx``).
        EncoderLoadError: A freshly exported graph disagrees with torch.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from xmodal.encoders import load_encoder
        >>> os.environ["XMODAL_ONNX_DIR"] = tempfile.mkdtemp()
        >>> enc = use_runtime(load_encoder("aisfx"), "onnx")
        >>> wave = np.sin(np.arange(44100, dtype=np.float32) / 7)
        >>> enc.graph.path.name.startswith("aisfx-fp32-"), enc.encode_audio([wave]).shape
        (True, (1, 512))
        >>> del os.environ["XMODAL_ONNX_DIR"]
    """
    check_runtime(runtime)
    if runtime == "torch":
        encoder.graph = None
        return encoder
    from .graphs import quantized_graph
    from .session import OnnxGraph
    from .towers import check_against_torch

    export, what = _exporter(encoder)
    cached, module, example = export(encoder)
    graph = OnnxGraph(cached.path, threads=threads)
    if cached.exported:
        check_against_torch(graph, module, example, graph.inputs, what)
    if runtime == "onnx-int8":
        graph = OnnxGraph(quantized_graph(cached.path).path, threads=threads)
    encoder.graph = graph
    return encoder


def _exporter(encoder: Any):
    from ..sentence_transformers import SentenceTransformerEncoder
    from ..towers import AisfxEncoder, EfficientNetLiteEncoder
    from . import towers

    name = encoder.card.name
    if isinstance(encoder, EfficientNetLiteEncoder):
        return towers.efficientnet_graph, name
    if isinstance(encoder, AisfxEncoder):
        return towers.aisfx_graph, name
    if isinstance(encoder, SentenceTransformerEncoder) and encoder.card.modalities == ("text",):
        if any(getattr(m, "include_prompt", True) is False for m in encoder.model):
            raise ValueError(f"{name}: its pooling leaves the prompt out, which the ONNX "
                             "path does not do; use runtime='torch'")
        return towers.text_graph, name
    raise ValueError(
        f"{name} ({encoder.card.family}) runs on torch only; ONNX Runtime serves "
        "efficientnet-lite0/lite2 (+classes), aisfx, minilm, mpnet, st: text models and the "
        "starters built on them"
    )
