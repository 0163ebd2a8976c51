"""Emoji from the npm package ``emoji-datasource-google``: 1,911 PNG emoji (64 px) with names."""

from __future__ import annotations

import json
from pathlib import Path

from ._common import ImageText, Source, data_dir, require_path

VERSION = "16.0.0"
INSTALL = (
    f"npm pack emoji-datasource-google@{VERSION} && tar -xzf emoji-datasource-google-{VERSION}.tgz"
    " -C $XMODAL_DATA_DIR/emoji-datasource-google"
)


def load_emoji_datasource(
    *, limit: int | None = None, root: Path | None = None
) -> Source[ImageText]:
    """Every emoji with a Google image, in Unicode's order (``sort_order``); no skin-tone variants.

    Caption = the name lower-cased ("grinning face"); tags = the short names with "_" as spaces;
    group = the category ("Smileys & Emotion", 10 in all). Images are 64×64 RGBA PNGs (Noto);
    composite them on white.

    Example:
        >>> e = load_emoji_datasource(limit=1).items[0]
        >>> e.caption, e.tags, e.group, e.path.name
        ('grinning face', ('grinning',), 'Smileys & Emotion', '1f600.png')
    """
    root = root or data_dir() / "emoji-datasource-google" / "package"
    meta = require_path(root / "emoji.json", "emoji-datasource-google", INSTALL)
    png_dir = root / "img" / "google" / "64"
    entries = sorted(json.loads(meta.read_text(encoding="utf-8")), key=lambda e: e["sort_order"])
    items: list[ImageText] = []
    for entry in entries:
        path = png_dir / entry["image"]
        if not entry.get("has_img_google") or not path.exists():
            continue
        items.append(ImageText(path=path, caption=entry["name"].lower(),
                               tags=tuple(s.replace("_", " ") for s in entry["short_names"]),
                               group=entry["category"]))
        if limit is not None and len(items) >= limit:
            break
    return Source(name="emoji-datasource", items=tuple(items),
                  origin=f"npm emoji-datasource-google@{VERSION}",
                  license="MIT (data); Apache-2.0 (Noto emoji images)")
