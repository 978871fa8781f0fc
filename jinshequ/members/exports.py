"""The member list export: the rows the user sees (scope and filters applied), masked unless the
user has the sensitive-data permission and asked for full values (then audited by the view)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from jinshequ.members.models import Member

HEADERS = ["姓名", "性别", "出生日期", "身份证号", "手机号", "所在单位", "居住社区", "居住地址", "党员状态",
           "领导干部", "特长", "可服务时间", "入党日期", "状态"]


def member_export_headers() -> list[str]:
    return list(HEADERS)


def member_export_rows(qs: QuerySet[Member], *, full: bool = False) -> Iterator[list]:
    qs = qs.defer(None).select_related("work_unit", "community").prefetch_related("skills")
    for m in qs.iterator(chunk_size=2000):
        yield [
            m.name, m.get_gender_display(), m.birth_date,
            m.reveal_id_number() if full else m.id_number_masked,
            (m.reveal_phone() if full else m.phone_masked) or "",
            m.work_unit.name, m.community.name, m.address, m.get_party_status_display(),
            m.is_leading_cadre, "、".join(s.name for s in m.skills.all()), "、".join(m.availability_labels),
            m.joined_party_on, m.get_status_display(),
        ]
