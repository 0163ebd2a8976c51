"""Sweet Home 3D furniture icons: 128×128 PNG renders of 3D models with name, category and tags.

Debian ``sweethome3d-furniture`` 1.8-1 ships five contributed catalogs as ``.sh3f`` zips in
``usr/share/sweethome3d/furniture/`` (BlendSwap-CC-0: CC0; BlendSwap-CC-BY, Scopia: CC-BY-3.0;
KatorLegaz, Reallusion: CC-BY-3.0-US, per ``usr/share/doc/sweethome3d-furniture/copyright``),
and Debian ``sweethome3d`` 7.0.2 has the default catalog (100 models by eTeks, GPL-2+ per its
copyright file; the catalog itself says "GNU GPL / CC-BY 3.0") inside ``sweethome3d.jar``.
Each zip holds a Java properties file (latin-1 with ``\\uXXXX`` escapes) whose keys ``name#N``,
``category#N``, ``tags#N`` and ``icon#N`` describe model N; the icons are extracted once under
``data_dir()/sweethome3d/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Literal

from ._common import ImageText, Source, build_once, data_dir, deb_root, require_deb, require_path

PKG, VERSION = "sweethome3d-furniture", "1.8-1"
JAR_PKG, JAR_VERSION = "sweethome3d", "7.0.2+dfsg-3"
FURNITURE_DIR = "usr/share/sweethome3d/furniture"
JAR = "usr/share/sweethome3d/sweethome3d.jar"
PLUGIN_PROPS = "PluginFurnitureCatalog.properties"
DEFAULT_PROPS = "com/eteks/sweethome3d/io/DefaultFurnitureCatalog.properties"
DEFAULT_CATALOG = "default"  # the jar's catalog, in the icon folder and the index
DEFAULT_LICENSE = "GPL-2+"  # Debian's copyright for the jar (Files: *)
# The copyright file's licence names, as SPDX ids.
SPDX = {"CC0": "CC0-1.0", "CC-BY-3.0": "CC-BY-3.0", "CC-BY-3.0-USA": "CC-BY-3.0-US"}
# Tags that say where a model comes from or how it behaves in the editor, not what it shows.
NOISE_TAGS = {"adjustable", "blend swap", "default", "scpts"}
# The default catalog's light sources are drawn as light bulbs ("Red light source").
LIGHT_SOURCE = re.compile(r"\blight source$", re.I)
DIMENSIONS = re.compile(r"\s+\d+\s*x\s*\d+$")  # "Bed 140x190" → "Bed"


def load_sweethome3d(*, limit: int | None = None, root: Path | None = None,
                     caption: Literal["name", "rich"] = "name") -> Source[ImageText]:
    """Every furniture icon with a distinct image, catalogs in file-name order, then the default.

    Caption = the model's name ("Rubik's cube"), or with ``caption="rich"`` the name followed by
    the category and the tags ("Rubik's cube (Bedroom; Toy, Game, Decoration)"); group = the
    category ("Living room"); tags = the catalog's tags minus editor words ("Adjustable",
    "Blend Swap"). Icons whose bytes repeat an earlier one are kept once (none do in 1.8-1);
    sizes go from names ("Bed 140x190" → "Bed") and the default catalog's eight coloured "light
    sources", drawn as bulbs, become "... light bulb".

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``sweethome3d-furniture`` package (default ``deb_root(PKG)``); the
            jar is read from the ``sweethome3d`` folder beside it.
        caption: ``"name"`` or ``"rich"`` (name, category and tags).

    Example:
        >>> src = load_sweethome3d(limit=3, caption="rich")
        >>> [item.caption for item in src.items]
        ['Armchair (Office; Seat)', 'Bed (Bedroom)', 'Bed (Bedroom)']
        >>> src.items[0].group, src.items[0].license, src.items[0].path.suffix
        ('Office', 'CC0-1.0', '.png')
    """
    if root is None:
        root = require_deb(PKG, VERSION, "Sweet Home 3D furniture")
        jar_root = require_deb(JAR_PKG, JAR_VERSION, "Sweet Home 3D default furniture")
    else:
        jar_root = root.parent / JAR_PKG
    install = _install_hint()
    require_path(root / FURNITURE_DIR, "Sweet Home 3D furniture", install)
    require_path(jar_root / JAR, "Sweet Home 3D default furniture", install)
    folder = data_dir() / "sweethome3d" / f"{VERSION}+{JAR_VERSION}-icons"
    build_once(folder, lambda tmp: _extract(root, jar_root, tmp))
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))

    items: list[ImageText] = []
    seen: set[str] = set()
    for entry in index:
        name = LIGHT_SOURCE.sub("light bulb", DIMENSIONS.sub("", entry["name"].strip()))
        if not name or entry["sha1"] in seen:
            continue
        seen.add(entry["sha1"])
        category = entry["category"].strip() or "Miscellaneous"
        tags = tuple(dict.fromkeys(
            t.strip() for t in entry["tags"].split(",")
            if t.strip() and t.strip().lower() not in NOISE_TAGS and not t.strip().isdigit()))
        text = name
        if caption == "rich":
            text = f"{name} ({'; '.join([category, ', '.join(tags)] if tags else [category])})"
        items.append(ImageText(path=folder / entry["file"], caption=text, tags=tags,
                               group=category, license=entry["license"],
                               origin=entry["origin"]))
        if limit is not None and len(items) >= limit:
            break
    return Source(name="sweethome3d", items=tuple(items),
                  origin=f"Debian {PKG} {VERSION} + {JAR_PKG} {JAR_VERSION}",
                  license="CC0-1.0 / CC-BY-3.0 / CC-BY-3.0-US / GPL-2+ (per catalog)")


def parse_properties(text: str) -> dict[str, str]:
    """A Java ``.properties`` file's keys and values (``text`` already decoded from latin-1).

    Example:
        >>> parse_properties("# c\\nname#1 = Rubik\\\\u0027s \\\\\\n   cube\\ntags#1:Toy, Game")
        {'name#1': "Rubik's cube", 'tags#1': 'Toy, Game'}
    """
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(" \t\f")
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and i < len(lines):  # a line ending in an odd "\" goes on
            line = line[:-1] + lines[i].lstrip(" \t\f")
            i += 1
        match = re.match(r"((?:\\.|[^\\=:\s])*)[ \t\f]*[=:]?[ \t\f]*(.*)$", line, re.S)
        assert match is not None  # the pattern matches any line
        out[_unescape(match.group(1))] = _unescape(match.group(2))
    return out


def _continues(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _unescape(s: str) -> str:
    def one(m: re.Match[str]) -> str:
        c = m.group(1)
        if c[0] == "u" and len(c) == 5:
            return chr(int(c[1:], 16))
        return {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(c, c)

    s = re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, s)
    return s.encode("utf-16", "surrogatepass").decode("utf-16")  # join \uD83D\uDE00 pairs


def catalog_licenses(root: Path) -> dict[str, str]:
    """Each catalog's licence (SPDX) from the package's ``copyright`` file (``Files: NAME/*``)."""
    text = (root / "usr/share/doc" / PKG / "copyright").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for stanza in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:\s*(\S+)/\*", stanza, re.M)
        licence = re.search(r"^License:\s*(\S+)", stanza, re.M)
        if files and licence and files.group(1) != "debian":
            out[files.group(1)] = SPDX.get(licence.group(1), licence.group(1))
    return out


def _extract(root: Path, jar_root: Path, tmp: Path) -> None:
    """Write every catalog's icons under ``tmp/<catalog>/`` and ``tmp/index.json`` listing them."""
    licenses = catalog_licenses(root)
    catalogs = [(p.stem, p, PLUGIN_PROPS, licenses[p.stem],
                 f"Debian {PKG} {VERSION}: {p.name}")
                for p in sorted((root / FURNITURE_DIR).glob("*.sh3f"))]
    catalogs.append((DEFAULT_CATALOG, jar_root / JAR, DEFAULT_PROPS, DEFAULT_LICENSE,
                     f"Debian {JAR_PKG} {JAR_VERSION}: sweethome3d.jar DefaultFurnitureCatalog"))
    index = []
    for catalog, path, props_name, licence, origin in catalogs:
        with zipfile.ZipFile(path) as archive:
            props = parse_properties(archive.read(props_name).decode("latin-1"))
            numbers = sorted(int(k[5:]) for k in props if re.fullmatch(r"icon#\d+", k))
            for n in numbers:
                icon = props[f"icon#{n}"].lstrip("/")
                if not icon.lower().endswith(".png") or icon not in archive.NameToInfo:
                    continue  # an icon outside the zip (a URL) or not a PNG: skip the model
                data = archive.read(icon)
                out = tmp / catalog / icon
                if not out.exists():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(data)
                index.append({
                    "file": f"{catalog}/{icon}", "sha1": hashlib.sha1(data).hexdigest(),
                    "name": props.get(f"name#{n}", ""), "category": props.get(f"category#{n}", ""),
                    "tags": props.get(f"tags#{n}", ""), "license": licence,
                    "origin": f"{origin}#{n} ({icon})",
                })
    (tmp / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=0),
                                    encoding="utf-8")


def _install_hint() -> str:
    return (f"apt-get download {PKG}={VERSION} {JAR_PKG}={JAR_VERSION} && dpkg -x each into "
            f"{deb_root(PKG).parent}/<package>")
