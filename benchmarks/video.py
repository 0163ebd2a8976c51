"""Benchmark: ``xmodal index`` on a long video and a long recording, and query by example.

Composes (once, cached under ``--cache``, default the temporary folder; never committed):

- a video of still shots with known times (``benchmarks/video_decode.py``'s composer: emoji,
  or drawings when the emoji are not installed, a freedesktop sound per shot), H.264 at
  ``--size`` (1280×720), ``--minutes`` long (10);
- a recording (WAV, 16-bit, 44.1 kHz) of ``--recording-minutes`` (30): each freedesktop sound
  once, looped over a part of 30-100 s (scaled to the length), the parts' times known.

Then, each in a fresh process (peak RSS is that process's ``ru_maxrss``), with the CLI's
default models (``starter-image``, ``starter-audio``, ``minilm``):

- ``decode fast`` / ``decode naive``: :func:`~xmodal.data.video.read_video` alone, the fast path
  beside decoding every frame to RGB (``SegmentConfig(decode="naive")``, the naive way);
- ``index video``: ``xmodal index VIDEO --index DIR`` (frames, soundtrack, subtitles);
- ``index video, no soundtrack``: the same with ``--audio-model ""`` (another index);
- ``index recording``: ``xmodal index REC.wav --index DIR`` (into the first index).

Query by example (in this process, ``Searcher`` over the first index), the issue's rule for
every kind: the first hit is the right file with ``t_start``/``t_end`` inside a true segment
± 0.5 s. Each shot's source image (``--image``): its shot. Each distinct shot sound (``--audio``,
filtered to the video's path, since the same sounds are in the recording): a shot holding that
sound. Each distinct recording sound (filtered to the recording): a part holding it. Sounds are
distinct by content: the freedesktop theme ships some as one file under several names
(``dialog-error`` = ``dialog-warning`` = ``window-attention`` = ``window-question``), and a query
cannot tell their parts apart.

Run:
    python benchmarks/video.py                      # 10 min video, 30 min recording
    python benchmarks/video.py --quick              # a smoke run (1 min, 3 min, 320×180)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_decode import _images, _sounds, compose

TOLERANCE_S = 0.5
TARGET_S, TARGET_RSS_MB, TARGET_QBE = 60.0, 1536.0, 0.95
_CHILD = """import json, resource, sys, time
mode, args = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
if mode == "index":
    from xmodal.cli import app
    try:
        app(args, standalone_mode=False)
    except SystemExit:
        pass
    out = {}
else:
    from xmodal.data.video import read_video
    from xmodal.data.video_segments import SegmentConfig
    v = read_video(args[0], sample_rate=44100, segments=SegmentConfig(decode=mode))
    out = {"frames": v.stats.frames_decoded, "segments": len(v.segments)}
