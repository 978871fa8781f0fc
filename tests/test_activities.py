"""Activities: publishing, sign-up with a waiting list (R45 on PostgreSQL), the rotating check-in QR, card
scanning, check-in window and grace, idempotent scans (R47), check-out → service record (evidence 3), the
community's confirmation (evidence 2), the .ics calendar (RFC 5545), day-before reminders, no-shows, scope
(R13/R14) and query bounds (T16)."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections import Counter
from decimal import Decimal

import icalendar
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jinshequ.accounts.models import AuditEvent, Notification, Role
from jinshequ.activities import selectors as sel
from jinshequ.activities import services as acts
from jinshequ.activities.ics import fold, render_calendar
from jinshequ.activities.integrity import check_activities_integrity
from jinshequ.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    EvidenceLevel,
    RecordStatus,
    ServiceRecord,
    Signup,
    SignupStatus,
)
from jinshequ.activities.records_integrity import check_records_integrity
from jinshequ.activities.services import ActivityError
from jinshequ.members import reporting as rp
from jinshequ.posts import services as ps
from jinshequ.posts.models import PostCategory
from jinshequ.regions.models import RegionKind
from tests.factories import make_campaign, make_member, make_region, make_unit, make_user
from tests.properties import examples
from tests.races import unlocked_slow_read
from tests.securitykit import FrozenClock, table_snapshot

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


# --- a small world -----------------------------------------------------------------------------------


@pytest.fixture
def aw(world):
    """The two-sided world with a campaign; every member of both sides registered in their community."""
    make_campaign()
    for side in (world.a, world.b):
        for m in side.members:
            rp.registration_register_at_office(member=m, community=side.community, actor=admin(side))
    world.category, _ = PostCategory.objects.get_or_create(name="环境整治")
    return world


def admin(side):
    return side.users["community_admin"]


def new_activity(
    w, side=None, *, start_in=H * 24, hours=2, capacity=3, title="楼道大扫除", team=None, actor=None
):
    side = side or w.a
    start = timezone.now() + start_in
    return acts.activity_create(
        community=side.community,
        category=w.category,
        title=title,
        place="3 号楼前",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=hours),
        capacity=capacity,
        team=team,
        actor=actor or admin(side),
    )


def extra_members(side, n, tag="加"):
    out = []
    for i in range(n):
        m = make_member(f"{tag}{i}", side.unit, side.community)
        rp.registration_register_at_office(member=m, community=side.community, actor=admin(side))
        out.append(m)
    return out


def sign(activity, member):
    return acts.signup_create(activity=activity, member=member, actor=None)


def at(moment: dt.datetime) -> FrozenClock:
    return FrozenClock(moment)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- publishing ----------------------------------------------------------------------------------------


def test_admin_publishes_edits_and_cancels_with_notifications(aw, django_capture_on_commit_callbacks):
    a = new_activity(aw, capacity=2)
    assert a.checkin_secret and len(a.checkin_secret) == 32 and a.status == ActivityStatus.PUBLISHED
    sign(a, aw.a.members[0])
    sign(a, aw.a.members[1])
    sign(a, aw.a.members[2])  # waitlisted
    with pytest.raises(ActivityError) as err:
        acts.activity_update(activity=a, capacity=1, actor=admin(aw.a))
    assert err.value.code == "capacity_below_signed"
    with django_capture_on_commit_callbacks(execute=True):
        acts.activity_update(activity=a, place="社区广场", actor=admin(aw.a))
    assert Notification.objects.filter(kind="activities.changed").count() == 3  # 2 signed + 1 waitlisted
    with django_capture_on_commit_callbacks(execute=True):
        acts.activity_cancel(activity=a, reason="天气原因", actor=admin(aw.a))
    a.refresh_from_db()
    assert a.status == ActivityStatus.CANCELLED and a.signed_up == 0
    assert set(a.signups.values_list("status", flat=True)) == {SignupStatus.CANCELLED}
    assert Notification.objects.filter(kind="activities.cancelled").count() == 3
    assert AuditEvent.objects.filter(event="activities.activity_cancelled", object_id=str(a.pk)).count() == 1
    assert check_activities_integrity() == []


@pytest.mark.parametrize(
    "change,code",
    [
        ({"title": ""}, "title_required"),
        ({"place": ""}, "place_required"),
        ({"capacity": 0}, "bad_capacity"),
        ({"hours": -1}, "bad_period"),
        ({"hours": 25}, "too_long"),
        ({"start_in": -H * 3}, "in_the_past"),
    ],
)
def test_invalid_activities_are_refused(aw, change, code):
    kwargs = {"start_in": H * 24, "hours": 2, "capacity": 3, "title": "楼道大扫除"} | change
    with pytest.raises(ActivityError) as err:
        if "place" in change:
            start = timezone.now() + H
            acts.activity_create(
                community=aw.a.community,
                category=aw.category,
                title="x",
                place="",
                starts_at=start,
                ends_at=start + H,
                capacity=3,
                actor=admin(aw.a),
            )
        else:
            new_activity(aw, **kwargs)
    assert err.value.code == code
    assert not Activity.objects.exists()


def test_other_community_admin_cannot_publish_or_change(aw):
    with pytest.raises(ActivityError) as err:
        new_activity(aw, aw.a, actor=admin(aw.b))
    assert err.value.code == "not_your_activity" and err.value.status == 404
    a = new_activity(aw)
    for call in (
        lambda: acts.activity_update(activity=a, title="改", actor=admin(aw.b)),
        lambda: acts.activity_cancel(activity=a, reason="不要了", actor=admin(aw.b)),
    ):
        with pytest.raises(ActivityError) as err:
            call()
        assert err.value.status == 404
    a.refresh_from_db()
    assert a.title == "楼道大扫除" and a.status == ActivityStatus.PUBLISHED


def test_team_leader_publishes_for_their_team_only(aw):
    team = ps.team_create(community=aw.a.community, name="环保志愿队", actor=admin(aw.a))
    other = ps.team_create(community=aw.a.community, name="文艺队", actor=admin(aw.a))
    leader = aw.a.members[0]
    ps.team_join(team=team, member=leader, actor=None)
    leader_user = aw.a.users["member"]
    with pytest.raises(ActivityError):  # not a leader yet
        new_activity(aw, team=team, actor=leader_user)
    ps.team_update(team=team, leader=leader, actor=admin(aw.a))
    a = new_activity(aw, team=team, actor=leader_user)
    assert a.team == team and a.created_by == leader_user
    with pytest.raises(ActivityError):
        new_activity(aw, team=other, actor=leader_user)
    with pytest.raises(ActivityError):
        new_activity(aw, team=None, actor=leader_user)
    # the pages: the leader manages the team's activity, not the community's others
    plain = new_activity(aw, title="社区的活动")
    c = client_for(leader_user)
    assert c.get("/activities/manage/").status_code == 200
    assert c.get(f"/activities/manage/{a.pk}/").status_code == 200
    assert c.get(f"/activities/manage/{plain.pk}/").status_code == 404
    assert c.post(f"/activities/manage/signups/{a.pk}/confirm/").status_code == 403  # confirming: admin only
    # a member who leads nothing: 403 on every organiser page
    c2 = client_for(make_user("m2", Role.MEMBER, member=aw.a.members[1]))
    assert c2.get("/activities/manage/").status_code == 403
    assert c2.get(f"/activities/manage/{a.pk}/screen/").status_code == 403


# --- sign-up and the waiting list ----------------------------------------------------------------------


def test_waitlist_is_promoted_in_order_when_someone_cancels(aw, django_capture_on_commit_callbacks):
    a = new_activity(aw, capacity=2)
    m = aw.a.members + extra_members(aw.a, 2)
    s = [sign(a, x) for x in m]
    assert [x.status for x in s] == ["signed", "signed", "waitlisted", "waitlisted", "waitlisted"]
    assert [acts.waitlist_position(x) for x in s[2:]] == [1, 2, 3]
    a.refresh_from_db()
    assert a.signed_up == 2
    with django_capture_on_commit_callbacks(execute=True):
        acts.signup_cancel(signup=s[0], actor=None)
    for x in s:
        x.refresh_from_db()
    assert [x.status for x in s] == ["cancelled", "signed", "signed", "waitlisted", "waitlisted"]
    assert acts.waitlist_position(s[3]) == 1
    a.refresh_from_db()
    assert a.signed_up == 2
    note = Notification.objects.get(kind="activities.promoted")
    assert note.member_id == m[2].pk and "候补" in note.title
    # a waitlisted member leaving frees nothing and promotes nobody
    acts.signup_cancel(signup=s[3], actor=None)
    s[4].refresh_from_db()
    assert s[4].status == SignupStatus.WAITLISTED
    # raising the capacity promotes the rest
    acts.activity_update(activity=a, capacity=3, actor=admin(aw.a))
    s[4].refresh_from_db()
    a.refresh_from_db()
    assert s[4].status == SignupStatus.SIGNED and a.signed_up == 3
    assert check_activities_integrity() == []


def test_signup_rules(aw):
    a = new_activity(aw, capacity=5)
    sign(a, aw.a.members[0])
    with pytest.raises(ActivityError) as err:
        sign(a, aw.a.members[0])
    assert err.value.code == "already_signed_up" and err.value.status == 409
    with pytest.raises(ActivityError) as err:  # another community's member
        sign(a, aw.b.members[0])
    assert err.value.code == "not_registered"
    with pytest.raises(ActivityError) as err:  # a member may only sign themself up
        acts.signup_create(activity=a, member=aw.a.members[1], actor=aw.a.users["member"])
    assert err.value.status == 404
    with at(a.starts_at + M).frozen(), pytest.raises(ActivityError) as err:
        sign(a, aw.a.members[1])
    assert err.value.code == "started"
    with at(a.starts_at + M).frozen(), pytest.raises(ActivityError) as err:
        acts.signup_cancel(signup=Signup.objects.get(activity=a, member=aw.a.members[0]), actor=None)
    assert err.value.code == "started"
    # cancel then sign up again: a new row, the counter stays exact
    first = Signup.objects.get(activity=a, member=aw.a.members[0])
    acts.signup_cancel(signup=first, actor=aw.a.users["member"])
    again = sign(a, aw.a.members[0])
    assert again.pk != first.pk and Signup.objects.filter(activity=a, member=aw.a.members[0]).count() == 2
    a.refresh_from_db()
    assert a.signed_up == 1
    assert check_activities_integrity() == []


def test_signup_with_an_idempotency_key_has_one_effect(aw):
    """R47: the same key twice → the stored response and one row; another key → the service's answer."""
    a = new_activity(aw)
    c = client_for(aw.a.users["member"])
    headers = {"HTTP_IDEMPOTENCY_KEY": "signup-abc-123", "HTTP_ACCEPT": "application/json"}
    r1 = c.post(f"/activities/{a.pk}/signup/", **headers)
    r2 = c.post(f"/activities/{a.pk}/signup/", **headers)
    assert r1.status_code == r2.status_code == 201 and r1.content == r2.content
    assert r2["Idempotent-Replayed"] == "true"
    r3 = c.post(
        f"/activities/{a.pk}/signup/", HTTP_IDEMPOTENCY_KEY="signup-abc-456", HTTP_ACCEPT="application/json"
    )
    assert r3.status_code == 409 and r3.json()["code"] == "already_signed_up"
    assert Signup.objects.filter(activity=a).count() == 1
    other = client_for(make_user("m1k", Role.MEMBER, member=aw.a.members[1]))
    assert other.post(f"/activities/{a.pk}/signup/", **headers).status_code == 201  # keys are per user
    assert Signup.objects.filter(activity=a).count() == 2


