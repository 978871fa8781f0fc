from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jinshequ.core"
    label = "core"
    verbose_name = _("核心")

    def ready(self) -> None:
        from jinshequ.core import checks  # noqa: F401  (registers deploy checks)
        from jinshequ.core.logging import install_logger_filters

        install_logger_filters()
