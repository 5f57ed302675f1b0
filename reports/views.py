"""The report page (admin, permission "view reports"): filters, the figures, a per-day chart and a
per-office table, and the CSV download, streamed row by row and recorded in the export log."""

import tempfile

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from eligibility.models import Pathway
from reports.exports import csv_lines, rows, write_xlsx
from reports.figures import chart, figures
from reports.forms import ReportFilterForm
from reports.models import ExportLog

VIEW_REPORTS = "reports.view_reports"


@require_safe
def export(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_REPORTS):
        raise PermissionDenied
    bound = "date_from" in request.GET
    form = ReportFilterForm(request.GET if bound else None, user=request.user)
    if not bound:
        # The default report: the last 30 days, every office the user may see.
        form = ReportFilterForm(
            {name: form.fields[name].initial for name in ("date_from", "date_to")}, user=request.user
        )
    valid = form.is_valid()
    if bound and valid and request.GET.get("download") in ("csv", "xlsx"):
        return _download(request, form, request.GET["download"])
    context = {**admin.site.each_context(request), "title": _("Reports"), "form": form}
    if valid:
        found = figures(
            appointments=form.appointments(with_statuses=False),
            offices=form.chosen_offices(),
            first=form.cleaned_data["date_from"],
            last=form.cleaned_data["date_to"],
        )
        names = {pathway.code: str(pathway) for pathway in Pathway.objects.all()}
        context.update(
            figures=found,
            chart=chart(found.days),
            eligible=[(names.get(code) or code, n) for code, n in found.eligible],
            count=form.appointments().count(),
            lead_days=[(v or 0) / 86400 for v in (found.lead.median, found.lead.p90)],
            wait_minutes=[(v or 0) / 60 for v in (found.wait.median, found.wait.p90)],
        )
    return render(request, "reports/report.html", context, status=400 if form.errors else 200)


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(request: HttpRequest, form: ReportFilterForm, kind: str) -> HttpResponse:
    """The list as CSV, streamed, or XLSX, written to a temporary file first (an XLSX file is a
    zip that cannot be streamed as it is made); both recorded in the export log."""
    personal = bool(form.cleaned_data.get("personal"))
    appointments = form.appointments()
    with transaction.atomic():
        log = ExportLog.objects.create(
            user=request.user,
            username=request.user.get_username(),
            format=kind,
            filters=form.as_log(),
            rows=appointments.count(),
            personal_data=personal,
        )
    data = form.cleaned_data
    name = f"citas-{data['date_from']}-{data['date_to']}.{kind}"
    if kind == "csv":
        delimiter = data.get("delimiter") or ","
        lines = csv_lines(rows(appointments, personal=personal), delimiter=delimiter)
        response: HttpResponse = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        # Deleted when closed: the response closes it once sent.
        target = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
        write_xlsx(rows(appointments, personal=personal, inert=False), target)
        target.seek(0)
        response = FileResponse(target, as_attachment=True, filename=name, content_type=XLSX_TYPE)
    response["X-Export-Log"] = str(log.pk)
    return response
