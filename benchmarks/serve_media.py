"""Benchmark: stored media beside a search load on a real ``xmodal serve``.

Issue 15's target: 20 parallel media requests (a results grid's thumbnails) all answered 200
while searches run. Method:

- Index: ``--images`` emoji PNGs (emoji-datasource, spread over the set) copied to a temporary
  folder and indexed with ``xmodal index`` and its default models.
- Server: ``python -m xmodal serve`` in its own process (``benchmarks/serve_load.py``'s
  ``Server``) with ``--max-concurrency`` work slots (2: as on a small machine, so searches hold
  them all).
- Load: ``--clients`` threads send ``POST /search`` (text queries, closed loop) for the whole run.
- Media: ``--rounds`` times, 20 ``GET /media/{id}`` of distinct images at once, each on its own
  connection (as a browser fills a grid), first with no search load, then beside it. Counted
  per status, with the latency of each round's slowest answer.

Target: under the search load every media request is answered 200 (no 429, no error).

Run:
    python benchmarks/serve_media.py             # 200 images, 4 search clients, 10 rounds
    python benchmarks/serve_media.py --smoke     # 40 images, 2 clients, 3 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Server, _one, free_port
from video_decode import _emoji

PARALLEL = 20
QUERIES = ["a red apple", "a smiling face", "a dog", "a flag", "a car", "a heart", "the moon",
           "a cat", "fire", "a tree", "a house", "a clock"]


def fetch(port: int, method: str, path: str, body: dict | None = None,
          timeout: float = 30.0) -> tuple[int, bytes]:
    """One request on a fresh connection (``serve_load``'s client): (status, body); status 0
    for a connection error or a timeout."""
    try:
        return asyncio.run(_one(method, path, b"" if body is None else json.dumps(body).encode(),
                                port, timeout))
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return 0, b""


def build(folder: Path, n: int) -> None:
    """Copy ``n`` emoji PNGs to ``folder/images`` and index them into ``folder/index``."""
    items = _emoji()
    if not items:
        raise SystemExit("emoji-datasource is not installed: bash scripts/install-data.sh")
    images = folder / "images"
    images.mkdir(parents=True)
    for item in items[:: max(1, len(items) // n)][:n]:
        shutil.copy(item.path, images / Path(item.path).name)
    subprocess.run([sys.executable, "-m", "xmodal", "index", str(images), "--index",
                    str(folder / "index"), "--json"], check=True, capture_output=True)


def media_round(port: int, ids: list[str]) -> tuple[Counter, float]:
    """``len(ids)`` media requests at once; their statuses and the slowest answer (ms)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(ids)) as pool:
        statuses = list(pool.map(lambda i: fetch(port, "GET", f"/media/{i}")[0], ids))
    return Counter(statuses), (time.perf_counter() - started) * 1000


def search_load(port: int, stop: threading.Event, seen: Counter, lock: threading.Lock,
                seed: int) -> None:
    """One closed-loop search client, until ``stop``."""
    n = seed
    while not stop.is_set():
        status, _ = fetch(port, "POST", "/search", {"query": QUERIES[n % len(QUERIES)], "k": 10})
        with lock:
            seen[status] += 1
        n += 1


def run(port: int, ids: list[str], rounds: int, clients: int) -> dict[str, tuple]:
    """Media rounds without, then beside, the search load."""
    out: dict[str, tuple] = {}
    for phase in ("no search load", f"{clients} search clients"):
        stop, lock, searches = threading.Event(), threading.Lock(), Counter()
        threads = [threading.Thread(target=search_load, args=(port, stop, searches, lock, k))
                   for k in range(clients if phase != "no search load" else 0)]
        for t in threads:
            t.start()
        time.sleep(1.0 if threads else 0.0)  # the searches hold the slots
        total, slowest = Counter(), []
        for r in range(rounds):
            got, ms = media_round(port, ids[(r * PARALLEL) % len(ids):][:PARALLEL])
            total += got
            slowest.append(ms)
        stop.set()
        for t in threads:
            t.join()
        out[phase] = (total, sorted(slowest)[len(slowest) // 2], max(slowest), searches)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--max-concurrency", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="40 images, 2 clients, 3 rounds")
    args = ap.parse_args(argv)
    if args.smoke:
        args.images, args.clients, args.rounds = 40, 2, 3
    work = Path(tempfile.mkdtemp(prefix="xmodal-serve-media-"))
    t0 = time.perf_counter()
    build(work, args.images)
    print(f"indexed {args.images} images in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    server = Server(work / "index", free_port(), args.max_concurrency, work / "serve.log")
    try:
        server.wait_ready(120.0)
        status, body = fetch(server.port, "POST", "/search",
                             {"query": "emoji", "k": 100, "modalities": ["image"]}, 120.0)
        ids = list(dict.fromkeys(h["document_id"] for h in json.loads(body)["hits"]))
        if status != 200 or len(ids) < PARALLEL:
            raise SystemExit(f"need {PARALLEL} image ids, got {len(ids)} (HTTP {status})")
        results = run(server.port, ids, args.rounds, args.clients)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n## {PARALLEL} parallel GET /media/ID × {args.rounds} rounds, {args.images} images, "
          f"--max-concurrency {args.max_concurrency}\n")
    print("| phase | media requests | 200 | 429 | other | round p50 ms | round max ms "
          "| searches 200 | searches 429 | searches other |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for phase, (got, p50, worst, s) in results.items():
        n, sn = sum(got.values()), sum(s.values())
        print(f"| {phase} | {n} | {got[200]} | {got[429]} | {n - got[200] - got[429]} "
              f"| {p50:.0f} | {worst:.0f} | {s[200]} | {s[429]} | {sn - s[200] - s[429]} |")
    loaded = results[f"{args.clients} search clients"][0]
    ok = loaded[200] == sum(loaded.values())
    print(f"\n{'PASS' if ok else 'FAIL'} every media request beside the search load answered 200 "
          f"({loaded[200]}/{sum(loaded.values())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
