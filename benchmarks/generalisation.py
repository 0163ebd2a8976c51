"""Out-of-domain retrieval of the starter models: leave one source family out.

For each family of ``xmodal.train.starter_data`` (emoji, Sweet Home 3D, Cataclysm DDA, Scratch,
GCompris, game-icons; OpenTTD, Widelands, Minetest, … for sounds) the heads are fitted on all the
*other* families and measured on the family left out: Hit@10 item→text (each item's caption
among the family's distinct captions) and text→item (each distinct caption's items among the
family's items), CLIP's "any positive in the top 10". Each fold prints its chance level
(10 / captions). Folds differ in size (emoji: ~5,900 items and ~3,600 captions; Scratch: 264
items), so the headline table scores each fold on draws of 300 items (10 draws, each draw's
own captions as the candidates: chance ≈ 0.03–0.04, as for a 300-item folder); a second table
uses the whole family as the candidate set. In-domain figures sit beside them: captions held
out by hash across all families (the split the shipped starters report), the rest trained on.

Rows (image):
- ``conse``: training-free ConSE (the ImageNet classifier's top-10 class names, embedded by
  the text tower and mixed by probability; Norouzi et al. 2014) against the captions' embeddings;
- ``heads``: linear LiT heads alone (trained without the bridge);
- ``bridge w=…``: the same heads, scores mixed with ConSE inside one vector
  ((1-w)·cos_heads + w·cos_ConSE, what a bridged model's cosine is);
- ``rrf(heads, conse)``: the two ranked lists fused by RRF (k = 60): the searcher's way;
- ``… p=0.5``: ConSE with the top-10 probabilities raised to the power 0.5 before mixing
  (a flatter mix: the runner-up classes count more);
- ``bridge-trained w=…``: heads trained *through* the bridged cosine (w = 0.5, 0.35);
- ``mlp heads``: a hidden layer (Linear-GELU-Linear) instead of a linear head;
- ``… + class prior``: the bridge ranks classes by ``p(class | image) / p̄(class)``, ``p̄`` the
  mean class probability over the fold's training images (fitted with the heads; the classifier
  reads most clip art as *hook*, *plectrum*, *digital clock*, *envelope*…);
  ``… + text class mix``: the bridge's text side is each caption moved towards its 10 nearest
  class names (``xmodal.encoders.bridge.TextClassMix``); the shipped row has both;
- ``shipped + …``: the shipped row with one change: ``family batches`` (every batch drawn from
  one family, :class:`xmodal.data.batching.SourceBatchOrder`: in-batch negatives of the
  positive's kind), batches of 4,096 (4× the work per step), the emoji family once an epoch
  instead of twice, the earlier learning rate 5e-4, or all three of the previous starter's
  settings (MiniLM text tower, lr 5e-4, emoji once);
Every row starts from the shipped settings (``IMAGE_SETTINGS``: MPNet text tower, lr 1e-3, the
emoji family twice an epoch) and changes what it names; ``--text-tower``/``--image-tower``
override the tower of every row that does not name its own.
- ``bridge-trained p=0.5 …``: the ``p=0.5`` row with one optimisation setting changed (weight
  decay, steps, a fixed temperature) or the families' shares of the batches evened out
  (``family_power``: a family's share ∝ its size ** power, by repeating smaller families' pairs);
- ``bridge-trained + …``: the ``w=0.5`` row with image augmentation (4 cached variants per
  image: crop, flip, colour under transparency), synthetic hard negatives (attribute swaps,
  weighted 1:7 against in-batch negatives) or caption templates ("a picture of …", one per
  pair); ``… p=0.5 + image augmentation ×2``: the ``p=0.5`` row with 2 variants per image.
Rows (audio): ``heads`` (aisfx + MiniLM, linear), ``augmented`` (time stretch, pitch, noise,
gain: 4 cached variants per clip) and ``mlp heads``.

Settings were fixed before the run (steps and batch from the trial in shared notes), not tuned
on these folds; choosing among the rows on them is the only selection made here.

Run (features are cached: a second run costs only the fits):
    python benchmarks/generalisation.py --modality image --json image.json
    python benchmarks/generalisation.py --modality audio --json audio.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

CACHE = "~/.cache/xmodal/features"


def rank_matrix(scores: np.ndarray, axis: int) -> np.ndarray:
    """1-based ranks of ``scores`` along ``axis`` (1 = highest; ties by position)."""
    order = np.argsort(-scores, axis=axis, kind="stable")
    ranks = np.empty_like(order)
    idx = np.arange(scores.shape[axis]) + 1
    if axis == 1:
        np.put_along_axis(ranks, order, np.broadcast_to(idx, scores.shape), axis=1)
    else:
        np.put_along_axis(ranks, order, np.broadcast_to(idx[:, None], scores.shape), axis=0)
    return ranks


def rrf_figures(lists: list[np.ndarray], own: np.ndarray, k: int = 60):
    """Figures of RRF-fused lists: rows fused for item→text, columns for text→item."""
    from xmodal.train.evaluate import RetrievalFigures, figures_from_scores

    rows = sum(1.0 / (k + rank_matrix(s, 1)) for s in lists)
    cols = sum(1.0 / (k + rank_matrix(s, 0)) for s in lists)
    a, b = figures_from_scores(rows, own), figures_from_scores(cols, own)
    return RetrievalFigures(n_items=a.n_items, n_captions=a.n_captions, to_text=a.to_text,
                            from_text=b.from_text, chance_to_text_at_10=a.chance_to_text_at_10)


@torch.no_grad()
def parts(trainable, items: list[str], captions: list[str]) -> dict[str, np.ndarray]:
    """Unit vectors of each part of the model: heads and (image) ConSE, both sides."""
    from xmodal.encoders.bridge import BridgedHead, ConseBridge

    lit = trainable.lit
    item_mod = trainable.modalities[0]
    x = torch.from_numpy(trainable.tower_features(0, items)).float()  # (n, t)
    t = torch.from_numpy(trainable.tower_features(1, captions)).float()  # (m, d_text)
    head_i, head_t = lit.heads[item_mod], lit.heads["text"]
    norm = torch.nn.functional.normalize
    out = {}
    if isinstance(head_i, BridgedHead):
        out["heads_i"] = norm(head_i.head(x[:, : head_i.split]), dim=-1).numpy()
        out["heads_t"] = norm(head_t.head(t), dim=-1).numpy()
        # the training-free rows name their power: the fitted model's own may be either
        for key, power in (("conse_i", 1.0), ("conse_flat_i", 0.5)):
            conse = ConseBridge(head_i.bridge.classes, top_k=head_i.bridge.top_k, power=power)
            out[key] = conse(x[:, head_i.split :]).numpy()
        out["conse_t"] = norm(t, dim=-1).numpy()
        out["model_i"] = lit.project(item_mod, x).numpy()
        out["model_t"] = lit.project("text", t).numpy()
    else:
        out["heads_i"] = lit.project(item_mod, x).numpy()
        out["heads_t"] = lit.project("text", t).numpy()
    return out


SAMPLE = 300
"""Items per evaluation draw: folds compare at one candidate-set size (chance 10 / captions)."""
DRAWS = 10


def score_lists(trainable, items: list, captions: list, tag: str) -> dict[str, list]:
    """Each row's item × caption score matrices (two matrices: fused by RRF)."""
    p = parts(trainable, items, captions)
    heads = p["heads_i"] @ p["heads_t"].T  # (n_items, n_cap)
    if tag == "heads" and "conse_i" in p:
        conse = p["conse_i"] @ p["conse_t"].T  # (n_items, n_cap)
        rows = {"conse": [conse], "heads": [heads]}
        for w in (0.3, 0.5, 0.7):
            rows[f"bridge w={w}"] = [(1 - w) * heads + w * conse]
        rows["rrf(heads, conse)"] = [heads, conse]
        flat = p["conse_flat_i"] @ p["conse_t"].T  # (n_items, n_cap)
        rows["conse p=0.5"] = [flat]
        rows["bridge w=0.5 p=0.5"] = [0.5 * heads + 0.5 * flat]
        return rows
    if "model_i" in p:
        return {tag: [p["model_i"] @ p["model_t"].T]}
    return {tag: [heads]}


