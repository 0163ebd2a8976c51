"""The General MIDI 1 sound set: the 128 instrument names (programs 0-127) and the percussion map.

Names are the GM1 specification's, lower-cased; programs are 0-based (MIDI interfaces show 1-128).

Example:
    >>> GM_INSTRUMENTS[0], GM_INSTRUMENTS[40], GM_PERCUSSION[38]
    ('acoustic grand piano', 'violin', 'acoustic snare')
"""

from __future__ import annotations

GM_INSTRUMENTS: tuple[str, ...] = (
    # 0-7 piano
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano",
    "electric piano 1", "electric piano 2", "harpsichord", "clavi",
    # 8-15 chromatic percussion
    "celesta", "glockenspiel", "music box", "vibraphone", "marimba", "xylophone", "tubular bells",
    "dulcimer",
    # 16-23 organ
    "drawbar organ", "percussive organ", "rock organ", "church organ", "reed organ", "accordion",
    "harmonica", "tango accordion",
    # 24-31 guitar
    "acoustic guitar (nylon)", "acoustic guitar (steel)", "electric guitar (jazz)",
    "electric guitar (clean)", "electric guitar (muted)", "overdriven guitar", "distortion guitar",
    "guitar harmonics",
    # 32-39 bass
    "acoustic bass", "electric bass (finger)", "electric bass (pick)", "fretless bass",
    "slap bass 1", "slap bass 2", "synth bass 1", "synth bass 2",
    # 40-47 strings
    "violin", "viola", "cello", "contrabass", "tremolo strings", "pizzicato strings",
    "orchestral harp", "timpani",
    # 48-55 ensemble
    "string ensemble 1", "string ensemble 2", "synthstrings 1", "synthstrings 2", "choir aahs",
    "voice oohs", "synth voice", "orchestra hit",
    # 56-63 brass
    "trumpet", "trombone", "tuba", "muted trumpet", "french horn", "brass section", "synthbrass 1",
    "synthbrass 2",
    # 64-71 reed
    "soprano sax", "alto sax", "tenor sax", "baritone sax", "oboe", "english horn", "bassoon",
    "clarinet",
    # 72-79 pipe
    "piccolo", "flute", "recorder", "pan flute", "blown bottle", "shakuhachi", "whistle", "ocarina",
    # 80-87 synth lead
    "lead 1 (square)", "lead 2 (sawtooth)", "lead 3 (calliope)", "lead 4 (chiff)",
    "lead 5 (charang)", "lead 6 (voice)", "lead 7 (fifths)", "lead 8 (bass + lead)",
    # 88-95 synth pad
    "pad 1 (new age)", "pad 2 (warm)", "pad 3 (polysynth)", "pad 4 (choir)", "pad 5 (bowed)",
    "pad 6 (metallic)", "pad 7 (halo)", "pad 8 (sweep)",
    # 96-103 synth effects
    "fx 1 (rain)", "fx 2 (soundtrack)", "fx 3 (crystal)", "fx 4 (atmosphere)",
    "fx 5 (brightness)", "fx 6 (goblins)", "fx 7 (echoes)", "fx 8 (sci-fi)",
    # 104-111 ethnic
    "sitar", "banjo", "shamisen", "koto", "kalimba", "bag pipe", "fiddle", "shanai",
    # 112-119 percussive
    "tinkle bell", "agogo", "steel drums", "woodblock", "taiko drum", "melodic tom", "synth drum",
    "reverse cymbal",
    # 120-127 sound effects
    "guitar fret noise", "breath noise", "seashore", "bird tweet", "telephone ring", "helicopter",
    "applause", "gunshot",
)

# Channel 10 (0-based 9) drum kit: MIDI key -> sound.
GM_PERCUSSION: dict[int, str] = dict(enumerate((
    "acoustic bass drum", "bass drum 1", "side stick", "acoustic snare", "hand clap",
    "electric snare", "low floor tom", "closed hi-hat", "high floor tom", "pedal hi-hat",
    "low tom", "open hi-hat", "low-mid tom", "hi-mid tom", "crash cymbal 1", "high tom",
    "ride cymbal 1", "chinese cymbal", "ride bell", "tambourine", "splash cymbal", "cowbell",
    "crash cymbal 2", "vibraslap", "ride cymbal 2", "hi bongo", "low bongo", "mute hi conga",
    "open hi conga", "low conga", "high timbale", "low timbale", "high agogo", "low agogo",
    "cabasa", "maracas", "short whistle", "long whistle", "short guiro", "long guiro", "claves",
    "hi wood block", "low wood block", "mute cuica", "open cuica", "mute triangle",
    "open triangle",
), start=35))
