from django.contrib import admin
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Safe Mobility Offices: administration")
admin.site.site_title = _("Safe Mobility Offices")
admin.site.index_title = _("Administration")
