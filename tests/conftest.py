"""Fixtures shared across test folders: the toy corpus and an exact index beside it.

No test reaches the network: the Hugging Face libraries are put in offline mode before any of
them is imported (they read ``HF_HUB_OFFLINE`` at import). The Hub tests
(``tests/encoders/test_hub.py``) turn it off for themselves against a loopback Hub.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
# The suite runs the packaged towers on torch (its oracles are torch's numbers); the ONNX
# runtime tests ask for it by name. Users get ONNX Runtime where it is installed (auto).
os.environ["XMODAL_RUNTIME"] = "torch"
os.environ["HF_DATASETS_OFFLINE"] = "1"
if "huggingface_hub.constants" in sys.modules:  # imported before this file (a plugin)
    sys.modules["huggingface_hub.constants"].HF_HUB_OFFLINE = True


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The toy corpus of ``tests/api/toy.py`` (images, sounds, texts, side-car captions)."""
    from tests.api.toy import write_corpus  # imported when used, not at every collection

    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def uri(tmp_path: Path) -> str:
    """An exact (NumPy) index in a fresh folder."""
    return "exact:" + str(tmp_path / "idx")
