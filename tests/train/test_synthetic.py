"""Tests for xmodal.train.synthetic: rule-based hard negatives and pluggable generators."""

from __future__ import annotations

import difflib
import re

import pytest

from xmodal.train.synthetic import (
    DEFAULT_RULES,
    NegativeGenerator,
    RuleBasedNegatives,
    SyntheticNegatives,
    swap_negatives,
    synthesize_negatives,
)


def _tokens(text: str) -> list[str]:
    text = text.replace("in front of", "in_front_of").replace("In front of", "In_front_of")
    return re.findall(r"[\w\-.]+|[^\w\s]", text)


def _one_swap(a: str, b: str) -> tuple[str, str]:
    """The single token (phrase) that differs between a and b; fails if not exactly one."""
    ta, tb = _tokens(a), _tokens(b)
    ops = [op for op in difflib.SequenceMatcher(a=ta, b=tb).get_opcodes() if op[0] != "equal"]
    assert len(ops) == 1, (a, b, ops)
    tag, i1, i2, j1, j2 = ops[0]
    assert tag == "replace" and i2 - i1 == 1 and j2 - j1 == 1, (a, b, ops)
    return ta[i1], tb[j1]


def test_issue_example_colour_swap() -> None:
    cap = "a red car parked on a street"
    negs = swap_negatives(cap, kinds=["colour"], n=20)
    assert "a blue car parked on a street" in negs
    for neg in negs:
        old, new = _one_swap(cap, neg)
        assert old == "red" and new != "red"


@pytest.mark.parametrize(
    ("kind", "caption", "old", "expected"),
    [
        ("colour", "a green bird on a branch", "green", {"red", "blue", "grey", "gray"}),
        ("number", "three dogs in a park", "three", {"two", "ten", "one"}),
        ("size", "a small house by the lake", "small", {"large", "big", "huge"}),
        ("spatial", "the cup is above the shelf", "above", {"below"}),
        ("spatial", "a cat in front of the sofa", "in_front_of", {"behind"}),
        ("spatial", "a cat behind the sofa", "behind", {"in_front_of"}),
        ("object", "a man riding a bicycle", "bicycle", {"horse", "boat"}),
    ],
)
def test_each_kind(kind: str, caption: str, old: str, expected: set[str]) -> None:
    negs = swap_negatives(caption, kinds=[kind], n=100)  # type: ignore[list-item]
    assert negs and caption not in negs
    news = set()
    for neg in negs:
        o, new = _one_swap(caption, neg)
        assert o == old
        news.add(new)
    assert expected & news


def test_object_vocabulary_and_plurals() -> None:
    objects = [r for r in DEFAULT_RULES if r.kind == "object"]
    assert len(objects[0].groups) >= 40
    negs = swap_negatives("two cars on the road", kinds=["object"], n=200)
    assert "two boats on the road" in negs
    swapped = [_one_swap("two cars on the road", n)[1] for n in negs if "cars" not in n]
    assert swapped and all(w.endswith("s") for w in swapped)


def test_spatial_phrase_is_swapped_whole() -> None:
    negs = swap_negatives("a dog in front of a tree", kinds=["spatial"], n=5)
    assert negs == ["a dog behind a tree"]


def test_case_preserved() -> None:
    negs = swap_negatives("Red car", kinds=["colour"], n=20)
    assert "Blue car" in negs and all(n[0].isupper() for n in negs)
    assert all(n.split()[0].isupper() for n in swap_negatives("RED car", kinds=["colour"], n=5))
    assert all(n.startswith("In front") is False for n in swap_negatives("In front of me", n=3))
    assert swap_negatives("In front of me", n=3) == ["Behind me"]


def test_word_boundaries() -> None:
    for cap in ("a reddish credit onion", "bluebird catalog cartoon", "onions tenfold"):
        assert swap_negatives(cap, n=50) == []
    negs = swap_negatives("an onion on the table", kinds=["spatial"], n=5)
    assert negs == ["an onion under the table"]
    negs = swap_negatives("a red-brown fox", n=5)
    assert negs == []


