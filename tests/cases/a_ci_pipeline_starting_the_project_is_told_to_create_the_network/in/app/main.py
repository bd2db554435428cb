"""Orders."""

import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
app = FastAPI(title="orders")


@app.get("/")
def root() -> dict:
    return {}
