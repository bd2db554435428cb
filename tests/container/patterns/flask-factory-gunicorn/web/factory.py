"""Builds the inventory app (gunicorn calls build())."""

import logging

from flask import Flask

log = logging.getLogger(__name__)


def build() -> Flask:
    application = Flask("inventory")

    @application.get("/items/<int:item_id>")
    def item(item_id: int) -> dict:
        log.info("looking up item %s", item_id)
        return {"id": item_id, "in_stock": item_id % 2 == 0}

    return application
