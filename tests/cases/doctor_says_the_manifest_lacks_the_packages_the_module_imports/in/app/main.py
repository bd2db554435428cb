from fastapi import FastAPI

from .setup_observability import instrument_fastapi

app = FastAPI()
instrument_fastapi(app)
