"""Scratch 1.4's media library: costume drawings, stage backgrounds and sound effects.

Debian ``scratch`` 1.4.0.6~dfsg1-6.1 ships them under ``usr/share/scratch/Media/``:
``Costumes/<folder>/*`` (GIF, PNG), ``Backgrounds/<folder>/*`` (JPG photos, some drawings)
and ``Sounds/<folder>/*`` (WAV 16-bit 11 kHz mono, MP3 44.1 kHz). ``Help/* Media/* Projects``
are CC-BY-SA-3.0 (``usr/share/doc/scratch/copyright``), by the MIT Media Lab's Scratch team.

Images: every Animals, Things and Transportation costume (the stem, with fix-ups such as
``sunglassF2`` → "sunglasses"), the People costumes whose file name says what they show
("ballerina", "girl sitting"; named ones like "cassy-dancing" are dropped), the Fantasy
characters with an everyday name ("dragon", "robot", "snowman"; "fantasy7", "gobo", "ghoul" are
dropped), and every background: "a photo of " + its words for photos ("a photo of a canyon"),
the stem for drawings ("bedroom"). ``Letters/``, ``*.sprite`` projects, the UI buttons and the
``xy-grid`` background are skipped.

Sounds: Animal, Effects, Human (coughs, laughs, sneezes: no speech), Instruments (minus the
musical cues "Chord", "SpookyString", "Suspense"), Percussion and the computer beeps of
Electronic (its sci-fi zaps are dropped); Music Loops and Vocals are music and speech. Most
MP3s carry large ID3v2 tags, which :func:`xmodal.data.audio.load_audio` discounts from
libsndfile's length estimate (it read 25 of the 45 as truncated before).
"""

from __future__ import annotations

from pathlib import Path

from ._common import (
    AudioClip,
    ImageText,
    Source,
    deb_root,
    require_deb,
    require_path,
    stem_caption,
)

PKG, VERSION = "scratch", "1.4.0.6~dfsg1-6.1"
MEDIA = "usr/share/scratch/Media"
LICENSE = "CC-BY-SA-3.0"
IMAGE_SUFFIXES = (".gif", ".png", ".jpg", ".svg")
SOUND_SUFFIXES = (".wav", ".mp3")

