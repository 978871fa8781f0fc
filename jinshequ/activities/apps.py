from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "jinshequ.activities"
    label = "activities"
    verbose_name = "活动与服务记录"
