"""The Python FAQ from Debian's ``python3.11-doc``: question → answer retrieval pairs."""

from __future__ import annotations

import re
from pathlib import Path

from ._common import Source, TextPair, require_path

ROOT = Path("/usr/share/doc/python3.11/html/_sources/faq")
INSTALL = "apt-get install python3.11-doc"
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")


def load_python_faq(*, limit: int | None = None, root: Path = ROOT) -> Source[TextPair]:
    """Every FAQ question (a ``-``-underlined heading) with its answer section as the document.

    Example:
        >>> pair = load_python_faq(limit=1).items[0]
        >>> pair.id, pair.query
        ('design:1', 'Why does Python use indentation for grouping of statements?')
    """
    files = sorted(require_path(root, "Python FAQ", INSTALL).glob("*.rst.txt"))
    pairs: list[TextPair] = []
    for f in files:
        if f.name.startswith("index"):
            continue
        pairs.extend(_pairs(f.name.split(".")[0], f.read_text(encoding="utf-8")))
    return Source(name="python-faq", items=tuple(pairs[:limit]), origin="Debian python3.11-doc",
                  license="PSF-2.0")


def _pairs(stem: str, text: str) -> list[TextPair]:
    lines = text.splitlines()
    heads = [  # (line index of the title, underline character)
        (i - 1, m.group(1)) for i, line in enumerate(lines)
        if i > 0 and (m := _UNDERLINE.match(line)) and lines[i - 1].strip()
        and len(line.strip()) >= len(lines[i - 1].strip())
    ]
    out: list[TextPair] = []
    for k, (title_at, char) in enumerate(heads):
        if char != "-":
            continue  # section titles (=) group questions; questions are the "-" headings
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        answer = " ".join(" ".join(lines[title_at + 2 : end]).split())
        if answer:
            out.append(TextPair(id=f"{stem}:{len(out) + 1}", query=lines[title_at].strip(),
                                document=answer))
    return out
