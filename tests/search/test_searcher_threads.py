"""Searches from many threads (as a server runs them) never call one encoder concurrently:
tokenizers are not thread-safe. The oracle: an encoder that fails when entered twice at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.api.toy import loader, toy_encoders, write_corpus
from xmodal.index import open_index
from xmodal.index.ingest import ingest
from xmodal.search.searcher import Searcher


class Exclusive:
    """Wraps an encoder; raises when two calls overlap (like a borrowed HF tokenizer)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.card = inner, inner.card
        self.busy, self.overlaps, self.calls = threading.Lock(), 0, 0

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.inner, name)
        if not name.startswith("encode_"):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.busy.acquire(blocking=False):
                self.overlaps += 1
                raise RuntimeError("Already borrowed")
            try:
                self.calls += 1
                time.sleep(0.002)  # widen the window a race would need
                return fn(*args, **kwargs)
            finally:
                self.busy.release()
        return call


def test_concurrent_searches_never_overlap_inside_an_encoder(tmp_path: Path) -> None:
    encoders = toy_encoders()
    with open_index("exact:" + str(tmp_path / "idx")) as idx:
        ingest(idx, [write_corpus(tmp_path / "corpus")], encoders=encoders)
        wrapped = {name: Exclusive(enc) for name, enc in encoders.items()}
        searcher = Searcher(idx, load=loader(wrapped), router_model=None)
        queries = ["a red heart", "a drum", "python sorting", "a cat"] * 12
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda q: searcher.search(q, k=3, mixed=True), queries))
        assert all(r.hits and not r.errors for r in results)
        assert sum(e.calls for e in wrapped.values()) >= len(queries)
        assert [e.overlaps for e in wrapped.values()] == [0] * len(wrapped)
        # and the answers equal those of one thread
        for q, r in zip(queries[:4], results[:4], strict=True):
            assert r.to_json() == searcher.search(q, k=3, mixed=True).to_json()