def test_leaving_a_community_cancels_future_signups_there(aw, django_capture_on_commit_callbacks):
    """The hook for the report-in services: a member who transfers away gives their places back."""
    a = new_activity(aw, capacity=1)
    s0, s1 = sign(a, aw.a.members[0]), sign(a, aw.a.members[1])
    with django_capture_on_commit_callbacks(execute=True):
        n = acts.signups_end_for_member(
            member=aw.a.members[0], reason="转到其他社区", actor=None, keep_community_id=aw.b.community.pk
        )
    assert n == 1
    s0.refresh_from_db()
    s1.refresh_from_db()
    assert (s0.status, s1.status) == (SignupStatus.CANCELLED, SignupStatus.SIGNED)
    assert (
        acts.signups_end_for_member(
            member=aw.a.members[1], reason="x", actor=None, keep_community_id=aw.a.community.pk
        )
        == 0
    )
    assert check_activities_integrity() == []


def test_capacity_constraint_and_one_open_signup_hold_in_the_database(aw):
    a = new_activity(aw, capacity=1)
    sign(a, aw.a.members[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=a.pk).update(signed_up=F("capacity") + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Signup.objects.create(
            activity=a, member=aw.a.members[0], status=SignupStatus.WAITLISTED, created_at=timezone.now()
        )
    a.refresh_from_db()
    assert a.signed_up == 1


def test_backstop_puts_the_signup_on_the_waitlist(aw, monkeypatch):
    """If the check passed on a stale read, the constraint stops the increment and the member is waitlisted."""
    a = new_activity(aw, capacity=1)
    real_lock = acts._lock_activity

    def stale_lock(pk):
        got = real_lock(pk)
        Activity.objects.filter(pk=pk).update(signed_up=1)  # someone else took the last place meanwhile
        return got

    monkeypatch.setattr(acts, "_lock_activity", stale_lock)
    s = sign(a, aw.a.members[0])
    assert s.status == SignupStatus.WAITLISTED and s.backstop
    assert AuditEvent.objects.get(event="activities.signed_up").changes.get("backstop") is True


# --- the rotating token --------------------------------------------------------------------------------


def test_token_accepted_for_the_current_and_previous_window_only(aw):
    a = new_activity(aw)
    t0 = dt.datetime(2026, 5, 1, 1, 0, 0, tzinfo=dt.UTC)  # a window boundary (divisible by 30 s)
    token = acts.checkin_token(a, "in", now=t0 + dt.timedelta(seconds=5))
    assert acts.activity_from_token(token, now=t0 + dt.timedelta(seconds=29)) == (a, "in")
    assert acts.activity_from_token(token, now=t0 + dt.timedelta(seconds=30)) == (a, "in")  # previous window
    assert acts.activity_from_token(token, now=t0 + dt.timedelta(seconds=59)) == (a, "in")
    with pytest.raises(ActivityError) as err:
        acts.activity_from_token(token, now=t0 + dt.timedelta(seconds=60))  # two windows later
    assert err.value.code == "token_expired"
    with pytest.raises(ActivityError) as err:  # a token from the future is not accepted either
        acts.activity_from_token(token, now=t0 - dt.timedelta(seconds=1))
    assert err.value.code == "token_invalid"
    out = acts.checkin_token(a, "out", now=t0)
    assert out != token and acts.activity_from_token(out, now=t0) == (a, "out")


def test_forged_tokens_are_refused_and_audited(aw):
    a = new_activity(aw)
    b = new_activity(aw, title="另一个活动")
    good = acts.checkin_token(a, "in")
    pk, mode, mac = good.split("-")
    forged = [
        f"{pk}-{mode}-{'0' * 24}",  # wrong MAC
        f"{b.pk}-{mode}-{mac}",  # a's MAC on b
        f"{pk}-o-{mac}",  # check-in MAC used for check-out
        f"{pk}-{mode}-{mac[:-1]}",  # malformed
        f"999999-{mode}-{mac}",  # no such activity
        "../../etc/passwd",
    ]
    for token in forged:
        with pytest.raises(ActivityError) as err:
            acts.activity_from_token(token)
        assert err.value.code == "token_invalid", token
    assert AuditEvent.objects.filter(event="security.checkin_token_rejected", success=False).count() == len(
        forged
    )
    # a secret of another activity cannot sign for this one
    b_mac = acts._mac(b, "i", acts._window())
    with pytest.raises(ActivityError):
        acts.activity_from_token(f"{a.pk}-i-{b_mac}")


def test_checkin_page_refuses_forged_and_expired_tokens(aw):
    a = new_activity(aw, start_in=10 * M)
    sign(a, aw.a.members[0])
    c = client_for(aw.a.users["member"])
    r = c.get(f"/activities/checkin/{a.pk}-i-{'f' * 24}/")
    assert r.status_code == 400 and "二维码无效" in r.content.decode()
    old = acts.checkin_token(a, "in", now=timezone.now() - dt.timedelta(seconds=90))
    r = c.post(f"/activities/checkin/{old}/")
    assert r.status_code == 400 and "已过期" in r.content.decode()
    assert not Attendance.objects.exists()


# --- check-in and check-out --------------------------------------------------------------------------


def test_checkin_window_and_grace(aw, settings):
    a = new_activity(aw, start_in=H * 24, hours=2)
    sign(a, aw.a.members[0])
    m = aw.a.members[0]

    def check_in_at(moment):
        with at(moment).frozen():
            return acts.attendance_check_in(activity=a, member=m, actor=None)

    for moment, code in ((a.starts_at - 31 * M, "too_early"), (a.ends_at + 31 * M, "too_late")):
        with pytest.raises(ActivityError) as err:
            check_in_at(moment)
        assert err.value.code == code and err.value.status == 409
        assert "签到时间" in err.value.message or "签到时间已过" in err.value.message
    assert not Attendance.objects.exists()
    settings.JINSHEQU_CHECKIN_GRACE_MINUTES = 10
    with pytest.raises(ActivityError) as err:
        check_in_at(a.starts_at - 15 * M)
    assert err.value.code == "too_early" and "10 分钟" in err.value.message
    result = check_in_at(a.starts_at - 10 * M)  # exactly at the opening
    assert result.created and result.attendance.checked_in_at == a.starts_at - 10 * M
    with at(a.ends_at + 11 * M).frozen(), pytest.raises(ActivityError) as err:
        acts.attendance_check_out(activity=a, member=m, actor=None)
    assert err.value.code == "too_late"


def test_double_scan_does_nothing_twice(aw):
    a = new_activity(aw, start_in=H * 24)
    m = aw.a.members[0]
    sign(a, m)
    with at(a.starts_at).frozen() as clock:
        first = acts.attendance_check_in(activity=a, member=m, nonce="n-1", actor=None)
        clock.advance(seconds=20)
        again = acts.attendance_check_in(activity=a, member=m, nonce="n-1", actor=None)
        other = acts.attendance_check_in(activity=a, member=m, nonce="n-2", actor=None)
        assert first.created and not again.created and not other.created
        assert again.replayed and not other.replayed
        assert again.attendance.pk == first.attendance.pk and again.attendance.checked_in_at == a.starts_at
        assert "无需重复签到" in again.message
        clock.advance(hours=1)
        out1 = acts.attendance_check_out(activity=a, member=m, actor=None)
        clock.advance(minutes=5)
        out2 = acts.attendance_check_out(activity=a, member=m, actor=None)
    assert out1.created and not out2.created and out2.record.pk == out1.record.pk
    assert Attendance.objects.count() == 1 and ServiceRecord.objects.count() == 1
    assert AuditEvent.objects.filter(event="activities.checked_in").count() == 1
    assert AuditEvent.objects.filter(event="activities.checked_out").count() == 1


def test_checkout_creates_one_verified_record_with_rounded_capped_hours(aw):
    a = new_activity(aw, start_in=H * 24, hours=2)
    m0, m1, m2 = aw.a.members
    for m in (m0, m1, m2):
        sign(a, m)
    with at(a.starts_at - 20 * M).frozen() as clock:  # early (inside the grace)
        acts.attendance_check_in(activity=a, member=m0, actor=None)
        clock.advance(minutes=20)
        acts.attendance_check_in(activity=a, member=m1, actor=None)
        acts.attendance_check_in(activity=a, member=m2, actor=None)
        clock.advance(minutes=10)
        short = acts.attendance_check_out(activity=a, member=m2, actor=None)  # 10 minutes: no record
        clock.advance(minutes=100)  # starts_at + 1h50
        r1 = acts.attendance_check_out(activity=a, member=m1, actor=None).record
        clock.advance(minutes=30)  # ends_at + 20 min
        r0 = acts.attendance_check_out(activity=a, member=m0, actor=None).record
    assert short.created and short.record is None and "不足 15 分钟" in short.message
    assert r1.hours == Decimal("2.0")  # 110 minutes → nearest half hour
    assert r0.hours == Decimal("2.0")  # 2 h 40 checked, capped at the activity's 2 hours
    for r, m in ((r0, m0), (r1, m1)):
        assert (r.member, r.activity, r.community_id, r.category_id) == (m, a, a.community_id, a.category_id)
        assert r.evidence == EvidenceLevel.VENUE_QR == 3 and r.status == RecordStatus.VERIFIED
        day = timezone.localtime(a.starts_at).date()
        assert r.served_on == day and r.month == day.year * 100 + day.month
    assert ServiceRecord.objects.filter(activity=a).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():  # one record per member and activity
        ServiceRecord.objects.create(
            member=m0,
            community=a.community,
            category=a.category,
            activity=a,
            served_on=r0.served_on,
            month=r0.month,
            hours=1,
            description="重复",
            created_at=timezone.now(),
        )
    assert check_activities_integrity() == []


@pytest.mark.parametrize(
    "minutes,hours",
    [
        (14, None),
        (15, "0.5"),
        (44, "0.5"),
        (45, "1.0"),
        (75, "1.5"),
        (89, "1.5"),
        (90, "1.5"),
        (105, "2.0"),
        (200, "3.0"),
    ],
)
def test_hours_round_to_the_nearest_half_hour(aw, minutes, hours):
    a = new_activity(aw, start_in=H * 24, hours=3)
    m = aw.a.members[0]
    with at(a.starts_at).frozen() as clock:
        acts.attendance_check_in(activity=a, member=m, actor=None)
        clock.advance(minutes=minutes)
        result = acts.attendance_check_out(activity=a, member=m, actor=None)
    assert (str(result.record.hours) if result.record else None) == hours


def test_walk_in_gets_a_signup_when_a_place_is_left(aw):
    a = new_activity(aw, start_in=H * 24, capacity=2)
    m0, m1, m2 = aw.a.members
    sign(a, m0)
    with at(a.starts_at).frozen():
        walk = acts.attendance_check_in(activity=a, member=m1, actor=None)
        assert walk.created and walk.walk_in and walk.signup.status == SignupStatus.ATTENDED
        assert "现场报名" in walk.message
        with pytest.raises(ActivityError) as err:  # now full (m0 signed + m1 walked in)
            acts.attendance_check_in(activity=a, member=m2, actor=None)
        assert err.value.code == "activity_full"
        with pytest.raises(ActivityError) as err:  # another community's member
            acts.attendance_check_in(activity=a, member=aw.b.members[0], actor=None)
        assert err.value.code == "not_registered"
        with pytest.raises(ActivityError) as err:  # check-out before check-in
            acts.attendance_check_out(activity=a, member=m0, actor=None)
        assert err.value.code == "not_checked_in"
    a.refresh_from_db()
    assert a.signed_up == 2
    assert check_activities_integrity() == []


def test_waitlisted_member_checks_in_only_with_a_free_place(aw):
    a = new_activity(aw, start_in=H * 24, capacity=1)
    m0, m1, _ = aw.a.members
    sign(a, m0)
    waiting = sign(a, m1)
    with at(a.starts_at).frozen():
        with pytest.raises(ActivityError) as err:
            acts.attendance_check_in(activity=a, member=m1, actor=None)
        assert err.value.code == "waitlisted"
    Activity.objects.filter(pk=a.pk).update(capacity=2)  # the admin made room during the activity
    with at(a.starts_at).frozen():
        acts.attendance_check_in(activity=a, member=m1, actor=None)
    waiting.refresh_from_db()
    a.refresh_from_db()
    assert waiting.status == SignupStatus.ATTENDED and a.signed_up == 2
    assert check_activities_integrity() == []


# --- the member's pages: QR check-in through the views ------------------------------------------------


def test_member_checks_in_and_out_through_the_qr_pages(aw):
    a = new_activity(aw, start_in=5 * M)
    member_user = aw.a.users["member"]
    c = client_for(member_user)
    assert c.post(f"/activities/{a.pk}/signup/", {"idempotency_key": "signup-key-1"}).status_code == 302
    token = acts.checkin_token(a, "in")
    page = c.get(f"/activities/checkin/{token}/")
    html = page.content.decode()
    assert page.status_code == 200 and "确认签到" in html and a.title in html
    ticket = re.search(r'name="ticket" value="([^"]+)"', html).group(1)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    form = {"ticket": ticket, "nonce": nonce, "idempotency_key": "checkin-key-1"}
    r1 = c.post(f"/activities/checkin/{token}/", form)
    r2 = c.post(f"/activities/checkin/{token}/", form)  # a double tap: the stored response is replayed
    assert r1.status_code == r2.status_code == 302 and r2["Idempotent-Replayed"] == "true"
    assert Attendance.objects.filter(signup__activity=a).count() == 1
    detail = c.get(r1["Location"]).content.decode()
    assert "签到成功" in detail
    # the same QR scanned again on a new page: nothing new, a clear message
    again = c.post(
        f"/activities/checkin/{acts.checkin_token(a, 'in')}/", {"idempotency_key": "checkin-key-2"}
    )
    assert again.status_code == 302 and "无需重复签到" in c.get(again["Location"]).content.decode()
    assert Attendance.objects.filter(signup__activity=a).count() == 1
    # a ticket is the member's own: another member cannot use it
    other = client_for(make_user("m1", Role.MEMBER, member=aw.a.members[1]))
    expired = acts.checkin_token(a, "in", now=timezone.now() - dt.timedelta(seconds=120))
    r = other.post(f"/activities/checkin/{expired}/", {"ticket": ticket})
    assert r.status_code == 400 and not Attendance.objects.filter(signup__member=aw.a.members[1]).exists()
    # ... while its owner can still confirm with it after the QR has rotated
    out_token = acts.checkin_token(a, "out")
    out_page = c.get(f"/activities/checkin/{out_token}/").content.decode()
    assert "确认签退" in out_page


def test_check_out_ticket_survives_the_qr_rotation(aw):
    a = new_activity(aw, start_in=5 * M)
    m = aw.a.members[0]
    sign(a, m)
    c = client_for(aw.a.users["member"])
    with at(a.starts_at).frozen() as clock:
        acts.attendance_check_in(activity=a, member=m, actor=None)
        clock.advance(hours=1)
        token = acts.checkin_token(a, "out")
        html = c.get(f"/activities/checkin/{token}/").content.decode()
        ticket = re.search(r'name="ticket" value="([^"]+)"', html).group(1)
        clock.advance(minutes=3)  # the code on the screen has changed six times
        with pytest.raises(ActivityError):
            acts.activity_from_token(token)
        r = c.post(f"/activities/checkin/{token}/", {"ticket": ticket})
    assert r.status_code == 302
    record = ServiceRecord.objects.get(member=m, activity=a)
    assert record.hours == Decimal("1.0") and record.evidence == EvidenceLevel.VENUE_QR


def test_a_scan_before_logging_in_survives_the_login(aw):
    """Signed out, the phone is sent to log in; the valid code it brought is remembered for ten minutes, so
    typing the password does not make the member rescan. A forged code remembers nothing."""
    from tests.factories import PASSWORD

    a = new_activity(aw, start_in=5 * M)
    sign(a, aw.a.members[0])
    token = acts.checkin_token(a, "in")
    c = Client()
    r = c.get(f"/activities/checkin/{token}/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    with at(timezone.now() + 2 * M).frozen():  # the code on the screen has rotated four times
        r = c.post(r["Location"], {"username": aw.a.users["member"].username, "password": PASSWORD})
        assert r.status_code == 302 and r["Location"] == f"/activities/checkin/{token}/"
        page = c.get(r["Location"])
        assert page.status_code == 200 and "确认签到" in page.content.decode()
        ticket = re.search(r'name="ticket" value="([^"]+)"', page.content.decode()).group(1)
        assert c.post(f"/activities/checkin/{token}/", {"ticket": ticket}).status_code == 302
        assert Attendance.objects.filter(signup__activity=a).count() == 1
        assert c.get(f"/activities/checkin/{token}/").status_code == 400  # remembered once only
    other = Client()
    forged = f"{a.pk}-i-{'0' * 24}"
    other.get(f"/activities/checkin/{forged}/")
    other.post("/accounts/login/", {"username": "member_b", "password": PASSWORD})
    assert other.get(f"/activities/checkin/{forged}/").status_code == 400


# --- the organiser's card scanning ------------------------------------------------------------------


def test_card_scan_checks_members_in_and_out(aw):
    a = new_activity(aw, start_in=5 * M)
    m0, m1, _ = aw.a.members
    sign(a, m0)
    c = client_for(admin(aw.a))
    card0 = rp.card_for_member(m0)
    r = c.post(f"/activities/manage/{a.pk}/scan/", {"code": card0.number, "mode": "in"})
    assert r.status_code == 200 and m0.name in r.content.decode() and "签到成功" in r.content.decode()
    att = Attendance.objects.get(signup__member=m0)
    assert att.method == "card"
    # the signed token of the card works too; a second scan changes nothing
    r = c.post(f"/activities/manage/{a.pk}/scan/", {"code": rp.card_token(card0), "mode": "in"})
    assert r.status_code == 200 and "无需重复签到" in r.content.decode()
    assert Attendance.objects.count() == 1
    # a lost (revoked) card is refused; a new card works for a walk-in
    old = rp.card_for_member(m1)
    rp.card_issue(member=m1, actor=admin(aw.a), reason="遗失")
    r = c.post(f"/activities/manage/{a.pk}/scan/", {"code": old.number, "mode": "in"})
    assert r.status_code == 409 and "挂失" in r.content.decode()
    r = c.post(f"/activities/manage/{a.pk}/scan/", {"code": rp.card_for_member(m1).number, "mode": "in"})
    assert r.status_code == 200 and Signup.objects.get(activity=a, member=m1).status == SignupStatus.ATTENDED
    # forged card token, unknown number, another community's member
    for code in ("eyJmYWtlIjoxfQ:forged:sig", "000000000", rp.card_for_member(aw.b.members[0]).number):
        r = c.post(f"/activities/manage/{a.pk}/scan/", {"code": code, "mode": "in"})
        assert r.status_code == 409, code
    with at(a.starts_at + H).frozen():  # a new login: the staff session would have timed out
        r = client_for(admin(aw.a)).post(
            f"/activities/manage/{a.pk}/scan/", {"code": card0.number, "mode": "out"}
        )
    assert r.status_code == 200 and "记录服务时长" in r.content.decode()
    record = ServiceRecord.objects.get(member=m0, activity=a)
    assert record.evidence == EvidenceLevel.VENUE_QR and record.hours == Decimal("1.0")
    # the other community's admin cannot scan into this activity
    assert (
        client_for(admin(aw.b))
        .post(f"/activities/manage/{a.pk}/scan/", {"code": card0.number, "mode": "out"})
        .status_code
        == 404
    )


# --- the community confirms attendance (evidence 2) -------------------------------------------------------


def test_admin_confirms_attendance_without_checkout_as_evidence_2(aw):
    a = new_activity(aw, start_in=H * 24, hours=2)
    m0, m1, m2 = aw.a.members
    s0, s1, s2 = sign(a, m0), sign(a, m1), sign(a, m2)
    with pytest.raises(ActivityError) as err:
        acts.attendance_confirm(signup=s0, actor=admin(aw.a))
    assert err.value.code == "not_started"
    with at(a.starts_at).frozen():
        acts.attendance_check_in(activity=a, member=m0, actor=None)
    with at(a.ends_at + H).frozen():
        acts.activities_close_ended()
        s1.refresh_from_db()
        assert s1.status == SignupStatus.NO_SHOW
        r0 = acts.attendance_confirm(signup=s0, actor=admin(aw.a))
        r1 = acts.attendance_confirm(signup=s1, hours=Decimal("1.5"), actor=admin(aw.a))
        for bad in (Decimal("2.5"), Decimal("0.3"), Decimal("0")):
            with pytest.raises(ActivityError) as err:
                acts.attendance_confirm(signup=s2, hours=bad, actor=admin(aw.a))
            assert err.value.code == "bad_hours"
        with pytest.raises(ActivityError) as err:
            acts.attendance_confirm(signup=s0, actor=admin(aw.a))
        assert err.value.code == "record_exists"
        with pytest.raises(ActivityError) as err:
            acts.attendance_confirm(signup=s2, actor=aw.a.users["member"])
        assert err.value.status == 404
    assert (r0.hours, r0.evidence, r0.verified_by) == (Decimal("2.0"), EvidenceLevel.COMMUNITY, admin(aw.a))
    assert (r1.hours, r1.evidence) == (Decimal("1.5"), EvidenceLevel.COMMUNITY)
    s1.refresh_from_db()
    assert s1.status == SignupStatus.ATTENDED
    assert check_activities_integrity() == []


def _logged(member, day, hours, status=RecordStatus.PENDING):
    """A record the member logged themself on ``day`` (made directly: the day rule is what is tested)."""
    return ServiceRecord.objects.create(
        member=member,
        community=member.community,
        category=PostCategory.objects.first(),
        served_on=day,
        month=day.year * 100 + day.month,
        hours=Decimal(hours),
        description="入户走访",
        status=status,
        reject_reason="重复填报" if status == RecordStatus.REJECTED else "",
        created_at=timezone.now(),
    )


def test_activity_hours_keep_the_day_within_24_hours(aw):
    """Records from check-outs and confirmations count toward the same 24 hours a day as records members log:
    what does not fit is not recorded (check-out says so), an admin's confirmation beyond it is refused."""
    a = new_activity(aw, start_in=H * 24, hours=2)
    m0, m1, m2 = aw.a.members
    day = timezone.localtime(a.starts_at).date()
    _logged(m0, day, "23")  # 1 hour left
    _logged(m1, day, "24")  # nothing left
    _logged(m1, day, "5", status=RecordStatus.REJECTED)  # rejected records do not count
    _logged(m2, day, "23.5")
    for m in (m0, m1, m2):
        sign(a, m)
    with at(a.starts_at).frozen() as clock:
        for m in (m0, m1, m2):
            acts.attendance_check_in(activity=a, member=m, actor=None)
        clock.advance(minutes=120)
        r0 = acts.attendance_check_out(activity=a, member=m0, actor=None)
        r1 = acts.attendance_check_out(activity=a, member=m1, actor=None)
    assert r0.record.hours == Decimal("1") and r0.day_full and "当天累计已达 24 小时上限" in r0.message
    assert r1.record is None and r1.day_full and "当天已记录满 24 小时" in r1.message
    assert AuditEvent.objects.filter(event="activities.checked_out", changes__day_full=True).count() == 2
    signup = Signup.objects.get(activity=a, member=m2)
    with at(a.ends_at + H).frozen():
        with pytest.raises(ActivityError) as err:
            acts.attendance_confirm(signup=signup, actor=admin(aw.a))  # the whole 2 hours
        assert err.value.code == "day_over_24" and "最多还能记录 0.5 小时" in err.value.message
        record = acts.attendance_confirm(signup=signup, hours=Decimal("0.5"), actor=admin(aw.a))
    assert record.hours == Decimal("0.5")
    assert check_records_integrity() == [] and check_activities_integrity() == []


# --- the calendar ----------------------------------------------------------------------------------------


def test_calendar_is_valid_rfc5545(aw):
    title = "学习会;讨论,分享\\总结\n第二行"
    a = new_activity(aw, title=title[:80], capacity=1)
    b = new_activity(aw, title="很长的活动名称" * 11, start_in=H * 48)
    c_ = new_activity(aw, title="已取消的活动", start_in=H * 30)
    past = new_activity(aw, title="已结束的活动", start_in=H)
    m = aw.a.members[0]
    sign(a, m)
    sign(b, aw.a.members[1])
    sign(b, m)
    sign(c_, m)
    sign(past, m)
    acts.activity_cancel(activity=c_, reason="取消了", actor=admin(aw.a))
    r = client_for(aw.a.users["member"]).get("/activities/calendar.ics")
    assert r.status_code == 200 and r["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in r["Content-Disposition"]
    raw = r.content
    with at(past.ends_at + M).frozen():
        later = client_for(aw.a.users["member"]).get("/activities/calendar.ics").content
    # CRLF everywhere, no bare LF, lines at most 75 octets
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    cal = icalendar.Calendar.from_ical(raw)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    assert f"activity-{a.pk}@testserver" in events and f"activity-{b.pk}@testserver" in events
    assert f"activity-{c_.pk}@testserver" not in events  # cancelled: not in the calendar
    ev = events[f"activity-{a.pk}@testserver"]
    assert "SUMMARY:学习会\\;讨论\\,分享\\\\总结\\n第二行\r\n" in raw.decode()  # RFC 5545 §3.3.11 escapes
    assert str(ev["SUMMARY"]) == title[:80]  # ... and they round-trip through a real parser
    assert ev.decoded("DTSTART") == a.starts_at.replace(microsecond=0)
    assert ev.decoded("DTEND") == a.ends_at.replace(microsecond=0)
    assert ev.decoded("DTSTART").tzinfo is not None and b"DTSTART:" in raw and b"Z\r\n" in raw
    assert str(ev["LOCATION"]) == "3 号楼前" and str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["URL"]).endswith(f"/activities/{a.pk}/")
    assert str(events[f"activity-{b.pk}@testserver"]["SUMMARY"]) == "很长的活动名称" * 11
    assert f"activity-{past.pk}@testserver".encode() in raw and f"activity-{past.pk}@".encode() not in later
    alarm = ev.walk("VALARM")[0]
    assert alarm.decoded("TRIGGER") == -dt.timedelta(days=1)


def test_calendar_folding_never_splits_a_character():
    line = "SUMMARY:" + "党员进社区为民服务" * 20
    pieces = fold(line)
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert "".join(p[1:] if i else p for i, p in enumerate(pieces)) == line
    assert all(p.startswith(" ") for p in pieces[1:])
    cal = render_calendar([], now=timezone.now(), url_for=str, uid_domain="x")
    assert cal.startswith("BEGIN:VCALENDAR\r\n") and cal.endswith("END:VCALENDAR\r\n")


def test_waitlisted_events_are_tentative(aw):
    a = new_activity(aw, capacity=1)
    sign(a, aw.a.members[1])
    sign(a, aw.a.members[0])
    raw = client_for(aw.a.users["member"]).get("/activities/calendar.ics").content
    ev = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]
    assert str(ev["STATUS"]) == "TENTATIVE" and "候补" in str(ev["SUMMARY"])


# --- reminders and no-shows ------------------------------------------------------------------------------


def test_reminders_go_out_once_the_day_before(aw):
    now = timezone.now()
    tomorrow_noon = timezone.make_aware(
        dt.datetime.combine(timezone.localdate(now) + dt.timedelta(days=1), dt.time(12, 0))
    )
    soon = acts.activity_create(
        community=aw.a.community,
        category=aw.category,
        title="明天的活动",
        place="广场",
        starts_at=tomorrow_noon,
        ends_at=tomorrow_noon + H,
        capacity=1,
        actor=admin(aw.a),
    )
    later = new_activity(aw, start_in=dt.timedelta(days=4), title="下周的活动")
    m0, m1, m2 = aw.a.members
    sign(soon, m0)
    sign(soon, m1)  # waitlisted: no reminder
    sign(later, m2)
    assert acts.reminders_send() == 1
    assert acts.reminders_send() == 0
    call_command("send_activity_reminders", stdout=open(os.devnull, "w"))  # noqa: SIM115
    notes = Notification.objects.filter(kind="activities.reminder")
    assert list(notes.values_list("member_id", flat=True)) == [m0.pk]
    assert "明天" in notes[0].body and "广场" in notes[0].body and notes[0].link == f"/activities/{soon.pk}/"
    assert Signup.objects.get(activity=soon, member=m0).reminded_at is not None
    # three days later the other activity is "tomorrow"
    with at(later.starts_at - dt.timedelta(hours=20)).frozen():
        assert acts.reminders_send() == 1
        assert acts.reminders_send() == 0
    assert Notification.objects.filter(kind="activities.reminder").count() == 2
    # moved to another day: reminded again for the new date
    acts.activity_update(
        activity=soon,
        starts_at=soon.starts_at + dt.timedelta(hours=2),
        ends_at=soon.ends_at + dt.timedelta(hours=2),
        actor=admin(aw.a),
    )
    assert acts.reminders_send() == 1


def test_no_shows_are_recorded_after_the_end_and_shown_to_the_community(aw):
    a = new_activity(aw, start_in=H * 24, hours=2, title="垃圾分类宣传")
    m0, m1, m2 = aw.a.members
    sign(a, m0)
    sign(a, m1)
    s2 = sign(a, m2)
    acts.signup_cancel(signup=s2, actor=None)
    with at(a.starts_at).frozen():
        acts.attendance_check_in(activity=a, member=m0, actor=None)
    with at(a.ends_at + 29 * M).frozen():  # inside the grace: not yet
        assert acts.activities_close_ended() == {"activities": 0, "no_shows": 0}
    with at(a.ends_at + 31 * M).frozen():
        assert acts.activities_close_ended() == {"activities": 1, "no_shows": 1}
        assert acts.activities_close_ended() == {"activities": 0, "no_shows": 0}
        call_command("activities_close_ended", stdout=open(os.devnull, "w"))  # noqa: SIM115
    statuses = dict(Signup.objects.filter(activity=a).values_list("member_id", "status"))
    assert statuses == {
        m0.pk: SignupStatus.ATTENDED,
        m1.pk: SignupStatus.NO_SHOW,
        m2.pk: SignupStatus.CANCELLED,
    }
    a.refresh_from_db()
    assert a.closed_at is not None
    c = client_for(admin(aw.a))
    page = c.get(f"/activities/manage/{a.pk}/").content.decode()
    assert "未到场" in page and m1.name in page
    listing = c.get("/activities/manage/no-shows/").content.decode()
    assert m1.name in listing and m0.name not in listing and "垃圾分类宣传" in listing
    assert m1.name not in client_for(admin(aw.b)).get("/activities/manage/no-shows/").content.decode()
    member_page = (
        client_for(make_user("m1u", Role.MEMBER, member=m1)).get(f"/activities/{a.pk}/").content.decode()
    )
    assert "未到场" in member_page
    assert check_activities_integrity() == []


def test_nightly_command_runs_every_job_and_reports_a_failing_one(aw, monkeypatch):
    import io

    from django.core.management.base import CommandError

    from jinshequ.core.models import IdempotencyKey
    from jinshequ.site.management.commands import nightly

    a = new_activity(aw, start_in=H * 24, hours=2)
    sign(a, aw.a.members[0])
    with at(a.ends_at + 31 * M).frozen():
        out = io.StringIO()
        call_command("nightly", stdout=out)
    text = out.getvalue()
    assert "activities closed: 1, no-shows recorded: 1" in text
    assert "stale import jobs failed: 0" in text and "idempotency keys purged: 0" in text
    assert Signup.objects.get(activity=a).status == SignupStatus.NO_SHOW

    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr(nightly, "JOBS", (("broken", broken), *nightly.JOBS[1:]))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="broken"):
        call_command("nightly", stdout=out, stderr=err)
    assert "broken: FAILED" in err.getvalue() and "idempotency keys purged" in out.getvalue()
    assert IdempotencyKey.objects.count() == 0


# --- scope -------------------------------------------------------------------------------------------------


def test_scope_404s_and_no_change(aw):
    a = new_activity(aw)
    sign(a, aw.a.members[0])
    s = Signup.objects.get(activity=a)
    before = table_snapshot(
        ("activities.Activity", "activities.Signup", "activities.Attendance", "activities.ServiceRecord")
    )
    b_member = client_for(aw.b.users["member"])
    for url in (f"/activities/{a.pk}/", f"/activities/checkin/{acts.checkin_token(a, 'in')}/"):
        assert b_member.get(url).status_code == 404, url
    for url in (
        f"/activities/{a.pk}/signup/",
        f"/activities/{a.pk}/cancel/",
        f"/activities/checkin/{acts.checkin_token(a, 'in')}/",
    ):
        assert b_member.post(url).status_code == 404, url
    b_admin = client_for(admin(aw.b))
    for url in (
        f"/activities/manage/{a.pk}/",
        f"/activities/manage/{a.pk}/edit/",
        f"/activities/manage/{a.pk}/screen/",
        f"/activities/manage/{a.pk}/screen/code/",
        f"/activities/manage/{a.pk}/scan/",
    ):
        assert b_admin.get(url).status_code == 404, url
    assert b_admin.post(f"/activities/manage/{a.pk}/cancel/", {"reason": "试试"}).status_code == 404
    assert b_admin.post(f"/activities/manage/{a.pk}/edit/", {"title": "改"}).status_code == 404
    assert b_admin.post(f"/activities/manage/signups/{s.pk}/confirm/").status_code == 404
    for role in ("district_admin", "street_admin", "unit_admin", "inspector"):
        assert client_for(aw.a.users[role]).get("/activities/manage/").status_code == 403
        assert client_for(aw.a.users[role]).get("/activities/").status_code == 403
    assert client_for(aw.city_admin).get("/activities/manage/").status_code == 403
    assert (
        table_snapshot(
            ("activities.Activity", "activities.Signup", "activities.Attendance", "activities.ServiceRecord")
        )
        == before
    )
    # the selector: a member sees their community's and their own sign-ups' activities only
    assert set(sel.activity_list_for_user(aw.b.users["member"])) == set()
    assert set(sel.activity_list_for_user(aw.a.users["member"])) == {a}
    assert set(sel.activity_list_for_user(aw.a.users["district_admin"])) == {a}
    assert set(sel.activity_list_for_user(aw.b.users["district_admin"])) == set()
    assert set(sel.activity_list_for_user(aw.a.users["unit_admin"])) == set()


# --- pages and query bounds (T16) --------------------------------------------------------------------------


def _queries(client, url) -> int:
    client.get(url)  # the session's first request of a page does its own bookkeeping
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def _populate(w, n):
    for i in range(n):
        a = new_activity(w, start_in=H * (2 + i), title=f"活动{i}", capacity=2)
        for m in w.a.members:
            sign(a, m)
    return a


@pytest.mark.parametrize(
    "url",
    [
        "/activities/",
        "/activities/manage/",
        "/activities/manage/?when=all",
        "/activities/manage/no-shows/",
        "manage_detail",
        "detail",
        "screen",
        "scan",
    ],
)
def test_pages_use_a_bounded_number_of_queries(aw, url):
    """The same number of queries for 2 and for 8 activities (and their sign-ups)."""
    member_c, admin_c = client_for(aw.a.users["member"]), client_for(admin(aw.a))

    def run():
        last = Activity.objects.order_by("-pk").first()
        target = {
            "manage_detail": f"/activities/manage/{last.pk}/",
            "detail": f"/activities/{last.pk}/",
            "screen": f"/activities/manage/{last.pk}/screen/",
            "scan": f"/activities/manage/{last.pk}/scan/",
        }.get(url, url)
        client = member_c if target.startswith("/activities/") and "/manage/" not in target else admin_c
        return _queries(client, target)

    _populate(aw, 2)
    extra_members(aw.a, 2, tag="甲")
    with at(timezone.now() + dt.timedelta(days=30)).frozen():
        acts.activities_close_ended()
    small = run()
    _populate(aw, 6)
    for a in Activity.objects.all():
        for m in extra_members(aw.a, 1, tag=f"乙{a.pk}"):
            sign(a, m)
    with at(timezone.now() + dt.timedelta(days=30)).frozen():
        acts.activities_close_ended()
    big = run()
    assert big == small, (small, big)


def test_member_pages_render(aw):
    a = new_activity(aw, start_in=5 * M, title="今天的活动")
    full = new_activity(aw, capacity=1, title="满员的活动")
    sign(full, aw.a.members[1])
    c = client_for(aw.a.users["member"])
    page = c.get("/activities/").content.decode()
    assert "今天的活动" in page and "名额已满，可报名候补" in page and "东风社区的近期活动" in page
    r = c.post(f"/activities/{full.pk}/signup/")
    assert r.status_code == 302
    detail = c.get(r["Location"]).content.decode()
    assert "候补" in detail and "第 1 位" in detail
    assert "退出候补" in detail
    page = c.get(f"/activities/{a.pk}/").content.decode()
    assert "报名参加" in page
    # an unregistered member is sent to report in
    loner = make_member("独行", aw.a.unit, aw.a.community)
    lc = client_for(make_user("loner", Role.MEMBER, member=loner))
    assert "去报到" in lc.get("/activities/").content.decode()
    assert lc.get(f"/activities/{a.pk}/").status_code == 404


def test_admin_pages_create_edit_and_screen(aw):
    c = client_for(admin(aw.a))
    assert c.get("/activities/manage/new/").status_code == 200
    start = timezone.localtime(timezone.now() + H * 3).replace(second=0, microsecond=0)
    data = {
        "title": "义诊",
        "category": aw.category.pk,
        "place": "卫生站",
        "capacity": 10,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + H * 2).strftime("%Y-%m-%dT%H:%M"),
        "description": "测血压",
    }
    r = c.post("/activities/manage/new/", data)
    assert r.status_code == 302
    a = Activity.objects.get(title="义诊")
    assert a.starts_at == start and a.community == aw.a.community and a.capacity == 10
    bad = c.post("/activities/manage/new/", data | {"ends_at": data["starts_at"]})
    assert bad.status_code == 200 and "结束时间必须晚于开始时间" in bad.content.decode()
    r = c.post(f"/activities/manage/{a.pk}/edit/", data | {"capacity": 12})
    assert r.status_code == 302
    a.refresh_from_db()
    assert a.capacity == 12
    screen = c.get(f"/activities/manage/{a.pk}/screen/")
    html = screen.content.decode()
    assert screen.status_code == 200 and "<svg" in html and "checkin.js" in html and "<nav" not in html
    assert f"/activities/checkin/{a.pk}-i-" in html
    assert 'style="' not in html and "<script>" not in html
    code = c.get(f"/activities/manage/{a.pk}/screen/code/?mode=out").content.decode()
    assert "<svg" in code and "<html" not in code and f"/activities/checkin/{a.pk}-o-" in code


# --- R46: invariants after random sequences ----------------------------------------------------------------


@pytest.mark.property
def test_random_sequences_keep_the_invariants(aw):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    members = aw.a.members + extra_members(aw.a, 3, tag="随")
    ops = st.lists(
        st.tuples(
            st.sampled_from(["sign", "cancel", "in", "out", "capacity", "close"]),
            st.integers(0, len(members) - 1),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=25,
    )

    @settings(
        max_examples=examples(12),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops)
    def run(steps):
        sid = transaction.savepoint()
        try:
            a = new_activity(aw, start_in=H * 24, capacity=2)
            clock = at(timezone.now())
            with clock.frozen():
                for op, i, k in steps:
                    m = members[i]
                    try:
                        if op == "sign":
                            sign(a, m)
                        elif op == "cancel":
                            s = Signup.objects.filter(activity=a, member=m, status__in=acts.OPEN).first()
                            if s:
                                acts.signup_cancel(signup=s, actor=None)
                        elif op == "in":
                            clock.now = max(clock.now, a.starts_at - 10 * M)
                            acts.attendance_check_in(activity=a, member=m, actor=None)
                        elif op == "out":
                            clock.advance(minutes=20 * k)
                            acts.attendance_check_out(activity=a, member=m, actor=None)
                        elif op == "capacity":
                            acts.activity_update(activity=a, capacity=k, actor=None)
                        elif op == "close":
                            clock.now = max(clock.now, a.ends_at + H)
                            acts.activities_close_ended()
                    except ActivityError:
                        pass
                    assert check_activities_integrity() == [], (op, i, k)
        finally:
            transaction.savepoint_rollback(sid)

    run()


# --- R45 on PostgreSQL: concurrent sign-ups never overbook ------------------------------------------------

postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="row locks and truly concurrent transactions need PostgreSQL; SQLite serialises writers",
)
ROUNDS = int(os.environ.get("JINSHEQU_SIGNUP_ROUNDS", "5"))
THREADS = 12


