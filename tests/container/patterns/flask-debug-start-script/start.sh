#!/bin/sh
# The development server, as the team runs it locally too.
export FLASK_APP=app
exec flask run --debug --host 0.0.0.0 --port 5000
