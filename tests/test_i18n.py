"""The UI is written in Chinese and available in English: the language switch, the default, and
the English catalogue (complete, compiled, in step with the source strings)."""

from __future__ import annotations

import ast
import gettext
import html
import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_FILE = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def visible_text(content: bytes) -> str:
    body = content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def switch_language(client, code: str, next_url: str = "/"):
    response = client.post("/i18n/setlang/", {"language": code, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url
    return response


# --- the language switch ----------------------------------------------------------------------


def test_login_page_is_chinese_by_default(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    text = visible_text(response.content)
    assert "登录" in text
    assert "Sign in" not in text


def test_chinese_browser_gets_chinese(client):
    response = client.get("/accounts/login/", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-hans">' in response.content.decode()
    assert "Sign in" not in visible_text(response.content)


def test_english_browser_still_gets_chinese_until_the_user_switches(client):
    """Chinese by default whatever the browser asks for; only the language switch (cookie) changes it."""
    response = client.get("/accounts/login/", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="zh-hans">' in response.content.decode()
    assert "Sign in" not in visible_text(response.content)


@pytest.mark.parametrize(
    "cookie, lang",
    [("EN", "en"), ("zh_Hans", "zh-hans"), ("ZH-HANS", "zh-hans"), ("fr", "zh-hans"), ("", "zh-hans")],
)
def test_language_cookie_spellings(client, cookie, lang):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
    response = client.get("/accounts/login/")
    assert f'<html lang="{lang}">' in response.content.decode()
    assert response["Content-Language"] == lang and "Cookie" in response["Vary"]


def test_set_language_turns_login_page_into_english(client):
    switch_language(client, "en", "/accounts/login/")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    response = client.get("/accounts/login/")
    assert '<html lang="en">' in response.content.decode()
    text = visible_text(response.content)
    assert "Sign in" in text
    assert "Serving the people at the grassroots" in text
    # Nothing Chinese is left but proper names: the site's name and the language's own name.
    allowed = {str(settings.JINSHEQU_SITE_NAME), "中文"}
    leftovers = set(CJK.findall(text)) - allowed
    assert not leftovers, f"untranslated on the English login page: {sorted(leftovers)}"


def test_set_language_turns_home_page_into_english_and_back(client, world, login):
    login(world.a.users["community_admin"])
    chinese = client.get("/")
    assert "工作台" in visible_text(chinese.content)

    switch_language(client, "en")
    english = client.get("/")
    assert english.status_code == 200
    text = visible_text(english.content)
    assert '<html lang="en">' in english.content.decode()
    assert "Dashboard" in text
    assert "Community administrator" in text
    assert "工作台" not in text and "退出" not in text
    # What stays Chinese is data (names), never interface text.
    allowed = {str(settings.JINSHEQU_SITE_NAME), "中文", world.a.community.name}
    leftovers = set(CJK.findall(text)) - allowed
    assert not leftovers, f"untranslated on the English home page: {sorted(leftovers)}"

    switch_language(client, "zh-hans")
    assert "工作台" in visible_text(client.get("/").content)


def test_set_language_rejects_unknown_language(client):
    client.post("/i18n/setlang/", {"language": "xx", "next": "/accounts/login/"})
    response = client.get("/accounts/login/")
    assert '<html lang="zh-hans">' in response.content.decode()


# --- the catalogue ------------------------------------------------------------------------------


def read_po(path: Path) -> dict[tuple[str, str], tuple[str | list[str], bool]]:
    """A small reader for the .po files ``makemessages`` writes.

    Returns ``{(msgctxt, msgid): (msgstr or [plural forms], fuzzy)}`` without the header entry.
    """
    entries: dict = {}
    fields: dict[str, str] = {}
    current = None
    fuzzy = False

    def flush():
        nonlocal fields, fuzzy, current
        if "msgid" in fields and fields["msgid"]:
            key = (fields.get("msgctxt", ""), fields["msgid"])
            if "msgid_plural" in fields:
                forms = [v for k, v in sorted(fields.items()) if k.startswith("msgstr[")]
                entries[key] = (forms, fuzzy)
            else:
                entries[key] = (fields.get("msgstr", ""), fuzzy)
        fields, fuzzy, current = {}, False, None

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = line.strip()
        if not line:
            flush()
        elif line.startswith("#~"):
            continue  # obsolete entries are not compiled
        elif line.startswith("#,"):
            fuzzy = fuzzy or "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            fields[current] += ast.literal_eval(line)
        else:
            keyword, _, rest = line.partition(" ")
            if keyword == "msgctxt" and "msgid" in fields:
                flush()
            current = keyword
            fields[current] = ast.literal_eval(rest)
    return entries


def test_english_catalogue_is_complete():
    entries = read_po(PO_FILE)
    assert len(entries) > 50
    fuzzy = [msgid for (_, msgid), (_, is_fuzzy) in entries.items() if is_fuzzy]
    empty = [
        msgid
        for (_, msgid), (msgstr, _) in entries.items()
        if (not msgstr if isinstance(msgstr, str) else not all(msgstr))
    ]
    # Chinese may stay only where it is quoted on purpose (column headings of Chinese spreadsheets).
    still_chinese = [
        msgid
        for (_, msgid), (msgstr, _) in entries.items()
        if isinstance(msgstr, str) and CJK.search(re.sub(r"“[^”]*”", "", msgstr))
    ]
    assert not fuzzy, f"fuzzy entries are not used at run time; check and unmark them: {fuzzy}"
    assert not empty, f"untranslated entries in {PO_FILE.name}: {empty}"
    assert not still_chinese, f"English translations that contain Chinese: {still_chinese}"


def test_compiled_catalogue_matches_po():
    """The committed .mo is compiled from the committed .po (``make messages`` rebuilds both)."""
    with MO_FILE.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    for (context, msgid), (msgstr, fuzzy) in read_po(PO_FILE).items():
        if fuzzy or not msgstr or not all(msgstr):
            continue  # not compiled; test_english_catalogue_is_complete reports these
        key = f"{context}\x04{msgid}" if context else msgid
        if isinstance(msgstr, list):
            compiled = [catalog._catalog.get((key, i)) for i in range(len(msgstr))]
            assert compiled == msgstr, f"{msgid!r}: .mo is stale, run `make messages`"
        else:
            assert catalog._catalog.get(key) == msgstr, f"{msgid!r}: .mo is stale, run `make messages`"


@pytest.mark.skipif(
    shutil.which("xgettext") is None and not os.environ.get("CI"),
    reason="gettext (xgettext) is not installed: apt-get install gettext",
)
def test_catalogue_covers_every_source_string(tmp_path, monkeypatch):
    """Every string marked for translation in jinshequ/ has an entry in the English .po.

    Extracts into a throw-away copy, so the real catalogue is never touched by the test.
    """
    src = tmp_path / "src"
    shutil.copytree(
        settings.BASE_DIR,
        src,
        ignore=shutil.ignore_patterns("locale", "static", "__pycache__", "*.pyc", "*.sqlite3*"),
    )
    out = tmp_path / "locale"
    out.mkdir()
    monkeypatch.chdir(src)
    with override_settings(LOCALE_PATHS=[out]):
        call_command("makemessages", locale=["en"], verbosity=0, add_location="never")
    extracted = read_po(out / "en" / "LC_MESSAGES" / "django.po")
    assert len(extracted) > 50
    catalogue = read_po(PO_FILE)
    missing = sorted(msgid for (context, msgid) in extracted if (context, msgid) not in catalogue)
    assert not missing, (
        f"{len(missing)} source strings have no English entry; run `make messages`, translate them in "
        f"{PO_FILE.relative_to(settings.PROJECT_DIR)} and run `make messages` again:\n" + "\n".join(missing)
    )
