"""A lottery request or a waitlist entry typed at an office that verifies phones, kept until the
code sent by SMS to its number is entered (issue 13; allocation/phone_services.py). Until then
nothing is counted in the draw or on the list."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from allocation.models.lottery import Draw
from appointments.models import Office, PhoneCheck
from eligibility.models import Screening

__all__ = ["PendingRequest"]


class PendingRequest(models.Model):
    """What was typed, waiting for the code. It goes with its phone check: deleted when the
    request or entry is made, else by the per-minute purge once the check is over
    (appointments.services.phone_codes.purge_unlinked_checks)."""

    class Kind(models.TextChoices):
        LOTTERY = "lottery", _("Lottery request")
        WAITLIST = "waitlist", _("Waitlist place")

    phone_check = models.OneToOneField(
        PhoneCheck, verbose_name=_("phone check"), on_delete=models.CASCADE, related_name="pending_request"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.CASCADE, related_name="+")
    draw = models.ForeignKey(
        Draw, verbose_name=_("draw"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    screening = models.ForeignKey(Screening, verbose_name=_("screening"), on_delete=models.CASCADE, related_name="+")
    # Everything typed on the details page (DetailsForm.as_typed).
    details = models.JSONField(_("details"), default=dict, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("request waiting for its phone code")
        verbose_name_plural = _("requests waiting for their phone code")
        constraints = [
            # A lottery request is for a draw; a waitlist place is not.
            models.CheckConstraint(
                condition=Q(kind="lottery", draw__isnull=False) | Q(kind="waitlist", draw__isnull=True),
                name="allocation_pending_kind_draw",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"
