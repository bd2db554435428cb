import os
import time

from celery import Celery

celery = Celery(__name__)
celery.conf.broker_url = os.environ.get("CELERY_BROKER_URL", "redis://redis:6379/0")


@celery.task(name="create_task")
def create_task(kind):
    time.sleep(int(kind))
    return True