def test_numbers_words_with_words_digits_with_digits() -> None:
    for neg in swap_negatives("two dogs", kinds=["number"], n=50):
        assert neg.split()[0].isalpha()
    digits = swap_negatives("3 dogs", kinds=["number"], n=50)
    assert len(digits) == 9
    for neg in digits:
        assert neg.split()[0].isdigit() and neg != "3 dogs"
    assert swap_negatives("1.5 litres", kinds=["number"], n=5) == []


def test_determinism_and_variety() -> None:
    cap = "a small red car on the left of two large trees"
    a = swap_negatives(cap, n=5, seed=7)
    assert a == swap_negatives(cap, n=5, seed=7)
    seen = {tuple(swap_negatives(cap, n=3, seed=s)) for s in range(10)}
    assert len(seen) > 1
    for neg in swap_negatives(cap, n=30, seed=1):
        _one_swap(cap, neg)


def test_n_larger_than_possible_and_no_duplicates() -> None:
    negs = swap_negatives("the box is on top", kinds=["spatial"], n=50)
    assert sorted(negs) == ["the box is on bottom", "the box is under top"]
    negs = swap_negatives("a grey cat", kinds=["colour"], n=100)
    assert len(negs) == len(set(negs)) and "a grey cat" not in negs
    assert "a gray cat" not in negs  # same colour, other spelling


def test_article_agreement_kept() -> None:
    negs = swap_negatives("a red car", kinds=["colour"], n=100)
    assert negs and not any(n.startswith("a orange") for n in negs)
    assert swap_negatives("an orange car", kinds=["colour"], n=100) == []


def test_nothing_swappable() -> None:
    assert swap_negatives("", n=3) == []
    assert swap_negatives("a quiet afternoon", n=3) == []


def test_unknown_kind_rejected() -> None:
    with pytest.raises(ValueError, match="unknown swap kinds"):
        swap_negatives("a red car", kinds=["texture"])  # type: ignore[list-item]


def test_rule_based_is_a_generator() -> None:
    gen: NegativeGenerator = RuleBasedNegatives(kinds=("colour",))
    assert gen("a red car", n=1, seed=0)[0] != "a red car"


def test_synthesize_default() -> None:
    out = synthesize_negatives(["a red car", "a quiet afternoon", "one dog"], n=2, seed=3)
    assert isinstance(out, SyntheticNegatives)
    assert len(out.negatives) == 3 and len(out.negatives[0]) == 2
    assert out.negatives[1] == () and out.missing == (1,)
    assert out == synthesize_negatives(["a red car", "a quiet afternoon", "one dog"], n=2, seed=3)


def test_custom_generator_filtered() -> None:
    calls: list[tuple[str, int, int]] = []

    def llm(caption: str, *, n: int, seed: int) -> list[str]:
        calls.append((caption, n, seed))
        return [caption, "A  RED car ", "a blue car", "a blue car", "", "a green car", "x", "y"]

    out = synthesize_negatives(["a red car", "a cat"], n=2, generator=llm, seed=10)
    assert out.negatives[0] == ("a blue car", "a green car")
    assert out.negatives[1] == ("A  RED car ", "a blue car")
    assert out.missing == ()
    assert calls == [("a red car", 2, 10), ("a cat", 2, 11)]


def test_custom_generator_too_few_is_missing() -> None:
    out = synthesize_negatives(["a", "b"], n=3, generator=lambda c, *, n, seed: [c + "!"])
    assert out.negatives == (("a!",), ("b!",)) and out.missing == (0, 1)


def test_custom_generator_bad_types_refused() -> None:
    with pytest.raises(TypeError, match="expected str"):
        synthesize_negatives(["a cat"], generator=lambda c, *, n, seed: ["ok", 3])
    with pytest.raises(TypeError, match="list of str"):
        synthesize_negatives(["a cat"], generator=lambda c, *, n, seed: "a dog")
    with pytest.raises(TypeError, match="list of str"):
        synthesize_negatives(["a cat"], generator=lambda c, *, n, seed: None)
    with pytest.raises(ValueError, match="at least 1"):
        synthesize_negatives(["a cat"], n=0)
