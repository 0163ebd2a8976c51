"""The training monitor's log read back and drawn: ``metrics.jsonl`` → one PNG of every series.

:class:`~xmodal.train.monitors.TrainingMonitor` appends one JSON line per logged step;
:func:`load_records` reads them back as :class:`~xmodal.train.monitors.MonitorRecord` and
:func:`plot_metrics` draws loss, temperature, bias, random-pair cosine std (with the collapse
threshold), positive vs random cosine, the modality gap and the learning rate against step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from xmodal._optional import require

from .monitors import MonitorConfig, MonitorRecord

__all__ = ["load_records", "plot_metrics"]


def load_records(path: str | Path) -> list[MonitorRecord]:
    """Read a ``metrics.jsonl`` written by :class:`TrainingMonitor` (blank lines are skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [MonitorRecord.from_dict(json.loads(line)) for line in lines if line.strip()]


def _series(records: Sequence[MonitorRecord], field: str) -> tuple[list[int], list[float]]:
    """(steps, values) of a record field or a stats field, skipping records that lack it."""
    pts = [
        (r.step, getattr(r, field) if hasattr(r, field) else getattr(r.stats, field, None))
        for r in records
    ]  # getattr(None, field, None) is None: records without stats
    pts = [(s, v) for s, v in pts if v is not None]
    return [s for s, _ in pts], [v for _, v in pts]


_PANELS = (  # (y label, fields drawn on it)
    ("loss", ("loss",)),
    ("temperature", ("temperature",)),
    ("bias", ("bias",)),
    ("random-pair cos std", ("random_cos_std", "random_cos_std_a", "random_cos_std_b")),
    ("cosine", ("positive_cos", "random_cos_mean")),
    ("modality gap", ("modality_gap",)),
    ("lr", ("lr",)),
)


def plot_metrics(
    records_or_path: Sequence[MonitorRecord] | str | Path,
    out_path: str | Path,
    *,
    collapse_threshold: float = MonitorConfig.collapse_threshold,
) -> Path:
    """Draw every logged series against step into one PNG (one subplot per series present).

    Uses a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, so the caller's
    backend and global figure state are left alone). Needs the ``train`` extra.

    Args:
        records_or_path: Records, or the path of a ``metrics.jsonl``.
        out_path: Where to write the PNG (parent folders are created).
        collapse_threshold: Drawn as a dashed line on the random-pair cosine std subplot.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        MissingDependencyError: matplotlib is not installed (``pip install 'xmodal[train]'``).
        ValueError: There are no records.

    Example:
        >>> import tempfile
        >>> recs = [MonitorRecord(step=s, loss=2.0 / (s + 1), lr=1e-4) for s in range(3)]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = plot_metrics(recs, Path(d) / "m.png")
        ...     p.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    require("matplotlib", "train")
    figure_mod = require("matplotlib.figure", "train")
    agg = require("matplotlib.backends.backend_agg", "train")
    records = (
        load_records(records_or_path)
        if isinstance(records_or_path, str | Path)
        else list(records_or_path)
    )
    if not records:
        raise ValueError("no records to plot")

    present = []
    for title, fields in _PANELS:
        data = [(field, *_series(records, field)) for field in fields]
        if any(xs for _, xs, _ in data):
            present.append((title, data))
    fig = figure_mod.Figure(figsize=(7, 2.2 * len(present)))
    agg.FigureCanvasAgg(fig)
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, data) in zip(axes, present, strict=True):
        for label, xs, ys in data:
            ax.plot(xs, ys, marker="." if len(xs) < 50 else None, label=label)
        if title == "random-pair cos std":
            ax.axhline(collapse_threshold, color="red", ls="--", label="collapse threshold")
        if title == "lr":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        if len(data) > 1 or title == "random-pair cos std":
            ax.legend(fontsize="small")
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out
