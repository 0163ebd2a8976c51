"""What ``xmodal search`` does, apart from argument parsing: search an index, print the hits."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._output import echo

if TYPE_CHECKING:
    from xmodal.search.request import SearchRequest


def run_search(request: SearchRequest, *, index_uri: str, as_json: bool,
               searcher: Any = None, device: str = "cpu", batch_size: int | None = None) -> int:
    """Search and print a table (or JSON); the models load on ``device`` (checked by the
    caller) and encode ``batch_size`` items per forward pass (None: their own default)."""
    from xmodal.index import open_index
    from xmodal.index.types import CollectionNotFoundError
    from xmodal.search.searcher import Searcher

    with open_index(index_uri) as index:
        s = searcher or Searcher(index, load=_loader(device, batch_size))
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


def run_routes(*, index_uri: str, as_json: bool) -> int:
    """``xmodal search --routes``: the index's reachability matrix (query modality × document
    modality: direct, pivot, or none with what to add; :mod:`xmodal.search.reach`)."""
    from xmodal.index import open_index
    from xmodal.search.reach import probe_holds, reachability

    with open_index(index_uri) as index:
        infos = index.collections()
        reach = reachability(infos, probe_holds(index, infos))
    if as_json:
        echo(json.dumps({"routes": reach.to_json()}, indent=1))
    else:
        for line in reach.table():
            echo(line)
    return 0


def _loader(device: str, batch_size: int | None) -> Any:
    """``load_encoder`` on ``device``, its encoders at ``batch_size`` items per pass."""
    import xmodal.encoders
    from xmodal.encoders.batch_size import with_batch_size

    def load(spec: str) -> Any:
        return xmodal.encoders.load_encoder(spec, device=device)

    return with_batch_size(load, batch_size)


def clock(seconds: float, *, hours: bool = False) -> str:
    """``mm:ss`` (``h:mm:ss`` with ``hours``) of a time in seconds, to the second.

    Example:
        >>> clock(75.4), clock(3725, hours=True)
        ('01:15', '1:02:05')
    """
    s = int(seconds)
    if hours:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60:02d}:{s % 60:02d}"


def time_span(t_start: float, t_end: float) -> str:
    """A hit's segment as ``mm:ss–mm:ss`` (hours when it ends at 1 h or later): the start
    rounded down, the end up, to the second, so the span covers the segment.

    Example:
        >>> time_span(40.0, 50.0), time_span(295.0, 304.5), time_span(3590, 3600)
        ('00:40–00:50', '04:55–05:05', '0:59:50–1:00:00')
    """
    start = math.floor(round(t_start, 3))
    end = math.ceil(round(t_end, 3))
    hours = end >= 3600
    return f"{clock(start, hours=hours)}–{clock(end, hours=hours)}"


def print_table(query: str, result: Any) -> None:
    """A plain-text table of the hits: rank, document (and the time span of its best segment,
    ``mm:ss–mm:ss``), modality, score, raw scores."""
    echo(f'\n"{query}"')
    if not result.hits:
        echo("  (no hits)")
    for rank, hit in enumerate(result.hits, 1):
        p = hit.payload
        what = p.get("caption") or Path(str(p.get("path", hit.id))).name
        if hit.t_start is not None and hit.t_end is not None:
            span = time_span(hit.t_start, hit.t_end)
            what = f"{what[: 47 - len(span)]} {span}"
        raw = ", ".join(f"{name} {s:.3f}#{hit.ranks[name]}" for name, s in hit.raw_scores.items())
        kind = "rrf" if hit.fused else "cos"
        echo(f"  {rank:>2}. {what[:48]:<48} {p.get('modality', '?'):<5} "
             f"{kind} {hit.score:.4f}  [{raw}]")
    for step in result.trace:
        echo(f"     · {step}")
