"""Shared fixtures of the training tests: a tiny sentence-transformers model, text pairs."""

from __future__ import annotations

import json

import pytest

from tests.encoders.conftest import build_tiny_st

COLOURS = ("red", "blue", "green")
ANIMALS = ("dog", "cat", "bird")
PLACES = ("on the street", "in the car", "over the fox")
SIZES = ("big", "small")


def text_pairs(n: int = 40) -> list[tuple[str, str]]:
    """``n`` distinct (query, passage) pairs in the tiny model's vocabulary."""
    rows = []
    for size in SIZES:
        for colour in COLOURS:
            for animal in ANIMALS:
                for place in PLACES:
                    rows.append((f"query: {animal} {place} {colour} {size}",
                                 f"a {size} {colour} {animal} {place}"))
    assert n <= len(rows)
    return rows[:n]


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps({"anchor": a, "positive": p}) + "\n" for a, p in rows),
                    encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def tiny_st(tmp_path_factory):
    return build_tiny_st(tmp_path_factory.mktemp("tiny_st"))
