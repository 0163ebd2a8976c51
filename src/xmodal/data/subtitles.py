"""Subtitles as timed text: SubRip (``.srt``) and WebVTT (``.vtt``) files, and their writer.

A video's subtitles become :class:`TimedText` cues (seconds, plain text): styling is stripped
(``<i>``, ``<font …>``, WebVTT's ``<c.x>``, ``<v Name>`` and inline timestamps, ASS overrides
such as ``{\\an8}``), HTML entities are unescaped, and lines of one cue are joined by
``"\\n"``. Parsing is lenient, like players: a cue whose timing line does not parse, whose end
is before its start, or whose text is empty after stripping is left out; numbering, WebVTT
``NOTE`` / ``STYLE`` / ``REGION`` blocks and cue settings are ignored. Cues come back sorted by
start time.

Example:
    >>> srt = "1\\n00:00:01,000 --> 00:00:02,500\\n<i>Hello</i>\\n{\\\\an8}world\\n"
    >>> parse_srt(srt)
    (TimedText(t_start=1.0, t_end=2.5, text='Hello\\nworld'),)
"""

from __future__ import annotations

import html
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_SUBTITLE_BYTES",
    "SubtitleError",
    "TimedText",
    "clean_cue_text",
    "format_srt",
    "parse_srt",
    "parse_vtt",
    "read_subtitles",
]

#: Subtitle files larger than this are refused (a two-hour film's SubRip file is ~100 kB).
MAX_SUBTITLE_BYTES = 10_000_000

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>\n]*>")  # <i>, </font>, <c.yellow>, <v Bob>, <00:00:01.000>
_ASS_OVERRIDE = re.compile(r"\{\\[^}\n]*\}")  # {\an8}, {\i1}
_VTT_SKIPPED = ("NOTE", "STYLE", "REGION")


class SubtitleError(ValueError):
    """A subtitle file could not be read; the message names the file and the problem."""


@dataclass(frozen=True)
class TimedText:
    """One subtitle cue: plain text shown from ``t_start`` to ``t_end`` (seconds)."""

    t_start: float
    t_end: float
    text: str


def clean_cue_text(text: str) -> str:
    """A cue's plain text: tags and ASS overrides stripped, entities unescaped, ``\\N`` as a line
    break, blank lines and surrounding spaces removed.

    Example:
        >>> clean_cue_text("{\\\\an8}<font color='red'>Fish &amp; chips</font>\\\\Nplease ")
        'Fish & chips\\nplease'
    """
    text = _ASS_OVERRIDE.sub("", text).replace("\\N", "\n").replace("\\n", "\n")
    text = html.unescape(_TAG.sub("", text)).replace("\u00a0", " ")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str | None) -> float:
    frac = int(millis.ljust(3, "0")) / 1000 if millis else 0.0
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + frac


def _parse_blocks(text: str, *, vtt: bool) -> tuple[TimedText, ...]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cues: list[TimedText] = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = block.strip("\n").split("\n")
        if vtt and lines[0].strip().startswith(("WEBVTT", *_VTT_SKIPPED)):
            continue
        timing = next((i for i, line in enumerate(lines[:3]) if "-->" in line), None)
        if timing is None:
            continue
        match = _TIMING.match(lines[timing])
        if match is None:
            continue
        start, end = _seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])
        body = clean_cue_text("\n".join(lines[timing + 1 :]))
        if end >= start and body:
            cues.append(TimedText(t_start=start, t_end=end, text=body))
    return tuple(sorted(cues, key=lambda c: (c.t_start, c.t_end)))


def parse_srt(text: str) -> tuple[TimedText, ...]:
    """Parse SubRip text (``HH:MM:SS,mmm --> HH:MM:SS,mmm`` cues); bad cues are left out.

    Example:
        >>> parse_srt("1\\n00:00:00,500 --> 00:00:01,000\\nHi\\n\\n2\\nbroken\\n")
        (TimedText(t_start=0.5, t_end=1.0, text='Hi'),)
    """
    return _parse_blocks(text, vtt=False)


def parse_vtt(text: str) -> tuple[TimedText, ...]:
    """Parse WebVTT text (hours optional, cue settings and ``NOTE`` blocks ignored).

    Example:
        >>> parse_vtt("WEBVTT\\n\\nNOTE hi\\n\\n01:02.000 --> 01:03.500 line:0\\n<v Ann>Yes")
        (TimedText(t_start=62.0, t_end=63.5, text='Yes'),)
    """
    return _parse_blocks(text, vtt=True)


def _read_limited(path: str, max_bytes: int) -> bytes:
    """A regular file's bytes (no FIFO, socket or device is opened for reading: ``O_NONBLOCK``
    returns at once and ``fstat`` refuses them; symbolic links are not followed)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SubtitleError(f"{path}: not found") from None
    except OSError as exc:  # ELOOP: a symbolic link; EACCES...
        raise SubtitleError(f"{path}: could not be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SubtitleError(f"{path}: not a regular file")
        if st.st_size > max_bytes:
            raise SubtitleError(f"{path}: too large: {st.st_size:,} bytes, limit {max_bytes:,}")
        with os.fdopen(fd, "rb") as fh:
            fd = -1  # closed with fh
            return fh.read(max_bytes + 1)[:max_bytes]
    finally:
        if fd >= 0:
            os.close(fd)


def read_subtitles(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_SUBTITLE_BYTES
) -> tuple[TimedText, ...]:
    """Read a ``.srt`` or ``.vtt`` file (WebVTT also when its text starts with ``WEBVTT``).

    Text is UTF-8 (a BOM is dropped); a file that is not UTF-8 is read as Windows-1252, the
    usual legacy encoding of SubRip files (every byte decodes).

    Args:
        path: The subtitle file.
        max_bytes: Larger files are refused.

    Returns:
        The cues, sorted by start time (empty when none parses).

    Raises:
        SubtitleError: The file is missing, not a regular file (FIFO, device, symbolic link),
            too large, or holds NUL bytes (binary data).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.srt"
        >>> _ = p.write_text(format_srt([TimedText(0.0, 1.25, "café")]), encoding="utf-8")
        >>> read_subtitles(p)
        (TimedText(t_start=0.0, t_end=1.25, text='café'),)
    """
    name = os.fspath(path)
    data = _read_limited(name, max_bytes)
    if b"\x00" in data:
        raise SubtitleError(f"{name}: not a text file (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    vtt = name.lower().endswith(".vtt") or text.lstrip("\ufeff \n").startswith("WEBVTT")
    return parse_vtt(text) if vtt else parse_srt(text)


def _stamp(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d},{millis % 1000:03d}"


def format_srt(cues: Iterable[TimedText]) -> str:
    """SubRip text for ``cues`` (numbered from 1, times to the millisecond).

    Example:
        >>> print(format_srt([TimedText(61.5, 62.0, "one\\ntwo")]), end="")
        1
        00:01:01,500 --> 00:01:02,000
        one
        two
    """
    blocks = [f"{k}\n{_stamp(c.t_start)} --> {_stamp(c.t_end)}\n{c.text}\n"
              for k, c in enumerate(cues, start=1)]
    return "\n".join(blocks)
