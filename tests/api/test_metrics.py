"""``GET /metrics``: Prometheus text that parses, counts that move by exactly what was done,
the documents gauge equal to the collections' counts, the token, and 501 without
prometheus-client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.served import BASE, build_index, loader
from xmodal.api.http import create_app
from xmodal.api.service import SearchService

parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SearchService]:
    uri, encoders, _ = build_index(tmp_path)
    with SearchService(uri, load=loader(encoders), router_model=None) as s:
        yield s


@pytest.fixture
def client(service: SearchService) -> Iterator[TestClient]:
    with TestClient(create_app(service), base_url=BASE) as c:
        yield c


def samples(client: TestClient, **headers: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of ``GET /metrics``: (name, labels) → value."""
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in parser.text_string_to_metric_families(r.text)
            for s in family.samples}


def total(values: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """Sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in values.items() if n == name and want <= ls)


def test_metrics_search_counter_rises_by_exactly_one(client):
    before = samples(client)
    assert client.post("/search", json={"query": "a red heart", "k": 3}).status_code == 200
    after = samples(client)
    name = "xmodal_searches_total"
    assert total(after, name) - total(before, name) == 1
    assert total(after, name, fusion="rrf") - total(before, name, fusion="rrf") == 1


def test_metrics_count_a_404_by_route_and_status(client):
    assert client.get("/collections/nope").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    values = samples(client)
    name = "xmodal_http_requests_total"
    assert total(values, name, route="/collections/{name}", method="GET", status="404") == 1
    assert total(values, name, route="other", status="404") == 1
    assert total(values, "xmodal_http_request_duration_seconds_count",
                 route="/collections/{name}") == 1


def test_metrics_documents_gauge_equals_the_collection_counts(client):
    counts = {c["name"]: c["count"] for c in client.get("/collections").json()["collections"]}
    values = samples(client)
    gauge = {dict(labels)["collection"]: v for (n, labels), v in values.items()
             if n == "xmodal_collection_documents"}
    assert counts and gauge == counts


def test_metrics_time_each_query_encoding_per_model(client, service):
    client.post("/search", json={"query": "a red heart", "k": 3})
    values = samples(client)
    timed = {dict(ls)["model"] for (n, ls), v in values.items()
             if n == "xmodal_encode_seconds_count" and dict(ls)["method"] == "encode_query"
             and v >= 1}
    assert timed == {c.model for c in service.index.collections()}


def test_metrics_need_the_token_when_one_is_set(service):
    with TestClient(create_app(service, token="s3cret"), base_url=BASE) as c:
        assert c.get("/metrics").status_code == 401
        assert samples(c, Authorization="Bearer s3cret")


def test_metrics_take_no_work_slot(service, client):
    for _ in range(service.limits.max_concurrency):
        service.try_acquire()
    try:
        assert client.post("/search", json={"query": "cat"}).status_code == 429
        assert samples(client)  # still answered
    finally:
        for _ in range(service.limits.max_concurrency):
            service.release()


def test_metrics_without_prometheus_client_answer_501_naming_the_extra(service, monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with TestClient(create_app(service), base_url=BASE) as c:
        r = c.get("/metrics")
        assert c.get("/health").status_code == 200  # the rest still serves
    assert r.status_code == 501
    assert r.json()["error"] == "missing_dependency"
    assert "xmodal[serve]" in r.json()["detail"]


def test_metrics_of_two_apps_do_not_collide(service, client):
    with TestClient(create_app(service), base_url=BASE) as other:
        other.get("/health")
        assert total(samples(other), "xmodal_http_requests_total", route="/health") == 1
    assert total(samples(client), "xmodal_http_requests_total", route="/health") == 0
