"""The web page (web/: plain HTML, JS and CSS, no build step) served at `/` next to the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def mount_web(app: FastAPI) -> None:
    """Serve web/ at `/` (index.html for `/`). Mount it after the API routers: a mount at `/` matches every
    path, so routes added before it are tried first."""
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