# Costume folder → (group, tags, the stem captions kept; None = all but COSTUME_DROPS).
COSTUMES: dict[str, tuple[str, tuple[str, ...], frozenset[str] | None]] = {
    "Animals": ("animals", ("animal",), None),
    "Things": ("things", ("object",), None),
    "Transportation": ("transportation", ("vehicle",), None),
    "People": ("people", ("person",), frozenset({
        "baby", "ballerina", "boy", "boy laughing", "boy shrugging", "boy standing",
        "boy walking", "boycurly", "boyshorts", "breakdancer", "diver", "football run",
        "football stand", "girl", "girl basketball", "girl running", "girl shouting",
        "girl sitting", "girl standing", "girl walking", "prince", "princess", "referee",
        "ribbon dancer", "singer", "thai dancer", "womanbun", "womanwaving"})),
    "Fantasy": ("fantasy", ("fantasy",), frozenset({
        "dragon", "fairy", "ghost", "knight", "robot", "snowman", "sun", "unicorn", "witch",
        "wizard"})),
}
COSTUME_DROPS = frozenset({"button", "button pressed", "magiccarpet"})  # UI buttons, fantasy
# Stem caption → the caption a person would search for (checked against the pictures).
COSTUME_FIXES = {
    "beachball": "beach ball", "bike": "bicycle", "car blue": "blue car",
    "car bug": "beetle car", "car cow": "cow print car", "cheesy puffs": "cheese puffs",
    "cub": "lion cub", "flower vase": "vase of flowers", "hair": "wig", "insect": "ant",
    "lego": "lego brick", "manhole": "manhole cover", "mic": "microphone",
    "palmtree": "palm tree", "partyhat": "party hat", "sail boat": "sailboat",
    "soccer": "soccer ball", "street cleaner mit": "street cleaner", "sunglass": "sunglasses",
    "tennisball": "tennis ball", "tug boat": "tugboat", "wizardhat": "wizard hat",
    "boycurly": "boy with curly hair", "boyshorts": "boy in shorts", "diver": "scuba diver",
    "football run": "football player running", "football stand": "football player standing",
    "girl basketball": "girl playing basketball", "womanbun": "woman with a hair bun",
    "womanwaving": "woman waving",
}
# Backgrounds that are drawings, not photos (by file stem; four of them are JPGs).
DRAWN = frozenset({
    "bedroom1", "bedroom2", "party-room", "room1", "room2", "room3", "spotlight-stage",
    "basketball-court2", "desert", "stars", "underwater", "woods", "woods-and-bench",
    "night-city", "night-city-with-street", "school1", "school2", "train-tracks3",
})
# A photo's stem caption → what follows "a photo of" (the stem when not listed).
PHOTO_PHRASES = {
    "chalkboard": "a chalkboard", "clothing store": "a clothing store", "hall": "a hallway",
    "kitchen": "a kitchen", "the movies inside": "a cinema lobby",
    "baseball field": "a baseball field", "basketball court": "a basketball court",
    "football field": "a football field", "playing field": "a playing field",
    "tennis backboard": "a tennis backboard", "beach malibu": "a beach in malibu",
    "canyon": "a canyon", "flower bed": "a flower bed", "forest": "a forest",
    "garden rock": "a rock in a garden", "grand canyon": "the grand canyon",
    "gravel desert": "a gravel desert", "hill": "a hill", "lake": "a lake",
    "moon": "the surface of the moon", "pathway": "a pathway", "tree": "a tree",
    "wave": "a wave", "all sports mural": "a sports mural", "atom playground": "a playground",
    "bench with view": "a bench with a view", "berkeley mural": "a mural in berkeley",
    "boardwalk": "a boardwalk", "brick wall": "a brick wall",
    "brick wall and stairs": "a brick wall and stairs", "building at mit": "a building at mit",
    "building fireproof": "a fireproof building", "castle": "a castle",
    "city with water": "a city by the water", "driveway": "a driveway",
    "hallway outdoors": "an outdoor hallway", "hay field": "a hay field",
    "mansion": "a mansion", "mural faro": "a mural", "parking ramp": "a parking ramp",
    "pool": "a swimming pool", "route": "route 66", "the movies": "a movie theater",
    "village": "a village", "wooden house": "a wooden house",
}
# Sound folder → the stem captions dropped (music cues, sci-fi zaps); folders not listed go.
SOUNDS: dict[str, frozenset[str]] = {
    "Animal": frozenset(), "Effects": frozenset(), "Human": frozenset(),
    "Instruments": frozenset({"chord", "spooky string", "suspense"}),
    "Percussion": frozenset(),
    "Electronic": frozenset({"alien creak", "dirty whir", "fairydust", "laser", "peculiar",
                             "screech", "space ripple", "spiral", "whoop", "zoop"}),
}
SOUND_FIXES = {
    "bird": "bird chirp", "cricket": "cricket chirping", "crickets": "crickets chirping",
    "dog": "dog bark", "duck": "duck quack", "goose": "goose honk", "horse": "horse neigh",
    "horse gallop": "horse galloping", "kitten": "kitten meow", "meow": "cat meow",
    "owl": "owl hoot", "rooster": "rooster crowing", "balloon scratch": "balloon squeak",
    "bell toll": "bell tolling", "door close": "door closing", "door creak": "door creaking",
    "ripples": "water ripples", "typing": "typing on a keyboard",
    "water running": "running water", "baby cry": "baby crying",
    "cough female": "woman coughing", "cough male": "man coughing",
    "laugh female": "woman laughing", "laugh male": "man laughing",
    "party noise": "party crowd noise", "scream female": "woman screaming",
    "scream male": "man screaming", "sneeze female": "woman sneezing",
    "sneeze male": "man sneezing", "afro string": "african string instrument",
    "dijjeridoo": "didgeridoo",
}


