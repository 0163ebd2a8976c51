"""What ``xmodal index``, ``xmodal search`` and ``xmodal demo`` do, apart from argument parsing.

Each returns the process exit code. Results go to stdout (a table, or JSON with ``--json``);
problems go to stderr (and into the JSON), never silently dropped.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xmodal.search.request import SearchRequest

DEFAULT_MODELS = {"image": "starter-image", "audio": "starter-audio", "text": "minilm"}
"""Encoder per document modality when none is given: the packaged models (no download)."""

DEMO_OPENMOJI = 1000
"""OpenMoji emoji in the default demo (all 4,495 with ``xmodal demo --full``): the demo stays
well under 15 minutes on 2 cores."""

DEMO_SOURCES: tuple[tuple[str, str, int | None], ...] = (
    ("openmoji", "image", DEMO_OPENMOJI),
    ("emoji-datasource", "image", None),
    ("sweethome3d", "image", None),  # furniture, household objects, vehicles (renders)
    ("gcompris-images", "image", None),  # photos and drawings of tools, animals, food
    ("scratch-images", "image", None),  # animals, things, vehicles; photo backgrounds
    ("sonic-pi", "audio", None),
    ("freedesktop-sounds", "audio", None),
    ("gm-instruments", "audio", None),
    ("openttd-sounds", "audio", None),  # vehicles, machines, animals
    ("widelands-sounds", "audio", None),  # animals, crafts, tools
    ("minetest-sounds", "audio", None),  # footsteps, doors, fire, water
    ("lincity-sounds", "audio", None),  # city ambiences, traffic, crowds
    ("gcompris-sounds", "audio", None),  # farm animals, instruments, field recordings
    ("scratch-sounds", "audio", None),  # animals, household effects, human sounds
)
"""The demo corpus: (source, modality, cap). Emoji and instrument notes, plus everyday objects,
photos and sounds from Debian's education and game packages."""

DEMO_QUERIES = (
    "a red heart",
    "a cat",
    "a wooden chair",
    "a bicycle",
    "the sound of a drum",
    "a steam train whistle",
    "footsteps on gravel",
    "a cow mooing",
    "how do I copy a file in python",
)


