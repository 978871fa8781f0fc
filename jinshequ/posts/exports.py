"""The 全员认领 coverage export: members who reported in and hold no post yet, as the coverage page lists them
for the chosen region or unit (through the access layer)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.services import audit
from jinshequ.core.exporters import Exporter, register


@register
class UncoveredMembersExporter(Exporter):
    name = "posts.uncovered"
    title = _("未认领岗位党员")
    headers = (_("姓名"), _("性别"), _("所在单位"), _("报到社区"), _("报到日期"), _("认领情况"))

    def row(self, r):
        return [
            r.member.name,
            r.member.get_gender_display(),
            r.member.work_unit.name,
            r.community.name,
            r.confirmed_on,
            gettext("待社区审核") if r.pending else gettext("未认领"),
        ]

    def audit(self, count: int) -> None:
        region, unit = self.params.get("region"), self.params.get("unit")
        audit(
            event="posts.coverage_exported",
            actor=self.user,
            object_type="posts.postclaim",
            changes={
                "rows": count,
                "region": region.pk if region else None,
                "unit": unit.pk if unit else None,
            },
        )
