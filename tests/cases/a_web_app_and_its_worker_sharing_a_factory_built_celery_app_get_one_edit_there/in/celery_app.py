import os

from celery import Celery


def create_celery_app() -> Celery:
    celery = Celery(__name__, broker=os.environ.get("BROKER_URL", "redis://redis:6379/0"))
    celery.conf.task_default_queue = "hello"
    return celery


celery = create_celery_app()
