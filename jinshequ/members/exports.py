"""Exports of members and their report-ins: the member list (masked unless the user holds the sensitive-data
permission and asked for full values), a community's ledger and a unit's outstanding list. Each view hands over
the rows its page lists, through the access layer."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.services import audit
from jinshequ.core.exporters import Exporter, register
from jinshequ.members.models import RegistrationStatus
from jinshequ.members.reporting_selectors import ReportStatus


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


@register
class LedgerExporter(Exporter):
    """登记台账: a community's registrations as the ledger page lists them, numbered, phones masked."""

    name = "members.ledger"
    title = _("登记台账")
    headers = (
        _("序号"),
        _("姓名"),
        _("性别"),
        _("所在单位"),
        _("手机号"),
        _("居住社区"),
        _("报到方式"),
        _("报到日期"),
        _("状态"),
        _("结束日期"),
        _("结束原因"),
    )

    def __init__(self, *, community, **kwargs):
        super().__init__(**kwargs)
        self.community = community

    def get_title(self) -> str:
        return gettext("%(name)s登记台账") % {"name": self.community.name}

    def prepare(self, qs):
        return qs.select_related("member__community", "member__work_unit")

    def rows(self):
        for number, reg in enumerate(super().rows(), start=1):
            yield [number, *reg]

    def row(self, reg):
        m = reg.member
        return [
            m.name,
            m.get_gender_display(),
            m.work_unit.name,
            m.phone_masked,
            m.community.name,
            reg.get_method_display(),
            reg.confirmed_on,
            gettext("在册") if reg.status == RegistrationStatus.CONFIRMED else gettext("已结束"),
            reg.ended_on,
            reg.end_reason,
        ]

    def audit(self, count: int) -> None:
        audit(
            event="ledger.exported",
            actor=self.user,
            obj=self.community,
            object_repr=gettext("%(name)s 登记台账") % {"name": self.community.name},
            changes={"rows": count, "filters": {k: str(v) for k, v in self.params.items() if v}},
        )


@register
class OutstandingExporter(Exporter):
    """未报到名单: a unit's members who have not reported in, phones masked."""

    name = "members.outstanding"
    title = _("未报到名单")
    headers = (_("姓名"), _("性别"), _("所在单位"), _("居住社区"), _("手机号"), _("报到状态"))

    def __init__(self, *, unit, include_sub: bool, **kwargs):
        super().__init__(**kwargs)
        self.unit, self.include_sub = unit, include_sub

    def get_title(self) -> str:
        return gettext("未报到名单-%(name)s") % {"name": self.unit.name}

    def prepare(self, qs):
        return qs.select_related("work_unit", "community")

    def row(self, m):
        return [
            m.name,
            m.get_gender_display(),
            m.work_unit.name,
            m.community.name,
            m.phone_masked,
            ReportStatus.LABELS[ReportStatus.OUTSTANDING],
        ]

    def audit(self, count: int) -> None:
        audit(
            event="roster.exported",
            actor=self.user,
            obj=self.unit,
            changes={"rows": count, "include_sub": self.include_sub, "status": ReportStatus.OUTSTANDING},
        )
