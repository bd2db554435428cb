import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
api = FastAPI(title="shop")
app = api


@api.get("/items")
def items():
    log.info("listing items")
    return []