def _media(root: Path | None) -> tuple[Path, Path]:
    """The ``Media`` folder and the package root (checked), for ``root`` or the default."""
    if root is None:
        root = require_deb(PKG, VERSION, "Scratch media")
    media = require_path(root / MEDIA, "Scratch media",
                         f"apt-get download {PKG}={VERSION} && dpkg -x it into {deb_root(PKG)}")
    return media, root


def _origin(path: Path, root: Path) -> str:
    return f"Debian {PKG} {VERSION}: {path.relative_to(root).as_posix()}"


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file())


def load_scratch_images(*, limit: int | None = None, root: Path | None = None
                        ) -> Source[ImageText]:
    """Costumes (Animals, Things, Transportation, People, Fantasy), then backgrounds.

    Caption = the file stem's words with fix-ups ("sunglasses", "palm tree"); a photo
    background's is "a photo of " + its words. Group = the folder ("animals", "people",
    "backgrounds nature"); tags = a category word, and "photo" or "drawing" for backgrounds.

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``scratch`` package (default ``deb_root("scratch")``).

    Raises:
        SourceMissingError: the package is not unpacked.

    Example:
        >>> images = load_scratch_images().items
        >>> images[0].caption, images[0].group, images[0].path.name
        ('bat', 'animals', 'bat1-a.png')
        >>> [i.caption for i in images if i.path.stem in ("sunglassF2", "canyon", "bedroom1")]
        ['sunglasses', 'bedroom', 'a photo of a canyon']
    """
    media, root = _media(root)
    items: list[ImageText] = []
    for folder, (group, tags, keep) in COSTUMES.items():
        for path in _files(media / "Costumes" / folder, IMAGE_SUFFIXES):
            words = stem_caption(path.name)
            if words in COSTUME_DROPS or (keep is not None and words not in keep):
                continue
            items.append(ImageText(path=path, caption=COSTUME_FIXES.get(words, words),
                                   tags=tags, group=group, license=LICENSE,
                                   origin=_origin(path, root)))
    backgrounds = media / "Backgrounds"
    folders = sorted(p for p in backgrounds.iterdir() if p.is_dir()) if backgrounds.is_dir() else []
    for folder in folders:
        place = folder.name.lower()
        for path in _files(folder, IMAGE_SUFFIXES):
            words = stem_caption(path.name)
            if path.stem in DRAWN:
                caption, kind = words, "drawing"
            else:
                caption, kind = f"a photo of {PHOTO_PHRASES.get(words, words)}", "photo"
            items.append(ImageText(path=path, caption=caption, tags=("background", place, kind),
                                   group=f"backgrounds {place}", license=LICENSE,
                                   origin=_origin(path, root)))
    return Source(name="scratch-images", items=tuple(items[:limit]),
                  origin=f"Debian {PKG} {VERSION}", license=LICENSE)


def load_scratch_sounds(*, limit: int | None = None, root: Path | None = None
                        ) -> Source[AudioClip]:
    """The everyday sounds, by folder then name; label = the folder ("animal", "human").

    The items are the package's own WAV and MP3 files.

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``scratch`` package (default ``deb_root("scratch")``).

    Raises:
        SourceMissingError: the package is not unpacked.

    Example:
        >>> clips = load_scratch_sounds().items
        >>> [(c.label, c.caption) for c in clips[:2]]
        [('animal', 'bird chirp'), ('animal', 'cat')]
        >>> clips[1].path.name, clips[1].origin.endswith("Sounds/Animal/Cat.mp3")
        ('Cat.mp3', True)
    """
    media, root = _media(root)
    items = []
    for folder, drops in SOUNDS.items():
        for path in _files(media / "Sounds" / folder, SOUND_SUFFIXES):
            words = stem_caption(path.name)
            if words not in drops:
                items.append(AudioClip(path=path, label=folder.lower(),
                                       caption=SOUND_FIXES.get(words, words), license=LICENSE,
                                       origin=_origin(path, root)))
    return Source(name="scratch-sounds", items=tuple(items[:limit]),
                  origin=f"Debian {PKG} {VERSION}", license=LICENSE)
