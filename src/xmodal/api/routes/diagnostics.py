"""``GET /collections/{name}/diagnostics``: ``xmodal diagnose --json`` of a collection's stored
vectors (a seeded sample)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xmodal.api.diagnose import CollectionDiagnosisJSON
from xmodal.api.models import ERRORS
from xmodal.api.routes.deps import RunnerDep, ServiceDep

router = APIRouter(responses=ERRORS)


@router.get("/collections/{name}/diagnostics", response_model=CollectionDiagnosisJSON)
async def diagnostics(name: str, service: ServiceDep, run: RunnerDep) -> Any:
    """Collapse, coverage and anisotropy of a collection's stored vectors."""
    return await run(service.diagnostics, name)
