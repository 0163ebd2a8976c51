"""One ONNX Runtime graph, run with xmodal's thread settings.

Threads: unless ``threads=`` fixes them, a run uses ``torch.get_num_threads()`` intra-op
threads, read at every run (one session per thread count, made on first use), so the two
runtimes share one setting: a pipelined encoder that runs the network on ``T - 1`` threads
while a batch decodes (``torch.set_num_threads``) gets the same plan on ONNX Runtime, and
``torch.set_num_threads`` is the one knob. One inter-op thread and sequential execution (these
graphs are chains), and no spinning: idle ORT threads otherwise busy-wait between batches and
steal the cores decoding needs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..._optional import require


def default_threads() -> int:
    """Intra-op threads of a run: torch's (``torch.get_num_threads()``).

    Example:
        >>> default_threads() >= 1
        True
    """
    import torch

    return max(1, torch.get_num_threads())


class OnnxGraph:
    """A loaded graph: ``run(feeds)`` → its first output.

    Example:
        >>> import os, tempfile, torch
        >>> from xmodal.encoders.runtime.graphs import GraphSpec, export_graph
        >>> os.environ["XMODAL_ONNX_DIR"] = tempfile.mkdtemp()
        >>> spec = GraphSpec("double", ("x",), ("y",), {"x": {0: "n"}, "y": {0: "n"}})
        >>> path = export_graph(torch.nn.Identity(), (torch.zeros(1, 2),), spec).path
        >>> g = OnnxGraph(path, threads=1)
        >>> g.inputs, g.run({"x": np.ones((3, 2), np.float32)}).shape
        (('x',), (3, 2))
        >>> del os.environ["XMODAL_ONNX_DIR"]
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        self._ort = require("onnxruntime", "onnx")
        self.path = Path(path)
        self.fixed_threads = threads
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.inputs = tuple(i.name for i in self.session().get_inputs())

    @property
    def threads(self) -> int:
        """Intra-op threads the next run uses."""
        return self.fixed_threads or default_threads()

    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` for :attr:`threads` (made on first use)."""
        n = self.threads
        with self._lock:
            if n not in self._sessions:
                options = self._ort.SessionOptions()
                options.intra_op_num_threads = n
                options.inter_op_num_threads = 1
                options.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[n] = self._ort.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"])
            return self._sessions[n]

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """The first output for ``feeds`` (input name → array; extra names are ignored)."""
        return self.session().run(None, {k: feeds[k] for k in self.inputs})[0]
