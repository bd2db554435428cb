"""Says hello."""

import logging
import os

from flask import Flask

log = logging.getLogger(__name__)
app = Flask(__name__)
GREETING = os.environ.get("GREETING", "Hi")


@app.get("/hello/<name>")
def hello(name: str) -> dict:
    log.info("greeting %s", name)
    return {"message": f"{GREETING}, {name}!"}
