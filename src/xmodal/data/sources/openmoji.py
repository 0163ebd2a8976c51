"""OpenMoji from the npm package ``openmoji``: 4,495 SVG emoji with annotation, tags, group."""

from __future__ import annotations

import json
from pathlib import Path

from ._common import ImageText, Source, data_dir, require_path

VERSION = "17.0.0"
INSTALL = (
    f"npm pack openmoji@{VERSION} && tar -xzf openmoji-{VERSION}.tgz -C $XMODAL_DATA_DIR/openmoji"
)


def load_openmoji(*, limit: int | None = None, root: Path | None = None) -> Source[ImageText]:
    """Every emoji with a colour SVG, in the package's order.

    Caption = the Unicode annotation ("grinning face"); tags = Unicode tags + OpenMoji tags;
    group = the Unicode group ("smileys-emotion").

    Example:
        >>> e = load_openmoji(limit=1).items[0]
        >>> e.caption, e.group, e.path.name
        ('grinning face', 'smileys-emotion', '1F600.svg')
    """
    root = root or data_dir() / "openmoji" / "package"
    meta = require_path(root / "data" / "openmoji.json", "OpenMoji", INSTALL)
    svg_dir = root / "color" / "svg"
    items: list[ImageText] = []
    for entry in json.loads(meta.read_text(encoding="utf-8")):
        path = svg_dir / f"{entry['hexcode']}.svg"
        if not path.exists():
            continue
        tags = [t.strip() for t in f"{entry['tags']},{entry['openmoji_tags']}".split(",")]
        items.append(ImageText(path=path, caption=entry["annotation"],
                               tags=tuple(dict.fromkeys(t for t in tags if t)),
                               group=entry["group"]))
        if limit is not None and len(items) >= limit:
            break
    return Source(name="openmoji", items=tuple(items), origin=f"npm openmoji@{VERSION}",
                  license="CC-BY-SA-4.0")
