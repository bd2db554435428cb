"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

from .setup_observability import instrument_django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

instrument_django()
application = get_wsgi_application()
