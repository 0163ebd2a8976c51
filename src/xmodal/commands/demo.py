"""What ``xmodal demo`` does: index a demo corpus of real data (incrementally), run queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._output import echo
from .index import DEFAULT_MODELS, run_index
from .search import print_table, time_span

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

TIMED = {"must": [{"key": "t_start", "range": {"gte": 0}}]}
"""The demo's queries by example look for places in videos and recordings: only time segments
carry ``t_start``, so this filter keeps them (the same images and sounds are also in the corpus
as files, and would come first)."""

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


def demo_files(root: Path, limit: int | None, *, full: bool = False,
               media: Path | None = None) -> list[Any]:
    """The demo corpus (:data:`DEMO_SOURCES`) as corpus files: images, sounds, Python FAQ texts
    (written to ``root/demo-texts``), each with its dataset caption, and the files of the
    ``media`` folder as ``xmodal index`` scans them (the composed video and recording). OpenMoji's
    SVGs cost 2.5× a PNG to encode (rendering), so the demo takes its first
    :data:`DEMO_OPENMOJI` unless ``full``; ``limit`` caps every source (quick runs)."""
    from xmodal.data.corpus import CorpusFile, file_sha256, scan_corpus
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
    if media is not None:
        files.extend(scan_corpus([media]).files)
    return files


def run_demo(*, index_dir: str, limit: int | None, workers: int, full: bool = False,
             queries: tuple[str, ...] = DEMO_QUERIES) -> int:
    """Index the demo corpus (incrementally) and run the demo queries."""
    from xmodal.index import open_index
    from xmodal.search.request import SearchRequest
    from xmodal.search.searcher import Searcher

    from .demo_media import compose_demo_media

    root = Path(index_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    echo(f"building the demo corpus (limit {limit or 'none'})…", err=True)
    media = compose_demo_media(root)
    files = demo_files(root, limit, full=full, media=media.folder)
    code = run_index([], index_uri=str(root), models=dict(DEFAULT_MODELS), prune=False,
                     workers=workers, as_json=False, files=files)
    if code:
        return code
    with open_index(str(root)) as index:
        searcher = Searcher(index)
        for q in queries:
            print_table(q, searcher.search(q, k=5))
        for kind, path, span in (("image", media.image_query, media.image_span),
                                 ("audio", media.audio_query, media.audio_span)):
            found = searcher.search(SearchRequest(**{kind: path}, k=5, filter=TIMED))
            print_table(f"--{kind} {path.name} --filter t_start≥0 (its place in "
                        f"{media.folder.name}: {time_span(*span)})", found)
    return 0
