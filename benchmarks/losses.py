"""Benchmark: forward + backward of contrastive losses against open_clip and a GEMM floor.

Measures wall time, process CPU time and peak RSS of one forward + backward pass of the CLIP
(symmetric softmax) and SigLIP (sigmoid) losses on random L2-normalised float32 features
(N × d, d = 512 by default) for a list of batch sizes N. Rows:

- ``xmodal_clip_tiled``, ``xmodal_siglip_tiled``: ``xmodal.losses`` with ``mode="tiled"``;
- ``xmodal_clip_direct``, ``xmodal_siglip_direct``: the same with ``mode="direct"`` (N × N);
- ``open_clip_clip``, ``open_clip_siglip``: open_clip's ``ClipLoss`` / ``SigLipLoss``
  (``open_clip/loss.py`` loaded by file path; open_clip's package import needs torchvision);
- ``gemm_floor``: 3 × the time of one (N × d) @ (d × N) GEMM, the FLOP floor of the direct
  formula (forward + backward are 3 such products), measured in the same run.

Every (impl, N) point runs in a fresh subprocess (hidden ``--point IMPL N`` mode), so its peak
RSS is its own, under an ``RLIMIT_AS`` cap so that an O(N²) implementation fails cleanly.

Run:
    python benchmarks/losses.py --sizes 1024,4096
    python benchmarks/losses.py --json /tmp/losses.json          # full default sweep (slow)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

GIB = 1024**3
IMPLS = ("xmodal_clip_tiled", "xmodal_siglip_tiled", "xmodal_clip_direct", "xmodal_siglip_direct",
         "open_clip_clip", "open_clip_siglip", "gemm_floor")
DEFAULT_SIZES = "1024,4096,16384,32768,65536,131072"
FULL_GEMM_MAX_N = 32768
BLOCK_OUT_BYTES = GIB  # output size of one GEMM row block when N > FULL_GEMM_MAX_N
OPEN_CLIP_REF = {"xmodal_clip_tiled": "open_clip_clip", "xmodal_siglip_tiled": "open_clip_siglip"}


@dataclass
class Point:
    """One measured (or skipped / failed) (impl, N) point."""

    impl: str
    n: int
    status: str  # ok | oom | skipped | timeout | error | not installed
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_gib: float | None = None
    pre_gib: float | None = None
    gflops: float | None = None
    threads: int | None = None
    note: str = ""

    @property
    def delta_gib(self) -> float | None:
        if self.peak_gib is None or self.pre_gib is None:
            return None
        return self.peak_gib - self.pre_gib


# ----------------------------------------------------------------------------- point process


def _load_open_clip_loss() -> ModuleType | None:
    """open_clip/loss.py loaded by path, without importing the open_clip package."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "loss.py"
    file_spec = importlib.util.spec_from_file_location("_open_clip_loss", path)
    if file_spec is None or file_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


def _loss_step(impl: str, tile_size: int | None) -> Callable[[Any, Any], Any]:
    """A function (img, txt) -> scalar loss, holding the learnable temperature / bias."""
    import torch

    family = "siglip" if "siglip" in impl else "clip"
    if family == "clip":
        params = (torch.nn.Parameter(torch.tensor(math.log(1 / 0.07))),)
    else:
        params = (torch.nn.Parameter(torch.tensor(math.log(10.0))),
                  torch.nn.Parameter(torch.tensor(-10.0)))
    if impl.startswith("open_clip"):
        mod = _load_open_clip_loss()
        assert mod is not None
        crit = mod.ClipLoss() if family == "clip" else mod.SigLipLoss()
        return lambda img, txt: crit(img, txt, params[0].exp(), *params[1:])

    from xmodal.losses import clip_loss, siglip_loss

    kw: dict[str, Any] = {"mode": impl.rsplit("_", 1)[1]}
    if tile_size is not None:
        kw["tile_size"] = tile_size
    if family == "clip":
        return lambda img, txt: clip_loss(img, txt, logit_scale=params[0].exp(), **kw)
    return lambda img, txt: siglip_loss(img, txt, logit_scale=params[0].exp(),
                                        logit_bias=params[1], **kw)


