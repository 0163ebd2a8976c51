"""Checkpoints: everything a run needs to continue as if it had never stopped.

A checkpoint is a folder ``RUN/checkpoints/step-00000100/`` holding only safetensors and JSON
(never a pickle):

- ``model.safetensors``: the trained module's state (for a LiT model: heads and scale);
- ``loss.safetensors``: the loss's parameters (learnt temperature, SigLIP bias);
- ``optimizer.safetensors`` + ``state.json["optimizer_groups"]``: AdamW's moments and groups;
- ``rng.safetensors``: torch's CPU (and CUDA) generator states, for dropout;
- ``state.json``: the step, the data position (epoch, batch), the LR scheduler, the config.

The folder is written under a temporary name and renamed into place, so a kill while saving
leaves the previous checkpoint intact and never a half-written one. Batch order, augmentation
and synthetic negatives are functions of ``(seed, epoch/step)``, so they need no saved state.

Example:
    >>> import tempfile, torch
    >>> run = Path(tempfile.mkdtemp())
    >>> net = torch.nn.Linear(3, 2)
    >>> opt = torch.optim.AdamW(net.parameters(), lr=0.1)
    >>> net(torch.ones(1, 3)).sum().backward(); opt.step()
    >>> path = save_checkpoint(run, 1, module=net, optimizer=opt, state={"position": [0, 1]})
    >>> net2 = torch.nn.Linear(3, 2)
    >>> opt2 = torch.optim.AdamW(net2.parameters(), lr=0.1)
    >>> got = load_checkpoint(latest_checkpoint(run), module=net2, optimizer=opt2)
    >>> got["step"], torch.equal(net.weight, net2.weight)
    (1, True)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

PREFIX = "step-"


def checkpoint_dir(run: str | Path) -> Path:
    """Where a run keeps its checkpoints."""
    return Path(run).expanduser() / "checkpoints"


def latest_checkpoint(run: str | Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    folder = checkpoint_dir(run)
    if not folder.is_dir():
        return None
    done = sorted(p for p in folder.glob(f"{PREFIX}*") if (p / "state.json").is_file())
    return done[-1] if done else None


def save_checkpoint(
    run: str | Path,
    step: int,
    *,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: nn.Module | None = None,
    scheduler: Any = None,
    state: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``step`` atomically; keep the newest ``keep`` checkpoints.

    Args:
        run: The run folder.
        step: Optimiser steps done.
        module: The trained module (its whole ``state_dict``).
        optimizer: Its optimiser.
        loss: The loss module (learnable temperature / bias), if any.
        scheduler: An LR scheduler with ``state_dict`` (JSON-able), if any.
        state: More JSON-able state (data position, config, monitor figures).
        keep: Newest checkpoints to keep (older ones are deleted after this one is complete).

    Returns:
        The checkpoint folder.
    """
    import safetensors.torch

    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:08d}"
    tmp = folder / f".tmp-{PREFIX}{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save = safetensors.torch.save_file
    save(_tensors(module.state_dict()), str(tmp / "model.safetensors"))
    if loss is not None:
        save(_tensors(loss.state_dict()), str(tmp / "loss.safetensors"))
    opt_tensors, opt_json = _split_optimizer(optimizer.state_dict())
    save(opt_tensors, str(tmp / "optimizer.safetensors"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"cuda{i}"] = s
    save(rng, str(tmp / "rng.safetensors"))
    meta = {
        "step": step,
        "optimizer": opt_json,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        **(state or {}),
    }
    (tmp / "state.json").write_text(json.dumps(meta, indent=1, default=_json_default) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    done = sorted(p for p in folder.glob(f"{PREFIX}*") if (p / "state.json").is_file())
    for old in done[: max(0, len(done) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(
    path: str | Path,
    *,
    module: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    loss: nn.Module | None = None,
    scheduler: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restore a checkpoint into live objects; returns its ``state.json`` contents.

    Raises:
        FileNotFoundError: Not a complete checkpoint folder.
        ValueError: The saved tensors do not match the module (another model or config).
    """
    import safetensors.torch

    folder = Path(path).expanduser()
    if not (folder / "state.json").is_file():
        raise FileNotFoundError(f"{folder} is not a complete checkpoint (no state.json)")
    meta = json.loads((folder / "state.json").read_text("utf-8"))
    _load_into(module, safetensors.torch.load_file(str(folder / "model.safetensors")), folder)
    if loss is not None and (folder / "loss.safetensors").is_file():
        _load_into(loss, safetensors.torch.load_file(str(folder / "loss.safetensors")), folder)
    if optimizer is not None:
        tensors = safetensors.torch.load_file(str(folder / "optimizer.safetensors"))
        optimizer.load_state_dict(_join_optimizer(tensors, meta["optimizer"]))
    if scheduler is not None and meta.get("scheduler") is not None:
        scheduler.load_state_dict(meta["scheduler"])
    if restore_rng:
        rng = safetensors.torch.load_file(str(folder / "rng.safetensors"))
        torch.set_rng_state(rng["cpu"])
        cuda = [rng[k] for k in sorted(rng) if k.startswith("cuda")]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    return meta


def _load_into(module: nn.Module, state: dict[str, torch.Tensor], folder: Path) -> None:
    expected = module.state_dict()
    if set(state) != set(expected):
        missing = sorted(set(expected) - set(state))[:5]
        extra = sorted(set(state) - set(expected))[:5]
        raise ValueError(
            f"checkpoint {folder} does not match the model: missing {missing}, unexpected "
            f"{extra}; was it written by another model or config?"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise ValueError(f"checkpoint {folder}: {key} has shape {tuple(tensor.shape)}, "
                             f"the model expects {tuple(expected[key].shape)}")
    module.load_state_dict(state)


def _tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state → (tensors by "state.<param>.<name>", JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for pid, entries in rest.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(entries)
    return {"state": state, "param_groups": rest["param_groups"]}


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint's state.json")
