"""Orders API."""

import logging

from fastapi import FastAPI, HTTPException

log = logging.getLogger(__name__)
app = FastAPI(title="orders")


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict:
    log.info("looking up order %s", order_id)
    if order_id >= 1000:
        log.warning("order %s not found", order_id)
        raise HTTPException(status_code=404, detail="no such order")
    return {"id": order_id, "status": "shipped"}
