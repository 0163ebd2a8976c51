"""Routes between modalities on real data: image → text documents against image → captions.

Set-up: ``--n`` held-out pairs of the image starter (captions held out by hash, the split the
starter reports: :func:`xmodal.train.starters.held_out`; every image family, one image per
distinct caption, a hash-ordered sample). One index holds the images with their captions (the
caption in ``starter-image.text``, as ingest stores a caption) and the same caption strings as
plain ``.txt`` documents of another folder, indexed as every text document now is: by the text
model and by the text side of the image starter (:mod:`xmodal.index.text_spaces`).

Tables (each row a function of the shared :class:`Context`, returning :class:`Row` objects; a route
is one more function in :data:`SECTIONS`; a table's first row is its reference):

- ``image → captions`` (the reference): each image searches ``starter-image.text[image]``;
  relevant: its own caption.
- ``image → documents``: each image searches ``starter-image.text[text]``; relevant: the
  document holding its caption. The same texts embedded by the same model, reached by another
  path: Hit@10, MRR@10 and every query's top 10 (texts and order) must be identical, and the
  cosines equal to float32 rounding.
- ``text → documents``: the Python FAQ's questions search its answers (stored in every shared
  space), in the text model's collection alone (the reference: what a text query searched
  before) and in every text collection fused by rank (what it searches now), both with the
  ``bm25`` list.

Then the cost of storing text documents in every shared space, for ``xmodal demo``: per-item
indexing times (medians of ``--repeats`` fresh indexes, models loaded beforehand, as the demo
has them loaded for its images and sounds) of ``--faq`` Python FAQ documents with the text model
alone and with both starters' text sides, and of a slice of the demo's images and sounds; the
demo's growth is estimated from them for its corpus (4,500 images, 1,440 sounds, 173 FAQ
documents).

Run:
    python benchmarks/routes.py                    # 300 held-out pairs, the whole FAQ
    python benchmarks/routes.py --n 20 --faq-queries 20 --faq 8 --media 8 --repeats 1
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

K = 10
DEMO = {"image": 4500, "audio": 1440, "text": 173}
"""The demo corpus' documents per modality (README), for the indexing-cost estimate."""


@dataclass(frozen=True)
class Row:
    """One route's figures over its queries."""

    name: str  # "image → documents"
    lists: str  # the list searched
    queries: int
    hit10: float  # the relevant text in the top 10
    mrr10: float
    chance: float  # 10 / candidates
    median_ms: float  # per search, the query's image encoded beforehand (the same for all rows)
    tops: tuple[tuple[tuple[str, float], ...], ...] = ()  # per query: top-10 (text, cosine)


