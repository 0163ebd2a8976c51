"""Iconify icon sets from npm, rendered to PNG: Fluent Emoji (3D and flat) and Game Icons.

``@iconify-json/<name>/package/icons.json`` (under ``data_dir()/@iconify-json``) maps each
icon's key to an SVG ``body`` with optional ``left``/``top``/``width``/``height`` (defaults: 0,
0 and the set's ``width``/``height``); ``info.json`` names the author and licence (Fluent Emoji:
Microsoft, MIT; Game Icons: game-icons.net, CC-BY-3.0). Each body is wrapped in an SVG root and
rendered once with cairosvg to a square PNG on a transparent background, one file per icon under
``data_dir()/iconify/<collection>-<version>-<size>px/`` (written atomically when first asked for).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

from ._common import ImageText, Source, data_dir, require_path

Collection = Literal["fluent-emoji", "fluent-emoji-flat", "game-icons"]
VERSIONS = {"fluent-emoji": "1.2.7", "fluent-emoji-flat": "1.2.6", "game-icons": "1.2.4"}
# Skin-tone variants ("waving-hand-medium-dark"), dropped when the key without the tone and its
# whole tone family exist (game-icons' "fog-light" is a lamp beside "fog").
TONE = re.compile(r"-(?:light|medium-light|medium|medium-dark|dark|default)$")
# National flags; "flag-in-hole" (golf) and "flag-objective" are flags of other kinds.
NATIONAL_FLAG = re.compile(
    r"^flag-(?!in-hole$|objective$)|^(?:brazil|european|south-africa|usa)-flag$")
# Keys drawn the same as another key: Fluent's "grinning cat" is its "cat face" (the flat set
# has the very same body, the 3D one a near copy).
SAME_AS = {"grinning-cat": "cat-face"}
# A gradient with skewX/skewY(±90) in its transform (tan 90° is infinite).
SINGULAR_GRADIENT = re.compile(
    r'<(?:linear|radial)Gradient id="([^"]+)"[^>]*gradientTransform="[^"]*skew[XY]\(\s*-?90\s*\)')
POOL_FROM = 200  # render in 2 processes from this many missing icons on (with > 2 cores)
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
       'width="{size}" height="{size}" viewBox="{left} {top} {width} {height}">{body}</svg>')


def load_iconify(collection: Collection, *, limit: int | None = None, root: Path | None = None,
                 size: int = 128) -> Source[ImageText]:
    """One collection's icons, sorted by key, each rendered to a ``size``-px PNG.

    Caption = the key with '-' → ' ' ("rabbit face"); group = the emoji category ("Animals &
    Nature", from ``fluent-emoji-flat``'s ``metadata.json``, also used for the 3D set) or the
    collection's name where the set has none (game-icons). Dropped: skin-tone variants, national
    flags, icons the set marks hidden (deprecated), bodies identical to an earlier icon's, the
    Fluent "grinning cat" (drawn as its "cat face"), and plain aliases (another name for an
    icon); mirrored aliases ("backhand index pointing right") are kept. Only the first
    ``limit`` icons are rendered, each file once.

    Args:
        collection: ``"fluent-emoji"`` (3D), ``"fluent-emoji-flat"`` or ``"game-icons"``.
        limit: keep (and render) only the first ``limit`` items.
        root: the npm package folder holding ``icons.json`` (default
            ``data_dir()/@iconify-json/<collection>/package``).
        size: width and height of the PNGs in pixels.

    Example:
        >>> src = load_iconify("game-icons", limit=2)
        >>> [(i.caption, i.group, i.license) for i in src.items]
        [('3d glasses', 'game-icons', 'CC-BY-3.0'), ('3d hammer', 'game-icons', 'CC-BY-3.0')]
        >>> src.items[0].path.name, src.items[0].origin
        ('3d-glasses.png', 'npm @iconify-json/game-icons@1.2.4: 3d-glasses')
    """
    if collection not in VERSIONS:
        raise ValueError(f"unknown iconify collection {collection!r}; one of {sorted(VERSIONS)}")
    version, info, icons, default = _read(collection, root)
    svgs = select_icons(icons, default)
    if limit is not None:
        svgs = dict(list(svgs.items())[:limit])
    folder = data_dir() / "iconify" / f"{collection}-{version}-{size}px"
    render_missing(folder, svgs, size)
    groups = _categories(collection, root)
    parents = {key: alias.get("parent", "") for key, alias in icons.get("aliases", {}).items()}
    licence = info.get("license", {}).get("spdx", "")
    package = f"@iconify-json/{collection}@{version}"
    items = tuple(
        ImageText(path=folder / f"{key}.png", caption=key.replace("-", " "), tags=(),
                  group=groups.get(key) or groups.get(parents.get(key, ""), collection),
                  license=licence,
                  origin=f"npm {package}: {key}")
        for key in svgs)
    author = info.get("author", {}).get("name", "")
    return Source(name=collection, items=items, origin=f"npm {package} ({author})",
                  license=licence)


def load_fluent_emoji(*, limit: int | None = None, root: Path | None = None,
                      size: int = 128) -> Source[ImageText]:
    """Microsoft Fluent Emoji, 3D style (MIT): :func:`load_iconify` ``("fluent-emoji")``.

    Example:
        >>> e = load_fluent_emoji(limit=1).items[0]
        >>> e.caption, e.group
        ('1st place medal', 'Activities')
    """
    return load_iconify("fluent-emoji", limit=limit, root=root, size=size)


def load_fluent_emoji_flat(*, limit: int | None = None, root: Path | None = None,
                           size: int = 128) -> Source[ImageText]:
    """Microsoft Fluent Emoji, flat style (MIT): :func:`load_iconify` ``("fluent-emoji-flat")``.

    Example:
        >>> load_fluent_emoji_flat(limit=2).items[1].caption
        '2nd place medal'
    """
    return load_iconify("fluent-emoji-flat", limit=limit, root=root, size=size)


def load_game_icons(*, limit: int | None = None, root: Path | None = None,
                    size: int = 128) -> Source[ImageText]:
    """game-icons.net silhouettes (CC-BY-3.0): :func:`load_iconify` ``("game-icons")``.

    Example:
        >>> load_game_icons(limit=3).items[2].caption
        '3d meeple'
    """
    return load_iconify("game-icons", limit=limit, root=root, size=size)


def select_icons(icons: dict[str, Any], default: dict[str, int]) -> dict[str, str]:
    """The kept icons of an ``icons.json``, sorted by key: key → a complete SVG document.

    ``size`` is left as a ``{size}`` field for :func:`render_missing` to fill in.

    Example:
        >>> data = {"icons": {"hand": {"body": "<g/>"}, "hand-dark": {"body": "<b/>"},
        ...                   "hand-medium-dark": {"body": "<c/>"}, "flag-fr": {"body": "<f/>"},
        ...                   "old": {"body": "<o/>", "hidden": True}},
        ...         "aliases": {"hand-left": {"parent": "hand", "hFlip": True}}}
        >>> sorted(select_icons(data, {"width": 32, "height": 32}))
        ['hand', 'hand-left']
    """
    entries = dict(icons["icons"])
    for key, alias in icons.get("aliases", {}).items():
        parent = entries.get(alias.get("parent", ""))
        flips = alias.get("hFlip", False), alias.get("vFlip", False)
        if parent is None or not any(flips) or alias.get("rotate"):
            continue  # another name for an icon, or a rotation: skip
        entries[key] = {**parent, **{k: v for k, v in alias.items() if k != "parent"}}
    keys = set(entries)
    out: dict[str, str] = {}
    seen: set[str] = set()
    for key in sorted(entries):
        icon = entries[key]
        base = TONE.sub("", key)
        tone = base != key and base in keys and (
            key.endswith("-default") or f"{base}-medium-dark" in keys)
        if icon.get("hidden") or NATIONAL_FLAG.search(key) or tone or SAME_AS.get(key) in keys:
            continue
        box = {k: icon.get(k, default.get(k, 0)) for k in ("left", "top", "width", "height")}
        body = _drop_singular_gradients(icon["body"])
        if icon.get("hFlip") or icon.get("vFlip"):
            sx, sy = (-1, 1) if icon.get("hFlip") else (1, -1)
            tx = 2 * box["left"] + box["width"] if sx < 0 else 0
            ty = 2 * box["top"] + box["height"] if sy < 0 else 0
            body = f'<g transform="translate({tx} {ty}) scale({sx} {sy})">{body}</g>'
        svg = SVG.format(size="{size}", body=body.replace("{", "{{").replace("}", "}}"), **box)
        if svg in seen:  # the same drawing under another name (flat "grinning cat" = "cat face")
            continue
        seen.add(svg)
        out[key] = svg
    return out


def _drop_singular_gradients(body: str) -> str:
    """``body`` without paint from gradients whose transform skews by 90° (not invertible).

    Browsers paint nothing with such a gradient; cairo fails on it ("out of memory"). Fluent
    Emoji 3D's "umbrella" has one.
    """
    for match in SINGULAR_GRADIENT.finditer(body):
        body = body.replace(f"url(#{match.group(1)})", "none")
    return body


def render_missing(folder: Path, svgs: dict[str, str], size: int) -> None:
    """Render each ``key`` → SVG to ``folder/<key>.png`` unless the file is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(str(folder / f"{key}.png"), svg.format(size=size)) for key, svg in svgs.items()
            if not (folder / f"{key}.png").is_file()]
    if len(todo) < POOL_FROM or (os.cpu_count() or 1) <= 2:  # 2 shared cores: no gain
        _render_all(todo)
        return
    chunks = [todo[i::8] for i in range(8)]  # interleaved: big and small bodies mix
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_render_all, chunks))


