"""Table rows rendered by templates: what people typed is escaped, the markup is what the page expects."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string


def test_member_filter_keeps_the_chosen_community(world, login, client):
    login(world.city_admin)
    body = client.get("/members/", {"community": world.a.community.pk}).content.decode()
    assert f'<option value="{world.a.community.pk}" selected>{world.a.community.name}</option>' in body


@pytest.mark.parametrize(
    "hours, shown", [("0.5", "0.5"), ("1", "1"), ("1.0", "1"), ("2.25", "2.3"), ("12", "12"), ("7.96", "8.0")]
)
def test_manual_hours_show_one_decimal_place_or_none(hours, shown):
    record = SimpleNamespace(
        pk=7,
        number="R-7",
        served_on=dt.date(2026, 5, 4),
        category="",
        hours=Decimal(hours),
        description="",
        people_helped=0,
        has_photo=False,
        status="verified",
        status_label="已审核",
        evidence=3,
        evidence_label="扫码签到",
    )
    html = render_to_string("records/_manual_rows.html#record_rows", {"rows": [(None, record)]})
    assert f'<td data-label="时长">{shown}</td>' in html


def test_template_rows_escape_what_people_typed():
    evil = '<script>alert("x")</script>'
    record = SimpleNamespace(
        pk=7,
        number="R-7",
        served_on=dt.date(2026, 5, 4),
        category=evil,
        hours=2,
        description=evil,
        people_helped=3,
        has_photo=True,
        status="verified",
        status_label="已审核",
        evidence=3,
        evidence_label="扫码签到",
    )
    html = render_to_string("records/_manual_rows.html#record_rows", {"rows": [(12, record)]})
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2
    assert "2026-05-04" in html and "服务 3 人" in html and 'href="/records/7/photo/"' in html
    assert 'class="badge text-bg-success"' in html and 'class="badge ev ev-3"' in html
    assert (
        '<tr class="year-row" id="records-2026"><th colspan="7" scope="rowgroup">2026 年（共 12 条）</th></tr>'
        in html
    )
    line = SimpleNamespace(number="A-1", when="2026-05-04", title=evil, detail=evil, state="已签到")
    html = render_to_string("records/_manual_rows.html#line_rows", {"lines": [line]})
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2
