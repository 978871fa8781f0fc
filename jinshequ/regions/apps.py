from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "jinshequ.regions"
    label = "regions"
    verbose_name = _("区域")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from jinshequ.regions.models import Region
        from jinshequ.regions.selectors import regions_changed

        post_save.connect(regions_changed, sender=Region, dispatch_uid="regions_changed_save")
        post_delete.connect(regions_changed, sender=Region, dispatch_uid="regions_changed_delete")
