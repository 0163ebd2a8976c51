"""Fixtures of the command tests: the toy encoders behind ``xmodal index`` and ``search``."""

from __future__ import annotations

import pytest

import xmodal.encoders
from tests.api.toy import ToyEncoder, loader, toy_encoders
from xmodal.commands import index as index_command


@pytest.fixture
def encoders(monkeypatch: pytest.MonkeyPatch) -> dict[str, ToyEncoder]:
    """The toys, used by ``xmodal index`` (run_index's encoders) and by the Searcher's loader."""
    toys = toy_encoders()
    monkeypatch.setattr(index_command, "_encoders", lambda models, wanted, **how: {
        m: toys[m] for m, spec in models.items() if m in wanted and spec})
    monkeypatch.setattr(xmodal.encoders, "load_encoder", loader(toys))
    return toys
