"""Benchmark: image ↔ audio through the pivot, on GCompris' named instruments and farm animals
(issue 17, items 2 and 5).

Items that have an image, a sound and a caption: GCompris (Debian ``gcompris-qt-data``) draws
26 instruments and plays each one's note, and shows 9 farm animals (a photo and a drawing each)
with their calls; image and sound pair up by file name (``violin.svg`` ↔ ``violin.ogg``,
``chicken.*`` ↔ ``chickens.ogg``). No model here embeds both images and sounds: the packaged
starters are ``starter-image`` (images and text) and ``starter-audio`` (sounds and text), so an
image query reaches sounds only through the pivot (:mod:`xmodal.search.pivot`): its nearest
captions in ``starter-image.text``, re-embedded by ``starter-audio``'s text side, searched in
``starter-audio.audio``; audio → image the other way round.

Sets (the documents; the queries are always the paired items):

- ``paired``: the paired items alone (44 images, 35 sounds), each stored with its caption;
- ``gcompris``: every GCompris image and sound (photos, word pictures, field recordings, notes:
  more documents, and more captions for the pivot to pick wrongly), each with its caption.

Everything goes through the real code path: the files are written to a temporary folder with a
``captions.jsonl``, scanned with ``scan_corpus``, stored by ``xmodal.index.ingest`` with the
packaged starters into ``open_index(folder)`` (Qdrant Edge; ``--backend exact`` for NumPy), and
searched with ``Searcher.search(image=FILE, modalities=["audio"], k=10)`` as ``xmodal search
--image FILE --modality audio`` does. Rows:

- ``pivot (xmodal search)``: that search (5 pivot texts, weighted sum);
- ``weighted, N texts`` / ``RRF, 5 texts``: the same pivot rebuilt from ``search/pivot.py``'s
  parts with N pivot texts, or fused by RRF (k = 60) over one full-depth list per pivot text
  (generous to RRF: every document scored by every list); ``weighted, 5 texts`` must equal the
  searcher's row hit for hit (checked: the run stops otherwise);
- ``own caption left out``: the query's own caption removed from the pivot's candidates (a
  query the index has never seen);
- ``gold caption``: the query's true caption alone as the pivot text (the ceiling of step 3);
- ``held-out captions``: the searcher's row on the pairs whose captions both starters left out
  of training (``xmodal.train.starters.held_out``; the other pairs' captions were trained on,
  so most rows are in-domain for the starters).

Figures: Hit@10 and MRR@10 (the rank of the first relevant document; an animal's sound has two
relevant images), chance Hit@10 per query ``1 − C(N − R, 10) / C(N, 10)`` (N documents, R
relevant), averaged; Hit@10's standard error ``sqrt(p (1 − p) / n)`` over the queries. Target
(the issue's): the searcher's pivot Hit@10 ≥ 3 × chance, both directions, on both sets.

Run::

    python benchmarks/routes_pivot.py               # both sets: ~17 min on 2 cores at load ~10
    python benchmarks/routes_pivot.py --limit 4     # smoke size: 4 instruments, 2 animals
    python benchmarks/routes_pivot.py --json pivot.json
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

K = 10
SETS = ("paired", "gcompris")
DIRECTIONS = (("image", "audio"), ("audio", "image"))
MODELS = {"image": "starter-image", "audio": "starter-audio"}
SOUND_NAMES = {"chickens": "chicken"}  # the one sound named otherwise than its pictures
CAPTION = {"must": [{"key": "representation", "match": {"value": "caption"}}]}


@dataclass(frozen=True)
class Item:
    """A document: its source file, caption, pair name (None: not paired) and held-out flag."""

    src: Path
    caption: str
    name: str | None
    held_out: bool


PAIRED_FOLDERS = ("instruments/resource/", "explore_farm_animals/resource/animals/")


def pair_name(path: Path) -> str | None:
    """The pair an instrument's or farm animal's file belongs to (its stem), else None."""
    if not any(folder in path.as_posix() for folder in PAIRED_FOLDERS):
        return None
    stem = path.name.split(".")[0]
    return SOUND_NAMES.get(stem, stem)


def items(limit: int | None) -> dict[str, list[Item]]:
    """Every GCompris image and sound, the paired ones named (``--limit``: that many
    instruments and half as many animals, and as many unpaired documents per modality)."""
    from xmodal.data.sources import load_source
    from xmodal.train.starters import held_out

    found = {"image": load_source("gcompris-images").items,
             "audio": load_source("gcompris-sounds").items}
    names = {m: {pair_name(i.path) for i in its} - {None} for m, its in found.items()}
    paired = sorted(names["image"] & names["audio"])
    if limit is not None:
        animals = {pair_name(i.path) for i in found["audio"] if "animals" in i.path.parts}
        paired = ([n for n in paired if n not in animals][:limit]
                  + [n for n in paired if n in animals][:max(limit // 2, 1)])
    out = {}
    for m, its in found.items():
        docs = [Item(i.path, i.caption, n if (n := pair_name(i.path)) in paired else None,
                     held_out(i.caption)) for i in its]
        unpaired = [d for d in docs if d.name is None]
        out[m] = [d for d in docs if d.name is not None] + unpaired[:limit]
    return out


def build_index(docs: dict[str, list[Item]], root: Path, backend: str,
                load: Callable[[str], Any]) -> tuple[Any, dict[str, tuple[str, Item]]]:
    """Write the documents (neutral file names) with a ``captions.jsonl``, scan and ingest them
    as ``xmodal index`` does; the open index and the item of each stored path."""
    from xmodal.data.corpus import scan_corpus
    from xmodal.index import open_index
    from xmodal.index.ingest import ingest, manifest_path

    folder = root / "docs"
    folder.mkdir(parents=True)
    by_path: dict[str, tuple[str, Item]] = {}
    lines = []
    for modality, its in docs.items():
        for n, it in enumerate(its):
            dest = folder / f"{modality}-{n:04d}{''.join(it.src.suffixes[-1:])}"
            shutil.copyfile(it.src, dest)
            by_path[str(dest.resolve())] = (modality, it)
            lines.append(json.dumps({"file": dest.name, "caption": it.caption}))
    (folder / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    scan = scan_corpus([folder])
    uri = str(root / "index") if backend == "edge" else f"exact:{root / 'index'}"
    index = open_index(uri)
    report = ingest(index, files=list(scan.files), manifest=manifest_path(uri),
                    encoders={m: load(spec) for m, spec in MODELS.items()})
    if report.failed or report.indexed != len(by_path):
        raise RuntimeError(f"ingest did not store every document: {report.summary()}")
    return index, by_path


class Memo:
    """An encoder whose query encodings (texts, and files by path) are remembered: the rows
    embed each query and each pivot text once. Encoders are deterministic; ingest's calls
    (with keywords) pass through."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self._memo: dict[tuple[str, str], np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if name not in ("encode_query", "encode_image", "encode_audio"):
            return attr

        def remembered(values: Sequence[Any], **kwargs: Any) -> Any:
            if kwargs:
                return attr(values, **kwargs)
            keys = [(name, str(v)) for v in values]
            todo = list(dict.fromkeys(str(v) for k, v in zip(keys, values, strict=True)
                                      if k not in self._memo))
            if todo:
                for v, vec in zip(todo, attr(todo), strict=True):
                    self._memo[(name, v)] = np.asarray(vec)
            return np.stack([self._memo[k] for k in keys])

        return remembered


