"""Every edit form, submitted unchanged as a browser submits it, leaves its object exactly as it was.

The member form once wrote 出生日期 and 入党日期 as ``1990/07/15`` into ``<input type="date">``; the browser
cannot show that value and sends it empty, so saving an address change erased 入党日期. Each case below opens
an edit form as a role allowed to use it, in Chinese and in English, reads the form the server rendered
(``tests/formkit.py`` submits what a browser would), posts it, and compares every column of the object and
its many-to-many links before and after. And every date field of the project uses the one ISO date widget.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django import forms
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import reverse

import jinshequ
from jinshequ.core.widgets import DateInput, DateTimeInput
from tests.factories import build_crawl_world
from tests.formkit import Form, post_forms

LANGUAGES = ("zh-hans", "en")
VOLATILE = {"updated_at", "modified_at", "last_modified"}  # bumped by any save, by design


@dataclass(frozen=True)
class Case:
    url: str  # URL name
    role: str
    obj: Callable[[object], models.Model]  # the object the form edits, from the world
    args: Callable[[object], dict] | None = None
    action: str | None = None  # URL name the form posts to (default: the page itself)


def _pk(obj) -> dict:
    return {"pk": obj.pk}


CASES = [
    Case("members:edit", "community_admin", lambda w: _joined(w.a.members[1]), lambda w: _pk(w.a.members[1])),
    Case("members:edit", "unit_admin", lambda w: _joined(w.a.members[2]), lambda w: _pk(w.a.members[2])),
    Case("regions:edit", "district_admin", lambda w: w.a.community, lambda w: _pk(w.a.community)),
    Case("units:edit", "unit_admin", lambda w: w.a.extra["subunit"], lambda w: _pk(w.a.extra["subunit"])),
    Case("campaigns:edit", "city_admin", lambda w: w.campaign, lambda w: _pk(w.campaign)),
    Case("posts:edit", "community_admin", lambda w: w.a.extra["post"], lambda w: _pk(w.a.extra["post"])),
    Case(
        "posts:manage_team", "community_admin", lambda w: w.a.extra["team"], lambda w: _pk(w.a.extra["team"])
    ),
    Case(
        "posts:household",
        "community_admin",
        lambda w: w.a.extra["household"],
        lambda w: _pk(w.a.extra["household"]),
    ),
    Case("posts:manage", "community_admin", lambda w: _post_settings(w), action="posts:settings"),
    Case(
        "activities:edit",
        "community_admin",
        lambda w: _on_whole_minutes(w.a.extra["activity"]),
        lambda w: _pk(w.a.extra["activity"]),
    ),
    Case(
        "supervision:item_edit", "city_admin", lambda w: _checklist_item(w), lambda w: _pk(_checklist_item(w))
    ),
]


def _post_settings(world):
    from jinshequ.posts.models import CommunitySettings

    return CommunitySettings.objects.get_or_create(community=world.a.community)[0]


def _joined(member):
    """A member with every date filled in (入党日期 was the one that got erased)."""
    type(member).objects.filter(pk=member.pk).update(joined_party_on=dt.date(2020, 6, 27))
    return member


def _on_whole_minutes(activity):
    """The form edits times to the minute (as people plan them); the factory's activity starts at "now"."""
    type(activity).objects.filter(pk=activity.pk).update(
        starts_at=activity.starts_at.replace(second=0, microsecond=0),
        ends_at=activity.ends_at.replace(second=0, microsecond=0),
    )
    return activity


def _checklist_item(world):
    from jinshequ.supervision.models import ChecklistItem
    from jinshequ.supervision.services import items_create_defaults

    if not ChecklistItem.objects.filter(campaign=world.campaign).exists():
        items_create_defaults(campaign=world.campaign, actor=world.city_admin)
    return ChecklistItem.objects.filter(campaign=world.campaign).order_by("pk").first()


def _user(world, role):
    return world.city_admin if role == "city_admin" else world.a.users[role]


