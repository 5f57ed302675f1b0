from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Safe Mobility Offices: administration")
admin.site.site_title = _("Safe Mobility Offices")
admin.site.index_title = _("Administration")


class SafeDateHierarchyChangeList(ChangeList):
    """Django's date hierarchy turns ?<field>__year=9999 into a date past year 9999 and fails with
    a 500; an out-of-range date is a wrong lookup like any other (the list reloads with ?e=1)."""

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class SafeDateHierarchyMixin:
    """For a ModelAdmin with a `date_hierarchy`."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SafeDateHierarchyChangeList


class MissingIsNotFoundMixin:
    """An object the user may not see (another office's) or that does not exist answers 404, as
    a page would, instead of the admin's redirect to its index with "doesn't exist"."""

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> Any:
        raise Http404
