"""The shop's API."""

import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
app = FastAPI()


@app.get("/products/{product_id}")
def product(product_id: int) -> dict:
    log.info("product %s", product_id)
    return {"id": product_id, "name": f"product {product_id}"}
