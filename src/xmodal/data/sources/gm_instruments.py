"""Notes of the 128 General MIDI instruments, rendered from Debian's ``timgm6mb-soundfont``.

Each render is one note held for 3/4 of the clip and released, mono, written once as a 16-bit
FLAC under ``data_dir()/gm-instruments/<rate>hz-<seconds>s/`` (a cache: existing files are not
rendered again). Captions name the dynamics, register and instrument ("loud low violin note"),
the words an audio-text model should learn. Rendering is deterministic: a fresh synthesiser per
note, no randomness, so the same settings give the same bytes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import AudioClip, Source, SourceMissingError, data_dir, require_path
from .gm_names import GM_INSTRUMENTS, GM_PERCUSSION

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
INSTALL = "apt-get install timgm6mb-soundfont"
INSTALL_SYNTH = "pip install --no-deps tinysoundfont"  # its pyaudio dependency does not build
REGISTERS: tuple[tuple[str, int], ...] = (("low", 48), ("mid", 60), ("high", 72))  # MIDI keys
DYNAMICS: tuple[tuple[str, int], ...] = (("soft", 40), ("loud", 110))  # MIDI velocities
DRUM_CHANNEL = 9  # MIDI channel 10
DRUM_BANK = 128  # SoundFont bank of the drum kits


def render_note(program: int, key: int, velocity: int, *, seconds: float = 2.0,
                sample_rate: int = 22050, drums: bool = False,
                soundfont: Path = SOUNDFONT) -> np.ndarray:
    """One note of GM ``program`` (0-127; with ``drums``, ``key`` picks the drum) as mono float32.

    The note is held for 3/4 of ``seconds``, then released; samples are clipped to [-1, 1].

    Example:
        >>> x = render_note(19, 60, 110, seconds=0.1, sample_rate=8000)  # church organ, middle C
        >>> x.shape, x.dtype, bool(abs(x).max() > 0.01)
        ((800,), dtype('float32'), True)
    """
    synth = _synth(sample_rate)
    sf2 = require_path(soundfont, "the TimGM6mb soundfont", INSTALL)
    sfid = synth.sfload(_soundfont_bytes(sf2))
    channel = DRUM_CHANNEL if drums else 0
    synth.program_select(channel, sfid, DRUM_BANK if drums else 0, 0 if drums else program,
                         is_drums=drums)
    n = round(seconds * sample_rate)
    held = n * 3 // 4
    synth.noteon(channel, key, velocity)
    first = bytes(synth.generate(held))
    synth.noteoff(channel, key)
    stereo = np.frombuffer(first + bytes(synth.generate(n - held)), np.float32).reshape(-1, 2)
    return np.clip(stereo.mean(axis=1), -1.0, 1.0).astype(np.float32)


def load_gm_instruments(
    *,
    notes: Sequence[tuple[str, int]] = REGISTERS,
    velocities: Sequence[tuple[str, int]] = DYNAMICS,
    seconds: float = 2.0,
    sample_rate: int = 22050,
    drums: bool = False,
    limit: int | None = None,
    cache: bool = True,
    root: Path | None = None,
    soundfont: Path = SOUNDFONT,
) -> Source[AudioClip]:
    """Every GM program at each (register, key) of ``notes`` and (dynamics, velocity).

    Items run program by program, then register, then dynamics: 128 × 3 × 2 = 768 by default
    (about 15 s to render the first time). Label = the GM instrument name; caption =
    "<dynamics> <register> <instrument> note". With ``drums``, the 47 GM drum-kit sounds follow
    at each dynamics (label = the drum, caption "loud open hi-hat hit"). ``cache=False`` renders
    again even where the file exists; ``limit`` renders only the first items.

    Example:
        >>> clip = load_gm_instruments(limit=1, seconds=0.1, sample_rate=8000).items[0]
        >>> clip.label, clip.caption, clip.path.name
        ('acoustic grand piano', 'soft low acoustic grand piano note', '000-n48-v40.flac')
    """
    _synth(sample_rate)  # fail early, with the install command, if tinysoundfont is missing
    require_path(soundfont, "the TimGM6mb soundfont", INSTALL)
    folder = (root or data_dir() / "gm-instruments") / f"{sample_rate}hz-{seconds:g}s"
    jobs = [(program, key, vel, False, name, f"{dyn} {reg} {name} note",
             f"{program:03d}-n{key}-v{vel}.flac")
            for program, name in enumerate(GM_INSTRUMENTS)
            for reg, key in notes for dyn, vel in velocities]
    if drums:
        jobs += [(0, key, vel, True, name, f"{dyn} {name} hit", f"drum-n{key}-v{vel}.flac")
                 for key, name in GM_PERCUSSION.items() for dyn, vel in velocities]
    items = []
    for program, key, vel, is_drum, label, caption, file_name in jobs[:limit]:
        path = folder / file_name
        if not cache or not path.exists():
            audio = render_note(program, key, vel, seconds=seconds, sample_rate=sample_rate,
                                drums=is_drum, soundfont=soundfont)
            _write_flac(path, audio, sample_rate)
        items.append(AudioClip(path=path, label=label, caption=caption))
    return Source(name="gm-instruments", items=tuple(items),
                  origin="Debian timgm6mb-soundfont rendered with PyPI tinysoundfont",
                  license="GPL-2 (TimGM6mb soundfont)")


@functools.lru_cache(maxsize=1)
def _soundfont_bytes(path: Path) -> bytes:  # read the 6 MB file once, not once per note
    return path.read_bytes()


def _synth(sample_rate: int) -> Any:  # tinysoundfont.Synth
    try:
        import tinysoundfont
    except ImportError as error:
        raise SourceMissingError(
            f"tinysoundfont is not installed: install it with `{INSTALL_SYNTH}`"
        ) from error
    return tinysoundfont.Synth(samplerate=sample_rate)


def _write_flac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write atomically (temporary file, then rename), so a cache file is never partial."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.flac")
    soundfile.write(tmp, audio, sample_rate, subtype="PCM_16", format="FLAC")
    tmp.replace(path)
