"""The long tables of the work manual, rendered in Python: a member with a year of service has hundreds of
records, and nine template nodes, two includes and seven translations per row made the page ~100 ms. The
markup is what the templates wrote; every value is escaped."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext

register = template.Library()

_TENTH = Decimal("0.1")


def hours_text(hours) -> str:
    """As ``floatformat:"-1"``: one decimal place, none for a whole number (0.04 gives "0.0", as there)."""
    value = Decimal(str(hours))
    if value == value.to_integral_value():  # decided on the value itself, as floatformat does
        return str(int(value))
    return str(value.quantize(_TENTH, rounding=ROUND_HALF_UP))


def _status_badge(status: str, label) -> str:
    kind = {"verified": "text-bg-success", "pending": "text-bg-warning"}.get(status, "text-bg-secondary")
    return f'<span class="badge {kind}">{escape(str(label))}</span>'


@register.simple_tag
def manual_record_rows(rows, year_counts=None, prev_year=None):
    """The ``<tr>`` rows of service records (``RecordLine`` objects, newest first). With ``year_counts``
    (year → number of records) a heading row starts each year, except the year ``prev_year`` that the rows
    continue (a "显示更多" page)."""
    t = {key: escape(gettext(text)) for key, text in (
        ("number", "编号"), ("date", "日期"), ("category", "类别"), ("hours", "时长"), ("content", "服务内容"),
        ("status", "状态"), ("evidence", "证据"), ("photo", "照片"))}
    helped = gettext("服务 %(n)s 人")
    detail_base = reverse("records:detail", args=[0]).removesuffix("0/")
    out = []
    year = prev_year
    for r in rows:
        pk = int(r.pk)
        if year_counts is not None and r.served_on.year != year:
            year = r.served_on.year
            n = year_counts.get(year, 0)
            heading = escape(ngettext("%(year)s 年（共 %(n)s 条）", "%(year)s 年（共 %(n)s 条）", n)
                             % {"year": year, "n": n})
            out.append(f'<tr class="year-row" id="records-{year}"><th colspan="7" scope="rowgroup">{heading}</th>'
                       '</tr>')
        extra = ""
        if r.people_helped:
            extra += f'<span class="small text-muted">（{escape(helped % {"n": r.people_helped})}）</span>'
        if r.has_photo:
            extra += f' <a class="small" href="{detail_base}{pk}/photo/">{t["photo"]}</a>'
        label = escape(str(r.evidence_label))
        out.append(
            f'<tr><td data-label="{t["number"]}" class="record-number"><a href="{detail_base}{pk}/">'
            f'{escape(r.number)}</a></td>'
            f'<td data-label="{t["date"]}">{r.served_on:%Y-%m-%d}</td>'
            f'<td data-label="{t["category"]}">{escape(str(r.category or ""))}</td>'
            f'<td data-label="{t["hours"]}">{hours_text(r.hours)}</td>'
            f'<td data-label="{t["content"]}" class="min-w-0 cell-block">{escape(r.description or "")}{extra}</td>'
            f'<td data-label="{t["status"]}">{_status_badge(r.status, r.status_label)}</td>'
            f'<td data-label="{t["evidence"]}"><span class="badge ev ev-{int(r.evidence)}" title="{label}">{label}'
            f'</span></td></tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped


@register.simple_tag
def manual_line_rows(lines):
    """The ``<tr>`` rows of a section of numbered lines (``Line`` objects: registrations, posts, activities…)."""
    t = {key: escape(gettext(text)) for key, text in (
        ("number", "编号"), ("when", "时间"), ("content", "内容"), ("state", "状态"))}
    out = []
    for line in lines:
        detail = f'<div class="small text-muted">{escape(str(line.detail))}</div>' if line.detail else ""
        out.append(
            f'<tr><td data-label="{t["number"]}" class="record-number">{escape(line.number)}</td>'
            f'<td data-label="{t["when"]}">{escape(str(line.when))}</td>'
            f'<td data-label="{t["content"]}" class="min-w-0 cell-block">{escape(str(line.title))}{detail}</td>'
            f'<td data-label="{t["state"]}">{escape(str(line.state))}</td></tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped


@register.simple_tag
def manual_year_rows(years):
    """The ``<tr>`` rows of the year table (``YearTotals``): verified, weighted, per evidence level, pending,
    activities attended."""
    t = {key: escape(gettext(text)) for key, text in (
        ("year", "年度"), ("verified", "已核实（小时）"), ("weighted", "折算（小时）"), ("pending", "待审核（小时）"),
        ("attended", "参加活动"))}
    out = []
    for y in years:
        levels = "".join(f'<td data-label="{escape(str(label))}">{hours_text(hours)}</td>'
                         for _, label, hours in y.totals.evidence_rows)
        out.append(
            f'<tr><td data-label="{t["year"]}" class="fw-semibold">{int(y.year)}</td>'
            f'<td data-label="{t["verified"]}">{hours_text(y.totals.verified_hours)}</td>'
            f'<td data-label="{t["weighted"]}">{hours_text(y.totals.weighted_display)}</td>{levels}'
            f'<td data-label="{t["pending"]}">{hours_text(y.totals.pending_hours)}</td>'
            f'<td data-label="{t["attended"]}">{int(y.activities_attended)}</td></tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
