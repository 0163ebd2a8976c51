"""What ``GET /metrics`` costs a loaded ``xmodal serve``: a step of ``benchmarks/serve_load.py``.

Method: vector queries, closed loop at the sustained concurrency, in ``rounds`` pairs of steps
(without, then with a scraper that sends ``GET /metrics`` every second on its own connection,
as Prometheus would); the pairs alternate so that drift in the machine's load falls on both.
Throughput = 200 answers per second over all steps of a kind; the ratio with ÷ without is the
figure (target: /metrics costs < 2 %, i.e. a ratio above 0.98). On a shared machine the ratio of
short steps is noisy: read it with the spread between rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

SCRAPE_EVERY_S = 1.0
TARGET = 0.98
"""Throughput with scraping ÷ without that passes (/metrics costs < 2 %)."""


@dataclass
class MetricsCost:
    """QPS per step without and with scraping, and the scrapes made."""

    off: list[float] = field(default_factory=list)
    on: list[float] = field(default_factory=list)
    scrape_ms: list[float] = field(default_factory=list)
    scrape_status: dict[int, int] = field(default_factory=dict)
    scrape_bytes: int = 0

    @property
    def ratio(self) -> float:
        off, on = sum(self.off), sum(self.on)
        return on / off if off else float("nan")


async def scrape(load: ModuleType, port: int, seconds: float, timeout_s: float,
                 cost: MetricsCost) -> None:
    """``GET /metrics`` every :data:`SCRAPE_EVERY_S` for ``seconds``, one keep-alive
    connection."""
    conn = await load.Conn.open(port)
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            status, body, _ = await asyncio.wait_for(
                conn.request(load.http_request("GET", "/metrics", b"")), timeout_s)
            cost.scrape_ms.append((time.perf_counter() - t0) * 1e3)
            cost.scrape_status[status] = cost.scrape_status.get(status, 0) + 1
            cost.scrape_bytes = len(body)
            await asyncio.sleep(max(0.0, SCRAPE_EVERY_S - (time.perf_counter() - t0)))
    finally:
        conn.close()


def metrics_cost(load: ModuleType, port: int, bodies: Sequence[bytes], clients: int,
                 args: Any, rounds: int = 2) -> MetricsCost:
    """``rounds`` pairs of closed-loop steps, without and with scraping (see the module)."""
    cost = MetricsCost()
    for _ in range(rounds):
        for scraping in (False, True):
            row = load.Result("metrics", "vector", f"{clients} clients", 0.0, clients=clients)
            step = load.closed_loop(port, bodies, clients, args.duration, args.timeout, row)

            async def both(step: Any = step) -> None:
                await asyncio.gather(step, scrape(load, port, args.duration, args.timeout,
                                                  cost))

            asyncio.run(both() if scraping else step)
            (cost.on if scraping else cost.off).append(row.qps)
    return cost


def render(cost: MetricsCost, clients: int, duration: float) -> list[str]:
    """The section serve_load prints: QPS per step, the ratio, the scrapes, a verdict."""
    import numpy as np

    p50 = float(np.percentile(cost.scrape_ms, 50)) if cost.scrape_ms else float("nan")
    word = "PASS" if cost.ratio >= TARGET else "FAIL"
    return [
        f"Vector queries, {clients} clients, {duration:g} s steps alternating without / with "
        f"GET /metrics every {SCRAPE_EVERY_S:g} s:",
        f"- QPS without: {', '.join(f'{q:,.0f}' for q in cost.off)}; with: "
        f"{', '.join(f'{q:,.0f}' for q in cost.on)}",
        f"- scrapes: {sum(cost.scrape_status.values())} ({cost.scrape_status}), p50 "
        f"{p50:.1f} ms, {cost.scrape_bytes:,} bytes each",
        f"{word} /metrics scraped every second costs < 2 % of throughput (with ÷ without: "
        f"{cost.ratio:.3f}; noisy on a shared machine)",
    ]
