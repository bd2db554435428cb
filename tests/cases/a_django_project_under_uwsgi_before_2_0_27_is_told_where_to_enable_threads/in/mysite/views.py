import logging

from django.http import Http404, JsonResponse

log = logging.getLogger(__name__)


def get_order(request, order_id):
    log.info("looking up order %s", order_id)
    if order_id >= 1000:
        log.warning("order %s not found", order_id)
        raise Http404("no such order")
    return JsonResponse({"id": order_id, "status": "shipped"})
