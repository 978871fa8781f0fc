"""Unit roster: statuses and the unit's rate with exemptions; scope; exemptions; outstanding export;
reminders (inbox rows, 24-hour quiet period, SMS adapter); the member's inbox; query bounds."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from jinshequ.accounts import notify
from jinshequ.accounts.models import AuditEvent, Notification
from jinshequ.members import reporting as rp
from jinshequ.members.models import Exemption, Member
from jinshequ.members.roster import REMINDER_KIND, REMINDER_TITLE
from jinshequ.units.services import unit_create
from tests.factories import CANARY_IDS, CANARY_PHONES, make_campaign, make_member

TODAY = timezone.localdate


@pytest.fixture
def campaign(db):
    return make_campaign()


def _exempt(member, actor, *, valid_until=None, revoke=False, expired=False):
    ex = rp.exemption_set(
        member=member,
        reason="sick_leave",
        valid_until=valid_until or TODAY() + dt.timedelta(days=30),
        note="病休",
        actor=actor,
    )
    if expired:
        Exemption.objects.filter(pk=ex.pk).update(valid_until=TODAY() - dt.timedelta(days=1))
    if revoke:
        rp.exemption_revoke(exemption=ex, actor=actor)
    return ex


@pytest.fixture
def side_a(world, campaign):
    """Side a's unit: 1 reported, 1 pending, 1 outstanding, 1 validly exempt, 1 expired, 1 revoked."""
    a = world.a
    admin, office = a.users["unit_admin"], a.users["community_admin"]
    rp.registration_register_at_office(member=a.members[0], community=a.community, actor=office)
    rp.registration_submit(member=a.members[1], community=a.community, actor=None)
    extra = {name: make_member(name, a.unit, a.community) for name in ("赵免", "钱过期", "孙撤销")}
    _exempt(extra["赵免"], admin)
    _exempt(extra["钱过期"], admin, expired=True)
    _exempt(extra["孙撤销"], admin, revoke=True)
    return a, extra


def test_roster_statuses_and_rate_with_valid_expired_revoked_exemptions(side_a, client, login):
    a, extra = side_a
    login(a.users["unit_admin"])
    response = client.get("/roster/")
    assert response.status_code == 200
    counts = response.context["counts"]
    # 6 active: reported 1, pending 1, exempt 1 (only the valid one), outstanding 3 (2 + expired + revoked)
    assert (counts.active, counts.reported, counts.pending, counts.exempt, counts.outstanding) == (
        6,
        1,
        1,
        1,
        3,
    )
    assert counts.expected == 5 and counts.rate == 20.0
    body = response.content.decode()
    # the exempt member is listed separately: not on the default tab, on the exempt tab
    assert "赵免" not in body and "钱过期" in body and "孙撤销" in body
    assert "已报到" in body and a.community.name in body and f"{TODAY():%Y-%m-%d}" in body
    exempt_tab = client.get("/roster/", {"status": "exempt"}).content.decode()
    assert "赵免" in exempt_tab and "病休" in exempt_tab and "钱过期" not in exempt_tab
    pending_tab = client.get("/roster/", {"status": "pending"}).content.decode()
    assert a.members[1].name in pending_tab and a.members[2].name not in pending_tab


def test_roster_search_and_pagination(side_a, client, login):
    a, _ = side_a
    login(a.users["unit_admin"])
    body = client.get("/roster/", {"q": "sxm"}).content.decode()
    assert "单晓明" in body and "张伟" not in body
    for i in range(55):
        make_member(f"翻页{i:02d}", a.unit, a.community)
    page1 = client.get("/roster/", {"status": "outstanding"})
    assert len(page1.context["members"]) == 50 and page1.context["page"].paginator.count == 58
    page2 = client.get("/roster/", {"status": "outstanding", "page": 2})
    assert len(page2.context["members"]) == 8


