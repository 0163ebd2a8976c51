"""Benchmark: what batch size, temperature, loss and hard negatives do to a contrastive run.

On the image–text starter data (OpenMoji + emoji-datasource, held-out captions by hash, as
``xmodal.train.starters``), every run trains the same linear heads over the frozen
EfficientNet-Lite0 and MiniLM features with :class:`xmodal.train.Trainer` for the same number
of steps, and is measured on the held-out split (Recall@10 both ways). The features are computed
once (and cached on disk), so the runs differ only in what the table says:

1. effective batch 32 / 256 / 1,024 (GradCache with mini-batches of 32 for the larger ones);
2. temperature learnt (its trajectory) vs fixed τ = 0.01, 0.07, 1.0;
3. CLIP vs SigLIP loss at batch 32 and 1,024;
4. hard negatives (attribute swaps of the caption) at ratio 0, 1:7 and 1:1: held-out Recall,
   the attribute-swap test (an image must score its caption above the caption's swapped
   version; held-out captions only) and the collapse monitor's figures;
5. GradCache's cost (separate processes, MiniLM fine-tuned on caption pairs, so the towers are
   in the graph): peak memory and time per sample at effective batch 4,096 beside plain
   backprop at the largest batch that fits a memory budget. Target: ≤ 1.5× plain time/sample.

Run:
    python benchmarks/train_dynamics.py                 # everything (~15 min on 2 cores)
    python benchmarks/train_dynamics.py --parts 1,2 --steps 100
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Setup:
    """Precomputed features and the split."""

    train: object  # PairDataset
    test: object  # PairDataset
    groups: np.ndarray  # (n_train,) group ids
    item_feats: dict[str, np.ndarray]  # path -> tower feature
    text_feats: dict[str, np.ndarray]  # caption -> tower feature
    swaps: dict[str, str]  # held-out caption -> one attribute-swapped negative
    train_negatives: list[tuple[str, ...]]  # one synthetic negative per training row


def build_setup(cache: str, limit: int | None) -> Setup:
    from xmodal.data.dedup import dedup_pairs
    from xmodal.encoders import load_encoder
    from xmodal.encoders.feature_cache import FeatureCache
    from xmodal.encoders.lit import LiTConfig, LiTModel
    from xmodal.train.build import _top_up
    from xmodal.train.starters import _pairs, emoji_pairs, held_out
    from xmodal.train.synthetic import synthesize_negatives

    items = emoji_pairs()[:limit] if limit else emoji_pairs()
    train = _pairs([i for i in items if not held_out(i.caption)], "image", "train")
    test = _pairs([i for i in items if held_out(i.caption)], "image", "held-out")
    dedup = dedup_pairs(list(train.anchors), list(train.positives))
    train = train.subset(dedup.keep)
    groups = np.asarray(dedup.group_ids)
    made = synthesize_negatives(list(train.positives), n=1, seed=0)
    train_negs = _top_up([list(r) for r in made.negatives], train, groups, 1, 0)
    test_swaps = synthesize_negatives(list(dict.fromkeys(test.positives)), n=1, seed=1)
    swaps = {c: r[0] for c, r in zip(dict.fromkeys(test.positives), test_swaps.negatives,
                                     strict=True) if r}
    lit = LiTModel.build(LiTConfig(towers={"image": "efficientnet-lite0", "text": "minilm"}),
                         load_tower=load_encoder)
    fc = FeatureCache(Path(cache).expanduser())
    paths = list(dict.fromkeys([*train.anchors, *test.anchors]))
    texts = list(dict.fromkeys([*train.positives, *test.positives, *swaps.values(),
                                *(t for r in train_negs for t in r)]))
    item_feats = dict(zip(paths, lit.tower_features("image", paths, cache=fc), strict=True))
    text_feats = dict(zip(texts, lit.tower_features("text", texts, cache=fc), strict=True))
    return Setup(train, test, groups, item_feats, text_feats, swaps, train_negs)


def heads(setup: Setup, seed: int):
    """Fresh linear heads (the LiT starter's) over the precomputed features."""
    from xmodal.train import TowerPair

    d_item = len(next(iter(setup.item_feats.values())))
    d_text = len(next(iter(setup.text_feats.values())))
    torch.manual_seed(seed)
    items, texts = setup.item_feats, setup.text_feats
    return TowerPair(torch.nn.Linear(d_item, 512), torch.nn.Linear(d_text, 512),
                     lookup_a=lambda p: torch.from_numpy(items[p]),
                     lookup_b=lambda t: torch.from_numpy(texts[t]))


def train_run(setup: Setup, *, steps: int, batch: int, loss: str = "clip",
              temperature: float | None = None, ratio: float | None = None,
              seed: int = 0) -> dict[str, object]:
    """One Trainer run; returns its held-out figures and monitors."""
    from xmodal.train import TrainConfig, Trainer, make_loss
    from xmodal.train.evaluate import retrieval_figures
    from xmodal.train.plots import load_records

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            data="emoji", batch_size=batch, mini_batch_size=32 if batch > 32 else None,
            steps=steps, lr=5e-4, loss=loss, temperature=temperature, seed=seed, out=out,
            progress=False, log_every=max(1, steps // 10), checkpoint_every=steps,
            resume=False, hard_negatives="none" if ratio is None else "data",
            hard_negative_ratio=ratio if ratio is not None else 1 / 7)
        model = heads(setup, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = Trainer(model, make_loss(cfg), cfg, data=setup.train,
                             negatives=setup.train_negatives if ratio is not None else None,
                             group_ids=setup.groups).fit()
        records = load_records(Path(out) / "metrics.jsonl")
    figures = retrieval_figures(model, setup.test)
    last = records[-1].stats
    return {
        "r10_i2t": figures.to_text[10], "r10_t2i": figures.from_text[10],
        "r1_i2t": figures.to_text[1], "swap_acc": swap_accuracy(model, setup),
        "temperature": result.temperature, "bias": result.logit_bias,
        "tau_trajectory": [(r.step, r.temperature) for r in records],
        "collapse_std": None if last is None else last.collapse_std,
        "positive_cos": None if last is None else last.positive_cos,
        "gap": None if last is None else last.modality_gap,
        "seconds": result.seconds, "chance_r10": figures.chance_to_text_at_10,
    }


def swap_accuracy(model, setup: Setup) -> float:
    """Held-out images scoring their caption above its attribute swap (chance 0.5)."""
    from xmodal.train.evaluate import embed_all

    rows = [(a, p) for a, p in zip(setup.test.anchors, setup.test.positives, strict=True)
            if p in setup.swaps]
    img = embed_all(model, 0, [a for a, _ in rows])  # (n, d)
    pos = embed_all(model, 1, [p for _, p in rows])  # (n, d)
    neg = embed_all(model, 1, [setup.swaps[p] for _, p in rows])  # (n, d)
    return float(((img * pos).sum(1) > (img * neg).sum(1)).mean())


# --- part 5: GradCache cost, each configuration in its own process -------------------------


def probe(batch: int, mini: int | None, budget_gib: float, steps: int) -> dict[str, object]:
    """Child process: MiniLM fine-tuning steps at ``batch``; time and peak memory."""
    if budget_gib > 0:
        limit = int(budget_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        from xmodal.data.pairs import PairDataset
        from xmodal.data.sources import load_openmoji
        from xmodal.encoders import load_encoder
        from xmodal.train import SentenceTransformerTrainable, TrainConfig, Trainer, make_loss

        caps = [i.caption for i in load_openmoji().items]
        caps = (caps * math.ceil(batch / len(caps)))[: max(batch, len(caps))]
        data = PairDataset(anchors=tuple(caps), positives=tuple(f"an emoji: {c}" for c in caps),
                           negatives=None, anchor_modality="text", name="captions")
        model = SentenceTransformerTrainable(load_encoder("minilm"))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times = []
        with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = TrainConfig(data="captions", model="st:minilm", batch_size=batch,
                              mini_batch_size=mini, steps=steps, lr=1e-5, out=out,
                              progress=False, log_every=1000, checkpoint_every=1000,
                              resume=False)
            trainer = Trainer(model, make_loss(cfg), cfg, data=data,
                              callbacks=[lambda s, loss: times.append(time.perf_counter())])
            trainer._finish = lambda losses: None  # no model save: only the steps are timed
            start = time.perf_counter()
            trainer.fit()
        steps_s = np.diff([start, *times])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"ok": True, "step_s": float(statistics.median(steps_s[1:] if steps > 1
                                                                else steps_s)),
                "peak_gib": peak / 2**20, "extra_gib": (peak - base) / 2**20}
    except (RuntimeError, MemoryError) as exc:
        return {"ok": False, "error": str(exc).splitlines()[0][:120]}


def run_probe(batch: int, mini: int | None, budget: float, steps: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--probe", json.dumps([batch, mini, budget, steps])]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if not lines:
        return {"ok": False, "error": f"exit {proc.returncode}: {proc.stderr[-200:]}"}
    return json.loads(lines[-1])


def gradcache_cost(budget: float, big: int, mini: int, steps: int,
                   plain_batches: list[int]) -> list[str]:
    lines = ["| run | batch | mini-batch | fits in budget | step s | s per 1k samples | "
             "peak RSS GiB |", "| --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    plain_best = None
    for batch in plain_batches:
        got = run_probe(batch, None, budget, steps)
        fits = bool(got["ok"])
        lines.append(_probe_row("plain", batch, None, got))
        if fits:
            plain_best = (batch, got)
        else:
            break
    cached = run_probe(big, mini, budget, steps)
    lines.append(_probe_row("GradCache", big, mini, cached))
    if plain_best and cached["ok"]:
        b, got = plain_best
        ratio = (cached["step_s"] / big) / (got["step_s"] / b)
        verdict = "PASS" if ratio <= 1.5 else "FAIL"
        lines += ["", f"{verdict} GradCache at {big} costs {ratio:.2f}× plain time per sample "
                      f"(plain's largest batch within {budget:g} GiB: {b}; target ≤ 1.5×)"]
    return lines


def _probe_row(name: str, batch: int, mini: int | None, got: dict[str, object]) -> str:
    if not got["ok"]:
        return f"| {name} | {batch} | {mini or '-'} | no ({got['error']}) | | | |"
    per_k = 1000 * got["step_s"] / batch
    return (f"| {name} | {batch} | {mini or '-'} | yes | {got['step_s']:.2f} | {per_k:.2f} | "
            f"{got['peak_gib']:.2f} |")


# --- the table -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="1,2,3,4,5")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--limit", type=int, default=None, help="use the first N emoji only")
    ap.add_argument("--cache", default="~/.cache/xmodal/features")
    ap.add_argument("--budget-gib", type=float, default=6.0,
                    help="memory budget (address space) of the GradCache probes")
    ap.add_argument("--big-batch", type=int, default=4096)
    ap.add_argument("--probe-steps", type=int, default=2)
    ap.add_argument("--plain-batches", default="256,512,1024,2048,4096",
                    help="plain-backprop batches tried, in order, until one does not fit")
    ap.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(*json.loads(args.probe))))
        return
    parts = {int(p) for p in args.parts.split(",")}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out: list[str] = [f"# Training dynamics ({args.steps} steps per run, torch threads "
                      f"{torch.get_num_threads()})", ""]
    if parts & {1, 2, 3, 4}:
        setup = build_setup(args.cache, args.limit)
        out.append(f"Data: {len(setup.train)} training pairs, {len(setup.test)} held-out "
                   f"({len(set(setup.test.positives))} captions); "
                   f"{len(setup.swaps)} held-out captions have an attribute swap.\n")
        header = ["| run | R@10 i→t | R@10 t→i | R@1 i→t | swap test | final τ | "
                  "collapse std | pos cos | gap |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        runs: list[tuple[str, dict[str, object]]] = []

        def go(name: str, **kw: object) -> dict[str, object]:
            print(f"running {name}…", file=sys.stderr)
            got = train_run(setup, steps=args.steps, **kw)
            runs.append((name, got))
            return got

        if 1 in parts:
            for b in (32, 256, 1024):
                go(f"batch {b}", batch=b)
        if 2 in parts:
            learnt = go("τ learnt (batch 1024)", batch=1024)
            for tau in (0.01, 0.07, 1.0):
                go(f"τ fixed {tau}", batch=1024, temperature=tau)
        if 3 in parts:
            for b in (32, 1024):
                go(f"SigLIP batch {b}", batch=b, loss="siglip")
                if 1 not in parts:
                    go(f"CLIP batch {b}", batch=b)
        if 4 in parts:
            for name, ratio in (("0", 0.0), ("1:7", 1 / 7), ("1:1", 1.0)):
                go(f"hard negatives {name}", batch=1024, ratio=ratio)
        out += header
        for name, got in runs:
            out.append(
                f"| {name} | {got['r10_i2t']:.3f} | {got['r10_t2i']:.3f} | "
                f"{got['r1_i2t']:.3f} | {got['swap_acc']:.3f} | {got['temperature']:.4f} | "
                f"{_f(got['collapse_std'])} | {_f(got['positive_cos'])} | {_f(got['gap'])} |")
        out.append(f"\nChance R@10 i→t: {runs[0][1]['chance_r10']:.3f}; swap test chance 0.5.")
        if 2 in parts:
            traj = ", ".join(f"{s}: {t:.4f}" for s, t in learnt["tau_trajectory"])
            out.append(f"\nLearnt τ by step (batch 1024): {traj}")
        out.append("")
    if 5 in parts:
        out += [f"## GradCache cost (MiniLM fine-tuning, memory budget {args.budget_gib:g} GiB "
                "address space per process)", ""]
        out += gradcache_cost(args.budget_gib, args.big_batch, 64, args.probe_steps,
                              [int(b) for b in args.plain_batches.split(",")])
    print("\n".join(out))


def _f(x: object) -> str:
    return "" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
