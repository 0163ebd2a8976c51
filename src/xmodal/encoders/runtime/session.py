"""One ONNX Runtime session over a cached graph, with xmodal's thread settings.

Threads: ``intra_op_num_threads`` defaults to ``torch.get_num_threads()`` (torch's own default
is the physical core count; ``torch.set_num_threads`` or ``threads=`` change it), so the two
runtimes use the same cores and a pipelined decoder that sizes torch's threads sizes these
too. One inter-op thread and sequential execution (these graphs are chains), and no spinning:
idle ORT threads otherwise busy-wait between batches and steal the cores decoding needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..._optional import require


def default_threads() -> int:
    """Intra-op threads of a new session: torch's (``torch.get_num_threads()``).

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
        ort = require("onnxruntime", "onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.threads = options.intra_op_num_threads
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = tuple(i.name for i in self.session.get_inputs())

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """The first output for ``feeds`` (input name → array; extra names are ignored)."""
        return self.session.run(None, {k: feeds[k] for k in self.inputs})[0]
