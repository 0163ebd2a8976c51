"""The collections: list them, read one, and edit one's vectors.

::

    GET  /collections                 {"collections": [...], "routes": [...]}
    GET  /collections/{name}          one collection, with "stats"
    POST /collections/{name}/upsert   {"items": [{"id", "vector", "payload"}]}
    POST /collections/{name}/delete   {"ids": [...]}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xmodal.api.models import (
    ERRORS,
    CollectionDetail,
    Collections,
    DeleteRequest,
    DeleteResponse,
    UpsertRequest,
    UpsertResponse,
)
from xmodal.api.routes.deps import RunnerDep, ServiceDep

router = APIRouter(responses=ERRORS)


@router.get("/collections", response_model=Collections)
async def collections(service: ServiceDep, run: RunnerDep) -> Any:
    """Every collection: model, modality, dimension, count, model card, calibration; and the
    routes: which query modality reaches which documents, and how."""
    return {"collections": await run(service.collections), "routes": await run(service.routes)}


@router.get("/collections/{name}", response_model=CollectionDetail)
async def collection(name: str, service: ServiceDep, run: RunnerDep) -> Any:
    """One collection, with backend statistics."""
    return await run(service.collection, name)


@router.post("/collections/{name}/upsert", response_model=UpsertResponse)
async def upsert(name: str, body: UpsertRequest, service: ServiceDep, run: RunnerDep) -> Any:
    """Insert or replace vectors (with payloads) in an existing collection."""
    items = [it.model_dump() for it in body.items]
    return await run(service.upsert, name, items, model=body.model, normalize=body.normalize)


@router.post("/collections/{name}/delete", response_model=DeleteResponse)
async def delete(name: str, body: DeleteRequest, service: ServiceDep, run: RunnerDep) -> Any:
    """Delete ids from a collection: a document's id deletes its time segments too, and an
    indexed file's document goes whole, with its manifest entry (the next index run of its
    folder adds the file again if it is still there)."""
    return await run(service.delete, name, body.ids)
