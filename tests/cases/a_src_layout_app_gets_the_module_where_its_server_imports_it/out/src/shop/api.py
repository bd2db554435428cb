import logging

from fastapi import FastAPI

from .setup_observability import instrument_fastapi

log = logging.getLogger(__name__)
api = FastAPI(title="shop")
instrument_fastapi(api)
app = api


@api.get("/items")
def items():
    log.info("listing items")
    return []
