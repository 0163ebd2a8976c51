"""The web page: ``GET /`` serves ``api/web/index.html``, ``/static`` the files beside it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

__all__ = ["WEB_DIR", "mount_static", "router"]

WEB_DIR = Path(__file__).parent.parent / "web"
"""The page and its files."""

router = APIRouter()

MISSING = ("<!doctype html><title>xmodal</title><p>The xmodal web page is not installed; the "
           "API is at <code>/openapi.json</code>.</p>")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    """The page (or a note saying where the API is, when the page is not installed)."""
    index = WEB_DIR / "index.html"
    if index.is_file():
        return HTMLResponse(index.read_text("utf-8"))
    return HTMLResponse(MISSING)


def mount_static(app: FastAPI) -> None:
    """Serve the page's files at ``/static`` (when installed)."""
    if WEB_DIR.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
