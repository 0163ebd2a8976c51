"""``POST /index`` ``{"paths": [...], "prune"?, "quantization"?}``: index files and folders
under the server's ``--root`` (``xmodal index --json``); 403 without one. It works within
``index_timeout_s``, not the (shorter) request timeout. ``quantization`` applies to the
collections it creates; asking an existing collection for another is a 409."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xmodal.api.models import ERRORS, IndexRequest
from xmodal.api.routes.deps import LimitsDep, RunnerDep, ServiceDep
from xmodal.index.ingest import IndexReportJSON

router = APIRouter(responses=ERRORS)


@router.post("/index", response_model=IndexReportJSON)
async def index(body: IndexRequest, service: ServiceDep, limits: LimitsDep,
                run: RunnerDep) -> Any:
    """Index files and folders under the server's ``--root`` (off without one: 403)."""
    return await run(service.index_paths, body.paths, prune=body.prune,
                     quantization=body.quantization, timeout_s=limits.index_timeout_s)
