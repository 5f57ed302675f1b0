"""The lottery in the admin: staff and supervisors create draws for the offices they see, and
see each draw's window, published hash, seed (once drawn), order and who was offered a place,
confirmed it or let it pass. Requests are read-only: they change through the services."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from allocation import lottery_services
from allocation.models.lottery import Draw, LotteryRequest
from appointments.admin import OfficeFilter, office_time, visible_offices

__all__ = ["DrawAdmin", "LotteryRequestAdmin"]


@admin.register(LotteryRequest)
class LotteryRequestAdmin(admin.ModelAdmin):
    """A draw's requests in its order, with who was offered a place, confirmed it or let it pass.
    A list, not an inline on the draw's page: a draw can have thousands. Read-only: requests
    change through the services."""

    list_display = ["position", "number", "full_name", "status", "slot", "offered_at", "offer_expires_at", "booked_at"]
    list_filter = [("draw__office", admin.RelatedOnlyFieldListFilter), "status"]
    list_select_related = ["slot__office", "draw__office"]
    search_fields = ["=number"]
    ordering = ["draw", "position", "number"]
    exclude = ["details", "screening"]
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[LotteryRequest]:
        return super().get_queryset(request).filter(draw__office__in=visible_offices(request))

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "draw__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DrawForm(forms.ModelForm):
    class Meta:
        model = Draw
        fields = lottery_services.DRAW_TERMS

    def clean(self) -> dict[str, Any]:
        # The admin checks and saves in one transaction: with the office locked first, a draw
        # saved at the same moment is seen by the overlap check (Draw.clean), and refused there.
        office = self.cleaned_data.get("office")
        lottery_services.lock_office_draws(office.pk if office else self.instance.office_id)
        # Loaded as scheduled, opened since (the per-minute task, or a first press of Save): its
        # terms are published now, and this form's would overwrite them.
        loaded_scheduled = self.instance.pk is not None and self.instance.status == Draw.Status.SCHEDULED
        if loaded_scheduled and lottery_services.locked_status(self.instance.pk) != Draw.Status.SCHEDULED:
            raise forms.ValidationError(
                _(
                    "The request window of this draw opened while you were editing it: its terms are "
                    "published and no longer change. Open the draw again to see it."
                )
            )
        return super().clean()


@admin.register(Draw)
class DrawAdmin(admin.ModelAdmin):
    form = DrawForm
    list_display = ["office", "window", "period_start", "period_end", "status", "places"]
    list_filter = [OfficeFilter, "status"]
    readonly_fields = ["status", "seed_hash", "revealed_seed", "places", "drawn_at", "created_by", "result"]

    @admin.display(description=_("request window"))
    def window(self, draw: Draw) -> str:
        return f"{office_time(draw.office, draw.opens_at)} – {office_time(draw.office, draw.closes_at)}"

    @admin.display(description=_("seed (shown after the draw)"))
    def revealed_seed(self, draw: Draw) -> str:
        return draw.seed if draw.status == Draw.Status.DRAWN else "-"

    @admin.display(description=_("requests"))
    def result(self, draw: Draw) -> str:
        """How many requests are in each state, and a link to them in the drawn order."""
        if draw.pk is None:
            return "-"
        counts = dict(draw.requests.order_by().values_list("status").annotate(n=Count("pk")))
        parts = [f"{label}: {counts.get(value, 0)}" for value, label in LotteryRequest.Status.choices]
        url = reverse("admin:allocation_lotteryrequest_changelist") + f"?draw__id__exact={draw.pk}"
        return format_html('{}<br><a href="{}">{}</a>', "; ".join(parts), url, _("See the requests in the drawn order"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Draw]:
        return super().get_queryset(request).select_related("office").filter(office__in=visible_offices(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Draw | None = None) -> list[str]:
        # Once the window is open, its terms are published: they no longer change.
        fixed = list(self.readonly_fields)
        if obj is not None and obj.status != Draw.Status.SCHEDULED:
            fixed += lottery_services.DRAW_TERMS
        return fixed

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "office":
            kwargs["queryset"] = visible_offices(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Draw | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == Draw.Status.SCHEDULED)

    def save_model(self, request: HttpRequest, obj: Draw, form: Any, change: bool) -> None:
        lottery_services.save_draw(draw=obj, actor=request.user)
