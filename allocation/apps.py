from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AllocationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "allocation"
    verbose_name = _("Fair allocation")

    def ready(self) -> None:
        # The waitlist learns of freed places from appointments, which never imports allocation.
        from allocation.tasks.waitlist import on_place_freed
        from appointments.signals import place_freed

        place_freed.connect(on_place_freed, dispatch_uid="allocation.waitlist.place_freed")
