"""Orders API, in Flask: shipping an order starts a Celery task."""

from flask import Flask

from setup_observability import instrument_flask
from tasks import ship

app = Flask(__name__)
instrument_flask(app)


@app.post("/orders/<int:order_id>/ship")
def ship_order(order_id: int) -> dict:
    ship.delay(order_id)
    return {"queued": order_id}
