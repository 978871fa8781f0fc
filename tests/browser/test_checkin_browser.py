"""Activities in a real browser: a member on a 360 px phone signs up, then checks in and out by opening the
URL read (with a QR decoder) from the venue screen the community admin shows; the screen fetches a fresh
code by itself (checkin.js) without breaking the CSP."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def act_world(browser_world):
    import datetime as dt

    from django.utils import timezone

    from jinshequ.activities import services as acts
    from jinshequ.members import reporting as rp
    from jinshequ.posts import services as ps
    from jinshequ.posts.models import PostCategory
    from tests.factories import make_campaign

    w = browser_world
    make_campaign()
    admin = w.a.users["community_admin"]
    for m in w.a.members:
        rp.registration_register_at_office(member=m, community=w.a.community, actor=admin)
    env, _ = PostCategory.objects.get_or_create(name="环境整治")
    health, _ = PostCategory.objects.get_or_create(name="医疗健康")
    team = ps.team_create(community=w.a.community, name="环保志愿服务队", actor=admin)
    now = timezone.now()
    w.activity = acts.activity_create(
        community=w.a.community,
        category=env,
        title="楼道清洁日：清理杂物、张贴垃圾分类指引",
        place="幸福小区 3 号楼",
        starts_at=now + dt.timedelta(minutes=10),
        ends_at=now + dt.timedelta(hours=2),
        capacity=10,
        team=team,
        description="请自带手套。社区准备扫帚、垃圾袋和宣传单。",
        actor=admin,
    )
    tomorrow = now + dt.timedelta(days=1)
    full = acts.activity_create(
        community=w.a.community,
        category=health,
        title="义诊：测血压、测血糖",
        place="社区卫生服务站",
        starts_at=tomorrow,
        ends_at=tomorrow + dt.timedelta(hours=3),
        capacity=1,
        actor=admin,
    )
    acts.signup_create(activity=full, member=w.a.members[1], actor=None)
    w.full = full
    return w


def decode_qr(page, selector: str) -> str:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    png = page.locator(selector).screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"no QR code could be read in {selector}"
    return found[0].text


def test_member_signs_up_and_checks_in_with_the_venue_qr(new_page, act_world):
    from jinshequ.activities.models import Attendance, Signup

    w = act_world
    phone = new_page(viewport=PHONE)
    phone.on("dialog", lambda dialog: dialog.accept())
    login(phone, w.a.users["member"].username)
    phone.goto("/activities/")
    expect(phone.locator("article.activity-card")).to_have_count(2)
    expect(phone.locator("article.activity-card").last).to_contain_text("名额已满，可报名候补")
    assert horizontal_overflow(phone) <= 0
    shot(phone, "activities_member_list_360")

    phone.locator("article.activity-card").first.locator("a").first.click()
    phone.wait_for_url(f"**/activities/{w.activity.pk}/")
    with phone.expect_navigation():
        phone.get_by_role("button", name="报名参加").click()
    expect(phone.locator(".alert-success")).to_contain_text("报名成功")
    expect(phone.locator(".my-signup")).to_contain_text("已报名")
    assert horizontal_overflow(phone) <= 0
    shot(phone, "activities_member_signed_up_360")

    # the venue screen on the admin's laptop
    screen = new_page(viewport=DESKTOP)
    login(screen, w.a.users["community_admin"].username)
    screen.goto(f"/activities/manage/{w.activity.pk}/screen/")
    expect(screen.locator(".screen-qr svg")).to_be_visible()
    expect(screen.locator("[data-countdown]")).to_contain_text("秒后更新二维码")
    shot(screen, "activities_checkin_screen")
    url = decode_qr(screen, ".screen-qr")
    assert f"/activities/checkin/{w.activity.pk}-i-" in url

    # the member's phone camera opens the link
    phone.goto(url)
    expect(phone.locator(".checkin-card")).to_contain_text("楼道清洁日")
    assert horizontal_overflow(phone) <= 0
    shot(phone, "activities_member_checkin_confirm_360")
    with phone.expect_navigation():
        phone.get_by_role("button", name="确认签到").click()
    expect(phone.locator(".alert-success")).to_contain_text("签到成功")
    assert horizontal_overflow(phone) <= 0
    shot(phone, "activities_member_checked_in_360")
    signup = Signup.objects.get(activity=w.activity, member=w.a.members[0])
    assert signup.status == "attended" and Attendance.objects.filter(signup=signup, method="qr").count() == 1

    # scanning the same code again does nothing twice
    phone.goto(url)
    expect(phone.locator(".checkin-done")).to_contain_text("您已于")
    assert Attendance.objects.filter(signup=signup).count() == 1

    # the screen fetches a new code at the next 30-second window by itself
    first = screen.locator(".screen-qr").get_attribute("data-checkin-url")
    screen.wait_for_function(
        "old => { const el = document.querySelector('.screen-qr'); return el && el.dataset.checkinUrl !== old; }",
        arg=first,
        timeout=40_000,
    )
    expect(screen.locator(".screen-counts")).to_contain_text("已签到 1 人")
    new_url = decode_qr(screen, ".screen-qr")
    assert new_url != url and new_url.startswith(url.rsplit("-", 1)[0])

    # check-out mode, then the attendees page
    screen.get_by_role("link", name="签退码").click()
    expect(screen.locator(".screen-mode")).to_contain_text("扫码签退")
    out_url = decode_qr(screen, ".screen-qr")
    phone.goto(out_url)
    with phone.expect_navigation():
        phone.get_by_role("button", name="确认签退").click()
    expect(phone.locator(".alert-success")).to_contain_text("签退成功")
    shot(phone, "activities_member_checked_out_360")
    screen.goto(f"/activities/manage/{w.activity.pk}/")
    expect(screen.locator(".attendee-table")).to_contain_text(w.a.members[0].name)
    shot(screen, "activities_admin_attendees")


def test_admin_scans_a_contact_card_and_lists_activities(new_page, act_world):
    from jinshequ.members.reporting import card_for_member

    w = act_world
    page = new_page(viewport=DESKTOP)
    login(page, w.a.users["community_admin"].username)
    page.goto("/activities/manage/")
    expect(page.locator(".activity-table")).to_contain_text("楼道清洁日")
    shot(page, "activities_admin_list")
    page.goto(f"/activities/manage/{w.activity.pk}/scan/")
    number = card_for_member(w.a.members[2]).number
    page.locator("input[name=code]").fill(number)
    with page.expect_navigation():
        page.locator("input[name=code]").press("Enter")
    expect(page.locator(".scan-result")).to_contain_text("签到成功")
    expect(page.locator(".scan-result")).to_contain_text(w.a.members[2].name)
    expect(page.locator("input[name=code]")).to_be_focused()
    shot(page, "activities_admin_scan")
    page.goto("/activities/manage/new/")
    shot(page, "activities_admin_form")


def test_no_shows_and_confirmation_after_an_activity(new_page, act_world):
    """An activity that ended: one member checked in without checking out, one never came. The admin sees
    the no-show and confirms the other's hours; the no-show member sees it on their phone."""
    import datetime as dt

    from django.utils import timezone

    from jinshequ.activities import services as acts
    from jinshequ.activities.models import Activity, Attendance, ServiceRecord
    from tests.securitykit import FrozenClock

    w = act_world
    a = w.activity
    m0, m1, m2 = w.a.members
    for m in (m0, m1):
        acts.signup_create(activity=a, member=m, actor=None)
    with FrozenClock(a.starts_at).frozen():
        acts.attendance_check_in(activity=a, member=m0, actor=None)
    shift = a.ends_at - timezone.now() + dt.timedelta(hours=1)  # move the whole activity into the past
    Activity.objects.filter(pk=a.pk).update(starts_at=a.starts_at - shift, ends_at=a.ends_at - shift)
    Attendance.objects.filter(signup__activity=a).update(checked_in_at=a.starts_at - shift)
    assert acts.activities_close_ended() == {"activities": 1, "no_shows": 1}
    acts.signup_create(activity=w.full, member=m0, actor=None)  # waitlisted for tomorrow's

    page = new_page(viewport=DESKTOP)
    login(page, w.a.users["community_admin"].username)
    page.goto(f"/activities/manage/{a.pk}/")
    expect(page.locator("tr.attendee-no_show")).to_contain_text(m1.name)
    shot(page, "activities_admin_after_end")
    row = page.locator("tr.attendee-attended")
    row.locator("summary").click()
    row.locator("input[name=hours]").fill("1.5")
    with page.expect_navigation():
        row.get_by_role("button", name="确认").click()
    expect(page.locator(".alert-success")).to_contain_text("1.5 小时")
    assert ServiceRecord.objects.get(member=m0, activity=a).evidence == 2
    page.goto("/activities/manage/no-shows/")
    expect(page.locator(".no-show-table")).to_contain_text(m1.name)
    shot(page, "activities_admin_no_shows")

    phone = new_page(viewport=PHONE)
    from tests.factories import make_user

    make_user("member_a1", "member", member=m1)
    login(phone, "member_a1")
    phone.goto(f"/activities/{a.pk}/")
    expect(phone.locator(".my-signup")).to_contain_text("未到场")
    assert horizontal_overflow(phone) <= 0
    shot(phone, "activities_member_no_show_360")
    phone2 = new_page(viewport=PHONE)
    login(phone2, w.a.users["member"].username)
    phone2.goto("/activities/")
    assert horizontal_overflow(phone2) <= 0
    shot(phone2, "activities_member_list_mine_360")
    phone2.goto(f"/activities/{w.full.pk}/")
    expect(phone2.locator(".my-signup")).to_contain_text("候补名单第 1 位")
    shot(phone2, "activities_member_waitlisted_360")
