"""Orders of the shop."""

import logging
import os

from fastapi import FastAPI, HTTPException

log = logging.getLogger(__name__)
app = FastAPI(title="shop")
CURRENCY = os.environ.get("SHOP_CURRENCY", "USD")


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict:
    log.info("looking up order %s", order_id)
    if order_id >= 1000:
        raise HTTPException(status_code=404, detail="no such order")
    return {"id": order_id, "total": 12.5, "currency": CURRENCY}