def snapshot(obj: models.Model) -> dict:
    """Every stored column (ciphertexts compared through their blind index and mask, as each save draws a new
    nonce), and the targets of every many-to-many link."""
    obj = type(obj).objects.get(pk=obj.pk)
    row = {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in VOLATILE and not f.attname.endswith("_enc")
    }
    for m2m in obj._meta.many_to_many:
        row[m2m.name] = sorted(getattr(obj, m2m.name).values_list("pk", flat=True))
    return row


def the_form(html: str, action: str) -> Form:
    candidates = [f for f in post_forms(html) if f.action in ("", action)]
    assert candidates, f"no form posting to {action} on the page"
    return max(candidates, key=lambda f: len(f.fields))


@pytest.fixture
def crawl_world(db):
    return build_crawl_world()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.url}-{c.role}")
def test_an_edit_form_submitted_unchanged_changes_nothing(crawl_world, case, language):
    world = crawl_world
    obj = case.obj(world)
    before = snapshot(obj)
    client = Client()
    client.force_login(_user(world, case.role))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = reverse(case.url, kwargs=case.args(world) if case.args else None)
    response = client.get(page)
    assert response.status_code == 200
    action = reverse(case.action) if case.action else page
    form = the_form(response.content.decode(), action)
    response = client.post(action, form.submission())
    assert response.status_code == 302, response.content.decode()[:2000]
    assert snapshot(obj) == before


def test_the_exemption_form_offers_its_default_expiry_as_a_date_the_browser_shows(crawl_world):
    """The exemption form proposes an expiry date; a browser must be able to show it, so that accepting the
    proposal saves that date."""
    from jinshequ.members.models import Exemption

    world = crawl_world
    member = world.a.members[1]  # members[2] already has an exemption
    client = Client()
    client.force_login(world.a.users["unit_admin"])
    for language in LANGUAGES:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        url = reverse("roster:exempt", kwargs={"pk": member.pk})
        html = client.get(url).content.decode()
        form = the_form(html, url)
        proposed = form.field("valid_until").value
        assert dt.date.fromisoformat(proposed) > dt.date(2000, 1, 1)
        assert client.post(url, form.submission()).status_code == 302
        assert Exemption.objects.get(member=member).valid_until == dt.date.fromisoformat(proposed)
        Exemption.objects.filter(member=member).delete()


def _all_form_classes() -> list[type[forms.BaseForm]]:
    for module in pkgutil.walk_packages(jinshequ.__path__, "jinshequ."):
        if ".migrations" not in module.name and not module.name.endswith(("wsgi", "settings_production")):
            importlib.import_module(module.name)
    found, todo = [], [forms.BaseForm]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("jinshequ.") and not inspect.isabstract(sub):
                found.append(sub)
    return found


def test_every_date_field_uses_the_iso_date_widget():
    checked = 0
    for form_class in _all_form_classes():
        for name, field in getattr(form_class, "base_fields", {}).items():
            where = f"{form_class.__module__}.{form_class.__name__}.{name}"
            if isinstance(field, forms.DateTimeField):
                assert isinstance(field.widget, DateTimeInput | forms.HiddenInput), where
                checked += 1
            elif isinstance(field, forms.DateField):
                assert isinstance(field.widget, DateInput | forms.HiddenInput), where
                checked += 1
    assert checked >= 15  # the project's date fields were found at all


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_date_widgets_write_iso_values_in_every_language(language):
    from django.utils import translation

    with translation.override(language):
        html = forms.DateField(widget=DateInput).widget.render("d", dt.date(1990, 7, 15))
        assert 'type="date"' in html and 'value="1990-07-15"' in html
        html = DateTimeInput().render("t", dt.datetime(2026, 3, 1, 9, 30))
        assert 'type="datetime-local"' in html and 'value="2026-03-01T09:30"' in html


def test_every_edit_route_has_a_case():
    """A new ``…edit…`` URL must be added to CASES above."""
    from django.urls import URLResolver, get_resolver

    def names(resolver, prefix=""):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                yield from names(p, f"{prefix}{p.namespace}:" if p.namespace else prefix)
            elif p.name:
                yield prefix + p.name

    edit_routes = {n for n in names(get_resolver()) if "edit" in n.rsplit(":", 1)[-1]}
    assert edit_routes and edit_routes <= {c.url for c in CASES}
