"""Orders API."""

import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
app = FastAPI(title="orders")


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict:
    log.info("looking up order %s", order_id)
    return {"id": order_id, "status": "shipped"}
