"""The member list export: the rows the user sees on the list (scope and filters applied), masked unless the
user holds the sensitive-data permission and asked for full values."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.services import audit
from jinshequ.core.exporters import Exporter, register


@register
class MemberListExporter(Exporter):
    name = "members.list"
    title = _("党员名单")
    headers = (
        _("姓名"),
        _("性别"),
        _("出生日期"),
        _("身份证号"),
        _("手机号"),
        _("所在单位"),
        _("居住社区"),
        _("居住地址"),
        _("党员状态"),
        _("领导干部"),
        _("特长"),
        _("可服务时间"),
        _("入党日期"),
        _("状态"),
    )

    def prepare(self, qs):
        return qs.defer(None).select_related("work_unit", "community").prefetch_related("skills")

    def row(self, m):
        full = self.full
        return [
            m.name,
            m.get_gender_display(),
            m.birth_date,
            m.reveal_id_number() if full else m.id_number_masked,
            (m.reveal_phone() if full else m.phone_masked) or "",
            m.work_unit.name,
            m.community.name,
            m.address,
            m.get_party_status_display(),
            m.is_leading_cadre,
            gettext("、").join(s.name for s in m.skills.all()),
            gettext("、").join(m.availability_labels),
            m.joined_party_on,
            m.get_status_display(),
        ]

    def audit(self, count: int) -> None:
        audit(
            event="member.exported",
            actor=self.user,
            object_type="members.member",
            reason=gettext("完整证件号") if self.full else "",
            changes={"rows": count, "filters": {k: str(v) for k, v in self.params.items() if v}},
        )
