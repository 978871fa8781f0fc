"""Every page reads in English when English is chosen (issue 8, "English everywhere").

The crawler's matrix (tests/test_access_matrix.py) is replayed with the language cookie set to English: every
page each role may GET; and, by the first role allowed to, every form submitted empty (the form with its errors)
and every action POSTed and followed to the page that shows its flash message. Whatever Chinese is left on a page must
be user data: every text value stored in the database (names, places, units, reasons typed in) and the values
the crawl itself submits are taken out of the page first; any Chinese that remains is interface text that
was not translated. PDFs stay Chinese on purpose and downloads are not pages, so binary routes are skipped.
"""

from __future__ import annotations

import html
import re

from django.apps import apps
from django.conf import settings
from django.db import models

from tests.test_access_matrix import (
    ANON,
    ROLES,
    ROUTES,
    Ctx,
    body_of,
    build_url,
    client_for,
    crawl_world,  # noqa: F401 (the fixture)
    request,
    savepoint,
    user_for,
)

# Chinese characters and Chinese punctuation (U+3000, the ideographic space, is only a space: left out)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3001-\u303f\uff00-\uffef]+")
ATTRIBUTES = re.compile(
    r"""\b(?:placeholder|title|aria-label|alt|data-label|data-confirm)=["']([^"']*)["']"""
)
# Proper names that are the same in every language: the site's name, and Chinese in its own language menu.
NAMES = {"中文", "简体中文"}


def page_text(raw: str) -> str:
    """The visible text of a page, plus the attributes a user reads (placeholders, titles, labels)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S)
    attributes = " ".join(ATTRIBUTES.findall(body))
    body = re.sub(r"<option\b[^>]*\blang=[\"']zh[^>]*>.*?</option>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body) + " " + attributes)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def stored_text() -> set[str]:
    """Every text value in the database (JSON included), the households' decrypted addresses and the first
    character of each name (the avatars): what users and the test world typed is data, not interface."""
    from jinshequ.members.importers import MemberImporter
    from jinshequ.posts.models import Household
    from jinshequ.units.importers import UnitImporter

    IMPORTERS = (MemberImporter, UnitImporter)
    from jinshequ.posts.services import household_address, mask_address

    values: set[str] = set()
    for model in apps.get_models():
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField) and not f.choices
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields):
            values.update(v for v in _strings(list(row)) if CJK.search(v))
    for importer in IMPORTERS:  # the spreadsheets' Chinese column headings, which files must use
        for column in importer.columns:
            values.update({column.heading, *column.aliases})
    for household in Household.objects.all():
        address = household_address(household)
        values.update({address, mask_address(address), *CJK.findall(address)})
    values.update(v[0] for v in list(values) if CJK.match(v))
    return values


def submitted_text(data: dict | None) -> set[str]:
    if not data:
        return set()
    out = set()
    for value in data.values():
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, str) and CJK.search(v):
                out.add(v)
    return out


def untranslated(text: str, data: set[str]) -> list[str]:
    """Chinese runs left once proper names and data are taken out (single characters, such as an avatar's
    initial, only when they stand alone)."""
    for value in sorted(data, key=len, reverse=True):
        if len(value) > 1:
            text = text.replace(value, " ")
    for value in sorted(NAMES | {str(settings.JINSHEQU_SITE_NAME)}, key=len, reverse=True):
        text = text.replace(value, " ")
    # Chinese quoted on purpose: the values a Chinese spreadsheet must contain (“男” (male), “、”)
    text = re.sub(r"“[^”]{1,12}”", " ", text)
    # a run of four or more characters inside a stored value is that value shortened (truncatechars)
    return sorted(
        run
        for run in set(CJK.findall(text)) - data
        if len(run) < 4 or not any(run in value for value in data)
    )


def english_client(user):
    client = client_for(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def check(where: str, response, data: set[str], problems: list[str]) -> None:
    """Chinese left on the page once the data is taken out; the data is read again from the database (as
    the request left it) before a page is blamed, since routes create objects of their own."""
    if not response.get("Content-Type", "").startswith("text/html") or not response.content.strip():
        return
    raw = body_of(response)
    if response.status_code == 200 and "<html" in raw[:400] and 'lang="en"' not in raw[:400]:
        problems.append(f"{where}: not rendered in English")
    text = page_text(raw)
    left = untranslated(text, data) and untranslated(text, data | stored_text())
    if left:
        problems.append(f"{where}: Chinese interface text {left[:8]}")


def test_every_page_form_and_flash_message_is_english_for_every_role(crawl_world):  # noqa: F811
    data = stored_text()
    problems: list[str] = []
    for role in ROLES:
        user = user_for(crawl_world, role)
        for route in ROUTES:
            if route.binary:
                continue
            can_get = route.get is not None and (role in route.get or (role == ANON and route.public))
            can_post = route.post is not None and (role in route.post or (role == ANON and route.public))
            if can_get:
                with savepoint():
                    ctx = Ctx(crawl_world, user, role, "a")
                    url, query = build_url(route, ctx)
                    full, response = request(english_client(user), "get", url, query, None)
                    check(f"{role} GET {full}", response, data, problems)
            # forms and actions: once per route, by the first role allowed (the messages are the same for all)
            first_poster = next(
                (
                    r
                    for r in ROLES
                    if route.post is not None and (r in route.post or (r == ANON and route.public))
                ),
                None,
            )
            if can_post and role == first_poster and not route.to_login and route.name != "set_language":
                if can_get:  # a form: submitted empty, it comes back with its errors
                    with savepoint():
                        ctx = Ctx(crawl_world, user, role, "a")
                        url, query = build_url(route, ctx)
                        # blank values (an empty body would read as no submission at all on some pages)
                        blank = dict.fromkeys(route.data(ctx) if route.data else (), "") or {"submitted": ""}
                        full, response = request(english_client(user), "post", url, query, blank)
                        check(f"{role} POST(empty) {full}", response, data, problems)
                with savepoint():  # the action, then the page that shows its flash message
                    ctx = Ctx(crawl_world, user, role, "a")
                    url, query = build_url(route, ctx)
                    payload = route.data(ctx) if route.data else {}
                    client = english_client(user)
                    seen = (
                        data | submitted_text(payload) | stored_text()
                    )  # before the action: a deleted title
                    full, response = request(client, "post", url, query, payload)
                    check(f"{role} POST {full}", response, seen, problems)
                    location = response.get("Location", "")
                    if response.status_code in (301, 302, 303) and location.startswith("/"):
                        check(f"{role} POST {full} → {location}", client.get(location), seen, problems)
    assert not problems, f"{len(problems)} pages with Chinese interface text in English:\n" + "\n".join(
        problems
    )
