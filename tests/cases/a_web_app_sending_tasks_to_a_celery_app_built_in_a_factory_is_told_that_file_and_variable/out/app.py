from flask import Flask

from celery_app import celery

app = Flask(__name__)


@app.route("/")
def index() -> str:
    celery.send_task("tasks.ping")
    return "ok"
