from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "jinshequ.regions"
    label = "regions"
    verbose_name = "区域"