def pivot_rows(index: Any, searcher: Any, query: Path, q_mod: str, d_mod: str,
               own_caption: str) -> dict[str, list[str]]:
    """The hits' paths, best first, of every row but the searcher's, for one query."""
    from xmodal.search.hits import RankedList
    from xmodal.search.pivot import pivot_texts, pivot_vector
    from xmodal.search.rrf import rrf_fuse
    from xmodal.search.segments import search_documents

    src = index.collection(f"{MODELS[q_mod]}.text").info
    tgt = index.collection(f"{MODELS[d_mod]}.{d_mod}")
    qvec = searcher.encoder(src.model).__getattr__(f"encode_{q_mod}")([str(query)])[0]
    caps = index.collection(src.name).search(qvec, k=src.count, model=src.model,
                                             filter=CAPTION)[0]
    rows = [(str(p["caption"]), float(s), p["path"])
            for p, s in zip(caps.payloads, caps.scores.tolist(), strict=True)]
    scale = float(src.card["logit_scale"])
    encode = searcher.encoder(tgt.model).encode_query
    n_docs = tgt.count()

    def search(vec: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        got = search_documents(tgt, vec, k=k, list_name="pivot", model=tgt.model)
        return [p["path"] for p in got.payloads], list(got.scores)

    def weighted(texts: Sequence[Any]) -> list[str]:
        direction, _ = pivot_vector(encode([t.text for t in texts]), [t.weight for t in texts])
        return search(direction, K)[0]

    def texts(n: int, leave_out: bool = False) -> Any:
        kept = [(c, s) for c, s, p in rows if not (leave_out and p == str(query))]
        return pivot_texts([c for c, _ in kept], [s for _, s in kept], n=n, scale=scale)

    out = {f"weighted, {n} text{'s' if n > 1 else ''}": weighted(texts(n)) for n in (1, 5, 10)}
    lists = []
    for j, (t, vec) in enumerate(zip(texts(5), encode([t.text for t in texts(5)]),
                                     strict=True)):
        ids, scores = search(vec, n_docs)
        lists.append(RankedList(f"{j}:{t.text}", tuple(ids), tuple(scores)))
    out["RRF, 5 texts"] = [h.id for h in rrf_fuse(lists, k=60, limit=K)]
    out["own caption left out"] = weighted(texts(5, leave_out=True))
    gold = pivot_texts([own_caption], [1.0], n=1, scale=scale)
    out["gold caption"] = weighted(gold)
    return out


def chance(n_docs: int, relevant: int) -> float:
    """P(at least one of ``relevant`` documents among ``K`` drawn from ``n_docs``)."""
    return 1 - math.comb(n_docs - relevant, K) / math.comb(n_docs, K) if n_docs > K else 1.0


def run_set(name: str, docs: dict[str, list[Item]], backend: str,
            load: Callable[[str], Any]) -> list[dict[str, Any]]:
    """Build one set's index and measure every row in both directions."""
    from xmodal.search.searcher import Searcher

    root = Path(tempfile.mkdtemp(prefix=f"pivot-{name}-"))
    memo: dict[str, Memo] = {}

    def cached(spec: str) -> Any:
        if spec not in memo:
            memo[spec] = Memo(load(spec))
        return memo[spec]

    try:
        index, by_path = build_index(docs, root, backend, cached)
        searcher = Searcher(index, load=cached, router_model=None)
        results = []
        for q_mod, d_mod in DIRECTIONS:
            queries = [(p, it) for p, (m, it) in by_path.items()
                       if m == q_mod and it.name is not None]
            candidates = {p for p, (m, _) in by_path.items() if m == d_mod}
            n_docs = len(candidates)
            ranks: dict[str, list[int | None]] = {}
            held: list[bool] = []
            chances = []
            for path, it in queries:
                rel = {p for p in candidates if by_path[p][1].name == it.name}
                got = searcher.search(image=path, modalities=[d_mod], k=K) if q_mod == "image" \
                    else searcher.search(audio=path, modalities=[d_mod], k=K)
                rows = {"pivot (xmodal search)": [h.payload["path"] for h in got.hits]}
                rows.update(pivot_rows(index, searcher, Path(path), q_mod, d_mod, it.caption))
                if rows["weighted, 5 texts"] != rows["pivot (xmodal search)"]:
                    raise RuntimeError(f"{path}: the rebuilt pivot differs from the searcher's")
                for row, paths in rows.items():
                    ranks.setdefault(row, []).append(
                        next((r for r, p in enumerate(paths, 1) if p in rel), None))
                held.append(it.held_out and all(by_path[p][1].held_out for p in rel))
                chances.append(chance(n_docs, len(rel)))
            ranks["held-out captions"] = [r for r, h in zip(ranks["pivot (xmodal search)"], held,
                                                            strict=True) if h]
            for row, rs in ranks.items():
                cs = chances if row != "held-out captions" else [
                    c for c, h in zip(chances, held, strict=True) if h]
                results.append(figures(name, f"{q_mod} → {d_mod}", row, rs, cs, n_docs))
        index.close()
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


def figures(name: str, direction: str, row: str, ranks: Sequence[int | None],
            chances: Sequence[float], n_docs: int) -> dict[str, Any]:
    n = len(ranks)
    hit = sum(r is not None for r in ranks) / n if n else float("nan")
    mrr = sum(1 / r for r in ranks if r is not None) / n if n else float("nan")
    ch = sum(chances) / n if n else float("nan")
    se = math.sqrt(hit * (1 - hit) / n) if n else float("nan")
    return {"set": name, "direction": direction, "row": row, "queries": n, "documents": n_docs,
            "hit@10": hit, "hit@10_se": se, "mrr@10": mrr, "chance": ch,
            "x_chance": hit / ch if n else None}



def table(results: Sequence[dict[str, Any]]) -> list[str]:
    out = ["| set | direction | row | queries | documents | Hit@10 ± s.e. | MRR@10 | "
           "chance Hit@10 | × chance |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        x = "–" if not r["queries"] else f"{r['x_chance']:.2f}"
        out.append(f"| {r['set']} | {r['direction']} | {r['row']} | {r['queries']} | "
                   f"{r['documents']} | {r['hit@10']:.3f} ± {r['hit@10_se']:.3f} | "
                   f"{r['mrr@10']:.3f} | "
                   f"{r['chance']:.3f} | {x} |")
    return out


def targets(results: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        if r["row"] == "pivot (xmodal search)":
            ok = r["hit@10"] >= 3 * r["chance"]
            lines.append(f"{'PASS' if ok else 'FAIL'} {r['set']}: pivot {r['direction']} "
                         f"Hit@10 {r['hit@10']:.3f} (s.e. {r['hit@10_se']:.3f}) ≥ 3 × chance "
                         f"({3 * r['chance']:.3f})")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None,
                    help="instruments kept (half as many animals, as many unpaired documents)")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of " +
                    ", ".join(SETS))
    ap.add_argument("--backend", choices=["edge", "exact"], default="edge")
    ap.add_argument("--json", default="", help="write the figures here")
    args = ap.parse_args()
    from xmodal.encoders import load_encoder

    every = items(args.limit)
    results = []
    for name in args.sets.split(","):
        if name not in SETS:
            raise SystemExit(f"unknown set {name!r}: use {', '.join(SETS)}")
        docs = every if name == "gcompris" else {
            m: [i for i in its if i.name is not None] for m, its in every.items()}
        results += run_set(name, docs, args.backend, load_encoder)
    lines = table(results)
    goals = targets(results)
    print("\n".join(["# Pivot image ↔ audio (starter-image, starter-audio), k = 10", "",
                     *lines, "", *goals]))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "targets": goals},
                                              indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
