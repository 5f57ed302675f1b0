"""WSGI entry point, used by gunicorn: `gunicorn movilidad.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movilidad.settings")

application = get_wsgi_application()
