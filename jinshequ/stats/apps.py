from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "jinshequ.stats"
    label = "stats"
    verbose_name = "统计"
