"""Which GCompris files are kept, and their captions (used by :mod:`.gcompris`).

Paths are inside the Qt resource bundles (``gcompris/src/activities/<activity>/...``). Each
set names a bundle, a glob over the paths inside it, a group (images) or label (sounds) and
extra tags; stems not worth a caption (UI graphics, backgrounds, Tux, numbers) map to None.
"""

from __future__ import annotations

import re

from ._common import stem_caption

# (bundle, glob inside it, group, tags): photos first, then drawings.
IMAGE_SETS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("categorization", "*/images/tools/*.webp", "tool", ("photo",)),
    ("categorization", "*/images/others/*.webp", "household", ("photo",)),
    ("categorization", "*/images/monuments/*.webp", "monument", ("photo",)),
    ("explore_monuments", "*/resource/*/*.webp", "monument", ("photo",)),
    ("categorization", "*/images/renewable/*.webp", "energy", ("photo", "renewable energy")),
    ("categorization", "*/images/fishes/*.webp", "animal", ("photo", "fish")),
    ("explore_farm_animals", "*/animals/*.webp", "animal", ("photo", "farm animal")),
    ("explore_world_animals", "*/animals/*.webp", "animal", ("photo", "wild animal")),
    ("erase", "*/resource/*.webp", "animal", ("photo",)),
    ("solar_system", "*/resource/*.webp", "planet", ("photo", "space")),
    ("lang", "*/words_sample/*.webp", "word picture", ("drawing",)),
    ("explore_farm_animals", "*/animals/*.svg", "animal", ("drawing", "farm animal")),
    ("memory", "*/resource/*.svg", "animal", ("drawing",)),
    ("instruments", "*/resource/*.svg", "instrument", ("drawing", "musical instrument")),
    ("babymatch", "*/images/*.svg", "object", ("drawing",)),
    ("babyshapes", "*/food/*.svg", "food", ("drawing",)),
    ("algorithm", "*/resource/*.svg", "fruit", ("drawing",)),
    ("enumerate", "*/resource/*.svg", "fruit", ("drawing",)),
)

# (bundle, glob, label): every file matched; captions from the tables below.
SOUND_SETS: tuple[tuple[str, str, str], ...] = (
    ("instruments", "*/resource/*.ogg", "instrument"),
    ("explore_farm_animals", "*/animals/*.ogg", "animal"),
    ("memory-sound", "*/resource/*.ogg", "field recording"),
    ("melody", "*/resource/xylofon_son*.wav", "instrument"),
    ("canal_lock", "*/resource/*.wav", "field recording"),
    ("watercycle", "*/resource/harbor*.wav", "field recording"),
    ("railroad", "*/sounds/train.wav", "field recording"),
    ("traffic", "*/resource/car.wav", "field recording"),
    ("guessnumber", "*/resource/helicopter.wav", "field recording"),
    ("mining", "*/resource/pickaxe.wav", "field recording"),
    ("reversecount", "*/resource/icy_walk.wav", "field recording"),
    ("clickgame", "*/resource/*.wav", "field recording"),
)

# Exact stems: a better caption, or None to drop the file.
STEM_CAPTIONS: dict[str, str | None] = {
    # UI graphics, backgrounds, Tux, people-as-cards, abstract drawings.
    **dict.fromkeys((
        "background", "question", "key", "farm-animals", "tux", "child", "emptycard",
        "backcard", "19_bluebaby", "20_greenbaby", "error", "sound", "light", "star",
        "windflag5", "tuxhelico", "tuxplane", "question_mark", "desert_scene", "postpoint",
        # babymatch/fusee.svg: by Nicu Buculei (public domain), whose drawings are Open Clip
        # Art uploads; the copyright file does not say so, so it is dropped to be safe.
        "fusee",
    )),
    # Tools and household objects (categorization).
    "screDriver": "screwdriver", "cuttingTool": "cutting tool", "sideCutter1": "side cutters",
    "nailCutter": "nail clipper", "spray": "spray bottle", "blackslate": "blackboard",
    "buffetset": "cup and saucer", "erasers": "eraser shavings", "bulb": "light bulb",
    "weighingMachine": "weighing scale", "spoons": "spoons",
    # Monuments (categorization; the README's sources name monument1-3).
    "leMusee": "the louvre", "burj": "burj khalifa", "greatWall": "great wall of china",
    "kutubMinar": "qutub minar", "zimniPalace": "winter palace", "usCapitol": "us capitol",
    "empireState": "empire state building", "operaHouse": "sydney opera house",
    "monument1": "dome of the rock", "monument2": "tetrapylon",
    "monument3": "kaiser jubilee church", "IndiaGate": "india gate",
    "cathedral": "cathedral of santiago de compostela",
    # Renewable energy (README sources).
    "geothermal": "geothermal power station", "solar1": "solar cooker", "solar2": "solar oven",
    "solar3": "solar ovens", "solar4": "solar tracker", "solar5": "solar panel",
    "solar6": "solar panels on a roof", "solar7": "solar panel", "solar8": "solar collectors",
    # Drawings.
    "raquette": "tennis racket", "rape": "grater", "eggpot": "egg cup", "fishingboat":
    "fishing boat", "sailingboat": "sailing boat", "minivan": "minivan", "football":
    "football", "15_bluebirds": "blue birds", "11_redbird": "red bird", "marmelade":
    "marmalade", "french_croissant": "croissant", "milk_cup": "cup of milk",
    "sugar_box": "box of sugar", "bread_slice": "slice of bread",
    # Photos (erase, solar system).
    "sun": "the sun", "earth": "the earth", "calf": "calf", "camels": "camels",
    "meerkats": "meerkats", "swans": "swans with cygnets", "spoonbills": "spoonbills",
    "chamaeleon": "chameleon",
}

