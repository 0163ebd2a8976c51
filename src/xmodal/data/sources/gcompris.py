"""GCompris from Debian's ``gcompris-qt-data`` 3.1-2: captioned photos, drawings and sounds.

The media live in 186 Qt resource bundles (``usr/share/gcompris-qt/rcc/*.rcc``, read with
:mod:`.qt_rcc`). Images: photos of tools, household objects, monuments, animals and planets,
cartoon word pictures (``words_sample.json``) and SVG drawings (instruments, animals, objects,
food); each is converted once to a PNG under ``data_dir()/gcompris/3.1-2-images-<size>px``.
Sounds: instrument notes, farm animals and named field recordings, extracted once (OGG/WAV)
under ``data_dir()/gcompris/3.1-2-sounds``.

Licences differ per file (CC0, public domain, CC-BY(-SA), GPL, Free Art): each item's comes
from the README credits shipped beside it in the bundle (current for 3.1), else from the
package's ``copyright`` file. Art that the ``copyright`` file or a README credits to the Open
Clip Art Library is dropped (off limits for training).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path, PurePosixPath

from ._common import (
    AudioClip,
    ImageText,
    Source,
    build_once,
    data_dir,
    deb_root,
    require_deb,
    require_path,
)
from .debian_copyright import Stanza, parse_copyright, parse_readme_credits, stanza_for
from .gcompris_catalog import (
    IMAGE_SETS,
    LANG_LESSON_TAGS,
    MAX_SAME_CAPTION,
    SOUND_SETS,
    TITLE_FIXES,
    caption_from_stem,
    farm_animal_caption,
)
from .qt_rcc import read_rcc

PKG, VERSION = "gcompris-qt-data", "3.1-2"
RCC_DIR = "usr/share/gcompris-qt/rcc"
COPYRIGHT = f"usr/share/doc/{PKG}/copyright"
ACTIVITIES = "gcompris/src/activities/"
# memory-sound ships a Free Art License text for Lionel Allorge's recordings; the copyright
# file's pattern (``*_LA.ogg``) misses a few of them ("...LACut.ogg").
FOLDER_LICENCES = {"gcompris/src/activities/memory-sound/resource": "free-art"}


@dataclass(frozen=True)
class _Entry:
    """One kept file before it is materialised."""

    bundle: str  # "categorization" (the .rcc file's stem)
    path: str  # path inside the bundle
    caption: str
    kind: str  # group (images) or label (sounds)
    tags: tuple[str, ...]
    license: str

    @property
    def origin(self) -> str:
        return f"Debian {PKG} {VERSION}: rcc/{self.bundle}.rcc:{self.path}"

    def out(self, suffix: str = "") -> str:
        """Where the file goes in the cache folder: "farm/resource/cow.svg" + ".png"."""
        return self.path.removeprefix(ACTIVITIES) + suffix  # cow.svg and cow.webp both kept


def load_gcompris_images(*, limit: int | None = None, root: Path | None = None,
                         size: int = 256) -> Source[ImageText]:
    """Captioned photos and drawings, as PNGs whose longer side is ``size`` pixels.

    Caption = the board title ("eiffel tower"), the word ("strawberry") or the cleaned file
    name ("measuring tape"); group = "tool", "household", "monument", "energy", "animal",
    "planet", "word picture", "instrument", "object", "food" or "fruit"; tags say "photo" or
    "drawing". At most four items share a caption (28 fish photos are named only "fishN").

    Example:
        >>> items = load_gcompris_images().items
        >>> hammer = next(i for i in items if i.caption == "hammer")
        >>> hammer.group, hammer.tags, hammer.license, hammer.path.suffix
        ('tool', ('photo',), 'CC0-1.0', '.png')
    """
    bundles, stanzas = _open(root)
    entries = _image_entries(bundles, stanzas)
    folder = data_dir() / "gcompris" / f"{VERSION}-images-{size}px"

    def build(tmp: Path) -> None:
        for e in entries:
            out = tmp / e.out(".png")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(_to_png(bundles[e.bundle][e.path], e.path, size))

    _build(folder, build, [e.out(".png") for e in entries])
    items = tuple(ImageText(path=folder / e.out(".png"), caption=e.caption, tags=e.tags,
                            group=e.kind, license=e.license, origin=e.origin)
                  for e in entries[:limit])
    return Source(name="gcompris-images", items=items, origin=f"Debian {PKG} {VERSION}",
                  license="mixed free (CC0 / public domain / CC-BY(-SA) / GPL), per item")


def load_gcompris_sounds(*, limit: int | None = None, root: Path | None = None
                         ) -> Source[AudioClip]:
    """Instrument notes, farm animals and named field recordings (OGG Vorbis or WAV).

    Label = "instrument", "animal" or "field recording"; caption = the instrument ("violin"),
    the animal and its call ("a cow mooing") or the recording's name ("train slowing down").
    UI sounds, music and speech are not included.

    Example:
        >>> clips = load_gcompris_sounds().items
        >>> [c.caption for c in clips if c.label == "animal"][:3]
        ['a cat meowing', 'a chicken clucking', 'a cow mooing']
    """
    bundles, stanzas = _open(root)
    entries = _sound_entries(bundles, stanzas)
    folder = data_dir() / "gcompris" / f"{VERSION}-sounds"

    def build(tmp: Path) -> None:
        for e in entries:
            out = tmp / e.out()
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(bundles[e.bundle][e.path])

    _build(folder, build, [e.out() for e in entries])
    items = tuple(AudioClip(path=folder / e.out(), label=e.kind, caption=e.caption,
                            license=e.license, origin=e.origin) for e in entries[:limit])
    return Source(name="gcompris-sounds", items=items, origin=f"Debian {PKG} {VERSION}",
                  license="mixed free (GPL-3 / Free Art / CC-BY / CC0), per item")


def _open(root: Path | None) -> tuple[dict[str, dict[str, bytes]], list[Stanza]]:
    """Every bundle's files (bundle stem → path → bytes) and the copyright stanzas."""
    if root is None:
        require_deb(PKG, VERSION, "GCompris")
        root = deb_root(PKG)
    rcc = require_path(root / RCC_DIR, "GCompris", f"scripts/install-data.sh ({PKG}={VERSION})")
    return _read_bundles(rcc), parse_copyright((root / COPYRIGHT).read_text(encoding="utf-8"))


