"""Benchmark: SIGKILL an ingest at random points, many times, and count what survives.

The longer run of ``tests/index/test_ingest_crash.py``. For each backend (``edge``: Qdrant Edge,
the default ``open_index(folder)``; ``exact``: ``exact:PATH``), a corpus of ``--n`` files (a
third images, a third sounds, half of those captioned, a third text documents; read by a
bag-of-words encoder, so the run measures the store and the manifest, not a model) is ingested
by a worker process in batches of ``--batch``. The worker prints each document id once
``ingest`` acknowledges it (stored and recorded in the manifest). It is killed with SIGKILL
after a random number of acknowledgements plus a random delay, ``--kills`` times (fewer if it
finishes first); after each kill the index is reopened and checked. Finally an in-process ingest
resumes and the encoder counts what it embeds.

Columns: kills (that landed before the end), acknowledged (distinct docs), found (docs whose main
vector is stored after the last kill), lost (acknowledged, not completely stored: must be 0),
duplicates (points beyond the distinct ids: 0), partial (a main vector without its caption, or a
manifest entry missing from a collection it names: 0), unrecorded (max over kills of docs
stored but not yet in the manifest: adopted by the resume), re-encoded (files the resume
embedded) against expected (files not stored), and the final state after the resume.

Usage: ``python benchmarks/crash_ingest.py --n 1500 --kills 25``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.index.crash_worker import (  # noqa: E402
    check_store,
    encoded_files,
    kill_rounds,
    lite_encoders,
    write_crash_corpus,
)


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, object]:
    """Kill rounds then a resume on one backend; returns one table row."""
    corpus = work / "corpus"
    files = write_crash_corpus(corpus, args.n, seed=args.seed)
    uri = str(work / "edge") if backend == "edge" else f"exact:{work / 'exact'}"
    started = time.perf_counter()
    checks = kill_rounds(corpus, uri, files, kills=args.kills, batch=args.batch,
                         seed=args.seed, max_delay=args.max_delay)
    landed = [c for c in checks if c.found < args.n]
    last = checks[-1]
    from xmodal.index import open_index
    from xmodal.index.ingest import ingest, manifest_path

    encoders = lite_encoders()
    with open_index(uri) as index:
        report = ingest(index, [corpus], encoders=encoders, manifest=manifest_path(uri),
                        batch_size=args.batch)
    final = check_store(uri, files, {f.doc for f in files})
    return {
        "backend": backend, "N": args.n, "kills": len(landed),
        "acknowledged": last.acknowledged, "found": last.found,
        "lost": max(c.lost for c in checks), "duplicates": max(c.duplicates for c in checks),
        "partial": max(c.partial for c in checks),
        "unrecorded": max(c.unrecorded for c in checks),
        "search ok": all(c.search_ok for c in checks),
        "re-encoded": encoded_files(encoders), "expected": args.n - last.found,
        "adopted": report.unchanged - last.manifest,
        "final found/lost/dup/partial": (f"{final.found}/{final.lost}/{final.duplicates}/"
                                         f"{final.partial}"),
        "seconds": round(time.perf_counter() - started, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1500, help="files in the corpus")
    ap.add_argument("--kills", type=int, default=25, help="SIGKILLs per backend (at most)")
    ap.add_argument("--batch", type=int, default=4, help="ingest batch size")
    ap.add_argument("--max-delay", type=float, default=0.005,
                    help="random delay (s) after the chosen acknowledgement before the kill")
    ap.add_argument("--backends", nargs="+", default=["edge", "exact"],
                    choices=["edge", "exact"])
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = []
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as work:
            rows.append(run_backend(backend, args, Path(work)))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "|".join("---" for _ in keys) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    bad = [r["backend"] for r in rows if r["lost"] or r["duplicates"] or r["partial"]
           or r["re-encoded"] != r["expected"] or not r["search ok"]
           or not str(r["final found/lost/dup/partial"]).endswith("/0/0/0")]
    print("FAIL " + ", ".join(map(str, bad)) if bad else "PASS: nothing acknowledged lost, "
          "no duplicate or partial document, the resume embedded only what was not stored")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
