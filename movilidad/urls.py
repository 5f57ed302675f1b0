"""Root URLs: public pages under a language prefix (/es/..., /en/...), operational URLs without."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from appointments.views.manage import short_link
from core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/report/", include("reports.urls")),
    path("admin/account/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    # The short manage link sent by SMS; it continues in the applicant's language.
    path("m/<str:token>/", short_link, name="short-manage-link"),
    # The waiting-room TV: both languages on one page, opened by a secret per-office link.
    path("", include("desk.urls")),
]

urlpatterns += i18n_patterns(
    path("", include("eligibility.urls")),
    path("", include("appointments.urls")),
    path("", include("allocation.urls")),
    path("", include("core.urls")),
    prefix_default_language=True,
)

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