@cache
def _read_bundles(rcc: Path) -> dict[str, dict[str, bytes]]:
    wanted = {b for b, *_ in IMAGE_SETS} | {b for b, *_ in SOUND_SETS}
    return {b: read_rcc(rcc / f"{b}.rcc") for b in sorted(wanted)}


def _image_entries(bundles: dict[str, dict[str, bytes]], stanzas: list[Stanza]) -> list[_Entry]:
    titles = {**_board_titles(bundles), **_word_descriptions(bundles), **_instrument_names(bundles)}
    entries = []
    for bundle, pattern, group, tags in IMAGE_SETS:
        for path in _matching(bundles[bundle], pattern):
            extra: tuple[str, ...] = ()
            if path in titles:
                caption, lesson = titles[path]
                extra = (lesson,) if lesson else ()
            else:
                caption = caption_from_stem(PurePosixPath(path).stem)
            if caption is not None:
                entries.append((bundle, path, caption, group, tags + extra))
    return _keep(entries, bundles, stanzas)


def _sound_entries(bundles: dict[str, dict[str, bytes]], stanzas: list[Stanza]) -> list[_Entry]:
    titles = {**_board_titles(bundles, sounds=True), **_instrument_names(bundles, sounds=True)}
    entries = []
    for bundle, pattern, label in SOUND_SETS:
        for path in _matching(bundles[bundle], pattern):
            if path in titles:
                caption = titles[path][0]
            else:
                caption = caption_from_stem(PurePosixPath(path).stem, sound=True)
            if caption is not None:
                kind = "instrument" if caption.endswith(" note") else label
                entries.append((bundle, path, caption, kind, ()))
    return _keep(entries, bundles, stanzas)


def _keep(rows: list[tuple[str, str, str, str, tuple[str, ...]]],
          bundles: dict[str, dict[str, bytes]], stanzas: list[Stanza]) -> list[_Entry]:
    """Drop Open Clip Art, byte-identical copies and captions seen ``MAX_SAME_CAPTION`` times;
    attach each licence."""
    seen_bytes: set[str] = set()
    per_caption: Counter[str] = Counter()
    kept = []
    for bundle, path, caption, kind, tags in rows:
        data = bundles[bundle][path]
        digest = hashlib.sha1(data).hexdigest()
        licence = _licence(bundles[bundle], path, stanzas)
        if licence is None or digest in seen_bytes or per_caption[caption] >= MAX_SAME_CAPTION:
            continue
        seen_bytes.add(digest)
        per_caption[caption] += 1
        kept.append(_Entry(bundle, path, caption, kind, tuple(dict.fromkeys(tags)), licence))
    return kept


def _licence(files: dict[str, bytes], path: str, stanzas: list[Stanza]) -> str | None:
    """The file's licence, or None when its art comes from the Open Clip Art Library.

    README credits in the file's folder or one above it come first (they are current for 3.1;
    the copyright file still names older photos), then the copyright file's stanza."""
    stanza = stanza_for(stanzas, path.removeprefix("gcompris/"))
    if stanza and stanza.openclipart:
        return None
    found = ""
    for folder in PurePosixPath(path).parents:
        if len(folder.parts) < 4:  # stop above gcompris/src/activities/<activity>
            break
        readme = files.get(f"{folder}/README", b"").decode("utf-8", "replace")
        if "openclipart" in readme.lower():
            return None
        credits = parse_readme_credits(readme)
        rel = str(PurePosixPath(path).relative_to(folder))
        found = found or credits.get(rel, credits.get(rel.rsplit("/", 1)[-1], ("", "")))[0]
    if found and found != "GPL":  # a bare "GPL" says less than the copyright file
        return found
    if stanza and stanza.patterns != ("*",):
        return stanza.license
    folder_licence = FOLDER_LICENCES.get(str(PurePosixPath(path).parent))
    return folder_licence or found or (stanza.license if stanza else "")


