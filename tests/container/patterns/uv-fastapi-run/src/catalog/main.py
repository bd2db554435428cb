"""The product catalog (served with `fastapi run src/catalog`)."""

import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
app = FastAPI(title="catalog")


@app.get("/products/{sku}")
def product(sku: str) -> dict:
    log.info("looking up %s", sku)
    return {"sku": sku, "price": 9.99}