def figures_of(lists: list, own: np.ndarray):
    from xmodal.train.evaluate import figures_from_scores

    return figures_from_scores(lists[0], own) if len(lists) == 1 else rrf_figures(lists, own)


def evaluate(trainable, test, *, full: dict, sampled: dict, tag: str, seed: int = 0) -> None:
    """Add this fit's figures on ``test`` to ``full[name]`` (the whole family as candidates)
    and ``sampled[name]`` (:data:`DRAWS` draws of :data:`SAMPLE` items, their captions as
    candidates)."""
    from xmodal.train.evaluate import paired_layout

    items, captions, own = paired_layout([p.item for p in test], [p.caption for p in test])
    rows = score_lists(trainable, items, captions, tag)
    draws = []
    for d in range(DRAWS if len(items) > SAMPLE else 1):
        rng = np.random.default_rng([seed, d])
        pick = np.sort(rng.choice(len(items), SAMPLE, replace=False)) if len(items) > SAMPLE \
            else np.arange(len(items))
        cols = np.flatnonzero(own[pick].any(axis=0))
        draws.append((pick, cols))
    for name, lists in rows.items():
        full.setdefault(name, []).append(figures_of(lists, own))
        for pick, cols in draws:
            sub = [m[np.ix_(pick, cols)] for m in lists]
            sampled.setdefault(name, []).append(figures_of(sub, own[np.ix_(pick, cols)]))


