#!/usr/bin/env bash
# `make run`: the web server, a Celery worker and embedded beat in the foreground; Ctrl-C stops all.
set -euo pipefail
PORT="${PORT:-8000}"

cleanup() {
  trap - INT TERM EXIT
  kill 0 2>/dev/null || true
}
trap cleanup INT TERM EXIT

.venv/bin/celery -A movilidad worker --beat --schedule var/celerybeat-schedule \
  --concurrency 2 --loglevel INFO &
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" &
echo "Serving http://127.0.0.1:${PORT}/ (Ctrl-C stops the site, the worker and beat)"
# If either process stops on its own, stop the other one too.
wait -n
