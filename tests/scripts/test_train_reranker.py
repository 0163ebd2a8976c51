"""``scripts/train-reranker.py`` at a tiny size: its three parsers read what perlfaq, the Debian
FAQ and the Python docs hold (markup gone, the FAQ and c-api folders skipped), a pair quoting a
Python FAQ answer is left out, and a few steps from a tiny cross-encoder save a folder that
``--rerank`` loads (safetensors, its sources recorded)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.search.test_rerank import build_tiny_cross_encoder

ROOT = Path(__file__).resolve().parents[2]
WORDS = "one two three four five six seven eight nine ten eleven twelve"

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def train():
    spec = importlib.util.spec_from_file_location("train_reranker",
                                                  ROOT / "scripts" / "train-reranker.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_reranker"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["train_reranker"]


def sources(tmp: Path, faq_answer: str) -> tuple[Path, Path, Path]:
    pods = tmp / "pod"
    pods.mkdir()
    (pods / "perlfaq4.pod").write_text(
        "=head1 NAME\n\nperlfaq4\n\n=head2 How do I sort with C<sort>?\n\n"
        f"Use C<< sort { '{' } $a <=> $b { '}' } >> and L<perlfunc|perlfunc/sort>. {WORDS}\n\n"
        f"=head2 Why is I<this> slow?\n\n=over 4\n\n=item Because\n\n{WORDS}\n\n=back\n\n"
        "=head2 Too short?\n\nNo.\n", "utf-8")
    (pods / "perlfaq.pod").write_text("=head2 Not a numbered FAQ\n\n" + WORDS, "utf-8")
    debian = tmp / "debian-faq.en.txt.gz"
    with gzip.open(debian, "wt", encoding="utf-8") as f:
        f.write("Contents\n\n1.1. What is this FAQ?\n\nChapter\u00a01.\u00a0Basics\n\n"
                f"1.1. What is this FAQ?\n\n    It answers. {WORDS}\n\n"
                f"1.2. How do I keep a package\nfrom being upgraded?\n\n    Hold it. {WORDS}\n")
    docs = tmp / "docs"
    for folder, name, title, body in (
            ("library", "io.rst.txt", "Reading :func:`files`", f"Open them. {WORDS} {WORDS}"),
            ("library", "q.rst.txt", "Quoting the FAQ", faq_answer),
            ("faq", "general.rst.txt", "Is this skipped?", f"{WORDS} {WORDS}"),
            ("c-api", "obj.rst.txt", "Object Protocol", f"{WORDS} {WORDS}")):
        (docs / folder).mkdir(parents=True, exist_ok=True)
        (docs / folder / name).write_text(
            f"{title}\n{'=' * len(title)}\n\n.. versionadded:: 3.2\n\n{body}\n", "utf-8")
    return pods, debian, docs


def test_parsers_and_the_faq_guard(train, tmp_path):
    from xmodal.data.sources import load_python_faq

    faq = load_python_faq().items[0]
    pods, debian, docs = sources(tmp_path, " ".join(faq.document.split()[:40]))
    perl = train.perl_faq_pairs(pods, 50)
    assert [p.query for p in perl] == ["How do I sort with sort?", "Why is this slow?"]
    assert perl[0].document.startswith("Use sort { $a <=> $b } and perlfunc. one two")
    assert perl[1].document == "Because " + WORDS
    deb = train.debian_faq_pairs(debian, 50)
    assert [(p.query, p.document) for p in deb] == [
        ("What is this FAQ?", "It answers. " + WORDS),
        ("How do I keep a package from being upgraded?", "Hold it. " + WORDS)]
    py = train.python_doc_pairs(docs, 6)
    assert [(p.query, p.document) for p in py] == [
        ("Reading files", "Open them. one two three four"),
        ("Quoting the FAQ", " ".join(faq.document.split()[:6]))]
    kept, dropped = train.without_python_faq(
        [*perl, *train.python_doc_pairs(docs, 50),
         train.Pair("x", faq.query, "an answer of other words")])
    assert [p.query for p in kept] == [*(p.query for p in perl), "Reading files"]
    assert dropped == {"python-docs": 1, "x": 1}  # quotes 8 words; asks a FAQ question


def test_a_few_steps_save_a_loadable_cross_encoder(train, tmp_path, capsys):
    from xmodal.data.sources import load_python_faq
    from xmodal.search.rerank import load_cross_encoder

    pods, debian, docs = sources(tmp_path, load_python_faq().items[0].document)
    base = build_tiny_cross_encoder(tmp_path / "base")
    out = tmp_path / "trained"
    train.main(["--out", str(out), "--base", str(base), "--perl-doc", str(pods),
                "--debian-faq", str(debian), "--python-docs", str(docs), "--pairs", "100",
                "--batch", "2", "--negatives", "2", "--max-length", "32",
                "--frozen-layers", "0"])
    printed = capsys.readouterr().out
    assert "'python-docs': 1}" in printed and "step 2/2" in printed
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    meta = json.loads((out / "xmodal-training.json").read_text())
    assert meta["sources"] == {"perlfaq": 2, "debian-faq": 2, "python-docs": 1}
    scores = load_cross_encoder(str(out)).predict([("sort a list", "use sort"),
                                                   ("sort a list", "hold a package")])
    assert len(scores) == 2 and all(s == s for s in scores)  # finite, not NaN