def _echo(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _encoders(models: dict[str, str], wanted: set[str]) -> dict[str, Any]:
    from xmodal.encoders import load_encoder

    return {m: load_encoder(spec) for m, spec in models.items() if m in wanted and spec}


def run_index(paths: list[str], *, index_uri: str, models: dict[str, str], prune: bool,
              workers: int, as_json: bool, files: list[Any] | None = None) -> int:
    """Scan, encode and store; exit 0 unless nothing could be indexed and something failed."""
    from xmodal.data.corpus import scan_corpus
    from xmodal.index import open_index
    from xmodal.index.ingest import ingest, manifest_path

    started = time.perf_counter()
    skipped_scan: list[Any] = []
    if files is None:
        try:
            scan = scan_corpus(paths)
        except FileNotFoundError as exc:
            _echo(f"error: {exc}", err=True)
            return 2
        files, skipped_scan = list(scan.files), list(scan.skipped)
    try:
        encoders = _encoders(models, {f.modality for f in files})
    except (ImportError, RuntimeError, ValueError, OSError) as exc:  # a model that won't load
        _echo(f"error: {exc}", err=True)
        return 2

    def progress(modality: str, done: int, total: int) -> None:
        if not as_json:
            _echo(f"  {modality}: {done}/{total}", err=True)

    with open_index(index_uri) as index:
        report = ingest(index, files=files, encoders=encoders, manifest=manifest_path(index_uri),
                        prune=prune, workers=workers, progress=progress)
    skipped = [*skipped_scan, *report.skipped]
    seconds = time.perf_counter() - started
    for p in report.failed:
        _echo(f"failed: {p.item}: {p.reason}", err=True)
    if as_json:
        _echo(json.dumps(report.to_json(scan_skipped=skipped_scan, seconds=seconds), indent=1))
    else:
        _echo(f"{report.summary()} in {seconds:.1f} s")
        for p in skipped[:20]:
            _echo(f"skipped: {p.item}: {p.reason}", err=True)
    nothing = report.indexed == 0 and report.unchanged == 0
    return 1 if nothing and report.failed else 0


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
            _echo(f"error: {exc}", err=True)
            return 2
    if as_json:
        _echo(json.dumps(result.to_json(), indent=1, default=str))
    else:
        print_table(request.query or request.image or request.audio or "", result)
    for e in result.errors:
        _echo(f"error: {e}", err=True)
    return 0


def print_table(query: str, result: Any) -> None:
    """A plain-text table of the hits: rank, document, modality, score, raw scores."""
    _echo(f'\n"{query}"')
    if not result.hits:
        _echo("  (no hits)")
    for rank, hit in enumerate(result.hits, 1):
        p = hit.payload
        what = p.get("caption") or Path(str(p.get("path", hit.id))).name
        raw = ", ".join(f"{name} {s:.3f}#{hit.ranks[name]}" for name, s in hit.raw_scores.items())
        kind = "rrf" if hit.fused else "cos"
        _echo(f"  {rank:>2}. {what[:48]:<48} {p.get('modality', '?'):<5} "
              f"{kind} {hit.score:.4f}  [{raw}]")
    for step in result.trace:
        _echo(f"     · {step}")


def demo_files(root: Path, limit: int | None, *, full: bool = False) -> list[Any]:
    """The demo corpus (:data:`DEMO_SOURCES`) as corpus files: images, sounds, Python FAQ texts
    (written to ``root/demo-texts``), each with its dataset caption. OpenMoji's SVGs cost 2.5×
    a PNG to encode (rendering), so the demo takes its first :data:`DEMO_OPENMOJI` unless
    ``full``; ``limit`` caps every source (quick runs)."""
    from xmodal.data.corpus import CorpusFile, file_sha256
    from xmodal.data.sources import load_python_faq, load_source

    files: list[CorpusFile] = []
    seen: set[Path] = set()
    for source, modality, cap in DEMO_SOURCES:
        n = min(x for x in (limit, None if full else cap, 10**9) if x is not None)
        for item in load_source(source, limit=n).items:
            path = Path(item.path).resolve()
            if path in seen:  # a dataset naming one file twice (aliases): indexed once
                continue
            seen.add(path)
            files.append(CorpusFile(path=path, modality=modality, sha256=file_sha256(path),
                                    caption=item.caption))
    texts = root / "demo-texts"
    texts.mkdir(parents=True, exist_ok=True)
    for pair in load_python_faq(limit=limit).items:
        path = texts / f"{pair.id.replace(':', '-')}.txt"
        body = f"{pair.query}\n\n{pair.document}\n"
        if not path.is_file() or path.read_text("utf-8") != body:
            path.write_text(body, encoding="utf-8")
        files.append(CorpusFile(path=path.resolve(), modality="text", sha256=file_sha256(path)))
    return files


def run_demo(*, index_dir: str, limit: int | None, workers: int, full: bool = False,
             queries: tuple[str, ...] = DEMO_QUERIES) -> int:
    """Index the demo corpus (incrementally) and run the demo queries."""
    from xmodal.index import open_index
    from xmodal.search.searcher import Searcher

    root = Path(index_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    _echo(f"building the demo corpus (limit {limit or 'none'})…", err=True)
    files = demo_files(root, limit, full=full)
    code = run_index([], index_uri=str(root), models=dict(DEFAULT_MODELS), prune=False,
                     workers=workers, as_json=False, files=files)
    if code:
        return code
    with open_index(str(root)) as index:
        searcher = Searcher(index)
        for q in queries:
            print_table(q, searcher.search(q, k=5))
    return 0
