import os
import time

from celery import Celery

from .setup_observability import instrument_celery

celery = Celery(__name__)
instrument_celery(celery)
celery.conf.broker_url = os.environ.get("CELERY_BROKER_URL", "redis://redis:6379/0")


@celery.task(name="create_task")
def create_task(kind):
    time.sleep(int(kind))
    return True
