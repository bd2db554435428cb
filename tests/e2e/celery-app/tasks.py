"""The Celery app of the end-to-end tests: one task, over kombu's filesystem transport
(no broker server), in the folder CELERY_BROKER_FOLDER names."""

import logging
import os

from celery import Celery
from celery.utils.log import get_task_logger

log = logging.getLogger(__name__)
# Celery's own way: a child of `celery.task`, which the worker stops from propagating.
task_log = get_task_logger(__name__)
folder = os.environ["CELERY_BROKER_FOLDER"]
app = Celery("tasks", broker="filesystem://")
app.conf.broker_transport_options = {"data_folder_in": folder, "data_folder_out": folder}


@app.task
def ship(order_id: int) -> int:
    log.warning("shipping order %s", order_id)
    task_log.info("packed order %s", order_id)
    return order_id
