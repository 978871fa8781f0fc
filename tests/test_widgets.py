"""FastSelect renders what Django's Select renders (values, labels, the selected option, attributes, escaping)."""

import re

import pytest
from django import forms

from jinshequ.core.widgets import FastSelect

CHOICES = [("", "全部社区"), (1, "幸福里社区"), (2, '<b>"危险" & 名称</b>'), (3, "O'Neil 社区"), (10, "十号")]


def options(html: str) -> list[tuple[str, bool, str]]:
    return [(value, bool(selected), label) for value, selected, label in
            re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', html)]


@pytest.mark.parametrize("value", [None, "", 1, "2", 3, 10, 99])
def test_fast_select_matches_django_select(value):
    attrs = {"class": "form-select", "id": "id_community"}
    django_html = forms.Select(attrs=attrs, choices=CHOICES).render("community", value)
    fast_html = FastSelect(attrs=attrs, choices=CHOICES).render("community", value)
    assert options(fast_html) == options(django_html)
    assert len(options(fast_html)) == len(CHOICES)
    opening = re.match(r"<select([^>]*)>", fast_html).group(1)
    assert sorted(re.findall(r'(\w+)="([^"]*)"', opening)) == [("class", "form-select"), ("id", "id_community"),
                                                                  ("name", "community")]
    assert "<b>" not in fast_html and "&lt;b&gt;&quot;危险&quot; &amp; 名称&lt;/b&gt;" in fast_html
    assert sum(selected for _, selected, _ in options(fast_html)) == (0 if value == 99 else 1)


def test_fast_select_refuses_option_groups():
    with pytest.raises(ValueError, match="option groups"):
        FastSelect(choices=[("组", [(1, "甲")])]).render("x", None)


def test_member_filter_keeps_the_chosen_community(world, login, client):
    login(world.city_admin)
    body = client.get("/members/", {"community": world.a.community.pk}).content.decode()
    assert f'<option value="{world.a.community.pk}" selected>{world.a.community.name}</option>' in body


@pytest.mark.parametrize("hours", ["0.5", "1", "1.0", "2.25", "2.35", "3.05", "12", "0.04", "7.96"])
def test_manual_hours_match_floatformat(hours):
    from decimal import Decimal

    from django.template.defaultfilters import floatformat

    from jinshequ.activities.templatetags.manual_rows import hours_text

    assert hours_text(Decimal(hours)) == str(floatformat(Decimal(hours), "-1"))


def test_python_rendered_rows_escape_what_people_typed():
    import datetime as dt
    from types import SimpleNamespace

    from jinshequ.activities.templatetags.manual_rows import manual_line_rows, manual_record_rows

    evil = '<script>alert("x")</script>'
    record = SimpleNamespace(pk=7, number="R-7", served_on=dt.date(2026, 5, 4), category=evil, hours=2,
                             description=evil, people_helped=3, has_photo=True, status="verified", status_label="已审核",
                             evidence=3, evidence_label="扫码签到")
    html = manual_record_rows([record])
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2
    assert "2026-05-04" in html and "服务 3 人" in html and 'href="/records/7/photo/"' in html
    assert 'class="badge text-bg-success"' in html and 'class="badge ev ev-3"' in html
    line = SimpleNamespace(number="A-1", when="2026-05-04", title=evil, detail=evil, state="已签到")
    html = manual_line_rows([line])
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2
