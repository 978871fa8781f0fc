"""The navigation bar fits on one line at 1280 px in Chinese and in English, for every role's menu, and
the language menu names each language in itself (中文, English)."""

import pytest
from django.conf import settings

from tests.browser.conftest import ARTIFACTS, DESKTOP, login

pytestmark = pytest.mark.browser

ROLES = (
    "city_admin",
    "district_admin",
    "street_admin",
    "community_admin",
    "unit_admin",
    "inspector",
    "member",
)

# The menu entries, the user block and the brand: one line when they all sit at the same height and none
# of them is taller than one line of text (an entry whose words wrap is two lines high).
NAV_LINES = """() => {
  const nav = document.querySelector('nav.navbar');
  const items = [...nav.querySelectorAll('#mainnav > ul > li > a, .navbar-user > *, .navbar-brand')];
  return {tops: items.map(e => Math.round(e.getBoundingClientRect().top)),
          heights: items.map(e => Math.round(e.getBoundingClientRect().height)),
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_navigation_fits_one_line_at_1280_px(new_page, browser_world, live_server, language):
    problems = []
    for role in ROLES:
        user = browser_world.city_admin if role == "city_admin" else browser_world.a.users[role]
        page = new_page(viewport=DESKTOP)
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
        )
        login(page, user.username)
        assert page.locator("html").get_attribute("lang") == language
        found = page.evaluate(NAV_LINES)
        page.locator("nav.navbar").screenshot(path=str(shot_path(f"nav_{language}_{role}")))
        if (
            max(found["tops"]) - min(found["tops"]) > 12
            or max(found["heights"]) > 48
            or found["overflow"] > 0
        ):
            problems.append(f"{role} in {language}: menu on more than one line {found}")
        page.context.close()
    assert not problems, "\n".join(problems)


def test_language_menu_names_each_language_in_itself(new_page, browser_world):
    page = new_page(viewport=DESKTOP)
    page.goto("/accounts/login/")
    options = page.locator("select[name=language] option").all_inner_texts()
    assert [o.strip() for o in options] == ["中文", "English"]


def shot_path(name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