def _matching(files: dict[str, bytes], pattern: str) -> list[str]:
    return sorted(p for p in files if fnmatchcase(p, pattern))


_FIELD = re.compile(r'"(\w+)"\s*:\s*[^"\n]*"((?:[^"\\\n]|\\.)*)"')


def _board_entries(text: str) -> list[dict[str, str]]:
    """The string fields of each ``{ ... }`` entry in a board ``.qml`` (qsTr unwrapped)."""
    entries = []
    for chunk in re.split(r"\}\s*,\s*\{", text):
        fields: dict[str, str] = {}
        for key, value in _FIELD.findall(chunk):
            fields.setdefault(key, value)  # the first: a board's trailer may repeat keys
        entries.append(fields)
    return entries


def _qrc(url: str) -> str:
    return url.removeprefix("qrc:/")


def _board_titles(bundles: dict[str, dict[str, bytes]], sounds: bool = False
                  ) -> dict[str, tuple[str | None, str]]:
    """Path → (caption, "") from the explore_* boards' ``qsTr("...")`` titles."""
    out: dict[str, tuple[str | None, str]] = {}
    for bundle in ("explore_farm_animals", "explore_world_animals", "explore_monuments"):
        for path, data in bundles.get(bundle, {}).items():
            if "/board/" not in path or not path.endswith(".qml"):
                continue
            for entry in _board_entries(data.decode("utf-8")):
                title = entry.get("title", "").replace("\\'", "'")
                if not title:
                    continue
                if sounds and "audio" in entry:
                    audio = _qrc(entry["audio"]).replace("$CA", "ogg")
                    caption = farm_animal_caption(title, entry.get("text", ""))
                    if caption != title.lower() or audio not in out:  # boards 2-3: no call
                        out[audio] = (caption, "")
                for key in ("image", "image2"):
                    if not sounds and key in entry and "/key." not in entry[key]:
                        name = title.split(",")[0].lower()  # "Taj Mahal, India"
                        out[_qrc(entry[key])] = (TITLE_FIXES.get(name, name), "")
    return out


def _word_descriptions(bundles: dict[str, dict[str, bytes]]) -> dict[str, tuple[str | None, str]]:
    """Word-picture path → (description, lesson tag); the number lesson maps to None."""
    data = bundles.get("lang", {}).get("gcompris/src/activities/lang/resource/words_sample.json")
    out: dict[str, tuple[str | None, str]] = {}
    for chapter in json.loads(data) if data else []:
        prefix = _qrc(chapter["imgPrefix"])
        for lesson in chapter["content"]:
            tag = LANG_LESSON_TAGS.get(lesson["name"])
            for word in lesson["content"]:
                if tag is not None:
                    caption = caption_from_stem(word["description"])
                    if caption is None:  # "dragon"
                        out[prefix + word["image"]] = (None, "")
                        continue
                    if tag == "colour":  # the pictures are pots and blobs of paint
                        caption = "paint colours" if caption == "color" else f"{caption} paint"
                    out[prefix + word["image"]] = (caption, tag)
                else:
                    out[prefix + word["image"]] = (None, "")
    return out


def _instrument_names(bundles: dict[str, dict[str, bytes]], sounds: bool = False
                      ) -> dict[str, tuple[str | None, str]]:
    """Instrument drawing / sound path → ("violin", "") from ``qsTr("Find the violin")``."""
    data = bundles.get("instruments", {}).get("gcompris/src/activities/instruments/instruments.js")
    out: dict[str, tuple[str | None, str]] = {}
    for entry in _board_entries(data.decode("utf-8")) if data else []:
        match = re.fullmatch(r"Find the (.+)", entry.get("text", ""))
        if not match:
            continue
        name = {"transverse flute": "flute"}.get(match[1], match[1])
        key = "audio" if sounds else "image"
        if key in entry:
            out[_qrc(entry[key]).replace("$CA", "ogg")] = (name, "")
    return out


def _build(folder: Path, build, names: list[str]) -> None:
    """``build_once``, rebuilt when a file the current selection needs is missing."""
    build_once(folder, build)
    if not all((folder / n).is_file() for n in names):
        (folder / ".complete").unlink()
        build_once(folder, build)


def _to_png(data: bytes, path: str, size: int) -> bytes:
    """PNG bytes of a WebP/PNG/SVG file, its longer side scaled to ``size``."""
    from PIL import Image

    if path.endswith(".svg"):
        import cairosvg

        image = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=data, output_width=size)))
        if image.height > size:
            image = Image.open(io.BytesIO(
                cairosvg.svg2png(bytestring=data, output_height=size)))
    else:
        image = Image.open(io.BytesIO(data))
        scale = size / max(image.size)
        image = image.resize((max(1, round(image.width * scale)),
                              max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
