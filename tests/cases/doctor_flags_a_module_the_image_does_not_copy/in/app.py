from flask import Flask

from setup_observability import instrument_flask

app = Flask(__name__)
instrument_flask(app)


@app.get("/")
def index():
    return "ok"
