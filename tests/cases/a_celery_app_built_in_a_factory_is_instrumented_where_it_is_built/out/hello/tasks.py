from celery import shared_task
from celery.utils.log import get_task_logger

log = get_task_logger(__name__)


@shared_task
def greet(name: str) -> str:
    log.info("greeting %s", name)
    return f"hello {name}"
