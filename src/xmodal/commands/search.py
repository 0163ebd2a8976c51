"""What ``xmodal search`` does, apart from argument parsing: search an index, print the hits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._output import echo

if TYPE_CHECKING:
    from xmodal.search.request import SearchRequest


def run_search(request: SearchRequest, *, index_uri: str, as_json: bool,
               searcher: Any = None) -> int:
    """Search and print a table (or JSON)."""
    from xmodal.index import open_index
    from xmodal.index.types import CollectionNotFoundError
    from xmodal.search.searcher import Searcher

    with open_index(index_uri) as index:
        s = searcher or Searcher(index)
        try:
            result = s.search(request)
        except (ValueError, CollectionNotFoundError) as exc:
            echo(f"error: {exc}", err=True)
            return 2
    if as_json:
        echo(json.dumps(result.to_json(), indent=1, default=str))
    else:
        print_table(request.query or request.image or request.audio or "", result)
    for e in result.errors:
        echo(f"error: {e}", err=True)
    return 0


def print_table(query: str, result: Any) -> None:
    """A plain-text table of the hits: rank, document, modality, score, raw scores."""
    echo(f'\n"{query}"')
    if not result.hits:
        echo("  (no hits)")
    for rank, hit in enumerate(result.hits, 1):
        p = hit.payload
        what = p.get("caption") or Path(str(p.get("path", hit.id))).name
        raw = ", ".join(f"{name} {s:.3f}#{hit.ranks[name]}" for name, s in hit.raw_scores.items())
        kind = "rrf" if hit.fused else "cos"
        echo(f"  {rank:>2}. {what[:48]:<48} {p.get('modality', '?'):<5} "
             f"{kind} {hit.score:.4f}  [{raw}]")
    for step in result.trace:
        echo(f"     · {step}")
