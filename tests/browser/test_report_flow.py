"""Report-in end to end in a real browser: the member on a 360 px phone, the community admin on a desktop.

The three ways (the member's own request, registration at the office by card number or scanned QR text,
the community poster's QR) each lead to the same roster state. Screenshots of every page go to
``tests/_artifacts/report_*.png``; the QR codes on the card and the poster are decoded from the
screenshots, so they are known to scan.
"""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def campaign(browser_world):
    from tests.factories import make_campaign

    return make_campaign()


def roster_status(member):
    from jinshequ.members.models import Member
    from jinshequ.members.reporting_selectors import with_report_status

    return with_report_status(Member.objects.filter(pk=member.pk)).get()


def decode_qr(page, selector: str) -> str:
    """Decode the QR code drawn in ``selector`` from a screenshot of it."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    png = page.locator(selector).screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"no QR code could be read in {selector}"
    return found[0].text


def phone_page(new_page):
    page = new_page(viewport=PHONE)
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def desktop_page(new_page):
    page = new_page(viewport=DESKTOP)
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def fits_phone(page) -> None:
    assert horizontal_overflow(page) <= 0, f"{page.url} is wider than a 360 px phone"


def test_member_reports_in_on_phone_and_admin_confirms(new_page, browser_world, campaign):
    from jinshequ.members import reporting as rp
    from jinshequ.members.reporting_selectors import ReportStatus

    side = browser_world.a
    member = side.members[0]

    # The member, on a phone: home → 去报到 → the proposed home community → 确认报到.
    phone = phone_page(new_page)
    login(phone, member.user.username)
    phone.wait_for_url("**/members/me/")
    expect(phone.locator("#report-status-label")).to_have_text("未报到")
    fits_phone(phone)
    shot(phone, "report_member_home_outstanding_phone")

    phone.locator("#go-report").click()
    phone.wait_for_url("**/report/")
    expect(phone.locator("#choose-home")).to_contain_text(side.community.name)
    fits_phone(phone)
    shot(phone, "report_member_choose_phone")
    phone.locator("#community-filter").fill("xh")  # 西湖社区 by its initials, filtered as one types
    expect(phone.locator("#community-list a:visible")).to_have_count(1)
    expect(phone.locator("#community-list a:visible")).to_contain_text("西湖社区")
    phone.locator("#community-filter").fill("不存在的社区")
    expect(phone.locator("#community-empty")).to_be_visible()
    phone.locator("#community-filter").fill("")

    phone.locator("#choose-home").click()
    expect(phone.locator("#confirm-community")).to_have_text(side.community.name)
    fits_phone(phone)
    shot(phone, "report_member_confirm_phone")
    with phone.expect_navigation():
        phone.locator("#confirm-report").click()
    phone.wait_for_url("**/members/me/")
    expect(phone.locator("#report-status-label")).to_have_text("待确认")
    expect(phone.locator("#report-status")).to_contain_text(f"等待 {side.community.name} 确认")
    expect(phone.locator(".alert-success")).to_contain_text("已向东风社区提交报到申请")
    fits_phone(phone)
    shot(phone, "report_member_home_pending_phone")
    assert roster_status(member).report_status == ReportStatus.PENDING

    # The full-screen contact card: its QR code scans to the member's own card.
    phone.goto("/report/card/")
    fits_phone(phone)
    shot(phone, "report_member_card_issue_phone")
    with phone.expect_navigation():
        phone.locator("#issue-card").click()
    expect(phone.locator("#card-name")).to_have_text(member.name)
    fits_phone(phone)
    shot(phone, "report_member_card_phone")
    token = decode_qr(phone, "#card-qr")
    assert rp.card_from_scan(token).member_id == member.pk

    # The community admin, on a desktop: the queue → 确认.
    desk = desktop_page(new_page)
    login(desk, side.users["community_admin"].username)
    desk.goto("/report/pending/")
    row = desk.locator("tbody tr", has_text=member.name)
    expect(row).to_contain_text(member.work_unit.name)
    expect(row).to_contain_text("本人申请")
    shot(desk, "report_admin_pending_desktop")
    with desk.expect_navigation():
        row.get_by_role("button", name=f"确认{member.name}的报到").click()
    expect(desk.locator(".alert-success")).to_contain_text(f"已确认{member.name}的报到")
    expect(desk.locator(".empty-state")).to_contain_text("暂无待确认的报到")
    shot(desk, "report_admin_pending_empty_desktop")

    # Back on the phone: 已报到, and a notice in the inbox.
    phone.goto("/members/me/")
    expect(phone.locator("#report-status-label")).to_have_text("已报到")
    expect(phone.locator("#report-status")).to_contain_text(f"已报到至 {side.community.name}")
    expect(phone.locator("#inbox")).to_contain_text("报到已确认")
    fits_phone(phone)
    shot(phone, "report_member_home_reported_phone")
    with phone.expect_navigation():
        phone.locator("#inbox").get_by_role("button", name="全部标为已读").click()
    expect(phone.locator("#unread-count")).to_have_count(0)

    phone.goto("/report/history/")
    expect(phone.locator(".history-item")).to_have_count(1)
    fits_phone(phone)
    shot(phone, "report_member_history_phone")

    row = roster_status(member)
    assert row.report_status == ReportStatus.REPORTED and row.reg_community_id == side.community.pk


def test_office_registration_by_card_number_and_by_scan(new_page, browser_world, campaign):
    from jinshequ.members import reporting as rp
    from jinshequ.members.reporting_selectors import ReportStatus

    side = browser_world.a
    typed, scanned = side.members[1], side.members[2]
    typed_card = rp.card_for_member(typed)
    scanned_token = rp.card_token(rp.card_for_member(scanned))

    desk = desktop_page(new_page)
    login(desk, side.users["community_admin"].username)
    desk.goto("/report/office/")
    expect(desk.locator("#card-code")).to_be_focused()
    shot(desk, "report_admin_office_empty_desktop")

    # Typed with spaces, as printed on the card.
    number = typed_card.number
    desk.locator("#card-code").fill(f"{number[:3]} {number[3:6]} {number[6:]}")
    with desk.expect_navigation():
        desk.get_by_role("button", name="查询").click()
    expect(desk.locator("#found-name")).to_have_text(typed.name)
    expect(desk.locator("main")).to_contain_text(typed.phone_masked)
    shot(desk, "report_admin_office_found_desktop")
    with desk.expect_navigation():
        desk.locator("#office-register").click()
    expect(desk.locator(".alert-success")).to_contain_text(f"{typed.name}已在东风社区完成报到")
    expect(desk.locator(".today-list")).to_contain_text(typed.name)

    # A hand scanner types the QR text and presses Enter.
    desk.locator("#card-code").fill(scanned_token)
    with desk.expect_navigation():
        desk.locator("#card-code").press("Enter")
    expect(desk.locator("#found-name")).to_have_text(scanned.name)
    with desk.expect_navigation():
        desk.locator("#office-register").click()
    expect(desk.locator(".today-list li")).to_have_count(2)
    shot(desk, "report_admin_office_done_desktop")

    # A forged QR text: a clear error, nothing registered.
    desk.locator("#card-code").fill(scanned_token[:-4] + "AAAA")
    with desk.expect_navigation():
        desk.locator("#card-code").press("Enter")
    expect(desk.locator("#office-error")).to_have_text("二维码无效，请出示本人的联系卡。")
    shot(desk, "report_admin_office_forged_desktop")

    for m in (typed, scanned):
        row = roster_status(m)
        assert row.report_status == ReportStatus.REPORTED and row.reg_community_id == side.community.pk

    # The ledger shows both, and its print view.
    desk.goto("/report/ledger/")
    for m in (typed, scanned):
        expect(desk.locator("tbody")).to_contain_text(m.name)
    shot(desk, "report_admin_ledger_desktop")
    desk.locator("#ledger-print").click()
    desk.wait_for_url("**/report/ledger/print/**")
    expect(desk.locator("h1")).to_contain_text("东风社区在职党员报到登记台账")
    shot(desk, "report_admin_ledger_print_desktop")
    desk.emulate_media(media="print")
    expect(desk.locator(".print-toolbar")).to_be_hidden()
    shot(desk, "report_admin_ledger_print_media_print")


def test_member_scans_poster_qr_logs_in_and_admin_batch_confirms(
    new_page, browser_world, campaign, live_server, settings
):
    from jinshequ.members.reporting_selectors import ReportStatus
    from tests.factories import make_user

    settings.JINSHEQU_PUBLIC_URL = live_server.url
    side = browser_world.a
    member = side.members[1]
    make_user("member_qr", "member", member=member)

    desk = desktop_page(new_page)
    login(desk, side.users["community_admin"].username)
    desk.goto("/report/poster/")
    expect(desk.locator("#poster-community")).to_have_text(side.community.name)
    shot(desk, "report_admin_poster_desktop")
    url = decode_qr(desk, "#poster-qr")
    assert url.startswith(f"{live_server.url}/report/qr/")

    # The member is not logged in on the phone: the QR leads through the login and back.
    phone = phone_page(new_page)
    phone.goto(url)
    assert "/accounts/login/" in phone.url
    phone.locator("input[name=username]").fill("member_qr")
    from tests.factories import PASSWORD

    phone.locator("input[name=password]").fill(PASSWORD)
    with phone.expect_navigation():
        phone.locator("form:has(input[name=password]) button[type=submit]").click()
    assert phone.url == url
    expect(phone.locator("#confirm-community")).to_have_text(side.community.name)
    expect(phone.locator("main")).to_contain_text("您扫描的是这个社区的报到二维码")
    fits_phone(phone)
    shot(phone, "report_member_qr_confirm_phone")
    with phone.expect_navigation():
        phone.locator("#confirm-report").click()
    expect(phone.locator("#report-status-label")).to_have_text("待确认")

    # A forged QR: a friendly page (and an audit row).
    phone.goto(url[:-5] + "XXXX/")
    expect(phone.locator("h1")).to_have_text("二维码无法使用")
    fits_phone(phone)
    shot(phone, "report_member_qr_forged_phone")

    # The admin confirms by ticking the row and using the batch button.
    desk.goto("/report/pending/")
    expect(desk.locator("#batch-confirm")).to_be_disabled()
    desk.locator("tbody tr", has_text=member.name).locator("input[name=ids]").check()
    expect(desk.locator("#batch-confirm")).to_be_enabled()
    expect(desk.locator("#batch-confirm")).to_contain_text("（1）")
    with desk.expect_navigation():
        desk.locator("#batch-confirm").click()
    expect(desk.locator(".alert-success")).to_contain_text("已确认 1 人的报到")

    phone.goto("/members/me/")
    expect(phone.locator("#report-status-label")).to_have_text("已报到")
    row = roster_status(member)
    assert row.report_status == ReportStatus.REPORTED and row.reg_community_id == side.community.pk

    from jinshequ.accounts.models import AuditEvent

    assert (
        AuditEvent.objects.filter(event="security.report_qr_rejected", actor__username="member_qr").count()
        == 1
    )


def test_rejection_with_reason_reaches_the_member(new_page, browser_world, campaign):
    from jinshequ.members import reporting as rp

    side = browser_world.a
    member = side.members[0]
    rp.registration_submit(member=member, community=browser_world.b.community, actor=None)

    desk = desktop_page(new_page)
    login(desk, browser_world.b.users["community_admin"].username)
    desk.goto("/report/pending/")
    row = desk.locator("tbody tr", has_text=member.name)
    expect(row).to_contain_text("非本社区登记住址")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("经核实不在本社区居住，请向居住社区报到")
    shot(desk, "report_admin_reject_open_desktop")
    with desk.expect_navigation():
        row.get_by_role("button", name="确定退回").click()
    expect(desk.locator(".alert-success")).to_contain_text("已退回")

    phone = phone_page(new_page)
    login(phone, member.user.username)
    expect(phone.locator("#report-status")).to_contain_text("经核实不在本社区居住")
    expect(phone.locator("#report-status")).to_contain_text("重新报到")
    fits_phone(phone)
    shot(phone, "report_member_home_rejected_phone")
    phone.goto("/report/inbox/")
    expect(phone.locator(".inbox-item.is-unread")).to_have_count(1)
    fits_phone(phone)
    shot(phone, "report_member_inbox_phone")

    # The community pages at phone width, too (the admin may use a phone at the door).
    small = phone_page(new_page)
    login(small, browser_world.a.users["community_admin"].username)
    rp.registration_submit(member=side.members[2], community=side.community, actor=None)
    for url, name in (
        ("/report/pending/", "pending"),
        ("/report/office/", "office"),
        ("/report/ledger/", "ledger"),
    ):
        small.goto(url)
        fits_phone(small)
        shot(small, f"report_admin_{name}_phone")
