"""diagnose(): statistics on synthetic data with known geometry, findings, validation."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.diagnostics import Diagnosis, Finding, diagnose
from xmodal.diagnostics.stats import effective_rank, modality_gap, unit_rows


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _codes(d: Diagnosis) -> dict[str, str]:
    return {f.code: f.severity for f in d.findings}


def test_isotropic_set_is_healthy() -> None:
    x = np.random.default_rng(1).normal(size=(3000, 64))  # (n, d)
    d = diagnose(x)
    assert d.n == 3000 and d.dim == 64
    assert d.random_pair_std == pytest.approx(1 / 8, abs=0.005)  # isotropic: 1/sqrt(d)
    assert abs(d.random_pair_mean) < 0.005 and abs(d.anisotropy) < 0.005
    assert d.effective_rank > 58
    assert d.mean_pairwise_distance == pytest.approx(np.sqrt(2), abs=0.02)
    assert d.frac_pairs_above_0_9 == 0.0
    assert d.gap is None and d.gap_cosine is None and d.matched_cos_mean is None
    assert d.worst == "ok" and all(f.severity == "ok" for f in d.findings)


def test_planted_gap_is_recovered_exactly() -> None:
    # a_i = cos t e1 ± sin t e_k, b_i = cos t e2 ± sin t e_k: centroids cos t e1 and cos t e2.
    dim, t = 12, 0.7
    rows = []
    for k in range(3, dim):
        for sign in (1.0, -1.0):
            rows.append((k, sign))
    a = np.zeros((len(rows), dim))
    b = np.zeros((len(rows), dim))
    for r, (k, sign) in enumerate(rows):
        a[r, 0] = b[r, 1] = np.cos(t)
        a[r, k] = b[r, k] = sign * np.sin(t)
    d = diagnose(a, b)
    assert d.gap == pytest.approx(np.cos(t) * np.sqrt(2), abs=1e-12)
    assert d.gap_cosine == pytest.approx(1.0, abs=1e-12)
    assert _codes(d)["modality_gap"] == "warning"
    assert d.findings[0].severity == "warning"  # worst first


def test_cone_gap_warning_and_remedy() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(size=(1000, 32))
    offset_a, offset_b = np.zeros(32), np.zeros(32)
    offset_a[0], offset_b[1] = 4.0, 4.0
    a, b = z + offset_a, z + offset_b  # matched pairs in two cones
    d = diagnose(a, b)
    gap = next(f for f in d.findings if f.code == "modality_gap")
    assert gap.severity == "warning" and "GapProjection" in gap.remedy
    assert d.gap_cosine > 0.5 and d.gap > 0.5
    assert d.matched_cos_mean > d.cross_modal_mean
    assert d.within_modal_mean > d.cross_modal_mean  # each modality is a tight cone
    assert d.random_pair_mean == d.cross_modal_mean
    assert _codes(d)["alignment"] == "ok"


def test_collapse_is_an_error_first() -> None:
    rng = np.random.default_rng(3)
    x = np.ones((400, 16)) + 1e-3 * rng.normal(size=(400, 16))
    d = diagnose(x)
    assert d.random_pair_std < 0.01
    assert d.findings[0] == next(f for f in d.findings if f.code == "collapse")
    assert d.findings[0].severity == "error" and d.worst == "error"
    assert "temperature" in d.findings[0].remedy
    assert d.frac_pairs_above_0_9 == 1.0 and _codes(d)["crowding"] == "warning"


def test_collapse_of_one_tower_shows_in_pairs() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=(500, 16))
    b = np.ones((500, 16)) + 1e-4 * rng.normal(size=(500, 16))  # tower b collapsed
    d = diagnose(a, b)
    assert d.min_random_pair_std < 0.01 < d.random_pair_std
    assert _codes(d)["collapse"] == "error"


def test_low_coverage_warning() -> None:
    rng = np.random.default_rng(5)
    basis = np.linalg.qr(rng.normal(size=(64, 2)))[0].T  # (2, 64)
    x = rng.normal(size=(1000, 2)) @ basis  # rank 2 in 64-d
    d = diagnose(x)
    assert d.effective_rank < 2.01
    f = next(f for f in d.findings if f.code == "low_coverage")
    assert f.severity == "warning" and "diverse" in f.remedy


def test_shuffled_pairs_have_weak_alignment() -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(size=(800, 32))
    b = a + 0.3 * rng.normal(size=(800, 32))
    assert _codes(diagnose(a, b))["alignment"] == "ok"
    d = diagnose(a, b[rng.permutation(800)])
    assert _codes(d)["alignment"] == "warning"


def test_all_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    ua, ub = _unit(a), _unit(b)
    off = ~np.eye(6, dtype=bool)
    cross = (ua @ ub.T)[off]
    d = diagnose(a, b, n_random_pairs=1000)  # 30 pairs exist: all used
    assert d.random_pair_mean == pytest.approx(cross.mean(), abs=1e-12)
    assert d.random_pair_std == pytest.approx(cross.std(), abs=1e-12)
    assert d.matched_cos_mean == pytest.approx((ua * ub).sum(1).mean(), abs=1e-12)
    within = ((ua @ ua.T)[off].mean() + (ub @ ub.T)[off].mean()) / 2
    assert d.within_modal_mean == pytest.approx(within, abs=1e-12)
    assert d.mean_pairwise_distance == pytest.approx(np.sqrt(2 - 2 * cross).mean(), abs=1e-12)


def test_agrees_with_training_monitor() -> None:
    torch = pytest.importorskip("torch")
    from xmodal.train.monitors import embedding_stats  # the oracle; diagnostics never imports it

    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(20, 8)), rng.normal(size=(20, 8)) + 1.0
    s = embedding_stats(torch.from_numpy(a), torch.from_numpy(b), n_random_pairs=1000)
    d = diagnose(a, b, n_random_pairs=1000)
    assert d.random_pair_std == pytest.approx(s.random_cos_std, abs=1e-12)
    assert d.gap == pytest.approx(s.modality_gap, abs=1e-12)
    assert d.matched_cos_mean == pytest.approx(s.positive_cos, abs=1e-12)


def test_seeded_and_deterministic() -> None:
    x = np.random.default_rng(9).normal(size=(400, 16))
    assert diagnose(x, seed=1) == diagnose(x, seed=1)
    assert diagnose(x, seed=1).random_pair_std != diagnose(x, seed=2).random_pair_std


def test_scale_invariant() -> None:
    x = np.random.default_rng(10).normal(size=(50, 8))
    d1, d2 = diagnose(x), diagnose(x * np.arange(1, 51)[:, None])
    assert d1.random_pair_std == pytest.approx(d2.random_pair_std, abs=1e-12)
    assert d1.effective_rank == pytest.approx(d2.effective_rank, abs=1e-9)
    assert [f.code for f in d1.findings] == [f.code for f in d2.findings]


def test_effective_rank_and_gap_helpers() -> None:
    assert effective_rank(np.diag([1.0, 1.0, 0.0, 0.0]), center=False) == pytest.approx(2.0)
    assert effective_rank(np.eye(5), center=False) == pytest.approx(5.0)
    assert effective_rank(np.ones((4, 3))) == 0.0
    # unequal singular values: exp of the entropy of s / sum(s)
    p = np.array([3.0, 1.0]) / 4
    expected = np.exp(-(p * np.log(p)).sum())
    assert effective_rank(np.diag([3.0, 1.0]), center=False) == pytest.approx(expected)
    g, c = modality_gap(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert g == 0.0 and c == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.array([[1.0, np.nan]] * 3), None, "NaN"),
        (np.array([[1.0, np.inf]] * 3), None, "Inf"),
        (np.ones(4), None, "2-D"),
        (np.zeros((0, 3)), None, "empty"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), None, "all-zero row"),
        (np.ones((1, 3)), None, "at least 2"),
        (np.eye(3), np.eye(4), "same shape"),
        (np.eye(3), np.array([[1.0, 2.0, np.nan]] * 3), "b contains NaN"),
    ],
)
def test_validation(a: np.ndarray, b: np.ndarray | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        diagnose(a, b)


def test_bad_pair_count_and_finding() -> None:
    with pytest.raises(ValueError, match="n_random_pairs"):
        diagnose(np.eye(3), n_random_pairs=0)
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "m")  # type: ignore[arg-type]
    assert unit_rows("a", [[0.0, 2.0]]).tolist() == [[0.0, 1.0]]


def test_pair_cosines_chunks_agree() -> None:
    from xmodal.diagnostics.stats import pair_cosines, random_pair_indices

    x = _unit(np.random.default_rng(11).normal(size=(30, 6)))
    i, j = random_pair_indices(30, 100, np.random.default_rng(0))
    direct = (x[i] * x[j]).sum(1)
    np.testing.assert_allclose(pair_cosines(x, x, i, j, chunk=7), direct, atol=1e-15)
