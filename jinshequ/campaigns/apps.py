from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "jinshequ.campaigns"
    label = "campaigns"
    verbose_name = "活动周期"
