import logging

from flask import Flask

log = logging.getLogger(__name__)
app = Flask(__name__)


@app.get("/orders/<int:order_id>")
def get_order(order_id: int) -> dict:
    log.info("looking up order %s", order_id)
    return {"id": order_id}
