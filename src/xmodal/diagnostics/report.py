"""A self-contained HTML report of a :class:`~xmodal.diagnostics.stats.Diagnosis`.

One file: a table of the findings, the statistics, and PNG plots embedded as base64 (matched vs
random similarity histograms, a 2-D PCA of both modalities showing the gap, Recall@K curves
K = 1..100 in both directions for matched pairs (:func:`recall_curves`, computed by
:func:`xmodal.eval.both_directions`), the calibration curve with its thresholds). Plots use a
bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, so the caller's backend and
global state are untouched); matplotlib comes with the ``train`` extra.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xmodal.calibration.calibrator import Calibrator

from .._optional import require
from .stats import Diagnosis, pair_cosines, random_pair_indices, unit_rows

__all__ = ["recall_curves", "write_report"]

_COLOURS = {"ok": "#2e7d32", "info": "#1565c0", "warning": "#ef6c00", "error": "#c62828"}


def _figure(width: float = 6.0, height: float = 3.6) -> Any:
    figure_mod = require("matplotlib.figure", "train")
    agg = require("matplotlib.backends.backend_agg", "train")
    fig = figure_mod.Figure(figsize=(width, height))
    agg.FigureCanvasAgg(fig)
    return fig


def _png(fig: Any, alt: str = "plot") -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _histogram(matched: np.ndarray | None, random: np.ndarray | None) -> str:
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, values, colour in (("random pairs", random, "grey"),
                                  ("matched pairs", matched, "tab:blue")):
        if values is not None and len(values):
            ax.hist(values, bins=60, density=True, alpha=0.6, color=colour,
                    label=f"{label} (n={len(values)})")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.set_title("matched vs random similarities")
    ax.legend(fontsize="small")
    return _png(fig)


def _pca(a: np.ndarray, b: np.ndarray | None, max_points: int = 2000) -> str:
    rng = np.random.default_rng(0)
    sets = [("a", a)] + ([("b", b)] if b is not None else [])
    joint = np.concatenate([x for _, x in sets])  # (n_total, d)
    mean = joint.mean(axis=0)
    _, s, vt = np.linalg.svd(joint - mean, full_matrices=False)  # vt: (k, d)
    share = (s[:2] ** 2).sum() / max((s**2).sum(), 1e-300)
    comps = vt[:2].T  # (d, 2), or (d, 1) for one-dimensional data
    fig = _figure(5.0, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    for (name, x), colour in zip(sets, ("tab:blue", "tab:orange"), strict=False):
        keep = rng.permutation(len(x))[:max_points]
        xy = (x[keep] - mean) @ comps  # (m, 2)
        ys = xy[:, 1] if xy.shape[1] > 1 else np.zeros(len(xy))
        ax.scatter(xy[:, 0], ys, s=4, alpha=0.4, color=colour, label=f"modality {name}")
        centre = (x.mean(axis=0) - mean) @ comps  # (2,)
        ax.scatter([centre[0]], [centre[1] if len(centre) > 1 else 0.0], s=120, marker="X",
                   color=colour, edgecolor="black")
    ax.set_title(f"PCA, normalised embeddings ({share:.0%} of variance)", fontsize="medium")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize="small")
    return _png(fig)


def recall_curves(
    a: ArrayLike, b: ArrayLike, *, max_k: int = 100, groups: ArrayLike | None = None,
    names: tuple[str, str] = ("a→b", "b→a"),
) -> dict[str, list[float]]:
    """Recall@K for K = 1..min(max_k, n) in both directions of matched pairs ``a[i] ↔ b[i]``.

    Computed by :func:`xmodal.eval.both_directions` (trec_eval's definitions; recall divides
    by all relevant, so with ``groups`` — rows of one group match each other — it is IR recall).

    Args:
        a: Embeddings ``(n, d)``.
        b: Matched embeddings ``(n, d)``.
        max_k: Largest K.
        groups: Group label per row (default: row ``i`` matches row ``i`` only).
        names: Keys of the a→b and b→a curves.

    Returns:
        ``{names[0]: [R@1, R@2, ...], names[1]: [...]}``.

    Example:
        >>> x = np.eye(3)
        >>> recall_curves(x, x[[0, 2, 1]])["a→b"]
        [0.3333333333333333, 1.0, 1.0]
    """
    from xmodal.eval.paired import both_directions

    ua, ub = unit_rows("a", a), unit_rows("b", b)  # (n, d) each
    if ua.shape != ub.shape:
        raise ValueError(f"a and b must be matched pairs of one shape, got {ua.shape}, "
                         f"{ub.shape}")
    ks = tuple(range(1, min(max_k, len(ua)) + 1))
    g = None if groups is None else np.asarray(groups).tolist()
    both = both_directions(ua, ub, ks, a_groups=g, b_groups=g, names=names)
    return {name: [both[name][f"recall@{k}"] for k in ks] for name in names}


def _recall_plot(curves: dict[str, list[float]]) -> str:
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for (name, values), colour in zip(curves.items(), ("tab:blue", "tab:orange"), strict=False):
        ks = np.arange(1, len(values) + 1)
        ax.plot(ks, values, color=colour, label=f"{name} (R@1 {values[0]:.3f}, "
                f"R@{len(values)} {values[-1]:.3f})")
    n = len(next(iter(curves.values())))
    ax.plot(np.arange(1, n + 1), np.arange(1, n + 1) / max(n, 1), color="grey", ls=":",
            label="chance (one positive among n)")
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("Recall@K")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Recall@K, matched pairs")
    ax.legend(fontsize="small")
    return _png(fig, "Recall@K curves")


def _calibration_plot(
    calibrator: Calibrator, matched: np.ndarray | None, random: np.ndarray | None
) -> str:
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    if calibrator.fit_data is not None:
        scores, labels = calibrator.fit_data  # the fit data: the class mix it was fitted on
    elif matched is not None and random is not None and len(matched) and len(random):
        scores = np.concatenate([matched, random])  # (m,)
        labels = np.concatenate([np.ones(len(matched)), np.zeros(len(random))])  # (m,)
    else:
        scores = labels = None
    if scores is not None and labels is not None:
        lo, hi = float(scores.min()), float(scores.max())
        edges = np.linspace(lo, hi, 21)
        bins = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, 19)  # (m,)
        counts = np.bincount(bins, minlength=20)
        shares = np.bincount(bins, weights=labels, minlength=20) / np.maximum(counts, 1)
        centres = np.bincount(bins, weights=scores, minlength=20) / np.maximum(counts, 1)
        keep = counts >= 5
        ax.plot(centres[keep], shares[keep], "o", color="grey",
                label="observed share relevant (bins of >= 5)")
    elif calibrator.method == "isotonic":
        lo, hi = calibrator.knots_x[0], calibrator.knots_x[-1]
    else:
        lo, hi = -1.0, 1.0
    grid = np.linspace(lo, hi, 300)
    ax.plot(grid, calibrator(grid), color="tab:blue", label=f"{calibrator.method} calibrator")
    if calibrator.threshold is not None:
        ax.axvline(calibrator.threshold, color="red", ls="--",
                   label=f"threshold {calibrator.threshold:.3f}")
    ax.set_xlabel(f"raw cosine ({calibrator.query_type})")
    ax.set_ylabel("P(relevant)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"calibration of {calibrator.model or 'the model'}")
    ax.legend(fontsize="small")
    return _png(fig, "calibration curve")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def write_report(
    diagnosis: Diagnosis,
    out_html: str | Path,
    *,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    matched_scores: ArrayLike | None = None,
    random_scores: ArrayLike | None = None,
    calibrator: Calibrator | None = None,
    curves: dict[str, list[float]] | None = None,
    thresholds: dict[str, float | None] | None = None,
) -> Path:
    """Write an HTML report: findings table, statistics, and the plots the inputs allow.

    Plots: the similarity histogram when scores are given (or computed from ``a`` and ``b``:
    matched ``a[i]·b[i]`` and up to 20,000 random ``a[i]·b[j]``), the PCA when ``a`` is given,
    the Recall@K curves when ``curves`` is given or ``a`` and ``b`` are matched pairs of one
    shape (:func:`recall_curves`), the calibration curve when ``calibrator`` is given.

    Args:
        diagnosis: From :func:`~xmodal.diagnostics.diagnose`.
        out_html: Output file (parent folders are created).
        a: Embeddings of modality a ``(n, d)``, optional.
        b: Embeddings of modality b ``(n, d)`` matched with ``a``, optional.
        matched_scores: Cosines of matched pairs ``(m,)``, optional.
        random_scores: Cosines of random (non-matched) pairs ``(r,)``, optional.
        calibrator: A fitted :class:`~xmodal.diagnostics.Calibrator`, optional.
        curves: Recall@K curves (:func:`recall_curves`), optional.
        thresholds: Raw-cosine thresholds to list under the calibration curve, e.g.
            ``{"precision>=0.8": 0.31}`` (None: not reachable), optional.

    Returns:
        ``out_html`` as a :class:`~pathlib.Path`.

    Raises:
        MissingDependencyError: matplotlib is missing (``pip install 'xmodal[train]'``).

    Example:
        >>> import tempfile
        >>> from xmodal.diagnostics import diagnose
        >>> x = np.random.default_rng(0).normal(size=(50, 8))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = write_report(diagnose(x), Path(d) / "r.html", a=x)
        ...     "<img" in p.read_text()
        True
    """
    ua = None if a is None else unit_rows("a", a)  # (n, d)
    ub = None if b is None else unit_rows("b", b)  # (n, d)
    matched = None if matched_scores is None else np.asarray(matched_scores, np.float64).ravel()
    random = None if random_scores is None else np.asarray(random_scores, np.float64).ravel()
    if ua is not None and ub is not None and ua.shape == ub.shape:
        if matched is None:
            matched = (ua * ub).sum(axis=1)  # (n,)
        if random is None:
            i, j = random_pair_indices(len(ua), 20000, np.random.default_rng(0))
            random = pair_cosines(ua, ub, i, j)  # (P,)

    if curves is None and ua is not None and ub is not None and ua.shape == ub.shape:
        curves = recall_curves(ua, ub)
    plots = []
    if matched is not None or random is not None:
        plots.append(_histogram(matched, random))
    if ua is not None:
        plots.append(_pca(ua, ub))
    if curves:
        plots.append("<h2>Recall@K</h2>" + _recall_plot(curves))
    if calibrator is not None:
        rows_t = "".join(f"<tr><td>{html.escape(name)}</td><td>{_fmt(value)}</td></tr>"
                         for name, value in (thresholds or {}).items())
        plots.append("<h2>Calibration</h2>" + _calibration_plot(calibrator, matched, random)
                     + (f"<table><tr><th>target</th><th>raw-cosine threshold</th></tr>{rows_t}"
                        "</table>" if rows_t else ""))

    rows = "\n".join(
        f'<tr><td style="color:{_COLOURS[f.severity]};font-weight:bold">{f.severity}</td>'
        f"<td>{html.escape(f.code)}</td><td>{html.escape(f.message)}</td>"
        f"<td>{html.escape(f.remedy)}</td></tr>"
        for f in diagnosis.findings
    )
    stats = "\n".join(
        f"<tr><td>{fl.name}</td><td>{_fmt(getattr(diagnosis, fl.name))}</td></tr>"
        for fl in fields(diagnosis)
        if fl.name != "findings"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xmodal embedding diagnosis</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}
table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}}img{{max-width:100%;margin:0.5em 0}}</style></head>
<body><h1>Embedding diagnosis</h1>
<p>overall: <b style="color:{_COLOURS[diagnosis.worst]}">{diagnosis.worst}</b>,
n={diagnosis.n}, d={diagnosis.dim}</p>
<h2>Findings</h2>
<table><tr><th>severity</th><th>check</th><th>finding</th><th>remedy</th></tr>
{rows}
</table>
<h2>Statistics</h2>
<table><tr><th>statistic</th><th>value</th></tr>
{stats}
</table>
<h2>Plots</h2>
{"".join(plots) if plots else "<p>no embeddings or scores given: no plots</p>"}
</body></html>
"""
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
