import logging

from flask import Flask

log = logging.getLogger(__name__)


def create_app():
    app = Flask(__name__)

    @app.get("/ping/<name>")
    def ping(name):
        log.info("pinged by %s", name)
        return {"status": "ok", "name": name}

    return app
