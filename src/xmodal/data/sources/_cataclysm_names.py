"""Names, descriptions and categories of Cataclysm: DDA game objects, for :mod:`.cataclysm`.

Reads every ``json/**/*.json`` of Debian ``cataclysm-dda-data`` (the core game, no mods),
resolves ``copy-from`` inheritance, and keeps the objects a person would name in a picture:
items (food, tools, clothing, guns, books, …), furniture, terrain features (trees, doors,
pumps), vehicle parts that are things (seats, wheels, engines, lights) and real-world animals.
Monsters (zombies, mutants, fungal, robots, nether and fantasy creatures), floors, walls,
pseudo objects and bionics are dropped.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, NamedTuple


class Entry(NamedTuple):
    """One named game object, keyed in :func:`load_entries` by the id a tileset uses."""

    name: str  # "gallon jug"
    description: str  # "A standard plastic jug used for milk and household cleaning chemicals."
    group: str  # coarse category: "food", "tool", "animal", …


# JSON ``type`` → group. Types not listed (mutations, spells, overmap terrain, bionics, …) are
# never kept.
GROUPS = {
    "ARMOR": "clothing", "TOOL_ARMOR": "clothing", "PET_ARMOR": "clothing",
    "COMESTIBLE": "food", "TOOL": "tool", "TOOLMOD": "tool",
    "GENERIC": "item", "CONTAINER": "item", "BATTERY": "item", "BOOK": "book",
    "GUN": "gun", "GUNMOD": "gun", "AMMO": "ammo", "MAGAZINE": "ammo",
    "ENGINE": "vehicle part", "WHEEL": "vehicle part", "vehicle_part": "vehicle part",
    "furniture": "furniture", "terrain": "terrain", "trap": "trap", "MONSTER": "animal",
}
# Monster species of real-world fauna; anything also ZOMBIE, MUTANT, … is dropped.
ANIMAL_SPECIES = frozenset({
    "MAMMAL", "BIRD", "FISH", "REPTILE", "AMPHIBIAN", "INSECT", "INSECT_FLYING", "SPIDER",
    "MOLLUSK", "CENTIPEDE", "WORM",
})
# Animals that are mutants, giants or fantasy in the game although their species is fauna.
MONSTER_WORDS = re.compile(
    r"\b(giant|gigantic|huge|colossal|oversized|bloated|mutant|mutated|alpha|mega|dire|"
    r"iridescent|strange|rat king|blinky|cockatrice|human|famine|plague|dermatik|razorclaw|"
    r"larva|nymph|queen|soldier|matriarch|wyrm|graboid|half worm|chonker)\b", re.I)
MONSTER_FACTIONS = frozenset({"mutant", "zombie", "zombie_aquatic", "fungus", "nether"})
# Insects, spiders and worms in the game are giant mutants, except the (obsolete) real-sized
# ones, whose faction is "vermin".
SMALL_FAUNA = frozenset({"INSECT", "INSECT_FLYING", "SPIDER", "WORM", "CENTIPEDE", "MOLLUSK"})
# Words that mark everything else as not everyday (any kind of object).
DROP_WORDS = re.compile(
    r"\b(debug|fake|pseudo|fungal|fungus|marloss|mycus|nether|portal|alien|mi-go|zombie|"
    r"triffid|blob|slime|corpse|cbm|bionic|this should never|seeing this is a bug|"
    r"exodii|xedra|cyborg|robot|robotic|\w*bot|laser|plasma|coilgun|railgun|fusion|"
    r"ferromagnetic|rope leading)\b", re.I)
# Terrain that is ground, structure or texture rather than a thing.
GROUND_WORDS = re.compile(
    r"\b(floor|floors|wall|walls|half-wall|roof|rooved|carpet|pavement|sidewalk|road|dirt|"
    r"grass|sand|clay|mud|moss|water|lava|rock|concrete|linoleum|tiles?|gravel|air|pit|ramp|"
    r"bed|ledge|hole|ground|empty|half-built|frame|railing|railroad|rubble|fault|bulkhead|"
    r"mound|dock|pontoon|bridge|walkway|space|platform|gutter|skylight|junk|underbrush|"
    r"slope|earth|sewage|sewer|puddle|swamp|soil|crater|column|ballistic|laminated|snow|ice|stairs|ladder|elevator|grate|cage|shelter|"
    r"lean-to)\b", re.I)
# Furniture that is ground cover, debris or tent walls rather than a thing.
FURNITURE_WORDS = re.compile(
    r"\b(floor|wall|roof|groundsheet|canvas|animalskin|flap|pile|rubble|wreckage|slag|fog|"
    r"gas|haze|ash|ground|spot|rope leading|tarp|scrap)\b", re.I)
# Vehicle parts that are panels, frames, armour or fittings rather than things.
VEHICLE_WORDS = re.compile(
    r"\b(board|quarterpanel|frame|plating|armor|armour|roof|hull|aisle|floor|ram|handle|"
    r"mount|trunk|cargo|door|hatch|curtain|controls?|dashboard|unit|system|space|"
    r"compartment|stall|assembly|mounted|plugged|rig|harness|kickstand)\b", re.I)
# Traps that are holes, hazards or magic rather than objects.
TRAP_WORDS = re.compile(
    r"\b(pit|ledge|lava|goo|portal|blade|conduit|sinkhole|telepad|shifting|construction|"
    r"buried|shards|trap|tripwire|source)\b", re.I)
# Spent cartridges and belt links, named by calibre.
CARTRIDGE_WORDS = re.compile(r"\b(casing|hull|linkage|cartridge|shell)\b", re.I)
# Ammunition and magazines named by calibre ("9x19mm JHP", ".45 ACP magazine").
CALIBRE = re.compile(r"\d")
# A state in parentheses that the picture rarely shows: "flashlight (on)" → "flashlight".
STATE = re.compile(
    r"\s*\((on|off|lit|unlit|loose|folded|unfolded|extended|retracted|raised|lowered|rolled|"
    r"zipped|armed|active|inactive|open|closed|empty|full|covered|clean)\)", re.I)
TAG = re.compile(r"</?[a-zA-Z_]+[^>]*>")  # colour tags in descriptions: <color_red>…</color>
# Folders of json/ that hold no depicted everyday objects (fantasy artifacts, tests).
SKIP_DIRS = ("artifact", "mapgen", "mapgen_palettes", "recipes", "uncraft", "npcs", "snippets",
             "itemgroups", "overmap", "requirements", "monstergroups", "monsterdrops")


@functools.cache
def load_entries(json_root: Path) -> dict[str, Entry]:
    """Every kept object by the id a tileset uses (``vp_<id>`` for a vehicle part).

    Example:
        >>> from xmodal.data.sources._common import deb_root
        >>> entries = load_entries(deb_root("cataclysm-dda-data") / JSON_DIR)
        >>> entries["jug_plastic"].name, entries["mon_cat_tabby"].group
        ('gallon jug', 'animal')
    """
    by_id: dict[str, dict[str, Any]] = {}  # first kept-type object for each id
    by_abstract: dict[str, dict[str, Any]] = {}
    others: dict[str, dict[str, Any]] = {}  # objects of other types, for ``item`` look-ups
    for path in sorted(json_root.rglob("*.json")):
        if path.relative_to(json_root).parts[0] in SKIP_DIRS:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for obj in data if isinstance(data, list) else [data]:
            if not isinstance(obj, dict):
                continue
            if isinstance(obj.get("abstract"), str):
                by_abstract.setdefault(obj["abstract"], obj)
                continue
            ids = obj.get("id")
            for oid in ids if isinstance(ids, list) else [ids]:
                if not isinstance(oid, str):
                    continue
                table = by_id if obj.get("type") in GROUPS else others
                key = f"vp_{oid}" if obj.get("type") == "vehicle_part" else oid
                table.setdefault(key, obj)

    def field(obj: dict[str, Any], key: str, depth: int = 0) -> Any:
        """``obj[key]``, inherited through ``copy-from`` (same type: an id or an abstract)."""
        if key in obj or depth > 10:
            return obj.get(key)
        parent_id = obj.get("copy-from")
        if not isinstance(parent_id, str):
            return None
        vp = obj.get("type") == "vehicle_part"
        parent = (by_id.get(f"vp_{parent_id}" if vp else parent_id)
                  or by_abstract.get(parent_id) or others.get(parent_id))
        return None if parent is None or parent is obj else field(parent, key, depth + 1)

    entries: dict[str, Entry] = {}
    for key, obj in sorted(by_id.items()):
        kind = obj["type"]
        name = STATE.sub("", _text(field(obj, "name"))).strip()
        description = _text(field(obj, "description"))
        if kind == "vehicle_part" and not name:  # the part is named after its item
            item = by_id.get(str(field(obj, "item")))
            if item is not None:
                name = STATE.sub("", _text(field(item, "name"))).strip()
                description = description or _text(field(item, "description"))
        if not name or not _keep(key, kind, name, obj, field):
            continue
        entries[key] = Entry(name=name, description=description, group=GROUPS[kind])
    return entries


JSON_DIR = "usr/share/games/cataclysm-dda/json"


def _keep(key: str, kind: str, name: str, obj: dict[str, Any], field: Any) -> bool:
    if DROP_WORDS.search(name) or DROP_WORDS.search(key.replace("_", " ")):
        return False
    if not re.search(r"[a-zA-Z]{2}", name):
        return False
    flags = field(obj, "flags") or []
    if kind == "MONSTER":
        species = set(field(obj, "species") or [])
        faction = field(obj, "default_faction")
        return (bool(species) and species <= ANIMAL_SPECIES
                and faction not in MONSTER_FACTIONS
                and (faction == "vermin" or not species & SMALL_FAUNA)
                and "mutant" not in key and not MONSTER_WORDS.search(name))
    if kind == "terrain":
        return not GROUND_WORDS.search(name) and not key.startswith("t_region")
    if kind == "furniture":
        return not FURNITURE_WORDS.search(name) and not key.startswith("f_region")
    if kind == "vehicle_part":
        return not VEHICLE_WORDS.search(name)
    if kind == "trap":
        return not TRAP_WORDS.search(name) or name.lower() == "bear trap"
    if (kind in ("AMMO", "MAGAZINE") and CALIBRE.search(name)) or CARTRIDGE_WORDS.search(name):
        return False
    return "PSEUDO" not in flags and not key.startswith(("fake_", "pseudo_", "debug"))


def _text(value: Any) -> str:
    """A JSON translation (a string, or {"str": …}, {"str_sp": …}) as clean one-line text."""
    if isinstance(value, dict):
        value = value.get("str", value.get("str_sp"))
    if not isinstance(value, str):
        return ""
    return " ".join(TAG.sub("", value).split())
