"""System sounds from Debian's ``sound-theme-freedesktop``: 27 named OGA clips (small)."""

from __future__ import annotations

from pathlib import Path

from ._common import AudioClip, Source, require_path

ROOT = Path("/usr/share/sounds/freedesktop/stereo")
INSTALL = "apt-get install sound-theme-freedesktop"


def load_freedesktop_sounds(*, limit: int | None = None, root: Path = ROOT) -> Source[AudioClip]:
    """Every sound, sorted; label = the event name, caption = its words.

    Example:
        >>> clip = load_freedesktop_sounds(limit=1).items[0]
        >>> clip.label, clip.caption
        ('alarm-clock-elapsed', 'alarm clock elapsed')
    """
    files = sorted(require_path(root, "freedesktop sounds", INSTALL).glob("*.oga"))
    items = tuple(
        AudioClip(path=f, label=f.stem, caption=f.stem.replace("-", " ")) for f in files[:limit]
    )
    return Source(name="freedesktop-sounds", items=items,
                  origin="Debian sound-theme-freedesktop", license="GPL-2+ / CC-BY-SA / CC-BY")
