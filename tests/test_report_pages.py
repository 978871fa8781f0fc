"""Report-in pages: the member's home and the three ways to report in, the community queue, the office,
the ledger (page, print, export) and the poster — rules, scopes, masking and query bounds."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from jinshequ.accounts.models import AuditEvent, Notification
from jinshequ.members import reporting as rp
from jinshequ.members.models import Member, Registration, RegistrationMethod, RegistrationStatus
from jinshequ.members.reporting_selectors import ReportStatus, with_report_status
from jinshequ.members.services import member_mark_left
from tests.factories import CANARY_IDS, CANARY_PHONES, make_campaign, make_member, make_user
from tests.securitykit import LONG_DIGIT_RUN


@pytest.fixture
def campaign(db):
    return make_campaign()


def body(response) -> str:
    return response.content.decode()


def status_of(member) -> Member:
    return with_report_status(Member.objects.filter(pk=member.pk)).get()


def no_canaries(text: str) -> None:
    assert not any(c in text for c in CANARY_IDS | CANARY_PHONES)
    assert not LONG_DIGIT_RUN.search(re.sub(r"<svg.*?</svg>", "", text, flags=re.S))


def qr_url(community) -> str:
    return rp.report_qr_url(community)


# --- the three ways, one result ----------------------------------------------------------------


def test_three_ways_reach_the_same_roster_state(world, campaign, client, login):
    from django.test import Client

    side = world.a
    admin = Client()
    login(side.users["community_admin"], admin)
    self_member, office_member, qr_member = side.members
    for m, name in ((office_member, "office_m"), (qr_member, "qr_m")):
        make_user(name, "member", member=m)
        m.refresh_from_db()

    # 1. self: the member chooses the community on the phone, the community admin confirms.
    login(self_member.user)
    response = client.post("/report/", {"community": side.community.pk})
    assert response.status_code == 302 and response["Location"] == "/members/me/"
    assert status_of(self_member).report_status == ReportStatus.PENDING
    reg = Registration.objects.get(member=self_member, status=RegistrationStatus.PENDING)
    assert reg.method == RegistrationMethod.SELF
    assert admin.post(f"/report/{reg.pk}/confirm/").status_code == 302

    # 2. office: the admin types the member's card number and registers them.
    card = rp.card_for_member(office_member)
    response = admin.post("/report/office/", {"action": "lookup", "code": card.number})
    assert response.status_code == 200 and office_member.name in body(response)
    response = admin.post("/report/office/", {"action": "register", "code": card.number})
    assert response.status_code == 302

    # 3. QR: the member scans the community's poster, confirms; the admin confirms.
    c = Client()
    login(qr_member.user, c)
    url = qr_url(side.community)
    assert side.community.name in body(c.get(url))
    assert c.post(url).status_code == 302
    reg = Registration.objects.get(member=qr_member, status=RegistrationStatus.PENDING)
    assert reg.method == RegistrationMethod.QR
    assert admin.post(f"/report/{reg.pk}/confirm/").status_code == 302

    rows = {m.pk: m for m in with_report_status(Member.objects.filter(pk__in=[m.pk for m in side.members]))}
    assert {r.report_status for r in rows.values()} == {ReportStatus.REPORTED}
    assert {r.reg_community_id for r in rows.values()} == {side.community.pk}
    assert {r.reg_confirmed_on for r in rows.values()} == {timezone.localdate()}
    methods = set(
        Registration.objects.filter(member__in=side.members, status="confirmed").values_list(
            "method", flat=True
        )
    )
    assert methods == {"self", "office", "qr"}
    # and every one of them is in the ledger
    ledger = body(admin.get("/report/ledger/"))
    for m in side.members:
        assert m.name in ledger


# --- the member's home ------------------------------------------------------------------------


def test_member_home_walks_through_every_state(world, campaign, client, login):
    member = world.a.members[0]
    admin = world.a.users["community_admin"]
    login(member.user)
    page = body(client.get("/members/me/"))
    assert "未报到" in page and "去报到" in page and 'href="/report/"' in page
    assert member.id_number_masked in page and member.phone_masked in page
    no_canaries(page)

    reg = rp.registration_submit(member=member, community=world.a.community, actor=member.user)
    page = body(client.get("/members/me/"))
    assert "待确认" in page and "等待" in page and world.a.community.name in page
    assert f'action="/report/{reg.pk}/cancel/"' in page and "撤回" in page

    rp.registration_reject(registration=reg, reason="请先到社区核实住址", actor=admin)
    page = body(client.get("/members/me/"))
    assert "被退回" in page and "请先到社区核实住址" in page and "重新报到" in page
    assert "1 条未读" in page  # the rejection notice

    reg = rp.registration_submit(member=member, community=world.a.community, actor=member.user)
    rp.registration_confirm(registration=reg, actor=admin)
    page = body(client.get("/members/me/"))
    assert "已报到" in page and world.a.community.name in page and "完成报到销号" in page
    assert "重新报到" not in page and "去报到" not in page


def test_member_home_shows_a_pending_transfer_and_an_exemption(world, campaign, client, login):
    member = world.a.members[0]
    rp.registration_register_at_office(
        member=member, community=world.a.community, actor=world.a.users["community_admin"]
    )
    reg = rp.registration_submit(member=member, community=world.b.community, actor=member.user)
    login(member.user)
    page = body(client.get("/members/me/"))
    assert "已报到至 <strong>东风社区</strong>" in page and "转接申请：等待 西湖社区 确认" in page
    assert f'action="/report/{reg.pk}/cancel/"' in page and "原报到继续有效" in page

    other = world.a.members[1]
    make_user("exempt_m", "member", member=other)
    rp.exemption_set(
        member=other,
        reason="sick_leave",
        valid_until=timezone.localdate() + dt.timedelta(days=30),
        actor=world.a.users["unit_admin"],
    )
    login(other.user)
    page = body(client.get("/members/me/"))
    assert "免报到" in page and "病休" in page and "去报到" in page


def test_card_is_issued_on_demand_by_post_and_get_writes_nothing(world, campaign, client, login):
    member = world.a.members[0]
    assert not member.cards.exists()
    login(member.user)
    page = body(client.get("/members/me/"))
    assert "领取联系卡" in page and 'action="/report/card/"' in page
    assert "领取联系卡" in body(client.get("/report/card/"))
    assert not member.cards.exists()  # reading never writes
    response = client.post("/report/card/")
    assert response.status_code == 302 and response["Location"] == "/report/card/"
    card = member.cards.get(is_active=True)
    assert AuditEvent.objects.filter(event="card.issued", object_id=str(card.pk)).count() == 1
    client.post("/report/card/")
    assert member.cards.count() == 1  # not reissued on a second tap
    spaced = " ".join(card.number[i : i + 3] for i in (0, 3, 6))
    page = body(client.get("/members/me/"))
    assert spaced in page and "<svg" in page and 'href="/report/card/"' in page and "领取联系卡" not in page
    assert spaced in body(client.get("/report/card/"))


def test_cancel_withdraws_own_pending_request(world, campaign, client, login):
    member = world.a.members[0]
    reg = rp.registration_submit(member=member, community=world.a.community, actor=member.user)
    login(member.user)
    response = client.post(f"/report/{reg.pk}/cancel/", follow=True)
    assert "已撤回" in body(response)
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.CANCELLED
    assert status_of(member).report_status == ReportStatus.OUTSTANDING
    response = client.post(f"/report/{reg.pk}/cancel/", follow=True)
    assert "这条报到已经处理过了，不能撤回。" in body(response)


def test_member_cannot_cancel_another_members_request(world, campaign, client, login):
    other = world.b.members[0]
    reg = rp.registration_submit(member=other, community=world.b.community, actor=None)
    login(world.a.members[0].user)
    assert client.post(f"/report/{reg.pk}/cancel/").status_code == 404
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.PENDING


def test_inbox_mark_one_and_all_read_touches_only_own(world, campaign, client, login):
    from jinshequ.accounts.notify import notify_member

    member, other = world.a.members[0], world.b.members[0]
    mine = [notify_member(member=member, kind="t", title=f"通知{i}") for i in range(3)]
    theirs = notify_member(member=other, kind="t", title="别人的通知")
    login(member.user)
    assert "3 条未读" in body(client.get("/members/me/"))
    client.post("/report/inbox/", {"id": [mine[0].pk, theirs.pk]})
    assert Notification.objects.filter(member=member, read_at__isnull=True).count() == 2
    theirs.refresh_from_db()
    assert theirs.read_at is None
    response = client.post("/report/inbox/", {"next": "/members/me/"})
    assert response["Location"] == "/members/me/"
    assert not Notification.objects.filter(member=member, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    page = body(client.get("/report/inbox/"))
    assert "通知0" in page and "别人的通知" not in page


def test_history_shows_transfer_with_end_date(world, campaign, client, login):
    member = world.a.members[0]
    rp.registration_register_at_office(
        member=member, community=world.a.community, actor=world.a.users["community_admin"]
    )
    reg = rp.registration_submit(member=member, community=world.b.community, actor=member.user)
    rp.registration_confirm(registration=reg, actor=world.b.users["community_admin"])
    login(member.user)
    page = body(client.get("/report/history/"))
    assert world.a.community.name in page and world.b.community.name in page
    assert "已结束" in page and "结束日期" in page and timezone.localdate().strftime("%Y-%m-%d") in page
    assert "转至西湖社区" in page
    home = body(client.get("/members/me/"))
    assert "已报到至 <strong>西湖社区</strong>" in home


# --- choosing a community ----------------------------------------------------------------------


def test_start_proposes_home_community_first_and_filters_the_rest(world, campaign, client, login):
    member = world.a.members[0]
    login(member.user)
    page = body(client.get("/report/"))
    home_at = page.index(f'?community={world.a.community.pk}"')
    other_at = page.index(f'?community={world.b.community.pk}"')
    assert home_at < other_at
    assert "您的居住社区（推荐）" in page and "东风街道" in page
    filtered = body(client.get("/report/", {"q": "东城"}))  # no other community in 东城区
    assert f'?community={world.b.community.pk}"' not in filtered
    filtered = body(client.get("/report/", {"q": "xh"}))  # 西湖 by pinyin initials
    assert f'?community={world.b.community.pk}"' in filtered
    confirm = body(client.get("/report/", {"community": world.b.community.pk}))
    assert "确认报到" in confirm and "这不是您登记的居住社区" in confirm


def test_inactive_communities_are_not_offered(world, campaign, client, login):
    from jinshequ.regions.models import Region

    Region.objects.filter(pk=world.b.community.pk).update(is_active=False)
    login(world.a.members[0].user)
    assert f'?community={world.b.community.pk}"' not in body(client.get("/report/"))
    response = client.post("/report/", {"community": world.b.community.pk})
    assert response.status_code == 400 and "请选择一个启用中的社区。" in body(response)
    response = client.post("/report/", {"community": "999999"}, follow=True)
    assert "请选择一个启用中的社区。" in body(response)
    assert not Registration.objects.exists()


# --- every rule's message ---------------------------------------------------------------------


def test_rule_already_pending(world, campaign, client, login):
    member = world.a.members[0]
    login(member.user)
    client.post("/report/", {"community": world.a.community.pk})
    response = client.post("/report/", {"community": world.a.community.pk})
    assert response.status_code == 400
    assert "您向东风社区的报到申请正在等待社区确认，请耐心等候。" in body(response)
    assert Registration.objects.filter(member=member).count() == 1


def test_rule_already_registered_is_refused_politely(world, campaign, client, login):
    member = world.a.members[0]
    rp.registration_register_at_office(
        member=member, community=world.a.community, actor=world.a.users["community_admin"]
    )
    login(member.user)
    page = body(client.get("/report/", {"community": world.a.community.pk}))
    assert "您已报到至东风社区，无需重复报到。" in page and 'id="confirm-report"' not in page
    response = client.post("/report/", {"community": world.a.community.pk})
    assert response.status_code == 400 and "您已报到至东风社区，无需重复报到。" in body(response)
    response = client.post(qr_url(world.a.community))
    assert response.status_code == 400 and "您已报到至东风社区，无需重复报到。" in body(response)


@pytest.mark.parametrize(
    "when, code_text",
    [
        ("future", "当前不在报到时间内"),
        ("none", "当前没有进行中的活动周期，暂不能报到。请联系市委组织部。"),
    ],
)
def test_rule_outside_campaign(world, client, login, when, code_text):
    today = timezone.localdate()
    if when == "future":
        make_campaign(starts_on=today + dt.timedelta(days=3), ends_on=today + dt.timedelta(days=90))
    login(world.a.members[0].user)
    assert "当前不在报到时间内，暂不能提交报到。" in body(client.get("/members/me/"))
    response = client.post("/report/", {"community": world.a.community.pk})
    assert response.status_code == 400 and code_text in body(response)
    admin = world.a.users["community_admin"]
    from django.test import Client

    c = Client()
    login(admin, c)
    card = rp.card_for_member(world.a.members[1])
    response = c.post("/report/office/", {"action": "register", "code": card.number})
    assert response.status_code == 400 and code_text in body(response)
    assert not Registration.objects.exists()


def test_rule_member_who_left_cannot_report(world, campaign, client, login):
    member = world.a.members[0]
    member_mark_left(member=member, actor=None)
    login(member.user)
    page = body(client.get("/members/me/"))
    assert "已不在职" in page and "去报到" not in page
    response = client.post("/report/", {"community": world.a.community.pk})
    assert response.status_code == 400 and "该党员已不在职，不能报到。" in body(response)
    assert "联系卡已停用" in body(client.get("/report/card/"))
    assert not member.cards.filter(is_active=True).exists()


def test_rule_reject_needs_a_reason_and_not_pending(world, campaign, client, login):
    reg = rp.registration_submit(member=world.a.members[0], community=world.a.community, actor=None)
    login(world.a.users["community_admin"])
    response = client.post(f"/report/{reg.pk}/reject/", {"reason": " "}, follow=True)
    assert "退回报到时请写明原因，党员会看到这条说明。" in body(response)
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.PENDING
    response = client.post(f"/report/{reg.pk}/reject/", {"reason": "不在本社区居住"}, follow=True)
    assert "已退回" in body(response)
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.REJECTED and reg.reject_reason == "不在本社区居住"
    response = client.post(f"/report/{reg.pk}/confirm/", follow=True)
    assert "这条报到已经处理过了。" in body(response)
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.REJECTED


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown", "没有这个卡号，请核对后重新输入。"),
        ("revoked_number", "这张联系卡已挂失作废，请使用补办后的新卡。"),
        ("revoked_token", "这张联系卡已挂失作废，请使用补办后的新卡。"),
        ("forged", "二维码无效，请出示本人的联系卡。"),
        ("empty", "请输入联系卡卡号，或用扫码枪扫描联系卡上的二维码。"),
    ],
)
def test_office_card_errors(world, campaign, client, login, case, message):
    member = world.a.members[0]
    old = rp.card_issue(member=member, actor=None)
    old_token = rp.card_token(old)
    new = rp.card_issue(member=member, actor=None, reason="挂失")
    code = {
        "unknown": "000000001" if new.number != "000000001" else "000000002",
        "revoked_number": old.number,
        "revoked_token": old_token,
        "forged": rp.card_token(new)[:-4] + "AAAA",
        "empty": " ",
    }[case]
    before = AuditEvent.objects.filter(event="security.card_rejected").count()
    login(world.a.users["community_admin"])
    for action in ("lookup", "register"):
        response = client.post("/report/office/", {"action": action, "code": code})
        assert response.status_code == 400
        assert message in body(response)
    assert not Registration.objects.exists()
    audited = AuditEvent.objects.filter(event="security.card_rejected").count() - before
    assert audited == (0 if case == "empty" else 2)


def test_typed_card_number_guessing_is_throttled(world, campaign, client, login):
    """Wrong typed numbers are logged; past the hourly limit even a right one is refused, a scan still works."""
    member = world.a.members[0]
    card = rp.card_issue(member=member, actor=None)
    user = world.a.users["community_admin"]
    login(user)
    wrong = [f"{n:09d}" for n in range(1, 200) if f"{n:09d}" != card.number][: rp.CARD_MISSES_PER_HOUR]
    for number in wrong:
        assert client.post("/report/office/", {"code": number}).status_code == 400
    response = client.post("/report/office/", {"code": card.number})
    assert (
        response.status_code == 400
        and "卡号输错次数过多" in body(response)
        and member.name not in body(response)
    )
    assert AuditEvent.objects.filter(event="security.card_lookup_limit", actor=user).count() == 1
    response = client.post("/report/office/", {"code": rp.card_token(card)})
    assert response.status_code == 200 and member.name in body(response)
    # another admin is not affected
    login(world.b.users["community_admin"])
    response = client.post("/report/office/", {"code": card.number})
    assert response.status_code == 200 and member.name in body(response)


def test_office_accepts_scanned_token_and_spaced_number(world, campaign, client, login):
    a0, a1 = world.a.members[0], world.a.members[1]
    login(world.a.users["community_admin"])
    card = rp.card_for_member(a0)
    response = client.post("/report/office/", {"action": "lookup", "code": rp.card_token(card)})
    page = body(response)
    assert response.status_code == 200 and a0.name in page and a0.phone_masked in page
    assert a0.work_unit.name in page and "确认登记到东风社区" in page
    no_canaries(page)
    spaced = rp.card_for_member(a1).number
    spaced = f"{spaced[:3]} {spaced[3:6]}-{spaced[6:]}"
    response = client.post("/report/office/", {"action": "register", "code": spaced}, follow=True)
    assert f"{a1.name}已在东风社区完成报到。" in body(response)
    assert status_of(a1).report_status == ReportStatus.REPORTED
    again = client.post("/report/office/", {"action": "lookup", "code": spaced})
    assert "已报到至本社区，无需重复登记" in body(again)
    again = client.post("/report/office/", {"action": "register", "code": spaced})
    assert again.status_code == 400 and f"{a1.name}已报到至本社区，无需重复登记。" in body(again)


def test_office_registers_member_of_another_side_as_transfer(world, campaign, client, login):
    """A member living elsewhere may report in at this office; their old registration ends."""
    b0 = world.b.members[0]
    rp.registration_register_at_office(
        member=b0, community=world.b.community, actor=world.b.users["community_admin"]
    )
    login(world.a.users["community_admin"])
    card = rp.card_for_member(b0)
    page = body(client.post("/report/office/", {"action": "lookup", "code": card.number}))
    assert "西湖社区" in page and "转接" in page
    client.post("/report/office/", {"action": "register", "code": card.number})
    assert status_of(b0).reg_community_id == world.a.community.pk
    assert Registration.objects.get(member=b0, community=world.b.community).status == RegistrationStatus.ENDED


# --- the community's report-in QR -------------------------------------------------------------


def test_forged_qr_shows_friendly_error_and_is_audited(world, campaign, client, login):
    member = world.a.members[0]
    login(member.user)
    forged = qr_url(world.a.community)[:-5] + "XXXX/"
    response = client.get(forged)
    assert response.status_code == 400
    page = body(response)
    assert "二维码无法使用" in page and "报到二维码无效或已停用，请向社区工作人员索取最新的二维码。" in page
    assert 'href="/report/"' in page
    event = AuditEvent.objects.get(event="security.report_qr_rejected")
    assert event.actor == member.user and not event.success
    assert client.post(forged).status_code == 400
    assert not Registration.objects.exists()


def test_qr_anonymous_goes_to_login_and_comes_back(world, campaign, client):
    from tests.factories import PASSWORD

    url = qr_url(world.a.community)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    login_page = response["Location"]
    response = client.post(
        login_page, {"username": world.a.members[0].user.username, "password": PASSWORD, "next": url}
    )
    assert response.status_code == 302 and response["Location"] == url
    page = body(client.get(url))
    assert "您扫描的是这个社区的报到二维码" in page and "东风社区" in page


def test_qr_of_inactive_community_is_refused(world, campaign, client, login):
    from jinshequ.regions.models import Region

    url = qr_url(world.a.community)
    Region.objects.filter(pk=world.a.community.pk).update(is_active=False)
    login(world.a.members[0].user)
    response = client.get(url)
    assert response.status_code == 400 and "报到二维码无效或已停用" in body(response)


def test_staff_cannot_use_member_pages(world, campaign, client, login):
    login(world.a.users["community_admin"])
    for url in ("/report/", "/report/card/", "/report/history/", "/report/inbox/", qr_url(world.a.community)):
        assert client.get(url).status_code == 403, url


# --- the contact card -------------------------------------------------------------------------


def test_member_sees_only_own_card(world, campaign, client, login):
    a0, b0 = world.a.members[0], world.b.members[0]
    card_a = rp.card_for_member(a0)
    login(b0.user)
    client.post("/report/card/", {"member": a0.pk})
    response = client.get("/report/card/", {"member": a0.pk, "card": card_a.number})
    page = body(response)
    card_b = b0.cards.get(is_active=True)
    assert a0.cards.get() == card_a  # the other member's card is untouched
    spaced = " ".join(card_b.number[i : i + 3] for i in (0, 3, 6))
    assert spaced in page and b0.name in page and b0.work_unit.name in page
    assert card_a.number[:3] + " " + card_a.number[3:6] not in page and a0.name not in page
    assert "<svg" in page
    no_canaries(page)
    assert response["Cache-Control"] == "no-store"


# --- community admin: queue -------------------------------------------------------------------


def test_pending_queue_lists_only_own_community(world, campaign, client, login):
    a0, b0 = world.a.members[0], world.b.members[0]
    rp.registration_submit(member=a0, community=world.a.community, actor=None, method=RegistrationMethod.QR)
    rp.registration_submit(member=b0, community=world.b.community, actor=None)
    login(world.a.users["community_admin"])
    page = body(client.get("/report/pending/"))
    assert a0.name in page and a0.work_unit.name in page and "扫码报到" in page
    assert b0.name not in page
    no_canaries(page)


def test_pending_queue_empty_state(world, campaign, client, login):
    login(world.a.users["community_admin"])
    page = body(client.get("/report/pending/"))
    assert "暂无待确认的报到" in page and 'href="/report/office/"' in page


def test_cross_community_confirm_reject_are_404_and_change_nothing(world, campaign, client, login):
    reg = rp.registration_submit(member=world.a.members[0], community=world.a.community, actor=None)
    login(world.b.users["community_admin"])
    assert client.post(f"/report/{reg.pk}/confirm/").status_code == 404
    assert client.post(f"/report/{reg.pk}/reject/", {"reason": "不是本社区"}).status_code == 404
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.PENDING and reg.decided_by is None
    assert not AuditEvent.objects.filter(
        event__in=["registration.confirmed", "registration.rejected"]
    ).exists()


def test_batch_confirm_confirms_selected_own_rows_only(world, campaign, client, login):
    a = [rp.registration_submit(member=m, community=world.a.community, actor=None) for m in world.a.members]
    b = rp.registration_submit(member=world.b.members[0], community=world.b.community, actor=None)
    login(world.a.users["community_admin"])
    response = client.post("/report/pending/confirm/", {"ids": [a[0].pk, a[1].pk, b.pk, "x"]}, follow=True)
    page = body(response)
    assert "已确认 2 人的报到。" in page and "1 条已被处理或不属于本社区，已跳过。" in page
    statuses = {r.pk: r.status for r in Registration.objects.all()}
    assert statuses[a[0].pk] == statuses[a[1].pk] == RegistrationStatus.CONFIRMED
    assert statuses[a[2].pk] == statuses[b.pk] == RegistrationStatus.PENDING
    assert "请先勾选要确认的报到。" in body(client.post("/report/pending/confirm/", {}, follow=True))


@pytest.mark.parametrize("role", ["member", "unit_admin", "inspector", "street_admin"])
def test_review_pages_are_for_community_admins(world, campaign, client, login, role):
    reg = rp.registration_submit(member=world.a.members[1], community=world.a.community, actor=None)
    login(world.a.users[role])
    for url in ("/report/pending/", "/report/office/", "/report/poster/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/report/{reg.pk}/confirm/").status_code == 403
    assert client.post("/report/pending/confirm/", {"ids": [reg.pk]}).status_code == 403
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.PENDING


def test_pending_query_count_does_not_grow(world, campaign, client, login):
    login(world.a.users["community_admin"])
    unit = world.a.unit

    def measure():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/report/pending/")
        assert response.status_code == 200
        return len(ctx)

    people = [make_member(f"排队{i}", unit, world.a.community) for i in range(30)]
    for m in people[:3]:
        rp.registration_submit(member=m, community=world.a.community, actor=None)
    few = measure()
    for m in people[3:]:
        rp.registration_submit(member=m, community=world.a.community, actor=None)
    # a transfer (annotated with the current community) must not add queries either
    rp.registration_register_at_office(
        member=world.b.members[0], community=world.b.community, actor=world.b.users["community_admin"]
    )
    rp.registration_submit(member=world.b.members[0], community=world.a.community, actor=None)
    many = measure()
    assert few == many, (few, many)
    assert many <= 12


# --- the ledger -------------------------------------------------------------------------------


def _ledger_world(world, n_current=2):
    admin_a = world.a.users["community_admin"]
    for m in world.a.members[:n_current]:
        rp.registration_register_at_office(member=m, community=world.a.community, actor=admin_a)
    # b0 reported to a, then moved to b: an ended row in a's ledger
    b0 = world.b.members[0]
    rp.registration_register_at_office(member=b0, community=world.a.community, actor=admin_a)
    rp.registration_register_at_office(
        member=b0, community=world.b.community, actor=world.b.users["community_admin"]
    )
    rp.registration_register_at_office(
        member=world.b.members[1], community=world.b.community, actor=world.b.users["community_admin"]
    )


def test_ledger_lists_confirmed_and_ended_of_own_community(world, campaign, client, login):
    _ledger_world(world)
    login(world.a.users["community_admin"])
    page = body(client.get("/report/ledger/"))
    for m in world.a.members[:2]:
        assert m.name in page and m.phone_masked in page
    assert world.b.members[0].name in page and "已结束" in page and "转至西湖社区" in page
    assert world.b.members[1].name not in page and world.a.members[2].name not in page
    assert "在册 2 人，已转出或结束 1 人" in page
    no_canaries(page)
    current = body(client.get("/report/ledger/", {"status": "current"}))
    assert world.b.members[0].name not in current and world.a.members[0].name in current
    by_name = body(client.get("/report/ledger/", {"q": "王芳"}))
    assert "王芳" in by_name and "张伟" not in by_name
    by_initials = body(client.get("/report/ledger/", {"q": "zw"}))
    assert "张伟" in by_initials and "王芳" not in by_initials


@pytest.mark.parametrize(
    "role, side, status",
    [
        ("city_admin", None, 200),
        ("district_admin", "a", 200),
        ("street_admin", "a", 200),
        ("inspector", "a", 200),
        ("district_admin", "b", 404),
        ("street_admin", "b", 404),
        ("inspector", "b", 404),
        ("community_admin", "b", 404),
        ("community_admin", "a", 200),
    ],
)
def test_ledger_scope_for_oversight_roles(world, campaign, client, login, role, side, status):
    _ledger_world(world)
    user = world.city_admin if side is None else getattr(world, side).users[role]
    login(user)
    url = f"/report/ledger/?community={world.a.community.pk}"
    response = client.get(url)
    assert response.status_code == status
    before = AuditEvent.objects.filter(event="ledger.exported").count()
    assert client.get(f"/report/ledger/export/?community={world.a.community.pk}").status_code == status
    assert client.get(f"/report/ledger/print/?community={world.a.community.pk}").status_code == status
    assert AuditEvent.objects.filter(event="ledger.exported").count() - before == (1 if status == 200 else 0)
    if status == 200:
        assert world.a.members[0].name in body(response)


def test_ledger_for_unit_admin_and_member_is_forbidden(world, campaign, client, login):
    for role in ("unit_admin", "member"):
        login(world.a.users[role])
        assert client.get(f"/report/ledger/?community={world.a.community.pk}").status_code == 403
        assert client.get(f"/report/ledger/export/?community={world.a.community.pk}").status_code == 403


def test_ledger_non_community_region_is_404(world, campaign, client, login):
    login(world.city_admin)
    assert client.get(f"/report/ledger/?community={world.a.street.pk}").status_code == 404
    assert client.get("/report/ledger/?community=abc").status_code == 404


def test_oversight_without_community_gets_a_chooser_in_scope(world, campaign, client, login):
    _ledger_world(world)
    login(world.a.users["district_admin"])
    page = body(client.get("/report/ledger/"))
    assert f"?community={world.a.community.pk}" in page and f"?community={world.b.community.pk}" not in page
    assert client.get("/report/ledger/export/").status_code == 404


def test_ledger_export_is_scoped_masked_formula_safe_and_audited(world, campaign, client, login):
    from jinshequ.units.models import WorkUnit

    WorkUnit.objects.filter(pk=world.a.unit.pk).update(name='=HYPERLINK("http://x","c")')
    Member.objects.filter(pk=world.a.members[1].pk).update(name="@SUM(1)")
    _ledger_world(world)
    login(world.a.users["community_admin"])
    response = client.get("/report/ledger/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "姓名", "性别", "所在单位", "手机号")
    names = {r[1] for r in rows[1:]}
    assert names == {world.a.members[0].name, "@SUM(1)", world.b.members[0].name}
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    assert '=HYPERLINK("http://x","c")' in {r[3] for r in rows[1:]}
    text = repr(rows)
    assert not any(c in text for c in CANARY_IDS | CANARY_PHONES)
    assert world.a.members[0].phone_masked in text
    event = AuditEvent.objects.get(event="ledger.exported")
    assert event.actor == world.a.users["community_admin"] and event.changes["rows"] == 3
    assert event.object_id == str(world.a.community.pk)
    filtered = client.get("/report/ledger/export/", {"status": "ended"})
    sheet = load_workbook(io.BytesIO(b"".join(filtered.streaming_content))).active
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == [world.b.members[0].name]


def test_ledger_print_is_a_plain_printable_page(world, campaign, client, login):
    _ledger_world(world)
    login(world.a.users["community_admin"])
    page = body(client.get("/report/ledger/print/"))
    assert "东风社区在职党员报到登记台账" in page and 'class="report-print' in page
    assert "navbar" not in page and "data-print" in page
    assert world.a.members[0].name in page and world.a.members[0].phone_masked in page
    no_canaries(page)


def test_ledger_query_count_does_not_grow(world, campaign, client, login):
    admin = world.a.users["community_admin"]
    login(admin)
    people = [make_member(f"台账{i}", world.a.unit, world.a.community) for i in range(30)]

    def measure(url):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        return len(ctx)

    urls = ["/report/ledger/", "/report/ledger/print/", "/report/ledger/export/", "/report/ledger/?q=tz"]
    for m in people[:3]:
        rp.registration_register_at_office(member=m, community=world.a.community, actor=admin)
    few = [measure(u) for u in urls]
    for m in people[3:]:
        rp.registration_register_at_office(member=m, community=world.a.community, actor=admin)
    many = [measure(u) for u in urls]
    assert few == many, (few, many)
    assert max(many) <= 14


# --- the poster -------------------------------------------------------------------------------


def test_poster_carries_a_working_report_qr(world, campaign, client, login):
    from django.test import override_settings

    login(world.a.users["community_admin"])
    with override_settings(JINSHEQU_PUBLIC_URL="https://jsq.example.cn"):
        response = client.get("/report/poster/")
    page = body(response)
    assert response.status_code == 200
    assert "东风社区" in page and "<svg" in page and "请用手机扫码报到" in page and "data-print" in page
    assert "navbar" not in page
    no_canaries(page)