class ImageMemo:
    """An encoder whose image encodings are remembered per path: the rows search with the same
    query vectors, encoded once before any row is timed (encoders are deterministic)."""

    def __init__(self, encoder: Any) -> None:
        self._encoder, self._memo = encoder, {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if name != "encode_image":
            return attr

        def remembered(values: Sequence[str], **kw: Any) -> np.ndarray:
            key = tuple(values)
            if key not in self._memo:
                self._memo[key] = attr(list(values), **kw)
            return self._memo[key]

        return remembered


class Context:
    """What the rows share: the arguments, a work folder, the loaded models, and the held-out
    index (built on first use)."""

    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args, self.root = args, root

    @cached_property
    def models(self) -> dict[str, Any]:
        from xmodal.encoders import load_encoder

        return {m: load_encoder(spec) for m, spec in
                (("image", "starter-image"), ("audio", "starter-audio"), ("text", "minilm"))}

    @cached_property
    def faq(self) -> tuple[list[tuple[str, str]], Any]:
        """(the FAQ questions with their answer's file name, a Searcher over an index of the
        answers stored in every shared space), ``--faq-queries`` of them (all by default)."""
        from xmodal.data.corpus import CorpusFile, file_sha256
        from xmodal.data.sources import load_python_faq
        from xmodal.index import open_index
        from xmodal.index.ingest import ingest
        from xmodal.search.searcher import Searcher

        docs = self.root / "faq"
        docs.mkdir(parents=True, exist_ok=True)
        pairs, files = [], []
        for n, pair in enumerate(load_python_faq(limit=self.args.faq_queries).items):
            path = docs / f"faq-{n:03d}.txt"
            path.write_text(pair.document, encoding="utf-8")
            files.append(CorpusFile(path=path.resolve(), modality="text",
                                    sha256=file_sha256(path)))
            pairs.append((pair.query, path.name))
        m = self.models
        index = open_index(f"exact:{self.root / 'faq-index'}")
        ingest(index, files=files, encoders={"text": m["text"]},
               spaces=[m["image"], m["audio"]])
        by_name = {e.card.name: e for e in m.values()}
        return pairs, Searcher(index, load=lambda name: by_name[name], router_model=None)

    @cached_property
    def heldout(self) -> tuple[list[tuple[str, str]], Any]:
        """(the query images with their captions, a Searcher over the held-out index)."""
        from xmodal.data.corpus import CorpusFile, file_sha256
        from xmodal.index import open_index
        from xmodal.index.ingest import ingest
        from xmodal.search.searcher import Searcher
        from xmodal.train.starter_data import load_families
        from xmodal.train.starters import held_out

        by_caption: dict[str, str] = {}
        for p in load_families("image"):
            if held_out(p.caption):
                by_caption.setdefault(p.caption, p.item)
        order = sorted(by_caption, key=lambda c: hashlib.sha1(c.encode()).hexdigest())
        pairs = [(by_caption[c], c) for c in order[: self.args.n]]
        docs = self.root / "documents"
        docs.mkdir(parents=True, exist_ok=True)
        files = [CorpusFile(path=Path(item).resolve(), modality="image",
                            sha256=file_sha256(Path(item)), caption=caption)
                 for item, caption in pairs]
        for i, (_, caption) in enumerate(pairs):
            path = docs / f"{i:05d}.txt"
            path.write_text(caption, encoding="utf-8")  # the caption, byte for byte
            files.append(CorpusFile(path=path.resolve(), modality="text",
                                    sha256=file_sha256(path)))
        m = self.models
        index = open_index(f"exact:{self.root / 'heldout'}")
        report = ingest(index, files=files, encoders={"image": m["image"], "text": m["text"]},
                        spaces=[m["image"]])
        if report.failed:
            print(f"{len(report.failed)} images failed to decode: "
                  f"{report.failed[0].item}: {report.failed[0].reason}", file=sys.stderr)
            bad = {p.item for p in report.failed}
            pairs = [(i, c) for i, c in pairs if str(Path(i).resolve()) not in bad]
        memo = {"starter-image": ImageMemo(m["image"])}
        for item, _ in pairs:  # every query encoded once, before any row is timed
            memo["starter-image"].encode_image([item])
        return pairs, Searcher(index, load=lambda name: memo[name], router_model=None)


def _route(ctx: Context, name: str, modality: str) -> Row:
    """Each held-out image searches ``starter-image.text`` filtered to ``modality``'s texts
    (``image``: the captions; ``text``: the documents); relevant: its caption's text."""
    pairs, searcher = ctx.heldout
    texts = {}  # a document's path → its text
    ranks, tops, times = [], [], []
    for item, caption in pairs:
        started = time.perf_counter()
        result = searcher.search(image=item, modalities=[modality], k=K,
                                 collections=["starter-image.text"])
        times.append(1000 * (time.perf_counter() - started))
        top = []
        for h in result.hits:
            text = h.payload.get("caption") if modality == "image" else texts.setdefault(
                h.payload["path"], Path(h.payload["path"]).read_text("utf-8"))
            top.append((str(text), float(next(iter(h.raw_scores.values())))))
        tops.append(tuple(top))
        ranks.append(next((r for r, (t, _) in enumerate(top, 1) if t == caption), 0))
    listed = f"starter-image.text[{modality}]"
    return Row(name, listed, len(pairs), float(np.mean([0 < r <= K for r in ranks])),
               float(np.mean([1 / r if r else 0.0 for r in ranks])), K / len(pairs),
               statistics.median(times), tuple(tops))


def image_to_captions(ctx: Context) -> list[Row]:
    """The reference: image → its caption among the held-out captions."""
    return [_route(ctx, "image → captions", "image")]


def image_to_documents(ctx: Context) -> list[Row]:
    """Image → the same texts stored as documents (back-filled in the image starter's space)."""
    return [_route(ctx, "image → documents", "text")]


def _faq(ctx: Context, name: str, collections: list[str]) -> Row:
    """Each FAQ question searches the answers (``modalities=["text"]``) in ``collections``
    (empty: every text collection); relevant: its answer."""
    pairs, searcher = ctx.faq
    ranks, times = [], []
    for question, answer in pairs:
        started = time.perf_counter()
        result = searcher.search(question, modalities=["text"], k=K, collections=collections)
        times.append(1000 * (time.perf_counter() - started))
        found = [Path(h.payload["path"]).name for h in result.hits]
        ranks.append(found.index(answer) + 1 if answer in found else 0)
    lists = ", ".join(collections) if collections else "every text collection, fused"
    return Row(name, lists, len(pairs), float(np.mean([r > 0 for r in ranks])),
               float(np.mean([1 / r if r else 0.0 for r in ranks])), K / len(pairs),
               statistics.median(times))


def faq_text_model(ctx: Context) -> list[Row]:
    """The reference: the text model's list (and bm25) alone, as before documents were in
    every shared space."""
    return [_faq(ctx, "text → documents, text model", ["minilm.text"])]


def faq_every_space(ctx: Context) -> list[Row]:
    """The text model's list fused by rank with both starters' (and bm25)."""
    return [_faq(ctx, "text → documents, every space", [])]


SECTIONS: dict[str, list[Callable[[Context], list[Row]]]] = {
    "image → text documents vs image → captions (held-out pairs of the image starter)":
        [image_to_captions, image_to_documents],
    "text → text documents: the text model alone vs fused with the starters' text sides "
    "(Python FAQ: questions → answers)": [faq_text_model, faq_every_space],
}
"""The tables, each with its rows in order; a table's first row is the reference the others
are read against. A route is one more row function (or one more table)."""


def index_seconds(ctx: Context, files: list[Any], encoders: dict[str, Any],
                  spaces: list[Any]) -> float:
    """Median wall time of indexing ``files`` into fresh exact indexes."""
    from xmodal.index import open_index
    from xmodal.index.ingest import ingest

    times = []
    for rep in range(ctx.args.repeats):
        folder = ctx.root / f"cost-{len(files)}-{len(spaces)}-{rep}-{time.monotonic_ns()}"
        with open_index(f"exact:{folder}") as index:
            started = time.perf_counter()
            ingest(index, files=files, encoders=encoders, spaces=spaces, lexical=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def index_cost(ctx: Context) -> dict[str, float]:
    """Seconds per document: FAQ texts with the text model alone and with both starters'
    text sides; the demo's images and sounds; the estimated growth of the demo's indexing."""
    from xmodal.commands.demo import demo_files

    m = ctx.models
    corpus = demo_files(ctx.root / "demo", max(ctx.args.faq, ctx.args.media))  # per source
    texts = [f for f in corpus if f.modality == "text"][: ctx.args.faq]
    media = {}
    for kind in ("image", "audio"):  # spread over the demo's sources
        files = [f for f in corpus if f.modality == kind]
        media[kind] = files[:: max(1, len(files) // ctx.args.media)][: ctx.args.media]
    out = {"faq": len(texts)}
    out["text_s"] = index_seconds(ctx, texts, {"text": m["text"]}, []) / len(texts)
    out["text_spaces_s"] = index_seconds(ctx, texts, {"text": m["text"]},
                                         [m["image"], m["audio"]]) / len(texts)
    for kind, files in media.items():
        out[f"{kind}_s"] = index_seconds(ctx, files, {kind: m[kind]}, []) / len(files)
    before = sum(DEMO[k] * out[f"{k}_s"] for k in DEMO)
    extra = DEMO["text"] * (out["text_spaces_s"] - out["text_s"])
    out.update(demo_before_s=before, demo_extra_s=extra, demo_growth=extra / before)
    return out


def table(rows: list[Row]) -> list[str]:
    ref = rows[0]
    lines = ["| route | list | queries | Hit@10 | MRR@10 | chance | Hit@10 / ref | "
             "median ms | ms / ref |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.lists} | {r.queries} | {r.hit10:.3f} | {r.mrr10:.3f} | "
                     f"{r.chance:.3f} | {r.hit10 / ref.hit10 if ref.hit10 else float('nan'):.3f}"
                     f" | {r.median_ms:.1f} | {r.median_ms / ref.median_ms:.2f} |")
    return lines


def same_lists(a: Row, b: Row) -> tuple[int, float]:
    """Queries whose top 10 (texts, in order) agree, and the largest cosine difference."""
    agree = sum([t for t, _ in x] == [t for t, _ in y] for x, y in zip(a.tops, b.tops,
                                                                       strict=True))
    diff = max((abs(s - u) for x, y in zip(a.tops, b.tops, strict=True)
                for (_, s), (_, u) in zip(x, y, strict=False)), default=0.0)
    return agree, diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="held-out pairs (queries and texts)")
    ap.add_argument("--faq", type=int, default=60, help="FAQ documents timed for the cost")
    ap.add_argument("--faq-queries", type=int, default=None,
                    help="FAQ questions (and answers) of the text table (default: all)")
    ap.add_argument("--media", type=int, default=30, help="demo images and sounds timed")
    ap.add_argument("--repeats", type=int, default=3, help="fresh indexes per timing")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(args, Path(tmp))
        started = time.perf_counter()
        tables = {title: [r for fn in fns for r in fn(ctx)] for title, fns in SECTIONS.items()}
        print(f"# routes between modalities (k = {K})")
        for title, got in tables.items():
            print(f"\n## {title}\n")
            print("\n".join(table(got)))
        rows = next(iter(tables.values()))
        agree, diff = same_lists(rows[0], rows[1])
        same = rows[0].hit10 == rows[1].hit10 and rows[0].mrr10 == rows[1].mrr10
        target = (f"{'PASS' if same and agree == rows[0].queries else 'FAIL'} image → "
                  f"documents equals image → captions: Hit@10 and MRR@10 identical, top 10 "
                  f"identical on {agree}/{rows[0].queries} queries (max |Δ cosine| {diff:.1e})")
        print(f"\n## Target\n{target}")
        cost = index_cost(ctx)
        print(f"\n## Indexing cost of documents in every shared space ({cost['faq']} FAQ "
              f"documents, {args.media} images, {args.media} sounds; medians of "
              f"{args.repeats})\n")
        print("| per document | text model only | + starters' text sides | ratio |")
        print("|---|---|---|---|")
        print(f"| FAQ text | {cost['text_s'] * 1000:.1f} ms | {cost['text_spaces_s'] * 1000:.1f}"
              f" ms | {cost['text_spaces_s'] / cost['text_s']:.2f} |")
        print(f"\nimage {cost['image_s'] * 1000:.1f} ms, sound {cost['audio_s'] * 1000:.1f} ms "
              f"per document. The demo ({DEMO['image']} images, {DEMO['audio']} sounds, "
              f"{DEMO['text']} FAQ documents): about {cost['demo_before_s']:.0f} s of encoding "
              f"and storing, {cost['demo_extra_s']:+.0f} s with the documents in both "
              f"starters' spaces ({100 * cost['demo_growth']:+.1f} %).")
        print(f"\ntotal {time.perf_counter() - started:.0f} s (2 shared cores: read ratios)")
        if args.json:
            figures = {"tables": {t: [{k: v for k, v in dataclasses.asdict(r).items()
                                       if k != "tops"} for r in got]
                                  for t, got in tables.items()}, "target": target, "agree": agree,
                       "max_cosine_diff": diff, "index_cost": cost}
            args.json.write_text(json.dumps(figures, indent=1))
        ctx.heldout[1].index.close()


if __name__ == "__main__":
    main()
