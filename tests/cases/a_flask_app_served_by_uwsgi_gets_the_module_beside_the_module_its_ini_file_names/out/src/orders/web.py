import logging

from flask import Flask

from .setup_observability import instrument_flask

log = logging.getLogger(__name__)
app = Flask(__name__)
instrument_flask(app)


@app.get("/orders/<int:order_id>")
def get_order(order_id: int) -> dict:
    log.info("looking up order %s", order_id)
    return {"id": order_id}
