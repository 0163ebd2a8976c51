"""Hugging Face Hub ids for every model family: ``ORG/NAME`` or ``ORG/NAME@REVISION``.

A spec's location (``hf-clip:LOCATION``, ``st:LOCATION``…) is a local folder when one exists
there, else a Hub id resolved through the Hugging Face cache with ``snapshot_download``: a cached
snapshot is used as it is, a missing one is downloaded, as ``from_pretrained`` does. Offline
mode (``offline=True``, the CLI's ``--offline``, or ``HF_HUB_OFFLINE=1`` set by the user) uses
the cache only and names the cache when the model is not there. Only safetensors weights are
fetched and loaded: pickled ``.bin``/``.pt`` files are never downloaded, and a repository that
has no safetensors weights is refused.

This module imports nothing heavy (``huggingface_hub`` only when a Hub id is resolved), so the
server can resolve its models at start without importing torch.

Example:
    >>> parse_hub_ref("BAAI/bge-small-en-v1.5@main")
    HubRef(repo_id='BAAI/bge-small-en-v1.5', revision='main')
    >>> parse_hub_ref("/models/clip") is None
    True
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .base import EncoderLoadError

HUB_PREFIXES = ("st", "hf-clip", "hf-siglip", "hf-clap")
"""Spec prefixes whose location may be a Hub id."""
ALLOW_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors", "*.tiktoken"]
"""What a snapshot fetches: configs, tokenizer files, safetensors weights (never pickles)."""
IGNORE_PATTERNS = ["open_clip_*", "onnx/*", "openvino/*", "*.fp16.safetensors"]
"""Other runtimes' copies of the weights, which the transformers loaders never read."""
_HUB_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[^\s@]+))?")
_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubRef:
    """A Hub model repository and an optional revision (branch, tag or commit)."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def parse_hub_ref(location: str) -> HubRef | None:
    """``ORG/NAME`` or ``ORG/NAME@REVISION`` as a :class:`HubRef`; None for anything else.

    Example:
        >>> parse_hub_ref("openai/clip-vit-base-patch32@refs/pr/1").revision
        'refs/pr/1'
        >>> parse_hub_ref("./models/clip") is None, parse_hub_ref("minilm") is None
        (True, True)
    """
    match = _HUB_ID.fullmatch(location.strip())
    if match is None or ".." in match["repo"] or "--" in match["repo"]:
        return None
    return HubRef(match["repo"], match["rev"])


def offline_reason(offline: bool = False) -> str | None:
    """Why the Hub is off limits (``offline=True`` or ``HF_HUB_OFFLINE``), or None when not.

    Example:
        >>> offline_reason(True)
        'offline=True (--offline)'
    """
    if offline:
        return "offline=True (--offline)"
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return f"{var}=1" + (" or --offline" if var == "HF_HUB_OFFLINE" else "")
    constants = sys.modules.get("huggingface_hub.constants")  # read by the library at import
    if constants is not None and getattr(constants, "HF_HUB_OFFLINE", False):
        return "HF_HUB_OFFLINE=1 (when huggingface_hub was imported)"
    return None


def hub_cache_dir() -> str:
    """The Hugging Face hub cache folder (``HF_HUB_CACHE``, else ``$HF_HOME/hub``)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def resolve_location(location: str | Path, *, prefix: str, offline: bool = False) -> Path:
    """The local folder behind a spec's location: itself, or a Hub id's cached snapshot.

    An existing path, or anything that is not a Hub id, is returned as a path (the family's
    loader says what is wrong with it); a Hub id is resolved with :func:`snapshot`.

    Example:
        >>> resolve_location("/models/clip", prefix="hf-clip")
        PosixPath('/models/clip')
    """
    folder = Path(location).expanduser()
    ref = None if folder.exists() else parse_hub_ref(str(location))
    return folder if ref is None else snapshot(ref, prefix=prefix, offline=offline)


def snapshot(ref: HubRef, *, prefix: str, offline: bool = False) -> Path:
    """The cached snapshot of ``ref``, downloaded first unless offline; safetensors only.

    Raises:
        EncoderLoadError: Offline and not cached (naming offline mode and the cache), an
            unknown repository or revision, an unreachable Hub, or no safetensors weights.
    """
    hub = _require_hub()
    from huggingface_hub import errors

    why = offline_reason(offline)
    label = f"{prefix}:{ref}"
    try:
        folder = hub.snapshot_download(
            ref.repo_id, revision=ref.revision, allow_patterns=ALLOW_PATTERNS,
            ignore_patterns=IGNORE_PATTERNS, local_files_only=why is not None)
    except errors.RevisionNotFoundError as exc:
        raise EncoderLoadError(f"{label}: the Hub repository {ref.repo_id!r} has no revision "
                               f"{ref.revision!r}") from exc
    except errors.RepositoryNotFoundError as exc:  # gated and private ones included
        raise EncoderLoadError(
            f"{label}: no local folder {ref} and no Hub model {ref.repo_id!r} (not found, or "
            "private/gated without a token: huggingface-cli login)") from exc
    except errors.LocalEntryNotFoundError as exc:
        raise EncoderLoadError(_not_cached(label, why, exc)) from exc
    except (errors.HfHubHTTPError, OSError) as exc:
        raise EncoderLoadError(f"{label}: could not download it from the Hub "
                               f"({exc.__class__.__name__}: {exc})") from exc
    return require_safetensors(Path(folder), label)


def require_safetensors(folder: Path, label: str) -> Path:
    """``folder`` when it holds safetensors weights; an error for pickle-only models."""
    if not any(folder.rglob("*.safetensors")):
        raise EncoderLoadError(
            f"{label}: the repository has no safetensors weights (only pickled .bin/.pt files, "
            "which xmodal never downloads or loads). Pin a revision that has them, e.g. the "
            "Hub's conversion pull request (ORG/NAME@refs/pr/N), or convert the weights to "
            "safetensors and load the local folder")
    return folder


def fetch_hub_models(specs: Iterable[str | None], *, offline: bool = False) -> list[Path]:
    """Resolve every Hub id among ``specs`` now (downloading unless offline), so that later
    loads with ``offline=True`` find them in the cache: what ``xmodal serve`` does at start.

    Example:
        >>> fetch_hub_models(["minilm", "hf-clip:/no/such/folder", None])
        []
    """
    folders = []
    for spec in dict.fromkeys(s for s in specs if s):
        prefix, sep, location = spec.partition(":")
        ref = parse_hub_ref(location) if sep and prefix in HUB_PREFIXES else None
        if ref is not None and not Path(location).expanduser().exists():
            folders.append(snapshot(ref, prefix=prefix, offline=offline))
    return folders


def _not_cached(label: str, why: str | None, exc: Exception) -> str:
    cache = hub_cache_dir()
    if why is not None:
        return (f"{label} is not in the Hugging Face cache ({cache}) and offline mode is on "
                f"({why}): run once online to download it, or point HF_HOME (or HF_HUB_CACHE) "
                "at a cache that holds it")
    return (f"{label}: the Hub could not be reached and the model is not in the Hugging Face "
            f"cache ({cache}): {exc}")


def _require_hub() -> ModuleType:
    from .._optional import require

    return require("huggingface_hub", "hf")
