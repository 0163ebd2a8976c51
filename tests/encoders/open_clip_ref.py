"""open_clip's own model and tokenizer as a reference, imported without torchvision or ftfy.

open_clip's package ``__init__`` imports its image transforms (torchvision) and its tokenizer
imports ftfy; neither is installed here (torchvision must not become a dependency). The tests
therefore register a bare ``open_clip`` package (its ``__init__`` is not run) and two test-only
stand-ins, then import only the submodules they need:

- ``torchvision.ops.misc.FrozenBatchNorm2d``: the one name ``open_clip/utils.py`` imports; it is
  only used to freeze ResNet batch norms, which these ViT models never do;
- ``ftfy.fix_text`` as the identity: it repairs mojibake, and the test texts are plain ASCII.

Everything is removed from ``sys.modules`` again when the context ends.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class _FrozenBatchNorm2d:  # never instantiated by the ViT models built here
    pass


@contextmanager
def open_clip_modules() -> Iterator[tuple[Any, Any]]:
    """``(open_clip.model, open_clip.tokenizer)``; skips when open_clip is not installed.

    The stand-ins are in ``sys.modules`` only while those submodules import (the modules keep
    the names they bound): left there, a ``torchvision`` without a spec would break
    transformers' own check for torchvision.
    """
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("open_clip_torch not installed (pip install --no-deps open_clip_torch)")
    package = types.ModuleType("open_clip")
    package.__spec__, package.__path__ = spec, list(spec.submodule_search_locations)
    tv, ops, misc = (types.ModuleType(n) for n in
                     ("torchvision", "torchvision.ops", "torchvision.ops.misc"))
    misc.FrozenBatchNorm2d = _FrozenBatchNorm2d
    ops.misc, tv.ops = misc, ops
    ftfy = types.ModuleType("ftfy")
    ftfy.fix_text = lambda text: text
    importlib.import_module("transformers")  # open_clip.hf_model imports it: before the stubs
    before = set(sys.modules)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "open_clip", package)
        try:
            with pytest.MonkeyPatch.context() as stubs:
                for name, module in (("torchvision", tv), ("torchvision.ops", ops),
                                     ("torchvision.ops.misc", misc), ("ftfy", ftfy)):
                    stubs.setitem(sys.modules, name, module)
                modules = (importlib.import_module("open_clip.model"),
                           importlib.import_module("open_clip.tokenizer"))
            yield modules
        finally:
            for name in set(sys.modules) - before:
                if name.startswith("open_clip."):
                    del sys.modules[name]
