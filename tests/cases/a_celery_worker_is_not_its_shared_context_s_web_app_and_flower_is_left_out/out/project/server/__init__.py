from flask import Flask

from .setup_observability import instrument_flask


def create_app():
    app = Flask(__name__)
    instrument_flask(app)

    from project.server.views import bp

    app.register_blueprint(bp)
    return app
