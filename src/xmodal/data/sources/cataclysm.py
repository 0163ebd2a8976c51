"""Cataclysm: Dark Days Ahead pixel-art sprites with the game's names and descriptions.

Debian ``cataclysm-dda-data`` 0.F-3-9 ships ten graphical tilesets under
``usr/share/games/cataclysm-dda/gfx/<tileset>/`` (a ``tile_config.json`` plus PNG sheets of
10–128 px sprites; ``ASCIITileset`` is text glyphs and is skipped) and the game's objects under
``json/**/*.json``. Each tileset draws the same objects in its own style, so one concept
("gallon jug", "tabby cat") comes in up to ten styles. Sprites are cut from the sheets, cropped
to their opaque pixels, upscaled with nearest-neighbour by a whole factor and padded to a
transparent square, and written once per tileset under
``data_dir()/cataclysm/<version>-<tileset>-<size>px/`` with a ``manifest.json``.
Everything is CC-BY-SA-3.0 (the copyright file's ``Files: *``; no tileset has its own terms).
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from ._cataclysm_names import JSON_DIR, Entry, load_entries
from ._common import ImageText, Source, build_once, data_dir, require_deb, require_path

PKG, VERSION = "cataclysm-dda-data", "0.F-3-9"
GFX_DIR = "usr/share/games/cataclysm-dda/gfx"
LICENSE = "CC-BY-SA-3.0"
SKIP_TILESETS = ("ASCIITileset",)  # letters on a colour key, not pictures
MIN_OPAQUE = 0.06  # share of a sprite cell's pixels that must be opaque
SEASON = re.compile(r"_season_(spring|summer|autumn|winter)$")
SEASON_RANK = {"": 0, "summer": 1, "spring": 2, "autumn": 3, "winter": 4}
MANIFEST = "manifest.json"


def load_cataclysm(*, tilesets: tuple[str, ...] | None = None, limit: int | None = None,
                   root: Path | None = None, size: int = 128,
                   caption: Literal["name", "rich"] = "name") -> Source[ImageText]:
    """Every named everyday sprite of the chosen tilesets, ordered by tileset, then game id.

    Kept: items (food, tools, clothing, guns, books, containers), furniture, terrain features
    (trees, doors, pumps), vehicle parts that are things (seats, wheels, lights, tanks) and
    real-world animals; dropped: monsters (zombies, mutants, giant insects, fungal, robots,
    nether, fantasy), floors, walls and ground, overlays, fields, UI, ammunition and magazines
    named by calibre. A sprite with under 6 % opaque pixels is dropped; a picture that a tileset
    uses for differently named objects (the generic book, the liquid puddle) is dropped, and of
    several sprites with one name in a tileset only the first id's is kept.

    Caption = the game's name ("gallon jug"), or with ``caption="rich"`` "name — description";
    tags = ``(description,)`` (empty when the game has none); group = the object's kind:
    "food", "tool", "item", "clothing", "gun", "ammo", "book", "furniture", "terrain", "trap",
    "vehicle part" or "animal". Origin names the sheet and the sprite's index in it.

    Args:
        tilesets: folder names under ``gfx/`` ("ChibiUltica", "MshockXotto+"); default: all
            that parse (:func:`cataclysm_tilesets`). Each is built on first use (seconds).
        limit: keep only the first ``limit`` items (later tilesets are then not built).
        root: the unpacked package (default ``deb_root("cataclysm-dda-data")``).
        size: side of the square PNGs, in pixels.
        caption: ``"name"`` or ``"rich"`` (name, a dash and the description).

    Example:
        >>> src = load_cataclysm(tilesets=("ChibiUltica",), caption="rich")
        >>> jug = next(item for item in src.items if item.origin.endswith("(jug_plastic)"))
        >>> jug.caption[:60], jug.group, jug.license
        ('gallon jug — A standard plastic jug used for milk and househ', 'item', 'CC-BY-SA-3.0')
        >>> jug.origin
        'Debian cataclysm-dda-data 0.F-3-9: gfx/ChibiUltica/small.png#465 (jug_plastic)'
    """
    root = _package_root(root)
    names = cataclysm_tilesets(root=root) if tilesets is None else tilesets
    items: list[ImageText] = []
    for tileset in names:
        config = require_path(root / GFX_DIR / tileset / "tile_config.json",
                              f"Cataclysm DDA tileset {tileset}", _install_hint())
        folder = data_dir() / "cataclysm" / f"{VERSION}-{tileset}-{size}px"
        build_once(folder, lambda tmp, c=config: _build(root, c, size, tmp))
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        for entry in manifest["items"]:
            text = entry["name"]
            if caption == "rich" and entry["description"]:
                text = f"{text} — {entry['description']}"
            items.append(ImageText(
                path=folder / entry["file"], caption=text,
                tags=(entry["description"],) if entry["description"] else (),
                group=entry["group"], license=LICENSE,
                origin=f"Debian {PKG} {VERSION}: gfx/{tileset}/{entry['sheet']}#{entry['index']}"
                       f" ({entry['id']})"))
            if limit is not None and len(items) >= limit:
                break
        if limit is not None and len(items) >= limit:
            break
    return Source(name="cataclysm-dda", items=tuple(items), origin=f"Debian {PKG} {VERSION}",
                  license=LICENSE)


def cataclysm_tilesets(*, root: Path | None = None) -> tuple[str, ...]:
    """The graphical tilesets of the package: folders of ``gfx/`` with a ``tiles-new`` config.

    Example:
        >>> cataclysm_tilesets()[:3]
        ('BrownLikeBears', 'ChestHole16Tileset', 'ChibiUltica')
    """
    gfx = _package_root(root) / GFX_DIR
    return tuple(sorted(
        p.parent.name for p in gfx.glob("*/tile_config.json")
        if p.parent.name not in SKIP_TILESETS
        and "tiles-new" in json.loads(p.read_text(encoding="utf-8"))))


def _package_root(root: Path | None) -> Path:
    if root is None:
        return require_deb(PKG, VERSION, "Cataclysm DDA data")
    require_path(root / GFX_DIR, "Cataclysm DDA data", _install_hint())
    return root


def _install_hint() -> str:
    return f"apt-get download {PKG}={VERSION} && dpkg -x {PKG}_*.deb {data_dir()}/deb/{PKG}"


class _Sheet:
    """One PNG of a tileset: its global index range and its pixels."""

    def __init__(self, gfx: Path, spec: dict[str, Any], default: dict[str, int], start: int):
        self.file = spec["file"]
        self.w = int(spec.get("sprite_width", default["width"]))
        self.h = int(spec.get("sprite_height", default["height"]))
        self.path = gfx / self.file
        self.ascii = "ascii" in spec  # the game's letter fallback, not pictures
        with Image.open(self.path) as image:  # reads the header only
            self.cols, rows = image.width // self.w, image.height // self.h
        self.start, self.count = start, self.cols * rows
        self._pixels: np.ndarray | None = None

    def sprite(self, index: int) -> np.ndarray:
        """The cell of global sprite ``index``: (h, w, 4) uint8 RGBA."""
        if self._pixels is None:
            with Image.open(self.path) as image:
                self._pixels = np.asarray(image.convert("RGBA"))  # (H, W, 4) uint8
        k = index - self.start
        x, y = (k % self.cols) * self.w, (k // self.cols) * self.h
        return self._pixels[y:y + self.h, x:x + self.w]  # (h, w, 4)


def _first_sprite(fg: Any) -> int | None:
    """The first sprite index of a tile's ``fg``: an int, a list, or a list of {sprite, weight}."""
    while isinstance(fg, (list, dict)):
        if isinstance(fg, dict):
            fg = fg.get("sprite")
        elif fg:
            fg = fg[0]
        else:
            return None
    return fg if isinstance(fg, int) else None


