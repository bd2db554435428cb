from flask import Flask

from setup_observability import instrument_flask


def create_app():
    app = Flask(__name__)
    instrument_flask(app)
    return app
