"""Run ``xmodal index`` (``run_index``) over a corpus with the decoding encoders, in its own
process, and record its memory: ``python -m tests.index.malformed_worker CORPUS INDEX MEMFILE``.

Writes ``{"code", "baseline_kb", "peak_kb"}`` to MEMFILE: the resident set before the ingest
(after every import) and the peak resident set of the process after it (``VmHWM`` of
``/proc/self/status``; not ``ru_maxrss``, which Linux carries over ``exec`` from the parent, so
a child of a big pytest process would report its parent's peak). The JSON report of
``run_index`` goes to stdout, failures and skips to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main(corpus: str, index: str, memfile: str) -> int:
    """Index ``corpus`` into the Edge folder ``index``; returns run_index's exit code."""
    import PIL.Image  # noqa: F401  (imported before the baseline is taken)
    import qdrant_edge  # noqa: F401
    import soundfile  # noqa: F401

    from tests.index.malformed_corpus import decoding_encoders
    from xmodal.commands import index as commands
    from xmodal.index import open_index

    encoders = decoding_encoders()
    commands._encoders = lambda models, wanted, **how: {m: encoders[m] for m in models
                                                          if m in wanted}
    with open_index(index):  # the backend loaded and the folder claimed before the baseline
        pass
    baseline = _status_kb("VmRSS")
    code = commands.run_index([corpus], index_uri=index, models=dict.fromkeys(encoders, "dec"),
                              prune=False, workers=0, as_json=True)
    peak = _status_kb("VmHWM")
    Path(memfile).write_text(json.dumps({"code": code, "baseline_kb": baseline,
                                         "peak_kb": peak}))
    return code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
