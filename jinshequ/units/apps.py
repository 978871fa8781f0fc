from django.apps import AppConfig


class UnitsConfig(AppConfig):
    name = "jinshequ.units"
    label = "units"
    verbose_name = "单位"