def test_roster_highlights_when_below_target_and_deadline_passed(side_a, client, login, campaign):
    a, _ = side_a
    login(a.users["unit_admin"])
    assert client.get("/roster/").context["level"] == "below"  # deadline in 30 days: not near yet
    campaign.report_deadline = TODAY() + dt.timedelta(days=7)
    campaign.save()
    body = client.get("/roster/").content.decode()
    assert "距报到截止" in body and "还有 7 天" in body and "alert-warning" in body
    campaign.report_deadline = TODAY() - dt.timedelta(days=1)
    campaign.save()
    body = client.get("/roster/").content.decode()
    assert "报到截止日期" in body and "已过" in body and "alert-danger" in body
    campaign.target_rate = 10
    campaign.save()
    assert client.get("/roster/").context["level"] == ""


def test_sub_units_included_on_request(world, campaign, client, login):
    a = world.a
    child = unit_create(name="市财政局信息中心", region=a.district, parent=a.unit, actor=None)
    make_member("钟下级", child, a.community)
    login(a.users["unit_admin"])
    assert "钟下级" not in client.get("/roster/").content.decode()
    response = client.get("/roster/", {"sub": "1"})
    assert "钟下级" in response.content.decode() and response.context["counts"].active == 4
    # the sub-unit on its own
    assert client.get("/roster/", {"unit": child.pk}).context["counts"].active == 1


def test_region_roles_pick_a_unit_in_scope_and_get_404_outside(world, campaign, client, login):
    login(world.a.users["district_admin"])
    picker = client.get("/roster/").content.decode()
    assert world.a.unit.name in picker and world.b.unit.name not in picker
    assert client.get("/roster/", {"unit": world.a.unit.pk}).status_code == 200
    assert client.get("/roster/", {"unit": world.b.unit.pk}).status_code == 404
    assert client.get("/roster/", {"unit": 999999}).status_code == 404
    assert client.get("/roster/", {"unit": "x"}).status_code == 404
    assert client.get("/roster/outstanding.xlsx", {"unit": world.b.unit.pk}).status_code == 404
    client.logout()
    login(world.a.users["unit_admin"])
    assert client.get("/roster/", {"unit": world.b.unit.pk}).status_code == 404
    assert client.get("/roster/outstanding.xlsx", {"unit": world.b.unit.pk}).status_code == 404
    client.logout()
    login(world.city_admin)
    assert client.get("/roster/", {"unit": world.b.unit.pk}).status_code == 200


@pytest.mark.parametrize("role", ["community_admin", "member"])
def test_roles_without_roster_permission_get_403(world, campaign, client, login, role):
    login(world.a.users[role])
    assert client.get("/roster/").status_code == 403
    assert client.get("/roster/outstanding.xlsx").status_code == 403
    assert client.post("/roster/remind/", {"unit": world.a.unit.pk}).status_code == 403
    assert not Notification.objects.filter(kind=REMINDER_KIND).exists()


# --- exemptions ------------------------------------------------------------------------------


