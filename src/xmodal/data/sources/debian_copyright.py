"""Per-file licences from a machine-readable Debian ``copyright`` file (DEP-5) and from the
``README`` credit blocks some upstreams ship beside their media (``Copyright:``, ``License:``,
``Files:`` then one file name a line).

Used by loaders whose packages mix licences file by file, and to drop art whose ``Copyright``
or ``Comment`` says it comes from the Open Clip Art Library (off limits for training).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import translate
from functools import cache
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Stanza:
    """One ``Files:`` paragraph: its glob patterns and what it says about them."""

    patterns: tuple[str, ...]  # DEP-5 globs ("src/activities/traffic/resource/*.svg")
    copyright: str
    license: str  # normalised ("CC-BY-SA-4.0", "public-domain")
    comment: str = ""

    @property
    def openclipart(self) -> bool:
        """Whether the art comes from the Open Clip Art Library."""
        return "openclipart" in f"{self.copyright} {self.comment}".lower().replace(" ", "")


def parse_copyright(text: str) -> list[Stanza]:
    """The ``Files:`` paragraphs of a DEP-5 ``copyright`` file, in file order.

    Example:
        >>> s = parse_copyright("Files: *\\nCopyright: me\\nLicense: GPL-3+\\n\\n"
        ...                     "Files: a/*.svg\\n b.png\\nCopyright: Various - openclipart\\n"
        ...                     "License: public-domain\\n")
        >>> [x.patterns for x in s], s[1].openclipart, licence_for(s, "a/x.svg")
        ([('*',), ('a/*.svg', 'b.png')], True, 'public-domain')
    """
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields = _fields(block)
        if "files" in fields:
            stanzas.append(Stanza(patterns=tuple(fields["files"].split()),
                                  copyright=fields.get("copyright", ""),
                                  license=normalise_licence(fields.get("license", "")),
                                  comment=fields.get("comment", "")))
    return stanzas


def stanza_for(stanzas: list[Stanza], path: str) -> Stanza | None:
    """The stanza that governs ``path`` (DEP-5: the last one matching wins), or None.

    A pattern naming a file with another extension also matches ("fish1.jpg" covers
    "fish1.webp"): upstreams convert media and the copyright file keeps the old names.
    """
    found = None
    for stanza in stanzas:
        if _regex(stanza.patterns).match(path):
            found = stanza
    return found


def licence_for(stanzas: list[Stanza], path: str) -> str:
    """The normalised licence of ``path``, "" when no stanza covers it."""
    stanza = stanza_for(stanzas, path)
    return stanza.license if stanza else ""


def parse_readme_credits(text: str) -> dict[str, tuple[str, str]]:
    """File name → (licence, credit) from an upstream README's credit blocks.

    A block holds ``Copyright:``, ``License:`` (or ``Licence:``), ``Source:``, ``Comment(s):``
    and ``Files:`` in any order; file names follow ``Files:`` on its line or one a line.

    Example:
        >>> parse_readme_credits("Copyright: Evan-Amos\\nSource: https://x/y.jpg\\n"
        ...                      "License: Public Domain\\nFiles:\\nhammer5.webp\\n\\n"
        ...                      "Files: bee.webp\\nLicense: CC-BY-2.0\\n")
        {'hammer5.webp': ('public-domain', 'Evan-Amos'), 'bee.webp': ('CC-BY-2.0', '')}
    """
    credits: dict[str, tuple[str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        key = None
        for line in block.splitlines():
            match = _README_KEY.match(line)
            if match:
                key, value = match[1].lower(), match[2].strip()
                fields[key] = value
                if key == "files" and value:
                    files.append(value)
            elif key == "files" and line.strip():
                files.append(line.strip())
            elif key and line.strip():
                fields[key] += "\n" + line.strip()
        licence = normalise_licence(fields.get("license") or fields.get("licence", ""))
        for entry in files:
            name = entry.split()[0].rstrip(":")
            if licence:
                credits[name] = (licence, fields.get("copyright", ""))
    return credits


_README_KEY = re.compile(r"^\s*(copyright|license|licence|source|comments?|files)\s*:(.*)$", re.I)


def normalise_licence(text: str) -> str:
    """SPDX-like spelling: "Public Domain" → "public-domain", "CC-BY-SA 4.0" → "CC-BY-SA-4.0",
    "GPLv3" → "GPL-3"."""
    text = " ".join(text.split())
    if text.lower().replace("-", " ") == "public domain":
        return "public-domain"
    text = re.sub(r"\bGPLv(\d)", r"GPL-\1", text)
    return re.sub(r"(?<=[A-Za-z]) (?=\d)", "-", text)


def _fields(block: str) -> dict[str, str]:
    """``Key: value`` fields of one paragraph, continuation lines joined with newlines."""
    fields: dict[str, str] = {}
    key = None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


@cache
def _regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a stanza's globs, each also matching its path with another extension."""
    parts = []
    for pattern in patterns:
        parts.append(translate(pattern))
        suffix = PurePosixPath(pattern).suffix
        if suffix and not any(c in suffix for c in "*?["):
            stem = translate(pattern[: -len(suffix)])
            parts.append(stem.removesuffix(r"\Z") + r"\.[^/.]*\Z")
    return re.compile("|".join(f"(?:{p})" for p in parts))