out |= {"wall": time.perf_counter() - t,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
print("RESULT " + json.dumps(out), file=sys.stderr)
"""


def _child(mode: str, *args: str) -> dict:
    """Run one measured step in a fresh process; its wall time and peak RSS."""
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, *args], capture_output=True,
                          text=True, check=False)
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"{mode} {args}: failed\n{done.stderr[-3000:]}")
    out = json.loads(lines[-1][7:])
    out["stdout"] = done.stdout
    return out


def recording(path: Path, minutes: float, seed: int) -> list[tuple[float, float, int]]:
    """Write (unless cached) the recording; returns ``(t_start, t_end, sound)`` per part."""
    meta = path.with_name(path.name + ".parts")  # not NAME.json: that is a metadata side-car
    if path.exists() and meta.exists():
        return [tuple(p) for p in json.loads(meta.read_text())]
    import soundfile as sf

    rate, sounds = 44100, _sounds_at(44100)
    rng = np.random.default_rng(seed)
    total = minutes * 60
    lengths = rng.uniform(30, 100, len(sounds))
    lengths *= total / lengths.sum()  # (n_sounds,) seconds, summing to the length
    parts, waves, at = [], [], 0.0
    for k, seconds in enumerate(lengths):
        clip = np.concatenate([sounds[k], np.zeros(rate // 2, np.float32)])  # 0.5 s gap
        n = round(seconds * rate)
        waves.append(np.resize(clip, n))  # looped over the part
        parts.append((round(at, 3), round(at + n / rate, 3), k))
        at += n / rate
    sf.write(str(path), np.concatenate(waves), rate, subtype="PCM_16")
    meta.write_text(json.dumps(parts))
    return parts


def _sounds_at(rate: int) -> list[np.ndarray]:
    from xmodal.data.audio import load_audio
    from xmodal.data.sources import load_freedesktop_sounds

    return [load_audio(c.path, sample_rate=rate) for c in load_freedesktop_sounds().items]


def _segments(index_dir: Path, path: Path) -> dict[str, int]:
    from xmodal.index.manifest import MANIFEST, load_manifest

    entry = load_manifest(index_dir / MANIFEST).get(str(path.resolve()), {})
    return {rep: n for reps in entry.get("segments", {}).values() for rep, n in reps.items()}


def _qbe(index_dir: Path, queries: list[tuple[object, str, str, list[tuple[float, float]]]],
         work: Path) -> dict[str, list[bool]]:
    """Per kind, whether each query's first hit is its file with times inside an allowed
    span. ``queries``: (image or wave, kind, file, allowed spans)."""
    import soundfile as sf

    from xmodal.index import open_index
    from xmodal.search.request import SearchRequest
    from xmodal.search.searcher import Searcher

    out: dict[str, list[bool]] = {}
    with open_index(str(index_dir)) as index:
        searcher = Searcher(index, router_model=None)
        for n, (item, kind, file, spans) in enumerate(queries):
            q = work / f"q{n}.{'png' if kind == 'image' else 'wav'}"
            if kind == "image":
                item.save(q)
                request = SearchRequest(image=str(q), k=5)
            else:
                sf.write(str(q), item, 44100)
                only = {"must": [{"key": "path", "match": {"value": file}}]}
                request = SearchRequest(audio=str(q), k=5, filter=only)
            hits = searcher.search(request).hits
            ok = bool(hits) and hits[0].payload.get("path") == file and \
                hits[0].t_start is not None and any(
                    hits[0].t_start >= a and hits[0].t_end <= b for a, b in spans)
            out.setdefault(kind if kind == "image" else f"audio {Path(file).suffix}",
                           []).append(ok)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--recording-minutes", type=float, default=30)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--quick", action="store_true", help="1 min video at 320×180, 3 min WAV")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.minutes, args.recording_minutes, args.size = 1.0, 3.0, "320x180"
    compose_args = argparse.Namespace(minutes=args.minutes, size=args.size, fps=25.0,
                                      preset="medium" if not args.quick else "ultrafast",
                                      bitrate=None, grain=2, seed=args.seed)
    suffix = "" if args.size == "1280x720" else f"-{args.size}"
    video = args.cache / f"xmodal-video-{args.minutes:g}min{suffix}.mp4"
    rec = args.cache / f"xmodal-recording-{args.recording_minutes:g}min.wav"
    durations, kind = compose(video, compose_args)
    parts = recording(rec, args.recording_minutes, args.seed)
    edges = np.cumsum([0.0, *durations])  # (shots + 1,)
    work = Path(tempfile.mkdtemp(prefix="xmodal-video-bench-"))
    idx, idx_quiet = work / "index", work / "index-no-soundtrack"
    print(f"\n## {args.minutes:g} min {args.size} H.264 video ({len(durations)} shots of "
          f"{kind}), {args.recording_minutes:g} min recording ({len(parts)} parts)\n")
    runs = {
        "decode fast": _child("fast", str(video)),
        "decode naive (every frame)": _child("naive", str(video)),
        "index video": _child("index", "index", str(video), "--index", str(idx), "--json"),
        "index video, no soundtrack": _child("index", "index", str(video), "--index",
                                             str(idx_quiet), "--audio-model", "", "--json"),
        "index recording": _child("index", "index", str(rec), "--index", str(idx), "--json"),
    }
    seconds = {"decode fast": args.minutes * 60, "decode naive (every frame)": args.minutes * 60,
               "index video": args.minutes * 60, "index video, no soundtrack": args.minutes * 60,
               "index recording": args.recording_minutes * 60}
    segs = {"index video": _segments(idx, video),
            "index video, no soundtrack": _segments(idx_quiet, video),
            "index recording": _segments(idx, rec)}
    naive = runs["decode naive (every frame)"]
    print("| run | wall s | × real time | vs naive decode | decode frames/s | frames embedded "
          "| segments | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for name, r in runs.items():
        fps = f"{r['frames'] / r['wall']:,.0f}" if "frames" in r else ""
        s = segs.get(name, {})
        shown = ", ".join(f"{k} {v}" for k, v in s.items()) or str(r.get("segments", ""))
        print(f"| {name} | {r['wall']:.1f} | {seconds[name] / r['wall']:.1f} "
              f"| {naive['wall'] / r['wall']:.2f} | {fps} | {s.get('frame', '')} | {shown} "
              f"| {r['rss_mb']:.0f} |", flush=True)
    for name, r in runs.items():  # what xmodal index reported as failed
        for line in r["stdout"].splitlines():
            if '"reason"' in line:
                print(f"{name}: {line.strip()}")
    images = _images(len(durations), args.seed, kind)
    clips = _sounds(len(durations))
    vpath, rpath = str(video.resolve()), str(rec.resolve())
    queries: list = [(img, "image", vpath, [(a - TOLERANCE_S, b + TOLERANCE_S)])
                     for img, a, b in zip(images, edges[:-1], edges[1:], strict=True)]
    distinct: dict[bytes, list[int]] = {}
    for k, (wave, _) in enumerate(clips):
        distinct.setdefault(wave.tobytes(), []).append(k)
    for ks in distinct.values():
        wave = _resample(clips[ks[0]][0], 48000, 44100)
        queries.append((wave, "audio", vpath, [(edges[k] - TOLERANCE_S, edges[k + 1] + TOLERANCE_S)
                                               for k in ks]))
    sounds = _sounds_at(44100)
    same: dict[bytes, list[tuple[float, float]]] = {}
    for a, b, k in parts:
        same.setdefault(sounds[k].tobytes(), []).append((a - TOLERANCE_S, b + TOLERANCE_S))
    queries += [(np.frombuffer(key, np.float32), "audio", rpath, spans)
                for key, spans in same.items()]
    started = time.perf_counter()
    got = _qbe(idx, queries, work)
    print(f"\n## Query by example ({time.perf_counter() - started:.0f} s)\n")
    print("| query | found at rank 1 with times inside | rule |")
    print("|---|---:|---|")
    rules = {"image": "the shot ± 0.5 s", "audio .mp4": "a shot with that sound ± 0.5 s",
             "audio .wav": "a part with that sound ± 0.5 s"}
    for key, oks in got.items():
        print(f"| {key} | {sum(oks)}/{len(oks)} ({np.mean(oks):.1%}) | {rules[key]} |")
    print("\n## Targets (10 min of 720p on 2 cores)\n")
    scale = 10 / args.minutes
    checks = []
    for name in ("index video", "index video, no soundtrack"):
        wall = runs[name]["wall"] * scale
        checks.append((f"{name}: ≤ {TARGET_S:.0f} s per 10 min ({wall:.1f} s)",
                       wall <= TARGET_S))
        checks.append((f"{name}: peak RSS < 1.5 GiB ({runs[name]['rss_mb']:.0f} MB)",
                       runs[name]["rss_mb"] < TARGET_RSS_MB))
    for key, rule in rules.items():
        share = float(np.mean(got.get(key, [False])))
        checks.append((f"query by {key}: ≥ 95 % at rank 1 inside {rule} ({share:.1%})",
                       share >= TARGET_QBE))
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'} {text}")


def _resample(wave: np.ndarray, rate: int, to: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(rate, to)
    return resample_poly(wave, to // g, rate // g).astype(np.float32)


if __name__ == "__main__":
    main()
