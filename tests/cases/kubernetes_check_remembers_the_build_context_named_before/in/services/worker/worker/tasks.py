from celery import Celery

from .setup_observability import instrument_celery

app = Celery("worker", broker="redis://redis:6379/0")
instrument_celery(app)


@app.task
def add(x, y):
    return x + y
