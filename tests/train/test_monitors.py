"""Tests for xmodal.train.monitors against independent float64 NumPy oracles."""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np
import pytest
import torch

from xmodal._optional import MissingDependencyError
from xmodal.train.monitors import (
    EmbeddingCollapseError,
    EmbeddingStats,
    MonitorConfig,
    MonitorRecord,
    TrainingMonitor,
    embedding_stats,
)
from xmodal.train.plots import load_records, plot_metrics


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _oracle(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Explicit loops over all ordered pairs i != j, float64."""
    n = a.shape[0]

    def cos(u: np.ndarray, v: np.ndarray) -> float:
        return float(np.dot(u, v) / (math.sqrt(np.dot(u, u)) * math.sqrt(np.dot(v, v))))

    cross, wa, wb = [], [], []
    for i in range(n):
        for j in range(n):
            if i != j:
                cross.append(cos(a[i], b[j]))
                wa.append(cos(a[i], a[j]))
                wb.append(cos(b[i], b[j]))

    def pstd(xs: list[float]) -> float:
        m = sum(xs) / len(xs)
        return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))

    gap = [
        sum(a[i, k] for i in range(n)) / n - sum(b[i, k] for i in range(n)) / n
        for k in range(a.shape[1])
    ]
    return {
        "positive_cos": sum(cos(a[i], b[i]) for i in range(n)) / n,
        "random_cos_mean": sum(cross) / len(cross),
        "random_cos_std": pstd(cross),
        "random_cos_std_a": pstd(wa),
        "random_cos_std_b": pstd(wb),
        "modality_gap": math.sqrt(sum(g * g for g in gap)),
    }


@pytest.mark.parametrize("n,d", [(2, 3), (5, 4), (9, 16)])
def test_exact_all_pairs_matches_loop_oracle(n: int, d: int) -> None:
    rng = np.random.default_rng(n)
    a, b = _unit(rng, n, d), _unit(rng, n, d)
    want = _oracle(a, b)
    got = embedding_stats(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    for k, v in want.items():
        assert getattr(got, k) == pytest.approx(v, abs=1e-6), k  # float32 input rounding
    got64 = embedding_stats(a, b)  # numpy float64 input: near-exact
    for k, v in want.items():
        assert getattr(got64, k) == pytest.approx(v, abs=1e-12), k
    stds = [want["random_cos_std"], want["random_cos_std_a"], want["random_cos_std_b"]]
    assert got64.collapse_std == pytest.approx(min(stds), abs=1e-12)


def test_sampled_estimate_close_to_exact() -> None:
    rng = np.random.default_rng(0)
    n, d = 200, 8
    shared = _unit(rng, n, d)
    a = shared + 0.5 * rng.standard_normal((n, d))
    b = shared + 0.5 * rng.standard_normal((n, d))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    exact = embedding_stats(a, b, n_random_pairs=n * (n - 1))
    g = torch.Generator().manual_seed(123)
    est = embedding_stats(a, b, n_random_pairs=20000, generator=g)
    assert est.random_cos_mean == pytest.approx(exact.random_cos_mean, abs=0.02)
    for k in ("random_cos_std", "random_cos_std_a", "random_cos_std_b"):
        assert getattr(est, k) == pytest.approx(getattr(exact, k), rel=0.05), k
    # positive cos and the gap do not depend on sampling
    assert est.positive_cos == exact.positive_cos
    assert est.modality_gap == exact.modality_gap
    # the default generator is deterministic and does not touch the global RNG
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    s1 = embedding_stats(a, b, n_random_pairs=100)
    assert torch.rand(1) == before
    assert embedding_stats(a, b, n_random_pairs=100) == s1


def _previous_torch_stats(
    a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, n_pairs: int, seed: int
) -> dict[str, float]:
    """The monitor's own torch formula before it called xmodal.diagnostics: the oracle of the
    shared code, in float64, drawing its pairs from the same seeded torch generator."""
    def unit(x: torch.Tensor | np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(x).detach().to(torch.float64)
        return t / t.norm(dim=1, keepdim=True)  # (N, d)

    a64, b64 = unit(a), unit(b)
    n = a64.shape[0]
    if n * (n - 1) <= n_pairs:
        i, j = (~torch.eye(n, dtype=torch.bool)).nonzero(as_tuple=True)
    else:
        g = torch.Generator().manual_seed(seed)
        i = torch.randint(0, n, (n_pairs,), generator=g)  # (P,)
        j = (i + torch.randint(1, n, (n_pairs,), generator=g)) % n  # (P,)
    cross, wa, wb = ((x[i] * y[j]).sum(1) for x, y in ((a64, b64), (a64, a64), (b64, b64)))
    return {
        "positive_cos": float((a64 * b64).sum(1).mean()),
        "random_cos_mean": float(cross.mean()),
        "random_cos_std": float(cross.std(correction=0)),
        "random_cos_std_a": float(wa.std(correction=0)),
        "random_cos_std_b": float(wb.std(correction=0)),
        "modality_gap": float((a64.mean(0) - b64.mean(0)).norm()),
    }


@pytest.mark.parametrize("n,d,n_pairs,seed", [(6, 4, 100, 0), (40, 8, 300, 1), (200, 16, 4096, 7)])
def test_matches_previous_torch_formula(n: int, d: int, n_pairs: int, seed: int) -> None:
    # the monitor now computes through xmodal.diagnostics.stats; same pairs, same numbers
    rng = np.random.default_rng(seed)
    a = _unit(rng, n, d) + 0.3
    b = a + 0.5 * rng.standard_normal((n, d))
    for x, y in ((a, b), (torch.from_numpy(a).float(), torch.from_numpy(b).float())):
        want = _previous_torch_stats(x, y, n_pairs, seed)
        g = torch.Generator().manual_seed(seed)
        got = embedding_stats(x, y, n_random_pairs=n_pairs, generator=g)
        for k, v in want.items():
            assert getattr(got, k) == pytest.approx(v, abs=1e-12), k


def test_one_collapse_threshold() -> None:
    from xmodal.diagnostics.findings import COLLAPSE_STD, check_collapse
    from xmodal.train.config import TrainConfig

    assert MonitorConfig().collapse_threshold == TrainConfig().collapse_threshold == COLLAPSE_STD
    assert plot_metrics.__kwdefaults__["collapse_threshold"] == COLLAPSE_STD
    assert check_collapse(COLLAPSE_STD * 0.99).severity == "error"
    assert check_collapse(COLLAPSE_STD).severity == "ok"


def test_sampled_pairs_are_off_diagonal() -> None:
    # orthonormal rows with a == b: every diagonal pair has cos 1, every off-diagonal pair cos 0
    a = np.eye(5)
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        s = embedding_stats(a, a, n_random_pairs=19, generator=g)  # 19 < 5*4: sampled
        assert (s.random_cos_mean, s.random_cos_std, s.positive_cos) == (0.0, 0.0, 1.0)


def test_modality_gap_hand_built() -> None:
    n = 6
    a = np.tile(np.array([1.0, 0.0, 0.0]), (n, 1))
    b = np.tile(np.array([0.0, 1.0, 0.0]), (n, 1))
    s = embedding_stats(a, b)
    assert s.modality_gap == pytest.approx(math.sqrt(2), abs=1e-12)
    assert s.positive_cos == 0.0
    a[0] = [1.0, 1e-3, 0.0]  # "everywhere-ish": the gap moves by about 1e-4
    s = embedding_stats(a, b)
    assert s.modality_gap == pytest.approx(math.sqrt(2), abs=1e-3)
    assert s.modality_gap != pytest.approx(math.sqrt(2), abs=1e-6)
    # opposite poles: gap 2
    assert embedding_stats(b, -b).modality_gap == pytest.approx(2.0, abs=1e-12)


def test_does_not_touch_grad_graph() -> None:
    a = torch.nn.functional.normalize(torch.randn(4, 3), dim=1).requires_grad_()
    b = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    before = a.detach().clone()
    embedding_stats(a, b)
    assert a.grad is None and torch.equal(a.detach(), before) and a.dtype == torch.float32


def test_input_validation() -> None:
    a = np.eye(3)
    bad = a.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="b contains NaN"):
        embedding_stats(a, bad)
    with pytest.raises(ValueError, match="a contains NaN"):
        embedding_stats(bad, a)
    with pytest.raises(ValueError, match="at least 2"):
        embedding_stats(a[:1], a[:1])
    with pytest.raises(ValueError, match="same shape"):
        embedding_stats(a, a[:2])
    with pytest.raises(ValueError, match="n_random_pairs"):
        embedding_stats(a, a, n_random_pairs=0)


@pytest.mark.parametrize(
    "kw",
    [
        {"every": 0},
        {"every": 1.5},
        {"collapse_threshold": -1.0},
        {"collapse_threshold": math.nan},
        {"n_random_pairs": 0},
    ],
)
def test_config_validation(kw: dict) -> None:
    with pytest.raises(ValueError):
        MonitorConfig(**kw)


def _collapsed_batch(n: int = 32, d: int = 8, eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    v = _unit(rng, 1, d)
    a = v + eps * rng.standard_normal((n, d))
    b = _unit(rng, n, d)  # only tower a collapses
    return a / np.linalg.norm(a, axis=1, keepdims=True), b


def test_collapse_warns_once_per_episode() -> None:
    a, b = _collapsed_batch()
    bad = embedding_stats(a, b)
    assert bad.random_cos_std_a < 0.01 < bad.random_cos_std  # within-modality shows it first
    good = embedding_stats(b, b)
    mon = TrainingMonitor(MonitorConfig(every=1))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        flags = [
            mon.record(s, loss=1.0, lr=1e-3, stats=st).collapsed
            for s, st in enumerate([good, bad, bad, None, bad, good, bad])
        ]
    assert flags == [False, True, True, False, True, False, True]
    msgs = [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]
    assert len(msgs) == 2
    assert "step 1" in msgs[0] and "step 6" in msgs[1]
    assert "learning rate" in msgs[0] and "threshold 0.01" in msgs[0]
    assert mon.alarms == msgs


def test_collapse_stop_raises_with_step(tmp_path) -> None:
    a, b = _collapsed_batch()
    mon = TrainingMonitor(MonitorConfig(collapse_stop=True), log_dir=tmp_path / "run")
    with pytest.raises(EmbeddingCollapseError, match="step 150") as ei:
        mon.record(150, loss=0.5, lr=1e-3, stats=embedding_stats(a, b))
    assert isinstance(ei.value, RuntimeError) and ei.value.step == 150
    assert "temperature" in str(ei.value) and "batch" in str(ei.value)
    assert len(mon.alarms) == 1
    assert load_records(tmp_path / "run" / "metrics.jsonl")[0].collapsed  # written before raising


def test_should_log() -> None:
    mon = TrainingMonitor(MonitorConfig(every=50))
    assert [s for s in range(0, 201) if mon.should_log(s)] == [0, 50, 100, 150, 200]


def test_jsonl_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(2)
    mon = TrainingMonitor(MonitorConfig(every=1), log_dir=tmp_path / "logs" / "x")
    for step in range(5):
        stats = embedding_stats(_unit(rng, 6, 4), _unit(rng, 6, 4)) if step % 2 else None
        mon.record(
            step,
            loss=torch.tensor(1.0 / (step + 3)),
            lr=1e-4 * (step + 1) / 3,
            temperature=0.07 + step / 7 if step else None,
            bias=-10.0 + step / 3,
            stats=stats,
            extra={"grad_norm": step * 0.1} if step > 2 else None,
        )
    path = tmp_path / "logs" / "x" / "metrics.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and all(isinstance(json.loads(x), dict) for x in lines)
    back = load_records(path)
    assert back == list(mon.records)
    assert isinstance(back[1].stats, EmbeddingStats) and back[0].temperature is None
    # appending on resume
    TrainingMonitor(log_dir=path.parent).record(5, loss=0.1, lr=0.0)
    assert len(load_records(path)) == 6


def test_plot_metrics_writes_png(tmp_path) -> None:
    rng = np.random.default_rng(3)
    recs = [
        MonitorRecord(
            step=s,
            loss=1.0 / (s + 1),
            lr=1e-4,
            temperature=0.07,
            bias=-10.0,
            stats=embedding_stats(_unit(rng, 5, 3), _unit(rng, 5, 3)),
        )
        for s in range(0, 30, 10)
    ]
    out = plot_metrics(recs, tmp_path / "sub" / "m.png")
    assert out == tmp_path / "sub" / "m.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # from a path, with only loss and lr present
    mon = TrainingMonitor(log_dir=tmp_path)
    mon.record(0, loss=1.0, lr=1e-3)
    out2 = plot_metrics(tmp_path / "metrics.jsonl", tmp_path / "m2.png")
    assert out2.read_bytes()[:4] == b"\x89PNG"
    # one subplot per series present: the figure is 2.2 in (220 px) high per subplot
    height = lambda p: int.from_bytes(p.read_bytes()[20:24], "big")  # noqa: E731 (PNG IHDR)
    assert height(out) == 7 * 220 and height(out2) == 2 * 220
    with pytest.raises(ValueError, match="no records"):
        plot_metrics([], tmp_path / "m3.png")


def test_plot_metrics_without_matplotlib(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[train\]"):
        plot_metrics([MonitorRecord(step=0, loss=1.0, lr=1e-3)], tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()
