#!/usr/bin/env bash
# `make run`: the web server, a Celery worker and embedded beat in the foreground; Ctrl-C stops all.
set -euo pipefail
PORT="${PORT:-8000}"
# Links in the demo's messages point at this server.
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"
worker_pid=""
web_pid=""

cleanup() {
  trap - INT TERM EXIT
  # The worker finishes its current task (warm shutdown); runserver's autoreloader runs the
  # server as a child process, which is stopped with it.
  if [ -n "$worker_pid" ]; then kill -TERM "$worker_pid" 2>/dev/null || true; fi
  if [ -n "$web_pid" ]; then
    pkill -TERM -P "$web_pid" 2>/dev/null || true
    kill -TERM "$web_pid" 2>/dev/null || true
  fi
  wait || true
}
# Ctrl-C is the normal way to stop: exit 0 then. A process that stops on its own fails the run.
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

# Each process gets its own session, so Ctrl-C reaches only this script, which stops them in order.
setsid .venv/bin/celery -A movilidad worker --beat --schedule var/celerybeat-schedule \
  --concurrency 2 --loglevel INFO &
worker_pid=$!
setsid .venv/bin/python manage.py runserver "127.0.0.1:${PORT}" &
web_pid=$!
echo "Serving http://127.0.0.1:${PORT}/ (Ctrl-C stops the site, the worker and beat)"
set +e
wait -n
exit $?
