"""gunicorn settings for production: `gunicorn movilidad.wsgi` picks this file up by itself."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = 30
graceful_timeout = 30
# Access log without query strings (%(U)s is the path alone): no personal data in logs.
accesslog = "-"
access_log_format = '%(t)s method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s duration_us=%(D)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