def _tile_sprites(config: dict[str, Any]) -> dict[str, int]:
    """Game id → first foreground sprite; a season variant stands for its id when the id has
    no tile of its own (summer, then spring, autumn, winter)."""
    best: dict[str, tuple[int, int]] = {}  # id → (season rank, sprite)
    for sheet in config["tiles-new"]:
        for tile in sheet.get("tiles", []):
            sprite = _first_sprite(tile.get("fg"))
            if sprite is None:
                continue
            ids = tile.get("id")
            for tid in ids if isinstance(ids, list) else [ids]:
                if not isinstance(tid, str):
                    continue
                match = SEASON.search(tid)
                base = SEASON.sub("", tid)
                rank = SEASON_RANK[match.group(1) if match else ""]
                if base not in best or rank < best[base][0]:
                    best[base] = (rank, sprite)
    return {tid: sprite for tid, (_, sprite) in best.items()}


def _build(root: Path, config_path: Path, size: int, out: Path) -> None:
    """Cut, filter, upscale and write one tileset's sprites, with ``manifest.json``."""
    gfx = config_path.parent
    config = json.loads(config_path.read_text(encoding="utf-8"))
    default = config["tile_info"][0]
    sheets: list[_Sheet] = []
    for spec in config["tiles-new"]:
        sheets.append(_Sheet(gfx, spec, default, sheets[-1].start + sheets[-1].count
                             if sheets else 0))
    starts = [s.start for s in sheets]
    entries = load_entries(root / JSON_DIR)

    kept: dict[str, tuple[str, _Sheet, int, np.ndarray]] = {}  # id → (hash, sheet, index, crop)
    names_of_hash: dict[str, set[str]] = defaultdict(set)
    dropped: dict[str, int] = defaultdict(int)
    for tid, index in sorted(_tile_sprites(config).items()):
        entry = entries.get(tid)
        if entry is None:
            dropped["not an everyday named object"] += 1
            continue
        sheet = sheets[bisect_right(starts, index) - 1] if index >= 0 else None
        if sheet is None or index >= sheet.start + sheet.count or sheet.ascii:
            dropped["sprite index out of range"] += 1
            continue
        crop = _crop(sheet.sprite(index))
        if crop is None or (crop[..., 3] >= 128).sum() < MIN_OPAQUE * sheet.w * sheet.h:
            dropped["under 6 % opaque"] += 1
            continue
        digest = hashlib.blake2b(np.ascontiguousarray(crop).tobytes()
                                 + str(crop.shape).encode(), digest_size=12).hexdigest()
        names_of_hash[digest].add(entry.name.lower())
        kept[tid] = (digest, sheet, index, crop)

    records: list[dict[str, Any]] = []
    seen_hashes: set[str] = set()
    seen_names: set[str] = set()
    files: set[str] = set()
    for tid, (digest, sheet, index, crop) in kept.items():
        entry: Entry = entries[tid]
        if len(names_of_hash[digest]) > 1:
            dropped["picture shared by differently named objects"] += 1
            continue
        if digest in seen_hashes or entry.name.lower() in seen_names:
            dropped["same picture or name as an earlier id"] += 1
            continue
        seen_hashes.add(digest)
        seen_names.add(entry.name.lower())
        file = _file_name(tid, files)
        _upscale(crop, size).save(out / file)
        records.append({"file": file, "id": tid, "name": entry.name,
                        "description": entry.description, "group": entry.group,
                        "sheet": sheet.file, "index": index - sheet.start})
    manifest = {"package": f"{PKG} {VERSION}", "tileset": gfx.name, "size": size,
                "dropped": dict(sorted(dropped.items())), "items": records}
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=0) + "\n",
                                encoding="utf-8")


def _crop(cell: np.ndarray) -> np.ndarray | None:
    """The cell cut to its non-transparent pixels, RGB zeroed where fully transparent."""
    alpha = cell[..., 3]  # (h, w)
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return None
    crop = cell[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].copy()  # (bh, bw, 4)
    crop[crop[..., 3] == 0] = 0
    return crop


def _upscale(crop: np.ndarray, size: int) -> Image.Image:
    """``crop`` scaled by the largest whole factor that fits (or shrunk to fit), centred on a
    transparent ``size``×``size`` square."""
    h, w = crop.shape[:2]
    image = Image.fromarray(crop, "RGBA")
    factor = size // max(h, w)
    if factor >= 1:
        image = image.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    else:
        scale = size / max(h, w)
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.Resampling.NEAREST)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
    return canvas


def _file_name(tid: str, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.+-]+", "_", tid).strip("._") or "sprite"
    name, n = f"{stem}.png", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name.lower())
    return name
