"""The one runner of blocking work (HTTP routes and MCP tools): a slot taken before scheduling,
refused at once when none is free; past the timeout a call not yet started never runs and frees
its slot at once, while a running one keeps its slot until it ends."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import pytest

from xmodal.api.limits import Overloaded, WorkTimeout, error_status
from xmodal.api.runner import _Job, run_blocking


class Slots:
    """``n`` work slots that count how many are held."""

    def __init__(self, n: int) -> None:
        self.n, self.held, self.lock = n, 0, threading.Lock()

    def try_acquire(self) -> None:
        with self.lock:
            if self.held == self.n:
                raise Overloaded(f"all {self.n} work slots are busy")
            self.held += 1

    def release(self) -> None:
        with self.lock:
            assert self.held > 0, "released more slots than taken"
            self.held -= 1


def test_answers_and_refuses_when_every_slot_is_busy() -> None:
    slots = Slots(1)
    assert anyio.run(lambda: run_blocking(slots, lambda: 42, timeout_s=5)) == 42
    assert slots.held == 0
    slots.try_acquire()
    ran: list[bool] = []
    with pytest.raises(Overloaded):
        anyio.run(lambda: run_blocking(slots, lambda: ran.append(True), timeout_s=5))
    assert not ran and slots.held == 1


def test_the_call_s_own_exception_is_raised_and_its_slot_freed() -> None:
    slots = Slots(1)

    def boom() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        anyio.run(lambda: run_blocking(slots, boom, timeout_s=5))
    assert slots.held == 0


def test_a_running_call_past_its_timeout_keeps_its_slot_until_it_ends() -> None:
    slots, go, ended = Slots(1), threading.Event(), threading.Event()

    def slow() -> str:
        go.wait(10)
        ended.set()
        return "late"

    with pytest.raises(WorkTimeout, match=r"took longer than 0\.1 s") as info:
        anyio.run(lambda: run_blocking(slots, slow, timeout_s=0.1))
    assert error_status(info.value) == (504, "timeout")
    assert slots.held == 1  # still working
    go.set()
    assert ended.wait(10)
    deadline = time.monotonic() + 10
    while slots.held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slots.held == 0


def test_a_call_that_never_got_a_thread_never_runs_and_frees_its_slot_at_once() -> None:
    slots, go = Slots(2), threading.Event()
    ran: list[str] = []

    async def scenario() -> int:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(run_blocking, slots, lambda: go.wait(10), timeout_s=5))
            while slots.held < 1:
                await anyio.sleep(0.01)
            await anyio.sleep(0.05)  # the only thread is busy
            with pytest.raises(WorkTimeout):
                await run_blocking(slots, lambda: ran.append("queued"), timeout_s=0.1)
            held = slots.held  # the queued call gave its slot back already
            go.set()
        return held

    held = anyio.run(scenario)
    time.sleep(0.1)
    assert held == 1 and ran == [] and slots.held == 0


def test_an_abandoned_job_does_not_start() -> None:
    slots = Slots(1)
    slots.try_acquire()
    ran: list[Any] = []
    job = _Job(slots, lambda: ran.append(1))
    job.abandon()
    assert slots.held == 0
    assert job() is None and ran == [] and slots.held == 0
    job.abandon()  # idempotent
    assert slots.held == 0
