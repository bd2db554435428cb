from django.urls import path

from orders.consumers import OrderUpdates

websocket_urlpatterns = [path("ws/orders/", OrderUpdates.as_asgi())]
