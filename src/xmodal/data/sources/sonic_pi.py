"""Sonic Pi samples from Debian's ``sonic-pi-samples``: 165 FLAC clips in 14 categories."""

from __future__ import annotations

from pathlib import Path

from ._common import AudioClip, Source, require_path

ROOT = Path("/usr/share/sonic-pi/samples")
INSTALL = "apt-get install sonic-pi-samples"
# File-name prefixes and what they mean, for captions.
CATEGORY_WORDS = {
    "ambi": "ambient", "bass": "bass", "bd": "bass drum", "drum": "drum", "elec": "electronic",
    "glitch": "glitch", "guit": "guitar", "loop": "loop", "mehackit": "mehackit", "misc": "misc",
    "perc": "percussion", "sn": "snare drum", "tabla": "tabla", "vinyl": "vinyl",
}


def load_sonic_pi(*, limit: int | None = None, root: Path = ROOT) -> Source[AudioClip]:
    """Every sample, sorted by name; label = file-name prefix, caption = its words.

    Example:
        >>> clips = load_sonic_pi(limit=2).items
        >>> clips[0].label, clips[0].caption
        ('ambi', 'ambient choir')
    """
    files = sorted(require_path(root, "Sonic Pi samples", INSTALL).glob("*.flac"))
    items = tuple(_clip(f) for f in files[:limit])
    return Source(name="sonic-pi", items=items, origin="Debian sonic-pi-samples",
                  license="CC0 / CC-BY (see /usr/share/doc/sonic-pi-samples/copyright)")


def _clip(path: Path) -> AudioClip:
    prefix, _, rest = path.stem.partition("_")
    words = [CATEGORY_WORDS.get(prefix, prefix), *rest.replace("-", " ").split("_")]
    return AudioClip(path=path, label=prefix, caption=" ".join(w for w in words if w))
