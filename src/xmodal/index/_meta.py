"""Collection metadata of the local backends: one JSON file per collection, written atomically.

An index folder holds ``xmodal-index.json`` (which backend owns the folder) and one sub-folder
per collection with ``collection.json`` (name, dim, model, modality, card, calibration,
quantization). Every
write goes to a temporary file in the same folder, is fsynced, then ``os.replace``-d over the
old file, so a kill leaves either the old or the new file, never a torn one.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_json_atomic(d / "x.json", {"a": 1})
    >>> read_json(d / "x.json")
    {'a': 1}
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from xmodal.index.quantization import Quantization, check_quantization
from xmodal.index.types import CollectionMismatchError, CollectionNotFoundError

INDEX_FILE = "xmodal-index.json"
COLLECTION_FILE = "collection.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def check_name(name: str) -> str:
    """Return ``name`` if usable as a collection name (letters, digits, ``_.-``; not leading)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"collection name {name!r}: use 1-128 letters, digits, '_', '.', '-' "
            "(not first; names starting with '_' are reserved)"
        )
    return name


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (tmp file + fsync + os.replace)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def claim_folder(root: Path, backend: str) -> None:
    """Create ``root`` if needed and mark it as ``backend``'s; refuse another backend's folder."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / INDEX_FILE
    if marker.exists():
        owner = read_json(marker).get("backend")
        if owner != backend:
            raise ValueError(f"{root} is a {owner!r} index, not {backend!r}")
    else:
        write_json_atomic(marker, {"backend": backend, "format": 1})


def new_meta(
    name: str,
    *,
    dim: int,
    model: str,
    modality: str,
    card: dict[str, Any] | None,
    calibration: dict[str, Any] | None,
    quantization: Quantization = "none",
) -> dict[str, Any]:
    """The metadata dict of a new collection (validated)."""
    if not isinstance(dim, int) or dim <= 0:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not model or not isinstance(model, str):
        raise ValueError("model must be a non-empty string")
    if not modality or not isinstance(modality, str):
        raise ValueError("modality must be a non-empty string")
    meta = {
        "name": check_name(name),
        "dim": dim,
        "model": model,
        "modality": modality,
        "card": dict(card or {}),
        "calibration": None if calibration is None else dict(calibration),
        "quantization": check_quantization(quantization),
    }
    json.dumps(meta, allow_nan=False)  # card and calibration must be JSON
    return meta


def check_same(meta: dict[str, Any], *, dim: int, model: str, modality: str) -> None:
    """Refuse (409-style) when an existing collection differs in dim, model or modality."""
    ours = (meta["model"], meta["modality"], meta["dim"])
    theirs = (model, modality, dim)
    if ours != theirs:
        raise CollectionMismatchError(
            f"collection {meta['name']!r} holds model {ours[0]!r}, modality {ours[1]!r}, "
            f"dim {ours[2]}; asked for model {model!r}, modality {modality!r}, dim {dim}"
        )


def check_same_quantization(name: str, stored: Quantization, asked: Quantization | None) -> None:
    """Refuse (409-style) asking an existing collection for another quantisation than its
    ``stored`` one (``asked`` None: any; the setting is fixed when the collection is created).

    Example:
        >>> check_same_quantization("c", "scalar", None)
        >>> check_same_quantization("c", "scalar", "binary")
        Traceback (most recent call last):
        ...
        xmodal.index.types.CollectionMismatchError: collection 'c' is stored with quantization \
'scalar'; asked for 'binary' (a collection keeps its setting: drop it and index again to change it)
    """
    if asked is not None and check_quantization(asked) != stored:
        raise CollectionMismatchError(
            f"collection {name!r} is stored with quantization {stored!r}; asked for "
            f"{asked!r} (a collection keeps its setting: drop it and index again to change it)"
        )


def list_collections(root: Path) -> list[str]:
    """Names of the collections in a local index folder, sorted."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / COLLECTION_FILE).exists())


def load_meta(root: Path, name: str) -> dict[str, Any]:
    """Read a collection's metadata, or raise :class:`CollectionNotFoundError`."""
    path = root / name / COLLECTION_FILE
    if not _NAME.match(name) or not path.exists():
        raise CollectionNotFoundError(f"no collection {name!r} in {root}")
    return read_json(path)


def fresh_collection_folder(root: Path, name: str) -> Path:
    """An empty folder for a new collection (leftovers of a creation killed before its
    metadata was written are removed first)."""
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder
