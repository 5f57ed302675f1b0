"""The benchmark's own URL configuration (bench/bench_rush.py): the project's URLs plus one bare
view, the yardstick every page is compared with. Never served outside the benchmark."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from movilidad.urls import *  # noqa: F403 - the project's handlers too
from movilidad.urls import urlpatterns as project_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("bench/ok/", bare), *project_urlpatterns]
