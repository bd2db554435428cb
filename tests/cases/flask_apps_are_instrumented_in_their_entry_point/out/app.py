"""Orders API, in Flask: the end-to-end tests onboard a copy of this project."""

import logging

from flask import Flask, abort

from setup_observability import instrument_flask

log = logging.getLogger(__name__)
app = Flask(__name__)
instrument_flask(app)


@app.get("/orders/<int:order_id>")
def get_order(order_id: int) -> dict:
    log.info("looking up order %s", order_id)
    if order_id >= 1000:
        log.warning("order %s not found", order_id)
        abort(404)
    return {"id": order_id, "status": "shipped"}
