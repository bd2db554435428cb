"""The Celery app, built by a factory (the worker is started with -A hello.app.celery_app)."""

import os

from celery import Celery


def make_celery() -> Celery:
    broker = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    application = Celery("hello", broker=broker, include=["hello.tasks"])
    application.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)
    return application


celery_app = make_celery()
