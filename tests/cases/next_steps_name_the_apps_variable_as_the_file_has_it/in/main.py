from fastapi import FastAPI

from worker import add

api = FastAPI()


@api.get("/")
def index():
    return {"task": add.delay(1, 2).id}