TEMPLATES = ("{}", "a picture of {}", "an icon of {}", "a drawing of {}", "a photo of {}")
"""Caption templates of the templates row: each training caption written into one of them."""
def _bridged(w: float, power: float, *, prior: bool = False, text: str = "plain",
             **more: object) -> dict:
    """A bridged row's settings, every bridge setting named: the shipped settings' are not every
    row's (a row that left one out would silently measure the shipped value)."""
    return {"bridge_weight": w, "bridge_power": power, "bridge_prior": prior,
            "bridge_text": text, **more}


VARIANTS = {
    "image": {"heads": _bridged(0.0, 1.0),
              "bridge-trained w=0.5": _bridged(0.5, 1.0),
              "bridge-trained w=0.35": _bridged(0.35, 1.0),
              "mlp heads": _bridged(0.0, 1.0, head="mlp"),
              "bridge-trained w=0.5 p=0.5": _bridged(0.5, 0.5),
              "bridge-trained w=0.5 p=0.5 + class prior": _bridged(0.5, 0.5, prior=True),
              "bridge-trained w=0.5 p=0.5 + text class mix": _bridged(0.5, 0.5, text="classes"),
              "bridge-trained w=0.5 p=0.5 + class prior + text class mix": _bridged(
                  0.5, 0.5, prior=True, text="classes"),
              **{f"shipped + {name}": _bridged(0.5, 0.5, prior=True, text="classes", **change)
                 for name, change in (("family batches", {"family_batches": True}),
                                      ("batch 4096", {"batch_size": 4096}),
                                      ("emoji ×1", {"family_repeat": ()}),
                                      ("lr 5e-4", {"lr": 5e-4}),
                                      ("MiniLM + lr 5e-4 + emoji ×1 (the previous starter)",
                                       {"text_tower": "minilm", "lr": 5e-4,
                                        "family_repeat": ()}))},
              "bridge-trained + image augmentation": _bridged(0.5, 1.0, image_augment=True),
              "bridge-trained p=0.5 + image augmentation ×2": _bridged(
                  0.5, 0.5, image_augment=True, augment_copies=2),
              "bridge-trained + synthetic negatives 1:7": _bridged(
                  0.5, 1.0, synthetic_negatives=True),
              "bridge-trained + caption templates": _bridged(
                  0.5, 1.0, caption_templates=TEMPLATES),
              **{f"bridge-trained p=0.5 {name}": _bridged(0.5, 0.5, **change)
                 for name, change in (("weight decay 0.1", {"weight_decay": 0.1}),
                                      ("150 steps", {"steps": 150}),
                                      ("600 steps", {"steps": 600}),
                                      ("fixed τ 0.05", {"temperature": 0.05}),
                                      ("family share ∝ size^0.5", {"family_power": 0.5}),
                                      ("every family alike", {"family_power": 0.0}))}},
    "audio": {"heads": {}, "augmented": {"audio_augment": True}, "mlp heads": {"head": "mlp"}},
}


