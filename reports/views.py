"""The report page (admin, permission "view reports"): filters, the figures, a per-day chart and a
per-office table, and the exports: up to EXPORT_STREAM_MAX_ROWS rows streamed to the browser,
more written by a Celery task into a private file with a page that shows its progress; every
export recorded in the export log."""

import tempfile
import uuid

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_safe

from eligibility.models import Pathway
from reports.exports import csv_lines, rows, write_xlsx
from reports.figures import Figures, chart, figures
from reports.forms import ReportFilterForm
from reports.models import ExportFile, ExportLog
from reports.services import (
    MAX_EXPORTS_IN_PROGRESS,
    STUCK_AFTER,
    VIEW_REPORTS,
    export_file_path,
    exports_in_progress,
    may_download,
    start_export_file,
)


def _page(request: HttpRequest, form: ReportFilterForm) -> dict[str, object]:
    return {
        **admin.site.each_context(request),
        "title": _("Reports"),
        "form": form,
        "exports": ExportFile.objects.filter(user=request.user, expires_at__gt=timezone.now())[:10],
        "stream_max": settings.EXPORT_STREAM_MAX_ROWS,
    }


@require_http_methods(["GET", "HEAD", "POST"])
def export(request: HttpRequest) -> HttpResponse:
    """GET shows the figures of the filters in the query string (a link to a report can be kept);
    the form is POSTed, with its CSRF token: "show" comes back here as a GET, a download is made.
    An export writes to the log and may start a task, so a link elsewhere cannot start one."""
    if not request.user.has_perm(VIEW_REPORTS):
        raise PermissionDenied
    if request.method == "POST":
        form = ReportFilterForm(request.POST, user=request.user)
        if form.is_valid():
            if request.POST.get("download") in ("csv", "xlsx"):
                return _download(request, form, request.POST["download"])
            query = request.POST.copy()
            for name in ("csrfmiddlewaretoken", "download"):
                query.pop(name, None)
            return redirect(f"{request.path}?{query.urlencode()}")
        valid = False
    else:
        bound = "date_from" in request.GET
        form = ReportFilterForm(request.GET if bound else None, user=request.user)
        if not bound:
            # The default report: the last 30 days, every office the user may see.
            form = ReportFilterForm(
                {name: form.fields[name].initial for name in ("date_from", "date_to")}, user=request.user
            )
        valid = form.is_valid()
    context = _page(request, form)
    if valid and not form.errors:
        found = figures(
            offices=form.chosen_offices(),
            first=form.cleaned_data["date_from"],
            last=form.cleaned_data["date_to"],
            choice=form.choice(),
        )
        names = {pathway.code: str(pathway) for pathway in Pathway.objects.all()}
        total = found.total
        context.update(
            figures=found,
            total=total,
            chart=chart(found.days),
            eligible=[(names.get(code) or code, n) for code, n in found.eligible],
            # Without a status chosen, the appointments that match are the ones the figures counted:
            # no second pass over the appointments.
            count=form.appointments().count() if form.cleaned_data.get("statuses") else total.booked,
            lead_days=[(v or 0) / 86400 for v in (total.lead.median, total.lead.p90)],
            wait_minutes=[(v or 0) / 60 for v in (total.wait.median, total.wait.p90)],
            funnel=funnel(found),
        )
    return render(request, "reports/report.html", context, status=400 if form.errors else 200)


FUNNEL_NAMES = {
    "started": _lazy("Screeners started"),
    "finished": _lazy("Screenings finished"),
    "eligible": _lazy("A pathway may fit"),
    "booked": _lazy("Appointments booked"),
    "attended": _lazy("Came to the appointment"),
}


def funnel(found: Figures) -> list[dict[str, object]]:
    """Each step of the funnel with its share of the first step (none when nobody started), for a
    bar drawn as SVG."""
    steps = found.funnel
    first = steps[0][1]
    return [
        {"name": FUNNEL_NAMES[name], "n": n, "percent": round(100 * n / first) if first else None} for name, n in steps
    ]


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(request: HttpRequest, form: ReportFilterForm, kind: str) -> HttpResponse:
    """The list as CSV, streamed, or XLSX, written to a temporary file first (an XLSX file is a
    zip that cannot be streamed as it is made); past EXPORT_STREAM_MAX_ROWS rows, a file made by
    the worker instead. Every export is recorded in the export log."""
    personal = bool(form.cleaned_data.get("personal"))
    appointments = form.appointments()
    data = form.cleaned_data
    name = f"citas-{data['date_from']}-{data['date_to']}.{kind}"
    total = appointments.count()
    if total > settings.EXPORT_STREAM_MAX_ROWS and exports_in_progress(request.user) >= MAX_EXPORTS_IN_PROGRESS:
        form.add_error(
            None,
            _("You already have %(n)s exports being written. Wait until one is ready, then export again.")
            % {"n": MAX_EXPORTS_IN_PROGRESS},
        )
        return render(request, "reports/report.html", _page(request, form), status=429)
    with transaction.atomic():
        log = ExportLog.objects.create(
            user=request.user,
            username=request.user.get_username(),
            format=kind,
            filters=form.as_log(),
            rows=total,
            personal_data=personal,
        )
        if total > settings.EXPORT_STREAM_MAX_ROWS:
            made = start_export_file(
                log=log,
                user=request.user,
                form_data={**form.as_log(), "delimiter": data.get("delimiter") or ",", "personal": personal},
                language=translation.get_language(),
                download_name=name,
            )
    if total > settings.EXPORT_STREAM_MAX_ROWS:
        return redirect("reports:export-file", pk=made.pk)
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


# While the file is being written its page asks to be loaded again this often (an HTTP Refresh
# header: no script, and the person can stop it).
REFRESH_SECONDS = 3


def _own_export(request: HttpRequest, pk: uuid.UUID) -> ExportFile:
    """The export file, if it is this user's and they may still see reports: someone else's is
    not found."""
    if not request.user.has_perm(VIEW_REPORTS):
        raise PermissionDenied
    return get_object_or_404(ExportFile, pk=pk, user=request.user)


@require_safe
def export_file(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The progress of an export file, then its download link."""
    made = _own_export(request, pk)
    still = request.GET.get("still") == "1"
    context = {
        **admin.site.each_context(request),
        "title": _("Your export"),
        "export": made,
        "allowed": may_download(request.user, made),
        "stuck": made.status == ExportFile.Status.QUEUED and made.created_at < timezone.now() - STUCK_AFTER,
        "refreshing": made.in_progress and not still,
        "refresh_seconds": REFRESH_SECONDS,
    }
    response = render(request, "reports/export_file.html", context, status=410 if made.status == "expired" else 200)
    if context["refreshing"]:
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@require_safe
def download_export_file(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The file, to the user who asked for it, while they still have the permission (checked again
    now, personal data included) and for 24 hours."""
    made = _own_export(request, pk)
    if not may_download(request.user, made):
        raise PermissionDenied
    path = export_file_path(made)
    if path is None:
        return redirect("reports:export-file", pk=made.pk)
    content_type = XLSX_TYPE if made.format == "xlsx" else "text/csv; charset=utf-8"
    # Opened here, closed by the response once sent.
    response = FileResponse(path.open("rb"), as_attachment=True, filename=made.download_name, content_type=content_type)
    response["X-Export-Log"] = str(made.log_id)
    return response
