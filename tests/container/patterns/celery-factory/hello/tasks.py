"""Greeting tasks."""

import logging

from hello.app import celery_app

log = logging.getLogger(__name__)


@celery_app.task
def greet(name: str) -> str:
    log.info("greeting %s", name)
    return f"hello {name}"
