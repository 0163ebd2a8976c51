"""Folder indexing for the served API: paths confined to one root, scanned, and the model
that encodes each modality.

``xmodal serve --root DIR`` lets clients index files under ``DIR`` and nowhere else. A path is
given relative to the root (or absolute, when it lies inside the root) and refused, with a
message naming it, when it:

- has a ``..`` component (even one that would stay inside the root);
- is, or passes through, a symbolic link (each component is checked with ``lstat``, from the
  root down: a link inside the root may point anywhere, so none is followed);
- lies outside the root (an absolute path elsewhere);
- does not exist.

What :func:`confine` returns is checked again after the scan (:func:`inside`): the scan resolves
the folder it is given, so a component swapped for a link between the check and the scan cannot
lead it out of the root unnoticed.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> (root / "photos").mkdir()
    >>> confine(root, "photos") == root / "photos"
    True
    >>> confine(root, "../etc")
    Traceback (most recent call last):
    ...
    xmodal.api.limits.BadInput: '../etc': a path may not contain '..'
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from xmodal.api.limits import BadInput, IndexingDisabled, InputTooLarge

MAX_INDEX_PATHS = 100
"""Most paths one ``POST /index`` may name (more: 413, like every other batch limit)."""


def index_root(root: str | os.PathLike[str]) -> Path:
    """The root folder as the server keeps it: resolved once (the operator named it).

    Raises:
        ValueError: it is not an existing folder.
    """
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(f"--root {str(root)!r} is not a folder")
    return path.resolve()


def require_root(root: Path | None) -> Path:
    """The configured root, or :class:`IndexingDisabled` (403) saying how to configure one."""
    if root is None:
        raise IndexingDisabled("folder indexing is off: start the server with --root DIR "
                               "(run_serve(root=...)) to allow POST /index under DIR")
    return root


def confine(root: Path, given: str) -> Path:
    """The absolute path of ``given`` inside ``root`` (see the module docstring).

    Args:
        root: The resolved root folder (:func:`index_root`).
        given: A path relative to the root, or an absolute one inside it.

    Raises:
        BadInput: the path is refused (the message names it).
    """
    if not isinstance(given, str) or not given or "\0" in given:
        raise BadInput(f"{given!r}: a path must be a non-empty string without NUL bytes")
    path = Path(given)
    if ".." in path.parts:
        raise BadInput(f"{given!r}: a path may not contain '..'")
    rel = _relative(root, path, given)
    current = root
    for part in rel.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            raise BadInput(f"{given!r}: no such file or folder under the root") from None
        except OSError as exc:
            raise BadInput(f"{given!r}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISLNK(mode):
            raise BadInput(f"{given!r}: {current.relative_to(root)} is a symbolic link "
                           "(links are never followed)")
    if not inside(root, Path(os.path.realpath(current))):
        raise BadInput(f"{given!r}: outside the root")  # unreachable without a race
    return current


def confine_all(root: Path, paths: Sequence[str]) -> list[Path]:
    """:func:`confine` every path of one request (1 to :data:`MAX_INDEX_PATHS` of them)."""
    if not paths:
        raise BadInput("give at least one path to index")
    if len(paths) > MAX_INDEX_PATHS:
        raise InputTooLarge(f"{len(paths)} paths in one call; the limit is {MAX_INDEX_PATHS}")
    return [confine(root, p) for p in paths]


def inside(root: Path, path: Path) -> bool:
    """Whether an absolute ``path`` is ``root`` or below it (lexically)."""
    return path == root or path.is_relative_to(root)


def _relative(root: Path, path: Path, given: str) -> Path:
    if not path.is_absolute():
        return path
    norm = Path(os.path.normpath(path))
    if inside(root, norm):
        return norm.relative_to(root)
    raise BadInput(f"{given!r}: outside the root (an absolute path must lie under {root})")


def scan_confined(root: Path, targets: Sequence[Path]) -> tuple[list[Any], list[Any]]:
    """Scan confined paths: ``(files, skipped)``; a file found outside ``root`` (a race with
    the checks of :func:`confine`) is skipped with that reason, never read."""
    from xmodal.data.corpus import scan_corpus
    from xmodal.data.problems import ItemProblem

    scan = scan_corpus(targets)
    files, skipped = [], list(scan.skipped)
    for f in scan.files:
        if inside(root, f.path):
            files.append(f)
        else:
            skipped.append(ItemProblem(index=len(skipped), item=str(f.path),
                                       reason=f"outside the root {root}: not read"))
    return files, skipped


def document_models(infos: Iterable[Any]) -> dict[str, str]:
    """The model per document modality: the one of the index's collection of that modality
    (for text: a collection whose model stores no image or audio, i.e. not a caption
    collection; the first by name when several), else
    :data:`~xmodal.commands.index.DEFAULT_MODELS`'s."""
    from xmodal.commands.index import DEFAULT_MODELS

    infos = sorted(infos, key=lambda i: i.name)
    media = {i.model for i in infos if i.modality != "text"}
    models = dict(DEFAULT_MODELS)
    for modality in models:
        found = [i.model for i in infos if i.modality == modality
                 and (modality != "text" or i.model not in media)]
        if found:
            models[modality] = found[0]
    return models


def load_encoders(modalities: Iterable[str], models: dict[str, str],
                  load: Callable[[str], Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The encoder of each modality, and why the others are missing: ``{ingest's skip reason
    ("no encoder for audio"): the same with the load error}`` (their files are skipped)."""
    encoders, why = {}, {}
    for modality in sorted(modalities):
        try:
            encoders[modality] = load(models[modality])
        except Exception as exc:  # a model that will not load: only its files are skipped
            why[f"no encoder for {modality}"] = (f"no encoder for {modality} ({models[modality]}"
                                                 f" would not load: {exc})")
    return encoders, why


def serving_loader(index: Any, router_model: str | None, *, device: str = "cpu",
                   batch_size: int | None = None) -> Callable[[str], Any]:
    """:func:`~xmodal.encoders.registry.serving_loader` for the models of ``index``'s
    collections and the router's: their Hub models are fetched now, at the server's start
    (``index`` is closed when one of them cannot be had). The models load on ``device`` and
    encode ``batch_size`` items per forward pass (None: their own default)."""
    from xmodal.encoders.batch_size import with_batch_size
    from xmodal.encoders.registry import serving_loader as load_at_start

    try:
        specs = [*(i.model for i in index.collections()), router_model]
        return with_batch_size(load_at_start(specs, device=device), batch_size)
    except BaseException:
        index.close()
        raise
