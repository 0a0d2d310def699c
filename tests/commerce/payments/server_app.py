"""`uvicorn --factory tests.commerce.payments.server_app:create`: LiveLoop with its job consumer
running inside the process (as `liveloop run` does), for the real-HTTP payment tests."""

from __future__ import annotations

from fastapi import FastAPI

from liveloop.app import create_app
from liveloop.core.settings import get_settings_or_exit


def create() -> FastAPI:
    return create_app(get_settings_or_exit(), run_embedded_worker=True)
