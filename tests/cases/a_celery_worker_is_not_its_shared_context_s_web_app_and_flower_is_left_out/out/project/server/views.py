from flask import Blueprint

from project.server.tasks import create_task

bp = Blueprint("main", __name__)


@bp.post("/tasks/<int:kind>")
def run_task(kind):
    task = create_task.delay(kind)
    return {"task_id": task.id}, 202
