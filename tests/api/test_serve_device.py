"""The served models load on the service's device and encode at its batch size: through
``serving_loader`` (what ``xmodal serve`` and ``xmodal mcp`` use), not a test loader."""

from __future__ import annotations

from pathlib import Path

import xmodal.encoders.registry
from tests.api.served import build_index
from tests.test_cli import Recorder
from xmodal.api.service import SearchService


def test_service_device_and_batch_size_reach_load_encoder(tmp_path: Path, monkeypatch):
    uri, encoders, _ = build_index(tmp_path)
    recorder = Recorder(encoders)
    monkeypatch.setattr(xmodal.encoders.registry, "load_encoder", recorder.load)
    with SearchService(uri, router_model=None, device="cuda:1", batch_size=9) as service:
        assert service.search(query="a red heart", k=2)["hits"]
    assert recorder.devices and set(recorder.devices.values()) == {"cuda:1"}
    assert recorder.batch_sizes == {9}
