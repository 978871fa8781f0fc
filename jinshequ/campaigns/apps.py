from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "jinshequ.campaigns"
    label = "campaigns"
    verbose_name = _("活动周期")
