from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UnitsConfig(AppConfig):
    name = "jinshequ.units"
    label = "units"
    verbose_name = _("单位")

    def ready(self) -> None:
        from jinshequ.accounts.perms import Perm
        from jinshequ.imports.services import register
        from jinshequ.units.importers import UnitImporter, unit_template_notes

        register(
            UnitImporter,
            perm=Perm.UNIT_IMPORT,
            upload_url="units:import",
            sheet=_("单位信息"),
            template_name=_("单位导入模板.xlsx"),
            notes=unit_template_notes,
        )