def test_unit_admin_sets_and_revokes_exemption(world, campaign, client, login):
    a = world.a
    member = a.members[2]
    login(a.users["unit_admin"])
    assert client.get(f"/roster/members/{member.pk}/exempt/").status_code == 200
    until = TODAY() + dt.timedelta(days=90)
    response = client.post(
        f"/roster/members/{member.pk}/exempt/",
        {
            "reason": "posted_away",
            "valid_until": until.isoformat(),
            "note": "外派援疆",
            "next": "/roster/?status=exempt",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/roster/?status=exempt"
    ex = Exemption.objects.get(member=member)
    assert ex.reason == "posted_away" and ex.valid_until == until and ex.revoked_at is None
    assert AuditEvent.objects.filter(event="exemption.set", object_id=str(ex.pk)).count() == 1
    assert client.get("/roster/").context["counts"].exempt == 1
    # an open redirect is not followed
    response = client.post(f"/roster/exemptions/{ex.pk}/revoke/", {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"].startswith("/roster/")
    ex.refresh_from_db()
    assert ex.revoked_at is not None
    assert client.get("/roster/").context["counts"].exempt == 0


def test_revoke_form_on_the_page_carries_a_working_csrf_token(side_a):
    import re

    from django.test import Client

    a, extra = side_a
    client = Client(enforce_csrf_checks=True)
    client.force_login(a.users["unit_admin"])
    body = client.get("/roster/", {"status": "exempt"}).content.decode()
    ex = Exemption.objects.get(member=extra["赵免"], revoked_at__isnull=True)
    form = re.search(r'<form method="post" action="(/roster/exemptions/\d+/revoke/)".*?</form>', body, re.S)
    assert form and form.group(1) == f"/roster/exemptions/{ex.pk}/revoke/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)).group(1)
    assert client.post(form.group(1), {"next": "/roster/"}).status_code == 403  # no token: refused
    assert client.post(form.group(1), {"csrfmiddlewaretoken": token, "next": "/roster/"}).status_code == 302
    ex.refresh_from_db()
    assert ex.revoked_at is not None


def test_roster_escapes_names(side_a, client, login):
    a, _ = side_a
    Member.objects.filter(pk=a.members[2].pk).update(name='<script>alert("x")</script>')
    login(a.users["unit_admin"])
    body = client.get("/roster/").content.decode()
    assert (
        '<script>alert("x")</script>' not in body
        and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    )


def test_exemption_rejects_past_date(world, campaign, client, login):
    login(world.a.users["unit_admin"])
    member = world.a.members[2]
    response = client.post(
        f"/roster/members/{member.pk}/exempt/",
        {"reason": "sick_leave", "valid_until": (TODAY() - dt.timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 200 and "有效期不能早于今天" in response.content.decode()
    assert not Exemption.objects.exists()


def test_exemption_cross_scope_is_404_and_changes_nothing(world, campaign, client, login):
    b_member = world.b.members[2]
    ex = rp.exemption_set(
        member=b_member,
        reason="sick_leave",
        valid_until=TODAY() + dt.timedelta(days=5),
        actor=world.b.users["unit_admin"],
    )
    login(world.a.users["unit_admin"])
    assert client.get(f"/roster/members/{b_member.pk}/exempt/").status_code == 404
    assert (
        client.post(
            f"/roster/members/{b_member.pk}/exempt/",
            {"reason": "other", "valid_until": (TODAY() + dt.timedelta(days=9)).isoformat()},
        ).status_code
        == 404
    )
    assert client.post(f"/roster/exemptions/{ex.pk}/revoke/").status_code == 404
    assert list(Exemption.objects.values_list("pk", "revoked_at")) == [(ex.pk, None)]
    client.logout()
    login(world.a.users["district_admin"])  # oversight roles may look, not exempt
    assert (
        client.post(
            f"/roster/members/{world.a.members[2].pk}/exempt/",
            {"reason": "other", "valid_until": (TODAY() + dt.timedelta(days=9)).isoformat()},
        ).status_code
        == 403
    )
    assert Exemption.objects.count() == 1


# --- outstanding export -------------------------------------------------------------------------


def test_outstanding_export_is_scoped_masked_formula_safe_and_audited(side_a, client, login):
    a, extra = side_a
    Member.objects.filter(pk=extra["钱过期"].pk).update(name='=HYPERLINK("http://x","c")')
    Member.objects.filter(pk=extra["孙撤销"].pk).update(name="@SUM(1)")
    login(a.users["unit_admin"])
    response = client.get("/roster/outstanding.xlsx")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "attachment;" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "性别", "所在单位")
    names = {r[0] for r in rows[1:]}
    assert names == {a.members[2].name, '=HYPERLINK("http://x","c")', "@SUM(1)"}  # outstanding only, own unit
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)
    flat = " ".join(str(v) for r in rows for v in r if v is not None)
    assert not any(c in flat for c in CANARY_IDS | CANARY_PHONES)
    assert a.members[2].phone_masked in flat
    row = AuditEvent.objects.get(event="roster.exported")
    assert (
        row.object_id == str(a.unit.pk)
        and row.changes["rows"] == 3
        and row.actor_id == a.users["unit_admin"].pk
    )


def test_roster_page_masks_personal_data(side_a, client, login):
    a, _ = side_a
    login(a.users["unit_admin"])
    for status in ("", "outstanding", "pending", "reported", "exempt"):
        body = client.get("/roster/", {"status": status}).content.decode()
        assert not any(c in body for c in CANARY_IDS | CANARY_PHONES)


# --- reminders and the inbox -------------------------------------------------------------------


def test_reminders_create_inbox_rows_and_skip_within_24_hours(
    side_a, client, login, campaign, django_capture_on_commit_callbacks
):
    a, extra = side_a
    outstanding = {a.members[2].pk, extra["钱过期"].pk, extra["孙撤销"].pk}
    login(a.users["unit_admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/roster/remind/", {"unit": a.unit.pk}, follow=True)
    assert "已向 3 名未报到党员发送提醒" in response.content.decode()
    notes = Notification.objects.filter(kind=REMINDER_KIND)
    assert set(notes.values_list("member_id", flat=True)) == outstanding
    note = notes.get(member=a.members[2])
    assert note.title == REMINDER_TITLE and f"{campaign.report_deadline:%Y年%m月%d日}" in note.body
    assert note.delivered_via == "log" and note.delivery_error == ""
    assert note.user_id is None and notes.get(member=a.members[2]).link == "/members/me/"
    row = AuditEvent.objects.get(event="roster.reminded")
    assert row.changes == {"count": 3, "skipped": 0} and row.object_id == str(a.unit.pk)
    # again at once: everyone skipped
    body = client.post("/roster/remind/", {"unit": a.unit.pk}, follow=True).content.decode()
    assert "3 名党员在 24 小时内已提醒过，本次跳过" in body
    assert notes.count() == 3
    # 25 hours later they are reminded again
    Notification.objects.filter(kind=REMINDER_KIND).update(created_at=timezone.now() - dt.timedelta(hours=25))
    client.post("/roster/remind/", {"unit": a.unit.pk})
    assert Notification.objects.filter(kind=REMINDER_KIND).count() == 6
    assert (
        list(AuditEvent.objects.filter(event="roster.reminded").values_list("changes", flat=True))
        == [{"count": 3, "skipped": 0}, {"count": 0, "skipped": 3}, {"count": 3, "skipped": 0}][::-1]
    )


def test_reminders_cross_scope_is_404(world, campaign, client, login):
    login(world.a.users["unit_admin"])
    assert client.post("/roster/remind/", {"unit": world.b.unit.pk}).status_code == 404
    assert client.get("/roster/remind/").status_code == 405
    assert not Notification.objects.exists()


def test_member_inbox_lists_own_notifications_and_marks_all_read(side_a, client, login):
    a, _ = side_a
    login(a.users["unit_admin"])
    client.post("/roster/remind/", {"unit": a.unit.pk})
    client.logout()
    # the member account is linked to members[0] (reported); give members[2] an account via the world's member
    member = a.members[0]
    rp._notify(member, kind="test", title="测试通知", body="正文")
    other = make_member("别人", a.unit, a.community)
    rp._notify(other, kind="test", title="别人的通知")
    login(a.users["member"])
    old = client.get("/roster/inbox/")  # the older address sends the member to the one inbox
    assert old.status_code == 301 and old["Location"] == "/report/inbox/"
    response = client.get("/report/inbox/")
    body = response.content.decode()
    assert response.status_code == 200 and "测试通知" in body and "别人的通知" not in body
    assert (
        response.context["unread_count"]
        == Notification.objects.filter(member=member, read_at__isnull=True).count()
        > 0
    )
    assert client.post("/report/inbox/").status_code == 302
    assert not Notification.objects.filter(member=member, read_at__isnull=True).exists()
    assert Notification.objects.filter(member=other, read_at__isnull=True).count() == 1


@pytest.mark.parametrize("role", ["unit_admin", "city_admin"])
def test_inbox_is_for_members_only(world, client, login, role):
    user = world.city_admin if role == "city_admin" else world.a.users[role]
    login(user)
    assert client.get("/roster/inbox/").status_code == 403
    assert client.get("/report/inbox/").status_code == 403


# --- the SMS gateway adapter -------------------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server API)
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(
            {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "json": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    class Handler(_Gateway):
        received = []
        status = 200

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Handler, f"http://127.0.0.1:{server.server_address[1]}/sms"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def sms_senders(settings, gateway):
    handler, url = gateway
    settings.JINSHEQU_NOTIFICATION_SENDERS = [
        "jinshequ.accounts.notify.LogSender",
        "jinshequ.accounts.notify.SmsGatewaySender",
    ]
    settings.JINSHEQU_SMS_GATEWAY_URL = url
    notify._senders.cache_clear()
    yield handler
    notify._senders.cache_clear()


def test_nothing_is_sent_for_a_rolled_back_change(side_a, sms_senders, django_capture_on_commit_callbacks):
    from django.db import transaction

    a, _ = side_a
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                notify.notify_member(member=a.members[2], kind="test", title="不会发出")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert callbacks == [] and sms_senders.received == []
    assert not Notification.objects.filter(title="不会发出").exists()


def test_sms_gateway_receives_phone_and_text(
    side_a, client, login, sms_senders, django_capture_on_commit_callbacks
):
    a, extra = side_a
    login(a.users["unit_admin"])
    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/roster/remind/", {"unit": a.unit.pk})
    # nothing leaves the system before the reminders' transaction commits
    assert sms_senders.received == [] and len(callbacks) == 3
    for callback in callbacks:
        callback()
    received = sms_senders.received
    assert len(received) == 3
    assert {r["json"]["phone"] for r in received} == {
        m.reveal_phone() for m in (a.members[2], extra["钱过期"], extra["孙撤销"])
    }
    assert all(r["path"] == "/sms" and r["content_type"] == "application/json" for r in received)
    assert all(r["json"]["text"].startswith(REMINDER_TITLE + "：") for r in received)
    assert set(Notification.objects.filter(kind=REMINDER_KIND).values_list("delivered_via", flat=True)) == {
        "log,sms"
    }


def test_failing_gateway_records_error_and_keeps_inbox_row(
    side_a, client, login, sms_senders, django_capture_on_commit_callbacks
):
    a, _ = side_a
    sms_senders.status = 500
    login(a.users["unit_admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/roster/remind/", {"unit": a.unit.pk}, follow=True)
    assert "已向 3 名未报到党员发送提醒" in response.content.decode()
    notes = Notification.objects.filter(kind=REMINDER_KIND)
    assert notes.count() == 3 and len(sms_senders.received) == 3
    for note in notes:
        assert note.delivered_via == "log" and note.delivery_error == "sms: HTTPError"


def test_unreachable_gateway_records_error(side_a, settings, django_capture_on_commit_callbacks):
    a, _ = side_a
    settings.JINSHEQU_NOTIFICATION_SENDERS = ["jinshequ.accounts.notify.SmsGatewaySender"]
    settings.JINSHEQU_SMS_GATEWAY_URL = "http://127.0.0.1:9/sms"  # discard port: connection refused
    notify._senders.cache_clear()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            note = notify.notify_member(member=a.members[2], kind="test", title="标题", body="正文")
    finally:
        notify._senders.cache_clear()
    note.refresh_from_db()
    assert note.delivered_via == "" and note.delivery_error.startswith("sms: ")


# --- query bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["", "outstanding", "exempt"])
def test_roster_query_count_does_not_grow_with_rows(side_a, client, login, status):
    a, _ = side_a
    login(a.users["unit_admin"])
    with CaptureQueriesContext(connection) as few:
        assert client.get("/roster/", {"status": status, "sub": "1"}).status_code == 200
    admin, office = a.users["unit_admin"], a.users["community_admin"]
    for i in range(40):
        m = make_member(f"加{i}", a.unit, a.community)
        if i % 4 == 0:
            rp.registration_register_at_office(member=m, community=a.community, actor=office)
        elif i % 4 == 1:
            rp.registration_submit(member=m, community=a.community, actor=None)
        elif i % 4 == 2:
            _exempt(m, admin)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/roster/", {"status": status, "sub": "1"}).status_code == 200
    assert len(many) == len(few) <= 12, [q["sql"][:120] for q in many.captured_queries]
