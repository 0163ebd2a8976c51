"""open_index URI dispatch and the missing-optional-package error."""

from __future__ import annotations

import sys

import pytest

from xmodal._optional import MissingDependencyError
from xmodal.index import Index, collection_name, open_index
from xmodal.index.exact import ExactIndex
from xmodal.index.qdrant_edge import EdgeIndex
from xmodal.index.qdrant_server import QdrantServerIndex


def test_dispatch(tmp_path):
    cases = [
        (f"exact:{tmp_path / 'e'}", ExactIndex),
        (str(tmp_path / "q"), EdgeIndex),
        (tmp_path / "p", EdgeIndex),
        ("qdrant-local::memory:", QdrantServerIndex),
        (f"qdrant-local:{tmp_path / 'l'}", QdrantServerIndex),
    ]
    for uri, cls in cases:
        with open_index(uri) as index:
            assert type(index) is cls and isinstance(index, Index)
    assert (tmp_path / "l").is_dir()
    with pytest.raises(ValueError, match="scheme"):
        open_index("ftp://x")


def test_http_uri_goes_to_the_server_adapter(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        QdrantServerIndex, "connect", classmethod(lambda cls, **kw: seen.update(kw))
    )
    open_index("https://qdrant.example:6333", api_key="k")
    assert seen == {"url": "https://qdrant.example:6333", "api_key": "k"}


@pytest.mark.parametrize(
    ("module", "uri"),
    [("qdrant_edge", "{tmp}"), ("qdrant_client", "qdrant-local::memory:")],
)
def test_missing_package_names_the_extra(module, uri, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[index\]"):
        open_index(uri.format(tmp=tmp_path))


def test_collection_name():
    assert collection_name("BAAI/bge-small-en", "text") == "BAAI-bge-small-en.text"