def _features(n: int, dim: int, seed: int = 0) -> tuple[Any, Any]:
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(n, dim, generator=gen), dim=-1)
    txt = F.normalize(img + 0.5 * torch.randn(n, dim, generator=gen), dim=-1)
    return img.requires_grad_(), txt.requires_grad_()


def _schedule(n: int) -> tuple[bool, int]:
    """(warm-up?, timed repetitions) for batch size n."""
    reps = 3 if n <= 8192 else 2 if n <= 16384 else 1
    return n < 32768, reps


def _timed(step: Callable[[], None], n: int, min_total_s: float = 0.0) -> tuple[float, float]:
    """Median wall and process-CPU seconds of ``step`` over the schedule for n.

    With ``min_total_s``, cheap steps get extra reps (up to 100) to fill that much time.
    """
    warm, reps = _schedule(n)
    if warm:
        t0 = time.perf_counter()
        step()
        reps = max(reps, min(100, int(min_total_s / (time.perf_counter() - t0))))
    walls, cpus = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def _current_rss_gib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / GIB


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def _measure_loss(impl: str, n: int, dim: int, tile_size: int | None) -> dict[str, Any]:
    img, txt = _features(n, dim)
    loss_fn = _loss_step(impl, tile_size)

    def step() -> None:
        img.grad = txt.grad = None
        loss_fn(img, txt).backward()

    pre = _current_rss_gib()
    wall, cpu = _timed(step, n)
    return {"wall_s": wall, "cpu_s": cpu, "pre_gib": pre}


