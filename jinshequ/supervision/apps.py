from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "jinshequ.supervision"
    label = "supervision"
    verbose_name = "督查与清单"
