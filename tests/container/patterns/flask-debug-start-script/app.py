"""Greets whoever asks."""

import logging

from flask import Flask

log = logging.getLogger(__name__)

app = Flask(__name__)


@app.get("/ping/<name>")
def ping(name: str) -> dict:
    log.warning("pinged by %s", name)
    return {"pong": name}
