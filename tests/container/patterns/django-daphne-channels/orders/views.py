import logging

from django.http import JsonResponse

log = logging.getLogger(__name__)


def order(request, order_id: int):
    log.info("looking up order %s", order_id)
    return JsonResponse({"id": order_id, "status": "packed"})
