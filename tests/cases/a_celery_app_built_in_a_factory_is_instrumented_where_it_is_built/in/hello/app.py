import os

from celery import Celery


def make_celery() -> Celery:
    celery = Celery(__name__, broker=os.environ.get("BROKER_URL", "redis://redis:6379/0"))
    celery.conf.task_default_queue = "hello"
    celery.autodiscover_tasks(["hello"])
    return celery


celery_app = make_celery()