def main(argv: list[str] | None = None) -> None:
    from xmodal.train.starter_data import AUDIO_FAMILIES, IMAGE_FAMILIES, load_families
    from xmodal.train.starters import (
        AUDIO_SETTINGS,
        IMAGE_SETTINGS,
        build_trainable,
        fit,
        held_out,
        starter_pairs,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modality", choices=["image", "audio"], default="image")
    ap.add_argument("--families", default="", help="comma-separated subset of the folds")
    ap.add_argument("--variants", default="", help="comma-separated subset of the fits")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None,
                    help="first N pairs of each family (a quick smoke run)")
    ap.add_argument("--steps", type=int, default=None, help="override the fitting steps")
    ap.add_argument("--image-tower", default=None, help="e.g. efficientnet-lite2")
    ap.add_argument("--text-tower", default=None, help="e.g. minilm")
    ap.add_argument("--json", default="", help="write the figures here")
    ap.add_argument("--cache", default=CACHE, help="frozen-tower feature cache folder")
    ap.add_argument("--report", default="", help="print the tables of a --json file and stop")
    args = ap.parse_args(argv)
    if args.report:
        report(Path(args.report))
        return
    torch.set_num_threads(2)
    modality = args.modality
    base = IMAGE_SETTINGS if modality == "image" else AUDIO_SETTINGS
    if args.steps:
        base = dataclasses.replace(base, steps=args.steps)
    if args.image_tower:
        base = dataclasses.replace(base, image_tower=args.image_tower)
    if args.text_tower:
        base = dataclasses.replace(base, text_tower=args.text_tower)
    families = list(IMAGE_FAMILIES if modality == "image" else AUDIO_FAMILIES)
    folds = [f for f in args.families.split(",") if f] or families
    variants = {k: v for k, v in VARIANTS[modality].items()
                if not args.variants or k in args.variants.split(",")}
    run = Path(tempfile.mkdtemp(prefix="xmodal-generalisation-"))

    t0 = time.time()
    pairs = load_families(modality)
    if args.limit:
        pairs = [p for f in families for p in [q for q in pairs if q.family == f][: args.limit]]
    probe, _ = build_trainable(modality, dataclasses.replace(base, bridge_weight=(
        0.0 if modality == "image" else None)), cache=args.cache, run_dir=run / "probe")
    pairs, _, removed = starter_pairs(probe, pairs)
    print(f"{len(pairs) + removed} pairs decode; {removed} cross-family near duplicates "
          f"removed; features ready in {time.time() - t0:.0f} s", flush=True)
    sizes = {f: sum(p.family == f for p in pairs) for f in families}

    results: dict[str, dict[str, list]] = {}  # fold -> row -> figures (draws of SAMPLE)
    whole: dict[str, dict[str, list]] = {}  # fold -> row -> figures (the whole family)
    for fold in [*folds, "in-domain"]:
        if fold == "in-domain":
            train = [p for p in pairs if not held_out(p.caption)]
            test = [p for p in pairs if held_out(p.caption)]
        else:
            train = [p for p in pairs if p.family != fold]
            test = [p for p in pairs if p.family == fold]
        rows: dict[str, list] = {}
        rows_whole: dict[str, list] = {}
        for seed in range(args.seeds):
            for tag, change in variants.items():
                settings = dataclasses.replace(base, seed=seed, **change)
                trainable, config = build_trainable(modality, settings, cache=args.cache,
                                                    run_dir=run / f"{fold}-{tag}-{seed}")
                t1 = time.time()
                fit(trainable, config, train, name=f"without-{fold}")
                evaluate(trainable, test, full=rows_whole, sampled=rows, tag=tag, seed=seed)
                print(f"  {fold}: {tag} seed {seed} fitted on {len(train)} pairs in "
                      f"{time.time() - t1:.0f} s", flush=True)
        results[fold], whole[fold] = rows, rows_whole
        first = next(iter(rows_whole.values()))[0]
        print(f"{fold}: {first.n_items} items, {first.n_captions} captions, chance@10 "
              f"{first.chance_to_text_at_10:.3f}; Hit@10 both ways, {SAMPLE}-item draws | "
              "whole family", flush=True)
        for name, figs in rows.items():
            i2t = statistics.mean(f.to_text[10] for f in figs)
            t2i = statistics.mean(f.from_text[10] for f in figs)
            w = rows_whole[name]
            print(f"    {name:24s} {i2t:.3f} {t2i:.3f} | "
                  f"{statistics.mean(f.to_text[10] for f in w):.3f} "
                  f"{statistics.mean(f.from_text[10] for f in w):.3f}", flush=True)

    print_table(results, folds, modality, f"draws of {SAMPLE} items")
    print_table(whole, folds, modality, "the whole family as candidates")
    if args.json:
        def jsonable(res: dict) -> dict:
            return {fold: {name: [asdict(f) for f in figs] for name, figs in rows.items()}
                    for fold, rows in res.items()}

        Path(args.json).write_text(json.dumps({
            "modality": modality, "sizes": sizes, "folds": folds, "settings": asdict(base),
            "sample": SAMPLE, "draws": DRAWS,
            "summary": summary(results, folds, SHIPPED[modality]),
            "summary_whole_family": summary(whole, folds, SHIPPED[modality]),
            "results": jsonable(results), "results_whole_family": jsonable(whole)}, indent=1))


