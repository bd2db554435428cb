from flask import Flask

from celery_app import celery
from setup_observability import instrument_flask

app = Flask(__name__)
instrument_flask(app)


@app.route("/")
def index() -> str:
    celery.send_task("tasks.ping")
    return "ok"
