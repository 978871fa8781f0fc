from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "jinshequ.members"
    label = "members"
    verbose_name = _("党员")

    def ready(self) -> None:
        from jinshequ.accounts.perms import Perm
        from jinshequ.imports.services import register
        from jinshequ.members.importers import MemberImporter, member_template_notes

        register(
            MemberImporter,
            perm=Perm.MEMBER_IMPORT,
            upload_url="members:import",
            sheet=_("党员信息"),
            template_name=_("党员导入模板.xlsx"),
            notes=member_template_notes,
        )
