"""Orders."""

import logging

from fastapi import FastAPI

from .setup_observability import instrument_fastapi

log = logging.getLogger(__name__)
app = FastAPI(title="orders")
instrument_fastapi(app)


@app.get("/")
def root() -> dict:
    return {}
