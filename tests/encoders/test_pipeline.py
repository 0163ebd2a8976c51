"""The pipelined encoder: decoding beside the network, bounded, within the thread budget, and
the same results and problem reports as one batch after the other."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from xmodal.encoders import load_encoder
from xmodal.encoders.pipeline import _OWNER, Pipeline


@pytest.fixture
def two_threads():
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(saved)


class Source:
    """Batches 0..n-1; records how many were produced and when the next one was started."""

    def __init__(self, n: int, decode_s: float = 0.0, fail_at: int | None = None) -> None:
        self.n, self.decode_s, self.fail_at = n, decode_s, fail_at
        self.produced = 0
        self.started = [threading.Event() for _ in range(n)]

    def __iter__(self):
        for k in range(self.n):
            self.started[k].set()
            time.sleep(self.decode_s)
            if k == self.fail_at:
                raise OSError(f"disk gone at batch {k}")
            self.produced += 1
            yield k


def _run(source: Source, overlap: str, check=None) -> list[int]:
    out = []

    def network(k: int, pipe: Pipeline) -> int:
        if check is not None:
            check(k, pipe)
        return k

    with Pipeline(iter(source), overlap=overlap) as pipe:
        for k in pipe:
            out.append(pipe.run(lambda k=k, pipe=pipe: network(k, pipe), items=1))
    return out


@pytest.mark.parametrize("overlap", ["never", "always", "auto"])
def test_every_batch_once_in_order(two_threads, overlap: str) -> None:
    assert _run(Source(7), overlap) == list(range(7))
    assert _run(Source(0), overlap) == []


def test_next_batch_decodes_while_the_network_runs(two_threads) -> None:
    seen: dict[str, list[bool]] = {}
    for overlap in ("always", "never"):
        source = Source(4)
        seen[overlap] = []

        def check(k: int, pipe: Pipeline, source=source, flags=seen[overlap]) -> None:
            if k + 1 < source.n:  # is batch k+1 being decoded while the network has batch k?
                flags.append(source.started[k + 1].wait(timeout=5 if flags is seen["always"]
                                                        else 0.2))
            # bounded: the batch in the network, at most one decoded ahead, one decoding
            assert source.produced <= k + 2

        _run(source, overlap, check=check)
    assert seen["always"] == [True] * 3
    assert seen["never"] == [False] * 3


def test_threads_stay_within_the_budget_and_are_restored(two_threads) -> None:
    observed = []

    def check(k: int, pipe: Pipeline) -> None:
        decoding = [t for t in threading.enumerate() if t.name == "xmodal-decode"]
        observed.append((torch.get_num_threads(), len(decoding)))

    _run(Source(3), "always", check=check)
    assert observed == [(1, 1)] * 3  # 1 torch thread + 1 decoding thread = the budget of 2
    assert torch.get_num_threads() == 2
    assert not [t for t in threading.enumerate() if t.name == "xmodal-decode"]


def test_one_thread_budget_never_overlaps() -> None:
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Pipeline(iter(Source(3)), overlap="always") as pipe:
            threads = [pipe.run(torch.get_num_threads, items=1) for _ in pipe]
        assert threads == [1, 1, 1]
        assert {t.mode for t in pipe.trace} == {"sequential"}
    finally:
        torch.set_num_threads(saved)


@pytest.mark.parametrize(
    ("decode_s", "expected"),
    [
        # decoding 0.15 s, the network 0.2 s on one thread and 0.1 s on two: overlapped
        # max(0.15, 0.2) = 0.2 per batch beats one after the other, 0.15 + 0.1
        (0.15, True),
        # decoding ~0 s: one after the other on two threads (0.1 s) beats 0.2 s on one
        (0.0, False),
    ],
)
def test_auto_measures_once_and_keeps_the_faster(two_threads, decode_s: float,
                                                 expected: bool) -> None:
    calls: list[int] = []

    def network() -> int:
        threads = torch.get_num_threads()
        calls.append(threads)
        time.sleep(0.1 if threads == 2 else 0.2)
        return threads

    with Pipeline(iter(Source(4, decode_s=decode_s)), overlap="auto") as pipe:
        outs = [pipe.run(network, items=1) for _ in pipe]
    assert pipe.decided is expected
    threads = 1 if expected else 2
    assert calls == [1, 2] + [threads] * 3  # the first batch measured on both, once
    assert outs == [threads] * 4  # every batch's result from the same thread count
    assert [t.mode for t in pipe.trace] == ["overlapped" if expected else "sequential"] * 4
    # A later call of the same encoder reuses the decision: nothing measured again.
    calls.clear()
    with Pipeline(iter(Source(3)), overlap="auto", decided=expected) as again:
        assert [again.run(network, items=1) for _ in again] == [threads] * 3
    assert calls == [threads] * 3


def test_auto_measures_nothing_on_a_single_batch(two_threads) -> None:
    calls: list[int] = []
    with Pipeline(iter(Source(1)), overlap="auto") as pipe:
        for _ in pipe:
            pipe.run(lambda: calls.append(torch.get_num_threads()), items=1)
    assert calls == [2] and pipe.decided is None


def test_a_decoding_error_reaches_the_caller_and_stops_the_thread(two_threads) -> None:
    got = []
    with pytest.raises(OSError, match="disk gone at batch 2"):
        _run(Source(5, fail_at=2), "always", check=lambda k, pipe: got.append(k))
    assert got == [0, 1]
    assert torch.get_num_threads() == 2
    assert not [t for t in threading.enumerate() if t.name == "xmodal-decode"]


def test_a_caller_error_stops_the_thread_and_restores_threads(two_threads) -> None:
    def check(k: int, pipe: Pipeline) -> None:
        if k == 1:
            raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        _run(Source(50, decode_s=0.01), "always", check=check)
    assert torch.get_num_threads() == 2
    assert not [t for t in threading.enumerate() if t.name == "xmodal-decode"]
    assert _OWNER.acquire(blocking=False)  # released
    _OWNER.release()


def test_a_second_concurrent_pipeline_leaves_torch_alone(two_threads) -> None:
    with _OWNER:  # another pipeline holds the thread count
        threads = []
        _run(Source(3), "always", check=lambda k, pipe: threads.append(torch.get_num_threads()))
    assert threads == [2, 2, 2]


def test_using_it_outside_a_with_block_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="context manager"):
        list(Pipeline(iter([1])))
    with pytest.raises(ValueError, match="overlap"):
        Pipeline(iter([1]), overlap="sometimes")  # type: ignore[arg-type]


# --- through an encoder: the same vectors and reports as the unpipelined path ----------------


def _photos(tmp_path: Path, n: int) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
        img = coarse.resize((800 + 40 * i, 600), Image.Resampling.BICUBIC)
        path = tmp_path / f"p{i}.{'jpg' if i % 2 else 'png'}"
        img.save(path)
        paths.append(str(path))
    return paths


def test_encoder_pipelined_equals_unpipelined_and_reports_bad_files(two_threads,
                                                                    tmp_path: Path) -> None:
    enc = load_encoder("efficientnet-lite0")
    paths = _photos(tmp_path, 9)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    items = [*paths[:3], str(tmp_path / "broken.jpg"), *paths[3:], str(tmp_path / "nope.png")]
    out = {}
    for overlap in ("never", "always"):
        enc.decode_overlap = overlap
        out[overlap] = enc.encode_image(items, batch_size=3, errors="report")
        assert {t.mode for t in enc.last_pipeline} == (
            {"sequential"} if overlap == "never" else {"overlapped"})
    never, always = out["never"], out["always"]
    np.testing.assert_array_equal(always.indices, [0, 1, 2, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(always.indices, never.indices)
    np.testing.assert_allclose(always.vectors, never.vectors, atol=2e-5)  # threads: summation order
    assert [(p.index, p.item) for p in always.failed] == [
        (3, str(tmp_path / "broken.jpg")), (10, str(tmp_path / "nope.png"))]
    assert [p.reason for p in always.failed] == [p.reason for p in never.failed]
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        enc.encode_image(items, batch_size=3)
    assert torch.get_num_threads() == 2


def test_audio_encoder_pipelined_equals_unpipelined(two_threads) -> None:
    enc = load_encoder("aisfx")
    rate = enc.card.sample_rate
    t = np.arange(3 * rate, dtype=np.float32) / rate
    clips = [np.sin(2 * np.pi * f * t).astype(np.float32) for f in (220, 330, 440, 660, 880)]
    vectors = {}
    for overlap in ("never", "always"):
        enc.decode_overlap = overlap
        vectors[overlap] = enc.encode_audio(clips, batch_size=2)
    np.testing.assert_allclose(vectors["always"], vectors["never"], atol=2e-5)


def test_decoding_worker_processes_take_their_cores_from_the_network(two_threads) -> None:
    with Pipeline(iter(Source(3)), reserved=1) as pipe:
        threads = [pipe.run(torch.get_num_threads, items=1) for _ in pipe]
    assert threads == [1, 1, 1]  # 1 torch thread + 1 worker process = the budget of 2
    assert {t.decode_threads for t in pipe.trace} == {0}  # nothing decodes in a thread
    assert torch.get_num_threads() == 2
