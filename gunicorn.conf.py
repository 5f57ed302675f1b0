"""gunicorn settings for production: `gunicorn movilidad.wsgi` picks this file up by itself."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threads in each worker: while one waits for PostgreSQL or Redis (a session, the cached times),
# another runs, so a page's round trips do not idle the process (bench/bench_rush.py).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 30
# Access log without query strings (%(U)s is the path alone): no personal data in logs.
accesslog = "-"
access_log_format = '%(t)s method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s duration_us=%(D)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's own loggers do not go through Django's LOGGING: give them the same redaction, so a
# secret in a path (a manage link's token, the calling screen's key) never reaches the access log.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactPersonalData"}},
    "formatters": {
        "plain": {"()": "core.logging.RedactingFormatter", "format": "%(message)s"},
        "kv": {"()": "core.logging.RedactingFormatter",
               "format": "%(asctime)s level=%(levelname)s logger=%(name)s process=%(process)d msg=%(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain",
                   "filters": ["redact"]},
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "kv",
                   "filters": ["redact"]},
    },
    # gunicorn lays this over its own defaults key by key: "root" must name one of these handlers.
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False, "qualname": "gunicorn.access"},
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False, "qualname": "gunicorn.error"},
    },
}  # fmt: skip
