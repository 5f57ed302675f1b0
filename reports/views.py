"""The export page (admin, permission "view reports"): filters, how many appointments match, and
the CSV download, streamed row by row and recorded in the export log."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from reports.exports import csv_lines, rows
from reports.forms import ReportFilterForm
from reports.models import ExportLog

VIEW_REPORTS = "reports.view_reports"


@require_safe
def export(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_REPORTS):
        raise PermissionDenied
    bound = "date_from" in request.GET
    form = ReportFilterForm(request.GET if bound else None, user=request.user)
    if bound and form.is_valid() and request.GET.get("download") == "csv":
        return _csv(request, form)
    context = {
        **admin.site.each_context(request),
        "title": _("Export appointments"),
        "form": form,
        "count": form.appointments().count() if bound and form.is_valid() else None,
    }
    return render(request, "reports/export.html", context, status=400 if form.errors else 200)


def _csv(request: HttpRequest, form: ReportFilterForm) -> StreamingHttpResponse:
    personal = bool(form.cleaned_data.get("personal"))
    appointments = form.appointments()
    with transaction.atomic():
        log = ExportLog.objects.create(
            user=request.user,
            username=request.user.get_username(),
            format=ExportLog.Format.CSV,
            filters=form.as_log(),
            rows=appointments.count(),
            personal_data=personal,
        )
    delimiter = form.cleaned_data.get("delimiter") or ","
    response = StreamingHttpResponse(
        csv_lines(rows(appointments, personal=personal), delimiter=delimiter), content_type="text/csv; charset=utf-8"
    )
    data = form.cleaned_data
    response["Content-Disposition"] = f'attachment; filename="citas-{data["date_from"]}-{data["date_to"]}.csv"'
    response["X-Export-Log"] = str(log.pk)
    return response
