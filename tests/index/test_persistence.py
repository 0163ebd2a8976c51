"""Close, reopen, identical results (exact and Qdrant Edge); one process per Edge folder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.index.conftest import clustered, uri_for
from xmodal.index import IndexBusyError, open_index


@pytest.mark.parametrize("kind", ["exact", "qdrant-edge"])
def test_close_reopen_gives_identical_results(kind, tmp_path):
    x = clustered(600, 32, seed=3)
    base, queries = x[:500], x[500:]  # (500, 32), (100, 32)
    ids = [f"id{i}" for i in range(500)]
    uri = uri_for(kind, tmp_path)
    with open_index(uri) as index:
        col = index.create_collection("c", dim=32, model="m", modality="image", card={"k": "v"})
        col.upsert(ids, base, [{"i": i} for i in range(500)])
        col.delete(["id0", "id1"])
        col.set_calibration({"t": 0.3})
        before = col.search(queries, k=10, filter=None)
    with open_index(uri) as index:
        col = index.collection("c")
        info = col.info
        assert (info.count, info.card, info.calibration) == (498, {"k": "v"}, {"t": 0.3})
        after = col.search(queries, k=10)
        assert col.get(["id0"]) == [None] and col.get(["id7"])[0].payload == {"i": 7}
    for b, a in zip(before, after, strict=True):
        assert b.ids == a.ids and b.payloads == a.payloads
        np.testing.assert_array_equal(b.scores, a.scores)


def test_exact_folder_is_not_opened_as_edge(tmp_path):
    with open_index(f"exact:{tmp_path}"):
        pass
    with pytest.raises(ValueError, match="'exact' index"):
        open_index(str(tmp_path))


def test_exact_leaves_no_temporary_files(tmp_path):
    with open_index(f"exact:{tmp_path}") as index:
        col = index.create_collection("c", dim=2, model="m", modality="text")
        col.upsert(["a"], np.array([[1.0, 0.0]]))
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["collection.json", "data.npz"]


def test_edge_folder_is_one_process_at_a_time(tmp_path):
    with open_index(str(tmp_path)) as index:
        index.create_collection("c", dim=2, model="m", modality="text")
        code = (
            "import sys\nfrom xmodal.index import open_index, IndexBusyError\n"
            "try:\n    open_index(sys.argv[1]).collection('c')\n"
            "except IndexBusyError as e:\n    print('BUSY', e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
        )
        assert "BUSY" in out.stdout, out.stderr
    assert IndexBusyError.__mro__[1].__name__ == "IndexStoreError"
