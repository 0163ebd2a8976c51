"""Where a command's output goes: results to stdout, problems to stderr, flushed at once."""

from __future__ import annotations

import sys


def echo(text: str = "", *, err: bool = False) -> None:
    """Print ``text`` to stdout, or to stderr with ``err``, and flush.

    Example:
        >>> echo("3 indexed")
        3 indexed
    """
    print(text, file=sys.stderr if err else sys.stdout, flush=True)