SHIPPED = {"image": "bridge-trained w=0.5 p=0.5 + class prior + text class mix", "audio": "heads"}
"""The row each shipped starter is built as (``xmodal.train.starters``' settings)."""


def report(path: Path) -> None:
    """Print the tables of a saved run."""
    from xmodal.train.evaluate import RetrievalFigures

    saved = json.loads(path.read_text())

    def figures(d: dict) -> RetrievalFigures:
        return RetrievalFigures(**{**d, "to_text": {int(k): v for k, v in d["to_text"].items()},
                                   "from_text": {int(k): v for k, v in d["from_text"].items()}})

    for key, what in (("results", f"draws of {saved.get('sample', SAMPLE)} items"),
                      ("results_whole_family", "the whole family as candidates")):
        results = {fold: {name: [figures(f) for f in figs] for name, figs in rows.items()}
                   for fold, rows in saved[key].items()}
        print_table(results, saved["folds"], saved["modality"], what)


def summary(results: dict, folds: list[str], row: str) -> dict:
    """The out-of-domain mean of ``row`` (what the model card and the README quote)."""
    per_fold = {f: results[f][row] for f in folds if row in results[f]}
    if not per_fold:  # the run did not fit the shipped row (--variants)
        return {"row": row, "folds": []}
    to_text = [statistics.mean(x.to_text[10] for x in figs) for figs in per_fold.values()]
    from_text = [statistics.mean(x.from_text[10] for x in figs) for figs in per_fold.values()]
    return {"row": row, "folds": list(per_fold), "to_text": statistics.mean(to_text),
            "from_text": statistics.mean(from_text),
            "per_fold": {f: [t, r] for f, t, r in zip(per_fold, to_text, from_text,
                                                      strict=True)}}


def print_table(results: dict, folds: list[str], modality: str, what: str) -> None:
    """Hit@10 both ways per fold and row, the out-of-domain mean, and in-domain beside it."""
    names = list(next(iter(results.values())))
    for fold_rows in results.values():
        names += [n for n in fold_rows if n not in names]
    print(f"\n## {modality}: Hit@10 {modality}→text / text→{modality} "
          f"(out-of-domain: leave one family out; {what})\n")
    head = "| row | " + " | ".join(folds) + " | **OOD mean** | in-domain |"
    print(head)
    print("|---" * (len(folds) + 3) + "|")
    chance = [results[f][names[0]] for f in folds]
    mean_chance = statistics.mean(statistics.mean(c.chance_to_text_at_10 for c in cs)
                                  for cs in chance)
    print("| chance (items) | " + " | ".join(
        f"{statistics.mean(c.chance_to_text_at_10 for c in cs):.3f} ({cs[0].n_items})"
        for cs in chance) + f" | {mean_chance:.3f} | |")
    for name in names:
        cells, i2ts, t2is = [], [], []
        for fold in folds:
            figs = results[fold].get(name)
            if not figs:
                cells.append("")
                continue
            i2t = statistics.mean(f.to_text[10] for f in figs)
            t2i = statistics.mean(f.from_text[10] for f in figs)
            i2ts.append(i2t)
            t2is.append(t2i)
            cells.append(f"{i2t:.2f} / {t2i:.2f}")
        ind = results.get("in-domain", {}).get(name)
        ind_cell = (f"{statistics.mean(f.to_text[10] for f in ind):.3f} / "
                    f"{statistics.mean(f.from_text[10] for f in ind):.3f}") if ind else ""
        mean = (f"**{statistics.mean(i2ts):.3f} / {statistics.mean(t2is):.3f}**"
                if i2ts else "")
        print(f"| {name} | " + " | ".join(cells) + f" | {mean} | {ind_cell} |")


if __name__ == "__main__":
    main()
