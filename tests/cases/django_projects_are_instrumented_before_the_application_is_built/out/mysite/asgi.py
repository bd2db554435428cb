"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from .setup_observability import instrument_django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

instrument_django()
application = get_asgi_application()
