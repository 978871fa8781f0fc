"""Members in a real browser: find by pinyin initials, open, reveal with a reason; the create form's
Chinese validation; and the member's own page at phone width with the navbar menu working."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


def test_community_admin_finds_member_by_initials_and_reveals_id_number(page, browser_world):
    from jinshequ.accounts.models import AuditEvent

    side = browser_world.a
    target = next(m for m in side.members if m.name == "单晓明")
    full_number = target.reveal_id_number()

    login(page, side.users["community_admin"].username)
    page.locator("nav").get_by_role("link", name="党员", exact=True).click()
    page.wait_for_url("**/members/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(len(side.members))
    assert "李娜" not in page.locator("#results").inner_text()  # the other community's member
    shot(page, "member_list_desktop")

    # 单 reads "shan" as a surname: 单晓明 → sxm.
    page.locator("input[name=q]").fill("sxm")
    page.locator("input[name=q]").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("单晓明")

    page.get_by_role("link", name="单晓明").click()
    page.wait_for_url(f"**/members/{target.pk}/")
    id_value = page.locator("#id-number-value")
    expect(id_value).to_have_text(target.id_number_masked)
    assert "*" in target.id_number_masked
    assert full_number not in page.content()
    shot(page, "member_detail_masked")

    page.locator("#reveal-field").select_option("id_number")
    page.locator("#reveal-reason").fill("核对报到信息")
    with page.expect_navigation():
        page.get_by_role("button", name="查看完整号码").click()
    expect(page.locator("#id-number-value")).to_have_text(full_number)
    shot(page, "member_detail_revealed")

    event = AuditEvent.objects.get(event="member.revealed")
    assert event.actor == side.users["community_admin"]
    assert event.reason == "核对报到信息"
    assert full_number not in str(event.changes)


def test_member_create_with_bad_checksum_shows_chinese_error(page, browser_world):
    from jinshequ.core.idcard import check_char
    from jinshequ.members.models import Member

    side = browser_world.a
    first17 = "21050219850315123"
    wrong = next(c for c in "0123456789X" if c != check_char(first17))
    before = Member.objects.count()

    login(page, side.users["community_admin"].username)
    page.goto("/members/new/")
    page.locator("input[name=name]").fill("赵新民")
    page.locator("input[name=id_number]").fill(first17 + wrong)
    page.locator("select[name=work_unit]").select_option(str(side.unit.pk))
    page.locator("select[name=community]").select_option(str(side.community.pk))
    with page.expect_navigation():
        page.get_by_role("button", name="保存").click()
    expect(page.locator(".alert-danger").first).to_contain_text("请修改下面标出的错误后再保存。")
    expect(page.locator(".errorlist")).to_contain_text("身份证号校验位不正确，请核对是否输错。")
    assert Member.objects.count() == before
    shot(page, "member_create_bad_checksum")


def test_member_own_page_at_phone_width(new_page, browser_world):
    side = browser_world.a
    page = new_page(viewport=PHONE)
    page.goto("/accounts/login/")
    assert horizontal_overflow(page) <= 0
    shot(page, "login_phone")

    login(page, side.users["member"].username)
    page.wait_for_url("**/members/me/")
    own = side.members[0]
    expect(page.locator("main")).to_contain_text(own.name)
    expect(page.locator("main")).to_contain_text(own.id_number_masked)
    assert own.reveal_id_number() not in page.content()
    assert horizontal_overflow(page) <= 0, "the member's page is wider than a 360 px phone"
    shot(page, "member_me_phone")

    # Bootstrap's JS runs under the CSP: the collapsed navbar opens when the toggler is tapped.
    menu = page.locator("#mainnav")
    expect(menu).to_be_hidden()
    page.locator(".navbar-toggler").click()
    expect(menu).to_have_class(re.compile(r"\bshow\b"))  # set when the collapse transition ends
    expect(menu).to_be_visible()
    expect(menu.get_by_role("link", name="我的")).to_be_visible()
    shot(page, "member_me_phone_menu_open")


def test_city_admin_searches_a_long_community_list_under_the_strict_csp(page, browser_world):
    """225 communities are not one <select>: typing asks the server for the matches (htmx, no CSP violation,
    which the page fixture checks) and choosing one filters the list."""
    from jinshequ.members.choices import PICK_LIMIT
    from jinshequ.regions.models import RegionKind
    from tests.factories import make_member, make_region

    w = browser_world
    for i in range(PICK_LIMIT + 5):
        make_region(f"幸福{i:03d}社区", RegionKind.COMMUNITY, w.a.street)
    far = make_region("远郊社区", RegionKind.COMMUNITY, w.b.street)
    make_member("赵远", w.b.unit, far)

    login(page, w.city_admin.username)
    page.goto("/members/")
    select = page.locator("select[name=community]")
    expect(select.locator("option")).to_have_count(1)
    page.locator("input[name=community_name]").press_sequentially("远郊", delay=50)
    expect(select.locator("option")).to_have_count(2)
    select.select_option(str(far.pk))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("赵远")
