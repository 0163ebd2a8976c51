"""Options shared by the commands that load encoders (``index``, ``search``, ``serve``,
``mcp``): ``--device``, ``--batch-size``, ``--offline`` and ``--runtime``, defined once.

``--device`` is checked while the command line is parsed, so a device that is absent stops the
command (exit 2) before any model loads. The default is ``cpu``: the same on every machine, and
a server does not take a GPU it was not told to; ``auto`` picks CUDA, else MPS, else the CPU.

Example:
    >>> resolve_device("cpu"), resolve_device("CPU")
    ('cpu', 'cpu')
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'tpu': use cpu, cuda, cuda:N, mps or auto
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

DEFAULT_DEVICE = "cpu"

OFFLINE_HELP = ("Use the Hugging Face cache only, never the network (as HF_HUB_OFFLINE=1): a "
                "Hub model that is not cached is an error.")


def resolve_device(device: str) -> str:
    """The torch device ``device`` names, checked to be present (``auto``: the best one).

    Args:
        device: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.

    Returns:
        The device to load models on (``auto`` resolved to ``cuda``, ``mps`` or ``cpu``).

    Raises:
        ValueError: an unknown name, or a device this machine lacks (the message says which
            torch check failed).
    """
    name = device.strip().lower()
    if name == "cpu":
        return name  # no torch import: the common case stays fast
    kind, colon, ordinal = name.partition(":")
    if kind not in ("cuda", "mps", "auto") or (colon and not (kind == "cuda"
                                                              and ordinal.isdigit())):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto")
    import torch

    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if kind == "mps":
        if not mps:
            raise ValueError("MPS is not available (torch.backends.mps.is_available() is False)")
        return name
    if not torch.cuda.is_available():
        raise ValueError("CUDA is not available (torch.cuda.is_available() is False)")
    if colon and int(ordinal) >= torch.cuda.device_count():
        raise ValueError(f"{device}: this machine has {torch.cuda.device_count()} CUDA "
                         "device(s)")
    return name


def check_device(value: str) -> str:
    """``--device``'s callback: :func:`resolve_device`; a refusal ends the command (exit 2,
    ``error: ...`` on stderr) while its line is parsed, before any model loads."""
    try:
        return resolve_device(value)
    except ValueError as exc:
        typer.echo(f"error: --device: {exc}", err=True)
        raise typer.Exit(2) from exc


def go_offline(offline: bool) -> bool:
    """``--offline``'s callback: set ``HF_HUB_OFFLINE=1`` before any Hugging Face library is
    imported (they read it at import), for this process and the model loads in it."""
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    return offline


def pick_runtime(value: str | None) -> str | None:
    """``--runtime``'s callback: the models of this process load on ``value``
    (``XMODAL_RUNTIME``, read by ``load_encoder``); ONNX Runtime missing for ``onnx``, or a
    name that is not a runtime, ends the command (exit 2) before any model loads. Not given,
    the environment's choice stands (else ``auto``)."""
    from xmodal._optional import MissingDependencyError, require
    from xmodal.encoders.runtime import CHOICES, RUNTIME_ENV

    if value is None:
        return None
    try:
        if value not in CHOICES:
            raise ValueError(f"use one of {', '.join(CHOICES)}, not {value!r}")
        if value.startswith("onnx"):
            require("onnxruntime", "onnx")
    except (ValueError, MissingDependencyError) as exc:
        typer.echo(f"error: --runtime: {exc}", err=True)
        raise typer.Exit(2) from exc
    os.environ[RUNTIME_ENV] = value
    return value


DeviceOption = Annotated[str, typer.Option(
    "--device", callback=check_device, help="Torch device of the models: cpu (default), cuda, "
    "cuda:N, mps, or auto (cuda, else mps, else cpu); an absent one is an error.")]
BatchOption = Annotated[int | None, typer.Option(
    "--batch-size", min=1, help="Items per encoder forward pass (default: the encoders' own, "
    "32).")]
OfflineOption = Annotated[bool, typer.Option("--offline", callback=go_offline, help=OFFLINE_HELP)]
RuntimeOption = Annotated[str | None, typer.Option(
    "--runtime", callback=pick_runtime, show_default=False, help="Where the packaged towers "
    "run: auto (default: ONNX Runtime when installed, pip install 'xmodal[onnx]', for the "
    "towers that have a graph, on the CPU; torch otherwise), torch, onnx (the same vectors to "
    "cosine 0.9999) or onnx-int8 (int8 weights: see benchmarks/runtime.py for its retrieval "
    "cost).")]
RerankOfferOption = Annotated[list[str] | None, typer.Option(
    "--rerank", help="A cross-encoder (folder or Hub id ORG/NAME[@REV]) that requests may "
    "pick by its spec or name as rerank (repeatable; loaded at start). Without it a request's "
    "rerank is refused (400).")]
