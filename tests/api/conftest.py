"""Fixtures shared by the API tests: ``built`` (a module's toy index, ``served.build_index``)
and ``service`` (a ``SearchService`` over it, no router, ``k`` up to 20). A module that needs
another index or service defines its own fixture of the same name, which takes precedence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.served import build_index, loader
from tests.api.toy import ToyEncoder
from xmodal.api.limits import ServeLimits
from xmodal.api.service import SearchService


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, ToyEncoder], Path]:
    """The module's toy index: (uri, encoders, corpus)."""
    return build_index(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def service(built: tuple[str, dict[str, ToyEncoder], Path]) -> Iterator[SearchService]:
    """A service over the module's toy index, no router, ``k`` up to 20."""
    uri, encoders, _ = built
    with SearchService(uri, load=loader(encoders), router_model=None,
                       limits=ServeLimits(max_k=20)) as s:
        yield s
