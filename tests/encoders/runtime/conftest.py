"""Every runtime test exports into its own temporary graph cache, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def graph_cache(tmp_path_factory, monkeypatch):
    """One cache folder for the test session (an export is reused by the later tests)."""
    folder = tmp_path_factory.getbasetemp() / "onnx-graphs"
    monkeypatch.setenv("XMODAL_ONNX_DIR", str(folder))
    return folder