def _render_all(jobs: list[tuple[str, str]]) -> None:
    import cairosvg  # the project's SVG renderer (an optional dependency of data loading)

    for path, svg in jobs:
        fd, tmp = tempfile.mkstemp(suffix=".png.tmp", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(cairosvg.svg2png(bytestring=svg.encode("utf-8")))
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _root(collection: str, root: Path | None) -> Path:
    return root or data_dir() / "@iconify-json" / collection / "package"


def _read(collection: str, root: Path | None
          ) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, int]]:
    """The package's version, ``info``, ``icons.json`` and default icon box."""
    root = _root(collection, root)
    version = VERSIONS[collection]
    install = (f"npm pack @iconify-json/{collection}@{version} and untar it into "
               f"{data_dir() / '@iconify-json' / collection}")
    path = require_path(root / "icons.json", f"Iconify {collection}", install)
    icons = json.loads(path.read_text(encoding="utf-8"))
    package = root / "package.json"
    if package.is_file():
        version = json.loads(package.read_text(encoding="utf-8")).get("version", version)
    info_path = root / "info.json"
    info = (json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file()
            else icons.get("info", {}))
    default = {"left": icons.get("left", 0), "top": icons.get("top", 0),
               "width": icons.get("width", 16), "height": icons.get("height", 16)}
    return version, info, icons, default


def _categories(collection: str, root: Path | None) -> dict[str, str]:
    """Key → category from ``metadata.json``; the 3D Fluent set borrows the flat set's."""
    here = _root(collection, root)
    candidates = [here / "metadata.json"]
    if collection == "fluent-emoji":
        candidates.append(here.parent.parent / "fluent-emoji-flat" / "package" / "metadata.json")
    for path in candidates:
        if path.is_file():
            categories = json.loads(path.read_text(encoding="utf-8")).get("categories", {})
            if categories:
                return {key: name for name, keys in categories.items() for key in keys}
    return {}