def _measure_gemm(n: int, dim: int) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, dim, generator=gen), torch.randn(n, dim, generator=gen)
    rows = n if n <= FULL_GEMM_MAX_N else min(n, max(1024, BLOCK_OUT_BYTES // (4 * n)))
    a_rows = a[:rows].contiguous()
    out = torch.empty(rows, n)

    def step() -> None:
        torch.mm(a_rows, b.T, out=out)

    pre = _current_rss_gib()
    wall, cpu = _timed(step, n, min_total_s=1.0)
    scale = n / rows
    gflops = 2.0 * rows * n * dim / wall / 1e9
    note = f"GEMM {gflops:.0f} GFLOP/s" + ("" if rows == n else f" ({rows}-row block, scaled)")
    cost = {"wall_s": 3 * wall * scale, "cpu_s": 3 * cpu * scale}
    return cost | {"pre_gib": pre, "gflops": gflops, "note": note}


def run_point(impl: str, n: int, dim: int, tile_size: int | None) -> None:
    """Measure one point in this process and print one JSON line."""
    import torch

    result: dict[str, Any] = {"impl": impl, "n": n, "threads": torch.get_num_threads()}
    try:
        if impl == "gemm_floor":
            result.update(_measure_gemm(n, dim), status="ok")
        else:
            result.update(_measure_loss(impl, n, dim, tile_size), status="ok")
    except (MemoryError, RuntimeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        oom = isinstance(exc, MemoryError) or "allocate" in msg or "memory" in msg.lower()
        note = msg.split("DefaultCPUAllocator: ")[-1][:200]
        result.update(status="oom" if oom else "error", note=note)
    result["peak_gib"] = _peak_rss_gib()
    print(json.dumps(result), flush=True)


# ----------------------------------------------------------------------------- driver


def memory_cap_bytes() -> int:
    """RLIMIT_AS for point processes: min(22 GiB, MemAvailable − 1 GiB)."""
    avail = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    if avail is None:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return min(22 * GIB, avail - GIB)


def estimate_bytes(impl: str, n: int) -> int | None:
    """Rough size of the N × N buffers an O(N²) implementation holds (an estimate only)."""
    if impl.endswith("_tiled") or impl == "gemm_floor":
        return None
    return (20 if "siglip" in impl else 16) * n * n


def _spawn(impl: str, n: int, args: argparse.Namespace, cap: int) -> Point:
    cmd = [sys.executable, __file__, "--point", impl, str(n), "--dim", str(args.dim)]
    if args.tile_size is not None:
        cmd += ["--tile-size", str(args.tile_size)]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                              preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        return Point(impl, n, "timeout", note=f"> {args.timeout:g} s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode == 0 and lines:
        rec = json.loads(lines[-1])
        return Point(**{k: v for k, v in rec.items() if k in Point.__dataclass_fields__})
    err = (proc.stderr.strip().splitlines() or [""])[-1][:200]
    if proc.returncode < 0:
        note = f"killed by signal {-proc.returncode} (likely OOM) {err}".strip()
        return Point(impl, n, "error", note=note)
    return Point(impl, n, "error", note=f"exit {proc.returncode}: {err}")


def measure(impl: str, n: int, args: argparse.Namespace, cap: int) -> Point:
    """One point: skipped if unavailable or too big, otherwise run in a subprocess."""
    if impl.startswith("open_clip") and importlib.util.find_spec("open_clip") is None:
        return Point(impl, n, "not installed")
    est = estimate_bytes(impl, n)
    if est is not None and est > cap:
        return Point(impl, n, "skipped")
    return _spawn(impl, n, args, cap)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _status_cell(p: Point) -> str:
    est = estimate_bytes(p.impl, p.n)
    need = "" if est is None else f"≈ {est / GIB:.1f} GiB"
    if p.status == "oom":
        return f"OOM (needs {need})" if need else "OOM"
    if p.status == "skipped":
        return f"skipped: would need {need}"
    return p.status


def _ratio(p: Point, ref: Point | None) -> str:
    if p.wall_s is None or ref is None or not ref.wall_s:
        return ""
    return f"{p.wall_s / ref.wall_s:.2f}"


def render_table(points: list[Point]) -> str:
    """Markdown table of all points, grouped by N."""
    by_key = {(p.impl, p.n): p for p in points}
    head = "N|impl|wall s|CPU s|peak RSS GiB|Δ loss GiB|time / open_clip|time / floor|note"
    rows = [head.split("|"), ["---:", "---", *["---:"] * 6, "---"]]
    for p in points:
        ref = by_key.get((OPEN_CLIP_REF.get(p.impl, ""), p.n))
        floor = by_key.get(("gemm_floor", p.n))
        wall = _fmt(p.wall_s) if p.status == "ok" else _status_cell(p)
        mem = [_fmt(p.peak_gib, 2), _fmt(p.delta_gib, 2)]
        vs_floor = "" if p.impl == "gemm_floor" else _ratio(p, floor)
        rows.append([str(p.n), p.impl, wall, _fmt(p.cpu_s), *mem, _ratio(p, ref), vs_floor, p.note])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    )


def _ok(points: dict[tuple[str, int], Point], impl: str, n: int) -> Point | None:
    p = points.get((impl, n))
    return p if p is not None and p.status == "ok" else None


def _verdict(cond: bool | None, detail: str) -> str:
    word = "n.a." if cond is None else "PASS" if cond else "FAIL"
    return f"{word:4} {detail}"


def _check(pts: dict[tuple[str, int], Point], sizes: list[int], impl: str, n: int,
           ref_impl: str | None, test: Callable[[Point, Point | None], tuple[bool, str]],
           what: str) -> str:
    """n.a. if n was not run (or the reference did not finish); FAIL if impl did not finish."""
    label = f"N={n} {impl}: {what}"
    if n not in sizes:
        return _verdict(None, label)
    p = _ok(pts, impl, n)
    if p is None:
        return _verdict(False, f"{label} (did not complete)")
    ref = None
    if ref_impl is not None:
        ref = _ok(pts, ref_impl, n)
        if ref is None:
            status = pts[(ref_impl, n)].status if (ref_impl, n) in pts else "not run"
            return _verdict(None, f"{label} ({ref_impl}: {status})")
    cond, got = test(p, ref)
    return _verdict(cond, f"{label} {got}".rstrip())


def render_targets(points: list[Point], sizes: list[int]) -> list[str]:
    """PASS / FAIL / n.a. lines for the performance targets."""
    pts = {(p.impl, p.n): p for p in points}

    def peak(p: Point, _: Point | None) -> tuple[bool, str]:
        return (p.peak_gib or 0.0) <= 1.5, f"(got {p.peak_gib:.2f} GiB)"

    def rel(limit: float) -> Callable[[Point, Point | None], tuple[bool, str]]:
        def test(p: Point, ref: Point | None) -> tuple[bool, str]:
            r = (p.wall_s or 0.0) / (ref.wall_s or math.nan) if ref else math.nan
            return r <= limit, f"(got {r:.2f}×)"

        return test

    out = []
    for family in ("clip", "siglip"):
        impl = f"xmodal_{family}_tiled"
        out += [
            _check(pts, sizes, impl, 32768, None, peak, "peak RSS ≤ 1.5 GiB"),
            _check(pts, sizes, impl, 32768, f"open_clip_{family}", rel(0.7),
                   "wall ≤ 0.7 × open_clip"),
            _check(pts, sizes, impl, 131072, None, lambda *_: (True, ""), "completes"),
            _check(pts, sizes, impl, 16384, "gemm_floor", rel(1.6), "wall ≤ 1.6 × floor"),
        ]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma list of batch sizes N")
    ap.add_argument("--impls", default=",".join(IMPLS), help="comma list of implementations")
    ap.add_argument("--dim", type=int, default=512, help="feature dimension d")
    ap.add_argument("--json", type=Path, default=None, help="write raw records here")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-point timeout, s")
    ap.add_argument("--tile-size", type=int, default=None, help="tile_size= for xmodal losses")
    ap.add_argument("--point", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    unknown = set(args.impls.split(",")) - set(IMPLS)
    if unknown:
        ap.error(f"unknown impls {sorted(unknown)}; choose from {', '.join(IMPLS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.point is not None:
        run_point(args.point[0], int(args.point[1]), args.dim, args.tile_size)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    impls = [i for i in IMPLS if i in args.impls.split(",")]
    cap = memory_cap_bytes()
    print(f"d={args.dim}, float32, RLIMIT_AS cap {cap / GIB:.1f} GiB, {os.cpu_count()} CPUs",
          file=sys.stderr)
    points: list[Point] = []
    total = len(sizes) * len(impls)
    for n in sizes:
        for impl in impls:
            t0 = time.perf_counter()
            p = measure(impl, n, args, cap)
            points.append(p)
            took = time.perf_counter() - t0
            print(f"[{len(points)}/{total}] N={n} {impl}: {_status_cell(p)} wall={_fmt(p.wall_s)} s"
                  f" ({took:.1f} s incl. startup)", file=sys.stderr, flush=True)
    threads = next((p.threads for p in points if p.threads), None)
    print(f"# Contrastive losses, forward + backward (d = {args.dim}, float32, "
          f"torch threads = {threads})\n")
    print(render_table(points))
    print("\nwall/CPU: median over reps; peak RSS: whole point process; Δ loss = peak − RSS "
          "before the first loss call.\nfloor = 3 × one N×d·d×N GEMM. 'needs ≈ X GiB' is an "
          "estimate of the N×N buffers only (16·N² B CLIP, 20·N² B SigLIP).\n")
    print("## Targets\n")
    print("\n".join(render_targets(points, sizes)))
    if args.json is not None:
        records = [asdict(p) | {"delta_gib": p.delta_gib} for p in points]
        payload = {"dim": args.dim, "sizes": sizes, "cap_bytes": cap, "records": records}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
