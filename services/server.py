"""The composition root of the serving process: the API, and in the embedded profile the ingestion worker on
threads of the same process (one object must own the embedded vector shard, so both share one runtime).

The API and ingestion never import each other; this module is the one place that puts them together.
"""

from __future__ import annotations

from fastapi import FastAPI

from ingestion.worker import InProcessWorker
from services.api.app import BackgroundFactory
from services.api.app import create_app as create_api
from services.core.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app `steward serve` runs: the API, plus the in-process worker unless workers run apart."""
    settings = settings or Settings()
    background: list[BackgroundFactory] = [InProcessWorker] if settings.worker_mode == "inprocess" else []
    return create_api(settings, background=background)
