"""The outermost admission gate: beyond ``max_in_flight`` requests, 429 + Retry-After at once,
before the app sees the request; the requests let in finish normally."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest

from xmodal.api.guard import Admission, Lane


def _blocking_app(release: asyncio.Event, entered: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        entered.append(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


def test_requests_beyond_the_limit_get_429_without_reaching_the_app() -> None:
    async def scenario() -> tuple[list[int], list[int], list[str], str | None, int]:
        release, entered = asyncio.Event(), []
        gate = Admission(_blocking_app(release, entered), max_in_flight=3)
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            admitted = [asyncio.create_task(client.get(f"/a{i}")) for i in range(3)]
            while len(entered) < 3:  # all three are inside the app, holding their places
                await asyncio.sleep(0.001)
            refused = [await client.get(f"/b{i}") for i in range(4)]
            release.set()
            done = await asyncio.gather(*admitted)
            after = await client.get("/c")  # the places are free again
        return ([r.status_code for r in done], [r.status_code for r in refused], entered,
                refused[0].headers.get("retry-after"), after.status_code)

    done, refused, entered, retry_after, after = asyncio.run(scenario())
    assert done == [200, 200, 200]
    assert refused == [429] * 4
    assert retry_after == "1"
    assert sorted(entered) == ["/a0", "/a1", "/a2", "/c"]  # no refused request reached the app
    assert after == 200


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        Admission(lambda *a: None, max_in_flight=0)


def test_event_streams_are_let_in_uncounted() -> None:
    """``GET /mcp`` holds an agent's event stream open without working: it does not take a
    place, so two held streams leave the one place free; a POST to the same path counts."""
    async def scenario() -> tuple[list[int], list[int], list[str]]:
        release, entered = asyncio.Event(), []
        gate = Admission(_blocking_app(release, entered), max_in_flight=1, streams=["/mcp"])
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            streams = [asyncio.create_task(client.get("/mcp")) for _ in range(2)]
            work = asyncio.create_task(client.post("/mcp"))
            while len(entered) < 3:  # both streams and the POST are inside the app
                await asyncio.sleep(0.001)
            refused = [await client.post("/mcp"), await client.get("/search")]
            release.set()
            done = await asyncio.gather(*streams, work)
        return [r.status_code for r in done], [r.status_code for r in refused], entered

    done, refused, entered = asyncio.run(scenario())
    assert done == [200, 200, 200]
    assert refused == [429, 429]
    assert sorted(entered) == ["/mcp"] * 3


def test_a_lane_queues_first_come_first_served_and_refuses_past_its_wait() -> None:
    """A :class:`Lane` of 1 place and 2 waiting: the waiting enter in order as places free; a
    third waiter is refused at once; a waiter past ``wait_s`` is refused and leaves the queue;
    a cancelled waiter leaves it too."""
    async def scenario() -> tuple[list[str], bool, bool, tuple[int, int]]:
        lane = Lane("/media/", slots=1, queue=2, wait_s=0.2)
        order: list[str] = []

        async def visit(name: str) -> None:
            if await lane.enter():
                order.append(name)
                await asyncio.sleep(0.01)
                lane.leave()

        assert await lane.enter()  # the place is taken
        waiters = [asyncio.create_task(visit(n)) for n in ("a", "b")]
        await asyncio.sleep(0.01)
        full = await lane.enter()  # queue full: refused at once
        lane.leave()  # the place goes to "a", then to "b"
        await asyncio.gather(*waiters)
        assert await lane.enter()
        late = await lane.enter()  # waits 0.2 s, then refused
        cancelled = asyncio.create_task(lane.enter())
        await asyncio.sleep(0.01)
        cancelled.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled
        lane.leave()
        return order, full, late, (lane.inside, lane.waiting)

    order, full, late, left = asyncio.run(scenario())
    assert order == ["a", "b"]
    assert not full and not late
    assert left == (0, 0)


def test_lane_requests_bypass_the_shared_count() -> None:
    """With the one shared place held, ``GET /media/...`` still gets in through its lane."""
    async def scenario() -> list[int]:
        release, entered = asyncio.Event(), []
        lane = Lane("/media/", slots=2, queue=0, wait_s=1)
        gate = Admission(_blocking_app(release, entered), max_in_flight=1, lanes=[lane])
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = asyncio.create_task(client.get("/search"))
            media = [asyncio.create_task(client.get(f"/media/{i}")) for i in range(2)]
            while len(entered) < 3:
                await asyncio.sleep(0.001)
            refused = [await client.get("/health"), await client.get("/media/3")]
            release.set()
            done = await asyncio.gather(held, *media)
        return [r.status_code for r in [*done, *refused]]

    assert asyncio.run(scenario()) == [200, 200, 200, 429, 429]
