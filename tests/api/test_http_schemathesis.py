"""Property-based requests generated from the app's own OpenAPI schema (schemathesis, in
process — no network): no answer is a server error (5xx), and every answer matches the schema
(status code documented, content type, body). Seeded and derandomised: reproducible."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.served import build_index, loader  # noqa: E402
from xmodal.api.http import create_app  # noqa: E402
from xmodal.api.limits import ServeLimits  # noqa: E402
from xmodal.api.service import SearchService  # noqa: E402
from xmodal.index.ingest import load_manifest, manifest_path  # noqa: E402

EXAMPLES = 150
"""Examples per operation (operations without inputs generate fewer: they have no variety)."""

REAL_PATHS = ("images", "docs", "sounds/drum.wav", ".", "misc")
"""Paths under the served root (the toy corpus) that ``POST /index`` accepts."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, list, list]]:
    """(schema, collection names, document ids) of a served toy index."""
    uri, encoders, corpus = build_index(Path(tmp_path_factory.mktemp("schemathesis")))
    limits = ServeLimits(max_body_bytes=256 * 1024, max_concurrency=4)
    with SearchService(uri, load=loader(encoders), router_model=None, limits=limits,
                       index_root=corpus) as service:
        app = create_app(service, allowed_hosts=("localhost", "127.0.0.1", "testserver"))
        names = [c["name"] for c in service.collections()]
        docs = sorted(e["doc"] for e in load_manifest(manifest_path(uri)).values())
        yield schemathesis.openapi.from_asgi("/openapi.json", app), names, docs


def exercise(operation: object, names: list[str], docs: list[str],
             statuses: Counter[tuple[str, int]]) -> None:
    """Send up to ``EXAMPLES`` generated requests to one operation, checking every answer:
    valid requests and requests that break the schema (negative mode). Half the time a path
    parameter names a real collection / document, and a ``POST /index`` body a real folder or
    file under the root, so requests reach past the 404s and 422s."""
    name = f"{operation.method.upper()} {operation.path}"

    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases, real=st.booleans(), i=st.integers(0, 100))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case, real: bool, i: int) -> None:
        params = case.path_parameters or {}
        if real:
            for key in ("name", "collection"):
                if key in params:
                    params[key] = names[i % len(names)]
            for key in ("doc_id", "id"):
                if key in params:
                    params[key] = docs[i % len(docs)]
        if real and operation.path == "/search" and isinstance(case.body, dict):
            # name real collections where the body names any (random names only reach 422)
            body = {k: v for k, v in case.body.items()
                    if k not in ("weights", "collections", "filter")}
            if i % 3 == 0:
                body["weights"] = {names[i % len(names)]: 1.5}
            elif i % 3 == 1 and "vector" not in body:
                body["collections"] = [names[i % len(names)]]
            if "collection" in body:  # a text query searches it too: random names reach 404
                body["collection"] = names[i % len(names)]
            if i % 2 == 0:  # one text query and no field naming something unknown: a body the
                # searcher answers (which bodies the generator draws depends on the schema, so
                # without this, whether any reaches the searcher is luck)
                for key in ("vector", "image", "audio", "collection", "model"):
                    body.pop(key, None)
                body["query"] = "a red heart"
            case.body = body
        if real and operation.path == "/index" and isinstance(case.body, dict):
            case.body = {**case.body, "paths": [REAL_PATHS[i % len(REAL_PATHS)]]}
        response = case.call_and_validate(checks=[
            not_a_server_error, status_code_conformance, content_type_conformance,
            response_schema_conformance])
        statuses[(name, response.status_code)] += 1

    run()


def test_api_conforms_to_its_schema(served) -> None:
    schema, names, docs = served
    statuses: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        exercise(operation, names, docs, statuses)
    sent = Counter(op for op, _ in statuses.elements())
    assert len(sent) == len(operations) == 12, sent  # every operation of the schema
    assert sum(sent.values()) >= 1000, sent
    assert not [k for k in statuses if k[1] >= 500]
    reached = {op for op, code in statuses if code == 200}
    assert reached >= {"GET /collections/{name}", "GET /collections/{name}/diagnostics",
                       "GET /items/{collection}/{id}", "GET /media/{doc_id}",
                       "POST /index", "POST /search"}, statuses