class Arena:
    def __init__(self, n=THREADS):
        city = make_region("并发市", RegionKind.CITY)
        district = make_region("并发区", RegionKind.DISTRICT, city)
        street = make_region("并发街道", RegionKind.STREET, district)
        self.community = make_region("并发社区", RegionKind.COMMUNITY, street)
        unit = make_unit("并发单位", region=district)
        self.admin = make_user("act_admin", Role.COMMUNITY_ADMIN, region=self.community)
        make_campaign()
        self.members = [make_member(f"并发{i}", unit, self.community) for i in range(n)]
        for m in self.members:
            rp.registration_register_at_office(member=m, community=self.community, actor=self.admin)
        self.category, _ = PostCategory.objects.get_or_create(name="其他")

    def activity(self, capacity, title="抢名额"):
        start = timezone.now() + H * 24
        return acts.activity_create(
            community=self.community,
            category=self.category,
            title=title,
            place="广场",
            starts_at=start,
            ends_at=start + H,
            capacity=capacity,
            actor=self.admin,
        )


def race(jobs) -> list:
    """Run the callables at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(jobs))
    out: list = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait(timeout=30)
            out[i] = ("ok", job())
        except ActivityError as exc:
            out[i] = ("refused", exc.code, exc.backstop)
        except Exception as exc:
            out[i] = ("error", type(exc).__name__, str(exc)[:200])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return out


@postgres_only
@pytest.mark.postgres
@pytest.mark.parametrize("capacity", [1, 3])
def test_concurrent_signups_never_overbook(transactional_db, capacity):
    arena = Arena()
    for round_no in range(ROUNDS):
        a = arena.activity(capacity, title=f"抢{capacity}-{round_no}")
        out = race(
            [lambda m=m, a=a: acts.signup_create(activity=a, member=m, actor=None) for m in arena.members]
        )
        assert not [o for o in out if o[0] != "ok"], out
        statuses = Counter(o[1].status for o in out)
        assert statuses == {"signed": capacity, "waitlisted": THREADS - capacity}, (round_no, statuses)
        assert not any(o[1].backstop for o in out), "the lock let a sign-up through to the constraint"
        a.refresh_from_db()
        assert a.signed_up == capacity == Signup.objects.filter(activity=a, status="signed").count()
    assert check_activities_integrity() == []


@postgres_only
@pytest.mark.postgres
def test_negative_control_without_the_lock_reaches_the_constraint(transactional_db, monkeypatch):
    arena = Arena()
    backstops = 0
    monkeypatch.setattr(acts, "_lock_activity", unlocked_slow_read(Activity, 0.05))
    for round_no in range(3):
        a = arena.activity(2, title=f"无锁-{round_no}")
        out = race(
            [lambda m=m, a=a: acts.signup_create(activity=a, member=m, actor=None) for m in arena.members]
        )
        backstops += sum(1 for o in out if o[0] == "ok" and o[1].backstop)
        a.refresh_from_db()
        assert a.signed_up <= a.capacity  # the constraint still holds
    assert backstops >= 1, "the negative control showed no race: the positive test proves nothing"


@postgres_only
@pytest.mark.postgres
def test_concurrent_cancellations_promote_exactly_the_freed_places(transactional_db):
    arena = Arena()
    a = arena.activity(4)
    signups = [acts.signup_create(activity=a, member=m, actor=None) for m in arena.members]
    signed = [s for s in signups if s.status == "signed"]
    out = race([lambda s=s: acts.signup_cancel(signup=s, actor=None) for s in signed[:3]])
    assert not [o for o in out if o[0] == "error"], out
    a.refresh_from_db()
    assert a.signed_up == 4 == Signup.objects.filter(activity=a, status="signed").count()
    waiting = list(Signup.objects.filter(activity=a, status="waitlisted").order_by("created_at", "pk"))
    assert len(waiting) == THREADS - 4 - 3
    assert check_activities_integrity() == []


@postgres_only
@pytest.mark.postgres
def test_concurrent_double_scan_creates_one_attendance(transactional_db):
    arena = Arena(n=2)
    start = timezone.now() + 5 * M
    a = acts.activity_create(
        community=arena.community,
        category=arena.category,
        title="扫两次",
        place="广场",
        starts_at=start,
        ends_at=start + H,
        capacity=5,
        actor=arena.admin,
    )
    m = arena.members[0]
    out = race(
        [lambda: acts.attendance_check_in(activity=a, member=m, nonce="same", actor=None) for _ in range(8)]
    )
    assert not [o for o in out if o[0] != "ok"], out
    assert sum(o[1].created for o in out) == 1
    assert Attendance.objects.filter(signup__activity=a).count() == 1
    a.refresh_from_db()
    assert a.signed_up == 1  # one walk-in place, not eight
