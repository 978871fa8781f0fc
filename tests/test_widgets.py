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
