from channels.generic.websocket import JsonWebsocketConsumer


class OrderUpdates(JsonWebsocketConsumer):
    def connect(self):
        self.accept()

    def receive_json(self, content, **kwargs):
        self.send_json({"order": content.get("order"), "status": "packed"})