# Exact sound stems: a caption, or None to drop (music, unnamed effects).
SOUND_CAPTIONS: dict[str, str | None] = {
    **dict.fromkeys((
        "LRWeird_1_LA", "LRWeird_2_LA", "LRWeird_3_LA", "LRWeird_4_LA", "LRWeird_5_LA",
        "LRWeird_6_LA", "LRLaPause_short", "guitar_melody", "LRFireballs_01_LA", "LRHits_01_LA",
        "lock",
    )),
    "flute_traversiere": "flute", "snare_drum": "snare drum", "drum_kit": "drum kit",
    "door_open": "canal lock gate opening", "door_close": "canal lock gate closing",
    "water_fill": "water filling a canal lock", "harbor1": "harbour", "harbor2": "harbour",
    "icy_walk": "footsteps on ice", "pickaxe": "pickaxe hitting rock", "drip": "water drip",
    "bubble": "bubbles", "helicopter": "helicopter", "car": "car passing", "train": "train",
    "xylofon_son1": "xylophone note", "xylofon_son2": "xylophone note",
    "xylofon_son3": "xylophone note", "xylofon_son4": "xylophone note",
}

# Words after the stem rule that read better otherwise.
CAPTION_FIXES: dict[str, str | None] = {
    "screw driver": "screwdriver", "plier": "pliers", "tweezer": "tweezers",
    "wrench": "adjustable wrench", "arc de triomphe": "arc de triomphe du carrousel",
    "gnu": "wildebeest", "flies": "fly", "gray": "grey", "mauve": "purple", "dragon": None,
    "animal": "animals",
    "bark": "dog barking", "ring": "ringing", "applauses": "applause",
    "heart beat": "heartbeat", "door open": "door opening", "buddhist gong": "buddhist gong",
    "start and stop car engine": "car engine starting and stopping",
    "frogs in pond during storm": "frogs in a pond during a storm",
    "rain in garden": "rain in a garden", "guitar son": "guitar note",
}

# Board titles that need a word more to say what is pictured.
TITLE_FIXES = {"cabrillo": "cabrillo national monument", "navajo": "navajo national monument"}

# Lang lessons: "number" is dropped (digits and number words), others become tags.
LANG_LESSON_TAGS = {"color": "colour", "bodyparts": "body part", "people": "person",
                    "animal": "animal", "fruit": "fruit"}

# Farm animals: the sound word in "The cow goes 'moo'" → a verb.
ANIMAL_VERBS = {"moo": "mooing", "neigh": "neighing", "cluck": "clucking", "meow": "meowing",
                "oink": "oinking", "quack": "quacking", "hoot": "hooting", "woof": "barking",
                "baa": "bleating"}

MAX_SAME_CAPTION = 4  # keep at most this many items with one caption (28 fish, 15 windmills)


def caption_from_stem(stem: str, *, sound: bool = False) -> str | None:
    """The caption of a file whose name is all we know, or None to drop it.

    Example:
        >>> caption_from_stem("screwDriver2")
        'screwdriver'
        >>> caption_from_stem("LRRain_in_garden_01_LA_cut", sound=True)
        'rain in a garden'
        >>> caption_from_stem("14_fox"), caption_from_stem("tux")
        ('fox', None)
    """
    table = SOUND_CAPTIONS if sound else STEM_CAPTIONS
    if stem in table:
        return table[stem]
    stem = re.sub(r"^\d+_", "", stem)  # memory cards: "14_fox"
    stem = re.sub(r"^LR", "", stem)  # memory-sound field recordings (Lionel's recordings)
    stem = re.sub(r"(_?LA)?(_?[cC]ut)?$", "", stem)
    caption = stem_caption(stem)
    return CAPTION_FIXES.get(caption, caption) or None


def farm_animal_caption(title: str, text: str) -> str:
    """"a cow mooing" from the title "Cow" and "The cow goes 'moo'. ...".

    Example:
        >>> farm_animal_caption("Dog", "The dog goes 'woof'. Dogs are ...")
        'a dog barking'
    """
    match = re.search(r"goes '(\w+)'", text)
    verb = ANIMAL_VERBS.get(match[1].lower()) if match else None
    if not verb:
        return title.lower()
    article = "an" if title[:1].lower() in "aeiou" else "a"
    return f"{article} {title.lower()} {verb}"
