"""The member list export: the rows the user sees (scope and filters applied), masked unless the
user has the sensitive-data permission and asked for full values (then audited by the view)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.members.models import Member

HEADERS = [
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
]


def member_export_headers() -> list[str]:
    return list(HEADERS)


def member_export_rows(qs: QuerySet[Member], *, full: bool = False) -> Iterator[list]:
    qs = qs.defer(None).select_related("work_unit", "community").prefetch_related("skills")
    for m in qs.iterator(chunk_size=2000):
        yield [
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
