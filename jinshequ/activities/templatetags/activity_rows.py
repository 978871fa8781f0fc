"""The rows of a community's activity list, rendered in Python (fifty rows of eight cells with ten
translations each were most of the page's time). The markup is what the template wrote; values are escaped."""

from __future__ import annotations

from html import escape

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

register = template.Library()


@register.simple_tag
def activity_manage_rows(activities, now):
    t = {key: escape(gettext(text)) for key, text in (
        ("time", "时间"), ("activity", "活动"), ("place", "地点"), ("signed", "报名"), ("waitlist", "候补"),
        ("attended", "签到"), ("no_show", "未到场"), ("status", "状态"), ("cancelled", "已取消"),
        ("ended", "已结束"), ("running", "进行中"), ("not_started", "未开始"), ("empty", "没有符合条件的活动。"))}
    base = reverse("activities:manage_detail", args=[0]).removesuffix("0/")
    out = []
    for a in activities:
        if a.status == "cancelled":
            state = f'<span class="badge signup-badge signup-badge-cancelled">{t["cancelled"]}</span>'
        elif a.ends_at < now:
            state = f'<span class="text-muted">{t["ended"]}</span>'
        elif a.starts_at <= now:
            state = f'<span class="badge text-bg-success">{t["running"]}</span>'
        else:
            state = t["not_started"]
        team = f" · {escape(a.team.name)}" if a.team_id else ""
        no_show = f'<span class="text-danger">{int(a.n_no_show)}</span>' if a.n_no_show else "0"
        out.append(
            f'<tr><td data-label="{t["time"]}" class="text-nowrap">{timezone.localtime(a.starts_at):%Y-%m-%d %H:%M}</td>'
            f'<td data-label="{t["activity"]}"><a href="{base}{int(a.pk)}/">{escape(a.title)}</a>'
            f'<div class="small text-muted">{escape(a.category.name)}{team}</div></td>'
            f'<td data-label="{t["place"]}">{escape(a.place)}</td>'
            f'<td data-label="{t["signed"]}">{int(a.signed_up)}/{int(a.capacity)}</td>'
            f'<td data-label="{t["waitlist"]}">{int(a.n_waitlisted)}</td>'
            f'<td data-label="{t["attended"]}">{int(a.n_attended)}</td>'
            f'<td data-label="{t["no_show"]}">{no_show}</td>'
            f'<td data-label="{t["status"]}">{state}</td></tr>')
    if not out:
        out.append(f'<tr><td colspan="8" class="empty-state">{t["empty"]}</td></tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
