"""GapProjection: planted rotation + offset, gap before/after, safetensors round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xmodal.diagnostics import GapProjection, diagnose


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _rotation(dim: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))  # (d, d), orthogonal


def _planted(
    n: int, dim: int, seed: int, noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a: a cone around e1; b: the same points rotated, shifted towards e2, plus noise."""
    rng = np.random.default_rng(seed)
    rot = _rotation(dim, seed + 100)
    offset = np.zeros(dim)
    offset[0] = 2.0
    a = _unit(rng.normal(size=(n, dim)) + offset)  # (n, d)
    shift = np.zeros(dim)
    shift[1] = 0.3
    b = _unit(a @ rot + shift + noise * rng.normal(size=(n, dim)))  # (n, d)
    return a, b, rot


def test_exact_rotation_is_recovered() -> None:
    rng = np.random.default_rng(0)
    rot = _rotation(16, 1)
    a = _unit(rng.normal(size=(300, 16)) + 3.0)
    proj = GapProjection.fit(a, a @ rot)
    np.testing.assert_allclose(proj.w_ab, rot, atol=1e-9)
    np.testing.assert_allclose(proj.w_ba, rot.T, atol=1e-9)
    assert proj.gap_before > 0.5 and proj.gap_after < 1e-9
    assert proj.matched_cos_after == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(proj.transform(a), a @ rot, atol=1e-6)
    np.testing.assert_allclose(proj.transform(a @ rot, source="b"), a, atol=1e-6)


def test_planted_rotation_and_offset_with_noise() -> None:
    a, b, rot = _planted(4000, 32, seed=2, noise=0.05)
    proj = GapProjection.fit(a[:3000], b[:3000])
    assert np.linalg.norm(proj.w_ab - rot) / np.linalg.norm(rot) < 0.1
    # held-out pairs: the gap closes and matched pairs move together
    before = diagnose(a[3000:], b[3000:])
    after = diagnose(proj.transform(a[3000:]), b[3000:])
    # b's noise makes it less concentrated than mapped a, so a small length difference of the
    # centroids remains; their directions agree
    assert before.gap > 0.5 and after.gap < 0.1 * before.gap and after.gap_cosine < 1e-3
    assert after.matched_cos_mean > before.matched_cos_mean + 0.3
    assert after.matched_cos_mean > 0.95
    assert proj.gap_after < 0.05 and proj.matched_cos_after > proj.matched_cos_before


def test_lstsq_also_closes_the_gap() -> None:
    a, b, _ = _planted(3000, 16, seed=3, noise=0.05)
    proj = GapProjection.fit(a, b, method="lstsq")
    assert proj.method == "lstsq" and proj.gap_after < 0.02
    assert proj.matched_cos_after > proj.matched_cos_before
    back = proj.transform(b, source="b")
    assert diagnose(a, back).gap < 0.02


def test_transform_shapes_and_dtype() -> None:
    a, b, _ = _planted(200, 8, seed=4, noise=0.01)
    proj = GapProjection.fit(a, b)
    out = proj.transform(a[:5] * 7.0)  # unnormalised input is normalised first
    assert out.shape == (5, 8) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    one = proj.transform(a[0])
    assert one.shape == (8,)
    np.testing.assert_allclose(one, out[0], atol=1e-6)


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    a, b, _ = _planted(500, 12, seed=5, noise=0.05)
    for method in ("procrustes", "lstsq"):
        proj = GapProjection.fit(a, b, method=method)
        folder = proj.save(tmp_path / method)
        assert sorted(p.name for p in folder.iterdir()) == [
            "gap_projection.json",
            "gap_projection.safetensors",
        ]
        back = GapProjection.load(folder)
        for name in ("mu_a", "mu_b", "w_ab", "w_ba"):
            np.testing.assert_array_equal(getattr(back, name), getattr(proj, name))
            assert getattr(back, name).dtype == np.float64
        assert back.method == method and back.gap_after == proj.gap_after
        assert back.matched_cos_before == proj.matched_cos_before
        np.testing.assert_array_equal(back.transform(a), proj.transform(a))


def test_load_rejects_foreign_files(tmp_path: Path) -> None:
    a, b, _ = _planted(100, 4, seed=6, noise=0.05)
    folder = GapProjection.fit(a, b).save(tmp_path / "p")
    meta = json.loads((folder / "gap_projection.json").read_text())
    (folder / "gap_projection.json").write_text(json.dumps({**meta, "format": "x"}))
    with pytest.raises(ValueError, match="gap projection"):
        GapProjection.load(folder)
    (folder / "gap_projection.json").write_text(json.dumps({**meta, "dim": 5}))
    with pytest.raises(ValueError, match="shape"):
        GapProjection.load(folder)


def test_validation() -> None:
    a, b, _ = _planted(50, 4, seed=7, noise=0.05)
    with pytest.raises(ValueError, match="method"):
        GapProjection.fit(a, b, method="cca")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        GapProjection.fit(a, b[:40])
    with pytest.raises(ValueError, match="at least 2"):
        GapProjection.fit(a[:1], b[:1])
    with pytest.raises(ValueError, match="NaN"):
        GapProjection.fit(np.full((3, 4), np.nan), b[:3])
    proj = GapProjection.fit(a, b)
    with pytest.raises(ValueError, match="dimension"):
        proj.transform(np.ones((2, 5)))
    with pytest.raises(ValueError, match="source"):
        proj.transform(a, source="c")  # type: ignore[arg-type]
