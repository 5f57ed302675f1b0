"""The project's settings with the benchmark's URL configuration (bench/rush_urls.py): used only by
the gunicorn that bench/bench_rush.py starts."""

from movilidad.settings import *  # noqa: F403

ROOT_URLCONF = "bench.rush_urls"
