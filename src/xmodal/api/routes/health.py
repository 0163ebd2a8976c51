"""``GET /health``: is the service up, and how much does it hold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xmodal.api.models import ERRORS, Health
from xmodal.api.routes.deps import RunnerDep, ServiceDep

router = APIRouter(responses=ERRORS)


@router.get("/health", response_model=Health)
async def health(service: ServiceDep, run: RunnerDep) -> Any:
    """Is the service up, and how much does it hold."""
    return await run(service.health)
