"""Signing in through a real browser: the login page, a wrong password, and the home page."""

import pytest

from tests.browser.conftest import PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


def test_login_page_then_home_as_community_admin(page, browser_world, live_server):
    page.goto("/")
    assert "/accounts/login/" in page.url  # login required by default
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.get_by_role("button", name="登录").is_visible()
    shot(page, "login_desktop")

    login(page, browser_world.a.users["community_admin"].username)
    assert page.url == f"{live_server.url}/"
    assert page.locator("h1").inner_text() == "工作台"
    assert "社区管理员" in page.locator("nav").inner_text()
    assert "东风社区" in page.locator("nav").inner_text()
    shot(page, "home_community_admin_desktop")


def test_wrong_password_shows_chinese_error(page, browser_world):
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(browser_world.a.users["community_admin"].username)
    page.locator("input[name=password]").fill("not-the-password")
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    assert "/accounts/login/" in page.url
    assert "用户名或密码不正确" in page.locator(".alert-danger").inner_text()


def test_language_select_switches_to_english_without_a_click_on_the_button(new_page, browser_world):
    """The footer's language select submits itself (app.js, under the CSP) and the page turns English."""
    page = new_page(viewport=PHONE)
    page.goto("/accounts/login/")
    with page.expect_navigation():
        page.locator("select[name=language]").select_option("en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert horizontal_overflow(page) <= 0
    shot(page, "login_phone_english")

    login(page, browser_world.a.users["community_admin"].username)
    assert page.locator("h1").inner_text() == "Dashboard"
    assert horizontal_overflow(page) <= 0
    shot(page, "home_phone_english")
