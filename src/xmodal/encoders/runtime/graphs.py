"""Exported ONNX graphs, cached on disk: exported on first use, written atomically, checked by
digest on every load, keyed by the weights so a stale graph is never run.

A graph lives in :func:`cache_dir` (``$XMODAL_ONNX_DIR`` or ``~/.cache/xmodal/onnx``) as
``<name>-<kind>-<key>.onnx`` beside ``<same>.sha256``, the digest of its bytes. ``key`` hashes
what the graph is made of: the module's parameters and buffers (names, dtypes, shapes, bytes),
the export settings (inputs, outputs, dynamic axes, opset), torch's version and
:data:`EXPORT_VERSION`; so new weights or a new exporter get a new file, and the older files of
the same name and kind are removed once the new one is written. A file whose digest does not
match (cut short, edited, a crash between the two writes) is exported again.

Export uses torch's TorchScript-based exporter (``dynamo=False``): it needs only ``onnx``
beside torch, where the default ``torch.export`` path also needs ``onnxscript``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from ..._optional import require

EXPORT_VERSION = 1
"""Bumped when the way graphs are exported changes: every cached graph is then re-exported."""
OPSET = 17
"""ONNX opset of the exported graphs (onnxruntime >= 1.14 runs it)."""
GraphKind = Literal["fp32", "int8"]


@dataclass(frozen=True)
class GraphSpec:
    """How a module is exported: its input and output names and their dynamic axes."""

    name: str  # file-name stem, e.g. "efficientnet-lite0"
    inputs: tuple[str, ...]  # input names, in the module's argument order
    outputs: tuple[str, ...]  # output names
    dynamic_axes: dict[str, dict[int, str]]  # name → {axis: symbolic name}


@dataclass(frozen=True)
class CachedGraph:
    """A graph file ready to load, and whether this call wrote it."""

    path: Path
    exported: bool  # True: written by this call (a miss, or a stale or corrupt file replaced)


def cache_dir() -> Path:
    """Where exported graphs live: ``$XMODAL_ONNX_DIR`` or ``~/.cache/xmodal/onnx``.

    Example:
        >>> cache_dir().is_absolute()
        True
    """
    return Path(os.environ.get("XMODAL_ONNX_DIR", "~/.cache/xmodal/onnx")).expanduser()


def graph_key(module: torch.nn.Module, spec: GraphSpec) -> str:
    """Hex digest of what a graph is made of (see the module docstring).

    Example:
        >>> spec = GraphSpec("lin", ("x",), ("y",), {"x": {0: "batch"}})
        >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        >>> graph_key(a, spec) == graph_key(a, spec), graph_key(a, spec) == graph_key(b, spec)
        (True, False)
    """
    h = hashlib.sha256()
    settings = {"spec": [spec.inputs, spec.outputs, sorted(
        (k, sorted(v.items())) for k, v in spec.dynamic_axes.items())], "opset": OPSET,
        "torch": torch.__version__, "export": EXPORT_VERSION}
    h.update(json.dumps(settings, sort_keys=True).encode())
    for name, tensor in sorted({**dict(module.named_parameters()),
                                **dict(module.named_buffers())}.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:20]


def graph_path(name: str, kind: GraphKind, key: str) -> Path:
    """The cache file of a graph (``name`` made file-safe).

    Example:
        >>> graph_path("st:models/bge small", "fp32", "0123").name
        'st_models_bge_small-fp32-0123.onnx'
    """
    safe = "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)
    return cache_dir() / f"{safe}-{kind}-{key}.onnx"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def intact(path: Path) -> bool:
    """Whether ``path`` and its ``.sha256`` exist and agree (a graph safe to load)."""
    side = path.with_suffix(".sha256")
    if not (path.is_file() and side.is_file()):
        return False
    return side.read_text("utf-8").strip() == file_digest(path)


def cached_graph(path: Path, write: Callable[[Path], None]) -> CachedGraph:
    """``path`` if intact, else written by ``write(tmp)`` into a temporary file of the same
    folder, renamed into place (atomic), its digest written beside it, and the older graphs of
    the same name and kind removed.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo-fp32-1.onnx"
        >>> cached_graph(path, lambda tmp: tmp.write_bytes(b"graph")).exported, intact(path)
        (True, True)
        >>> cached_graph(path, lambda tmp: tmp.write_bytes(b"other")).exported
        False
    """
    if intact(path):
        return CachedGraph(path, exported=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        digest = file_digest(tmp)
        os.replace(tmp, path)
        _atomic_text(path.with_suffix(".sha256"), digest + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    stem, _, _ = path.stem.rpartition("-")
    for old in path.parent.glob(f"{stem}-*.onnx"):
        if old != path and old.stem.rpartition("-")[0] == stem:
            old.unlink(missing_ok=True)
            old.with_suffix(".sha256").unlink(missing_ok=True)
    return CachedGraph(path, exported=True)


def _atomic_text(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp_name, path)


def export_graph(module: torch.nn.Module, example: tuple[torch.Tensor, ...],
                 spec: GraphSpec) -> CachedGraph:
    """The fp32 ONNX graph of ``module`` (eval mode, CPU), from the cache or exported now.

    Args:
        module: The network to export; its outputs must not depend on Python control flow
            over the input's values (it is traced once, on ``example``).
        example: Example inputs, one per ``spec.inputs``.
        spec: Names and dynamic axes.

    Raises:
        MissingDependencyError: ``onnx`` is not installed (extra ``onnx``).

    Example:
        >>> import tempfile, os
        >>> os.environ["XMODAL_ONNX_DIR"] = tempfile.mkdtemp()
        >>> spec = GraphSpec("lin", ("x",), ("y",), {"x": {0: "batch"}, "y": {0: "batch"}})
        >>> lin = torch.nn.Linear(3, 2).eval()
        >>> first = export_graph(lin, (torch.zeros(1, 3),), spec)
        >>> first.exported, export_graph(lin, (torch.zeros(1, 3),), spec).exported
        (True, False)
        >>> del os.environ["XMODAL_ONNX_DIR"]
    """
    require("onnx", "onnx")  # the TorchScript exporter serialises through it
    path = graph_path(spec.name, "fp32", graph_key(module, spec))

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # deprecation and constant-folding notes
            torch.onnx.export(module, example, str(tmp), dynamo=False, opset_version=OPSET,
                              input_names=list(spec.inputs), output_names=list(spec.outputs),
                              dynamic_axes=spec.dynamic_axes, do_constant_folding=True)

    return cached_graph(path, write)


def quantized_graph(fp32: Path) -> CachedGraph:
    """The int8 dynamic quantisation of an fp32 graph, cached beside it.

    ``onnxruntime.quantization.quantize_dynamic``: int8 weights per output channel, activations
    quantised per batch at run time. Depthwise convolutions (one weight per channel: a shared
    scale is too coarse for them) and the first convolution (raw pixels or spectrogram in)
    stay fp32: quantising them took EfficientNet-Lite0's cosine to torch from 0.98 to 0.4–0.6
    here. Measure before use (``benchmarks/runtime.py``): on a CPU without fast int8
    convolutions the conv towers get slower, the transformers faster.

    Raises:
        MissingDependencyError: onnxruntime or onnx is not installed (extra ``onnx``).
    """
    onnx = require("onnx", "onnx")
    ort = require("onnxruntime", "onnx")
    quantization = require("onnxruntime.quantization", "onnx")
    name, _, key = fp32.stem.rpartition("-")
    name = name.removesuffix("-fp32")
    key = hashlib.sha256(f"{key}|{ort.__version__}|int8|{EXPORT_VERSION}".encode()).hexdigest()

    def write(tmp: Path) -> None:
        graph = onnx.load(str(fp32), load_external_data=False).graph
        convs = [n for n in graph.node if n.op_type == "Conv"]
        keep = [n.name for n in convs[:1]] + [
            n.name for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute)]
        logger = logging.getLogger()
        level = logger.level
        logger.setLevel(logging.ERROR)  # its advice to pre-process, printed on every call
        try:
            quantization.quantize_dynamic(str(fp32), str(tmp), per_channel=True,
                                          weight_type=quantization.QuantType.QInt8,
                                          nodes_to_exclude=keep)
        finally:
            logger.setLevel(level)

    return cached_graph(graph_path(name, "int8", key[:20]), write)
