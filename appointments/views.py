"""Public booking pages."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from eligibility.models import Pathway, in_language
from eligibility.services import ScreeningError, screening_from_reference


@require_safe
def start(request: HttpRequest) -> HttpResponse:
    """Where "Book an appointment" leads: only with a valid, signed reference to an eligible screening.

    Choosing an office and a time arrives with the booking issue (#4)."""
    try:
        screening = screening_from_reference(
            request.GET.get("screening", ""), max_age=timedelta(days=settings.SCREENING_VALID_DAYS)
        )
    except ScreeningError as exc:
        return render(request, "appointments/reference_invalid.html", {"message": exc.message}, status=400)
    pathways = [in_language(p, "name") for p in Pathway.objects.filter(code__in=screening.eligible_pathways)]
    return render(request, "appointments/start.html", {"pathways": pathways})
