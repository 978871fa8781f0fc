from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "jinshequ.supervision"
    label = "supervision"
    verbose_name = _("督查与清单")
