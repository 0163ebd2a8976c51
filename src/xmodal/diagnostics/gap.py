"""Close the modality gap: map one modality's embeddings onto the other's.

:class:`GapProjection` is fitted on matched pairs ``(a_i, b_i)`` of one model:

1. normalise the rows and centre each modality (``mu_a``, ``mu_b``: the centroids);
2. find the linear map ``W`` from centred ``a`` to centred ``b``: an orthogonal Procrustes
   rotation ``W = U Vᵀ`` from the SVD of ``A_cᵀ B_c`` (``method="procrustes"``, the default:
   it preserves angles within a modality), or the least-squares solution of ``A_c W ≈ B_c``
   (``method="lstsq"``: more freedom, can distort the geometry, needs ``n >> d``);
3. ``transform(x, source="a") = normalise((unit(x) - mu_a) W + mu_b)``, which lands ``a``
   vectors in ``b``'s cone (``source="b"`` maps the other way).

The result is saved as ``gap_projection.safetensors`` (the arrays) + ``gap_projection.json``
(the metadata) in one folder; never pickle. :meth:`GapProjection.to_dict` gives the same as one
JSON dict (the arrays as a base64 safetensors blob; a Procrustes map stores ``w_ab`` only):
that is how a collection stores it with its calibration (``xmodal calibrate --gap``), the same
way for every backend. Calibrations stored before hold the arrays as JSON lists: still read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .stats import modality_gap, unit_rows

__all__ = ["GapProjection", "ProjectionMethod"]

ProjectionMethod = Literal["procrustes", "lstsq"]
FORMAT = "xmodal.gap_projection/1"
WEIGHTS_FILE = "gap_projection.safetensors"
META_FILE = "gap_projection.json"


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (n, 1)
    return x / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True, eq=False)
class GapProjection:
    """A fitted map between the two modalities of one model (see the module docstring).

    Attributes:
        method: ``"procrustes"`` or ``"lstsq"``.
        mu_a: Centroid of the normalised ``a`` embeddings ``(d,)``.
        mu_b: Centroid of the normalised ``b`` embeddings ``(d,)``.
        w_ab: Map of centred ``a`` onto centred ``b`` ``(d, d)``.
        w_ba: Map of centred ``b`` onto centred ``a`` ``(d, d)`` (``w_abᵀ`` for Procrustes).
        gap_before: Centroid gap of the fit pairs before the projection.
        gap_after: Centroid gap between projected ``a`` and ``b`` on the fit pairs.
        matched_cos_before: Mean matched-pair cosine before.
        matched_cos_after: Mean matched-pair cosine after.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(200, 8)) + 2.0  # a cone
        >>> rot, _ = np.linalg.qr(rng.normal(size=(8, 8)))
        >>> proj = GapProjection.fit(a, a @ rot)  # b: the same cone, rotated
        >>> proj.gap_before > 0.5, round(proj.gap_after, 6), round(proj.matched_cos_after, 6)
        (True, 0.0, 1.0)
        >>> bool(np.allclose(proj.w_ab, rot))
        True
    """

    method: ProjectionMethod
    mu_a: np.ndarray  # (d,)
    mu_b: np.ndarray  # (d,)
    w_ab: np.ndarray  # (d, d)
    w_ba: np.ndarray  # (d, d)
    gap_before: float
    gap_after: float
    matched_cos_before: float
    matched_cos_after: float

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.mu_a.shape[0])

    @classmethod
    def fit(
        cls, a: ArrayLike, b: ArrayLike, *, method: ProjectionMethod = "procrustes"
    ) -> GapProjection:
        """Fit on matched pairs ``a[i] ↔ b[i]``.

        Args:
            a: Embeddings of modality a ``(n, d)``.
            b: Embeddings of modality b ``(n, d)``, row ``i`` the match of ``a[i]``.
            method: ``"procrustes"`` (orthogonal) or ``"lstsq"`` (any linear map).

        Raises:
            ValueError: Bad shapes, fewer than 2 pairs, NaN/Inf or zero rows, unknown method.
        """
        ua, ub = unit_rows("a", a), unit_rows("b", b)  # (n, d) each
        if ua.shape != ub.shape:
            raise ValueError(f"a and b must have the same shape, got {ua.shape} and {ub.shape}")
        if ua.shape[0] < 2:
            raise ValueError("need at least 2 matched pairs")
        mu_a, mu_b = ua.mean(axis=0), ub.mean(axis=0)  # (d,) each
        ca, cb = ua - mu_a, ub - mu_b  # (n, d) each
        if method == "procrustes":
            u, _, vt = np.linalg.svd(ca.T @ cb)  # (d, d) each
            w_ab = u @ vt  # (d, d), orthogonal
            w_ba = w_ab.T
        elif method == "lstsq":
            w_ab = np.linalg.lstsq(ca, cb, rcond=None)[0]  # (d, d)
            w_ba = np.linalg.lstsq(cb, ca, rcond=None)[0]  # (d, d)
        else:
            raise ValueError(f"method must be 'procrustes' or 'lstsq', got {method!r}")
        mapped = _normalise(ca @ w_ab + mu_b)  # (n, d)
        return cls(
            method=method,
            mu_a=mu_a,
            mu_b=mu_b,
            w_ab=w_ab,
            w_ba=w_ba,
            gap_before=modality_gap(ua, ub)[0],
            gap_after=modality_gap(mapped, ub)[0],
            matched_cos_before=float((ua * ub).sum(axis=1).mean()),
            matched_cos_after=float((mapped * ub).sum(axis=1).mean()),
        )

    def transform(self, x: ArrayLike, source: Literal["a", "b"] = "a") -> np.ndarray:
        """Map embeddings of modality ``source`` into the other modality's space.

        Args:
            x: Embeddings ``(n, d)`` or one vector ``(d,)``.
            source: ``"a"`` maps a → b; ``"b"`` maps b → a.

        Returns:
            Unit rows, float32, the shape of ``x``.
        """
        arr = np.asarray(x, dtype=np.float64)
        single = arr.ndim == 1
        ux = unit_rows("x", arr[None, :] if single else arr)  # (n, d)
        if ux.shape[1] != self.dim:
            raise ValueError(f"x has dimension {ux.shape[1]}, the projection {self.dim}")
        if source == "a":
            out = _normalise((ux - self.mu_a) @ self.w_ab + self.mu_b)  # (n, d)
        elif source == "b":
            out = _normalise((ux - self.mu_b) @ self.w_ba + self.mu_a)  # (n, d)
        else:
            raise ValueError(f"source must be 'a' or 'b', got {source!r}")
        out = out.astype(np.float32)
        return out[0] if single else out

    def _meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "method": self.method,
            "dim": self.dim,
            "gap_before": self.gap_before,
            "gap_after": self.gap_after,
            "matched_cos_before": self.matched_cos_before,
            "matched_cos_after": self.matched_cos_after,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for a collection's calibration: the metadata, and the arrays as one
        safetensors file, base64 (``"safetensors"``; float64, bit-exact). A 512-d map is 2.8 MB
        of one JSON string, read in milliseconds, where its floats as JSON lists (the format
        before, still read by :meth:`from_dict`) were 5 MB parsed number by number at every
        index open.

        Example:
            >>> rng = np.random.default_rng(0)
            >>> a = rng.normal(size=(50, 4)) + 1.0
            >>> p = GapProjection.fit(a, a + 0.5)
            >>> q = GapProjection.from_dict(p.to_dict())
            >>> bool(np.allclose(q.transform(a), p.transform(a)))
            True
        """
        from safetensors.numpy import save

        arrays = {"mu_a": self.mu_a, "mu_b": self.mu_b, "w_ab": self.w_ab}
        if self.method != "procrustes":
            arrays["w_ba"] = self.w_ba
        blob = save({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()})
        return {**self._meta(), "safetensors": base64.b64encode(blob).decode("ascii")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GapProjection:
        """Rebuild from :meth:`to_dict` output (or the older form, arrays as JSON lists).

        Raises:
            ValueError: Not an xmodal gap projection, arrays missing, unreadable or of the
                wrong shape.
        """
        if d.get("format") != FORMAT or d.get("method") not in ("procrustes", "lstsq"):
            raise ValueError("not an xmodal gap projection dict")
        dim = int(d["dim"])
        arrays = _arrays(d)
        mu_a, mu_b = np.asarray(arrays["mu_a"], np.float64), np.asarray(arrays["mu_b"],
                                                                        np.float64)
        w_ab = np.asarray(arrays["w_ab"], np.float64)
        w_ba = w_ab.T.copy() if d["method"] == "procrustes" else np.asarray(arrays["w_ba"],
                                                                           np.float64)
        if mu_a.shape != (dim,) or mu_b.shape != (dim,) or w_ab.shape != (dim, dim) \
                or w_ba.shape != (dim, dim):
            raise ValueError(f"gap projection arrays do not match dim {dim}")
        return cls(method=d["method"], mu_a=mu_a, mu_b=mu_b, w_ab=w_ab, w_ba=w_ba,
                   gap_before=float(d["gap_before"]), gap_after=float(d["gap_after"]),
                   matched_cos_before=float(d["matched_cos_before"]),
                   matched_cos_after=float(d["matched_cos_after"]))

    def save(self, folder: str | Path) -> Path:
        """Write ``gap_projection.safetensors`` and ``gap_projection.json`` into ``folder``.

        Returns:
            The folder as a :class:`~pathlib.Path` (created if missing).
        """
        from safetensors.numpy import save_file

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        arrays = {"mu_a": self.mu_a, "mu_b": self.mu_b, "w_ab": self.w_ab, "w_ba": self.w_ba}
        save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()},
                  str(out / WEIGHTS_FILE))
        (out / META_FILE).write_text(json.dumps(self._meta(), indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> GapProjection:
        """Read a projection written by :meth:`save` (arrays bit-exact).

        Raises:
            ValueError: The files are not an xmodal gap projection or are inconsistent.
        """
        from safetensors.numpy import load_file

        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder} does not hold an xmodal gap projection")
        arrays = load_file(str(folder / WEIGHTS_FILE))
        d = int(meta["dim"])
        shapes = {"mu_a": (d,), "mu_b": (d,), "w_ab": (d, d), "w_ba": (d, d)}
        for key, shape in shapes.items():
            if key not in arrays or arrays[key].shape != shape:
                raise ValueError(f"{folder / WEIGHTS_FILE}: {key} missing or not of shape {shape}")
        if meta["method"] not in ("procrustes", "lstsq"):
            raise ValueError(f"unknown projection method {meta['method']!r}")
        return cls(
            method=meta["method"],
            mu_a=arrays["mu_a"],
            mu_b=arrays["mu_b"],
            w_ab=arrays["w_ab"],
            w_ba=arrays["w_ba"],
            gap_before=float(meta["gap_before"]),
            gap_after=float(meta["gap_after"]),
            matched_cos_before=float(meta["matched_cos_before"]),
            matched_cos_after=float(meta["matched_cos_after"]),
        )


def _arrays(d: Mapping[str, Any]) -> Mapping[str, Any]:
    """The arrays of a projection dict: its safetensors blob decoded, or (the older form) its
    JSON lists."""
    blob = d.get("safetensors")
    if blob is None:
        missing = [k for k in ("mu_a", "mu_b", "w_ab") if k not in d]
        if missing or (d["method"] != "procrustes" and "w_ba" not in d):
            raise ValueError("gap projection dict without its arrays "
                             f"({', '.join(missing) or 'w_ba'})")
        return d
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        arrays = load(base64.b64decode(blob, validate=True))
    except (binascii.Error, SafetensorError, TypeError, ValueError) as exc:
        raise ValueError(f"gap projection: unreadable safetensors blob ({exc})") from None
    names = ("mu_a", "mu_b", "w_ab") + (("w_ba",) if d["method"] != "procrustes" else ())
    missing = [k for k in names if k not in arrays]
    if missing:
        raise ValueError(f"gap projection: safetensors blob without {', '.join(missing)}")
    return arrays
