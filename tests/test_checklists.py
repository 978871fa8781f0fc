"""四个一 (members) and 十个有 (communities): the city admin's items per campaign, computed rules on real rows
made through the services, manual marks with evidence (scoped, audited; inspectors read only), completion
rates checked against independent Python counts, and query bounds (T16)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jinshequ.accounts.models import AuditEvent, Role
from jinshequ.activities import records as rec
from jinshequ.activities import services as acts
from jinshequ.activities.models import Signup, SignupStatus
from jinshequ.members import reporting as rp
from jinshequ.members.models import Member, Registration, RegistrationStatus
from jinshequ.posts import services as ps
from jinshequ.posts.models import ClaimStatus, Pairing, PostCategory, PostClaim
from jinshequ.regions.models import Region, RegionKind
from jinshequ.supervision import selectors as sel
from jinshequ.supervision import services as svc
from jinshequ.supervision.models import ChecklistItem, ChecklistMark, ChecklistScope
from jinshequ.supervision.rules import DEFAULT_ITEMS, RULES, get_rule
from jinshequ.supervision.services import ChecklistError
from tests.factories import make_campaign, make_member, make_region, make_unit, make_user
from tests.securitykit import table_snapshot

MEMBER, COMMUNITY = ChecklistScope.MEMBER, ChecklistScope.COMMUNITY
TODAY = timezone.localdate


@pytest.fixture
def campaign(db):
    return make_campaign()


@pytest.fixture
def items(world, campaign):
    svc.items_create_defaults(campaign=campaign, actor=world.city_admin)
    return {i.title: i for i in ChecklistItem.objects.filter(campaign=campaign)}


def admin(side):
    return side.users["community_admin"]


def register(side, *members, community=None):
    for m in members:
        rp.registration_register_at_office(member=m, community=community or side.community, actor=admin(side))


def category() -> PostCategory:
    return PostCategory.objects.filter(is_active=True).order_by("sort_order").first()


def ids(scope: str, name: str, qs, campaign) -> set[int]:
    rule = get_rule(scope, name)
    with CaptureQueriesContext(connection) as q:
        out = rule.ids(qs, campaign)
    assert len(q.captured_queries) == 1, "a rule is one query for the whole queryset"
    return out


def members_of(world):
    return Member.objects.filter(pk__in=[m.pk for m in world.a.members + world.b.members])


def communities_of(world):
    return Region.objects.filter(pk__in=[world.a.community.pk, world.b.community.pk])


def last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- items: defaults, create, edit, reorder, remove -----------------------------------------------------------


def test_defaults_create_four_and_ten_items_once(world, campaign):
    created = svc.items_create_defaults(campaign=campaign, actor=world.city_admin)
    assert len(created) == 14
    by_scope = sel.items_by_scope(campaign)
    assert [i.title for i in by_scope["member"]] == [
        "认领一个岗位",
        "参加一次活动",
        "结对一户困难家庭",
        "提出一条建议",
    ]
    assert [i.title for i in by_scope["community"]][:6] == [
        "有办公场所",
        "有公示栏",
        "有岗位设置",
        "有服务队伍",
        "有活动计划",
        "有工作台账",
    ]
    assert len(by_scope["community"]) == 10
    assert [i.sort_order for i in by_scope["community"]] == list(range(10))
    # every default rule exists in the registry for its scope; the manual ones are the ones data cannot decide
    for item in by_scope["member"] + by_scope["community"]:
        assert item.rule == "" or get_rule(item.scope, item.rule) is not None, item.title
    manual = {i.title for i in by_scope["member"] + by_scope["community"] if not i.rule}
    assert manual == {"提出一条建议", "有办公场所", "有公示栏", "有考核办法", "有工作制度"}
    assert AuditEvent.objects.filter(event="checklist.defaults_created", actor=world.city_admin).count() == 1
    # a second press creates nothing, and an item the admin renamed away is added back only under its title
    assert svc.items_create_defaults(campaign=campaign, actor=world.city_admin) == []
    assert ChecklistItem.objects.filter(campaign=campaign).count() == 14
    assert AuditEvent.objects.filter(event="checklist.defaults_created").count() == 1


def test_defaults_are_per_campaign(world, campaign):
    other = make_campaign(
        name="上一年度",
        is_current=False,
        starts_on=TODAY() - dt.timedelta(days=400),
        ends_on=TODAY() - dt.timedelta(days=40),
    )
    svc.items_create_defaults(campaign=campaign, actor=world.city_admin)
    assert sel.items_of(other, MEMBER) == []
    svc.items_create_defaults(campaign=other, actor=world.city_admin)
    assert len(sel.items_of(other, MEMBER)) == 4 and len(sel.items_of(campaign, MEMBER)) == 4


def test_item_create_edit_move_delete_are_audited(world, campaign, items):
    city = world.city_admin
    item = svc.item_create(campaign=campaign, scope=MEMBER, title="  参加一次 组织生活 ", rule="", actor=city)
    assert item.title == "参加一次 组织生活" and item.sort_order == 4
    assert [i.title for i in sel.items_of(campaign, MEMBER)][-1] == "参加一次 组织生活"
    svc.item_update(
        item=item, title="讲一次党课", rule="has_verified_record", description="本周期内", actor=city
    )
    item.refresh_from_db()
    assert (item.title, item.rule, item.description) == ("讲一次党课", "has_verified_record", "本周期内")
    svc.item_move(item=item, direction="up", actor=city)
    assert [i.title for i in sel.items_of(campaign, MEMBER)] == [
        "认领一个岗位",
        "参加一次活动",
        "结对一户困难家庭",
        "讲一次党课",
        "提出一条建议",
    ]
    with pytest.raises(ChecklistError) as exc:
        svc.item_move(item=items["认领一个岗位"], direction="up", actor=city)
    assert exc.value.code == "at_edge"
    svc.item_move(item=items["认领一个岗位"], direction="down", actor=city)
    assert [i.title for i in sel.items_of(campaign, MEMBER)][:2] == ["参加一次活动", "认领一个岗位"]
    register(world.a, world.a.members[0])
    svc.mark_set(
        item=items["提出一条建议"],
        member=world.a.members[0],
        done=True,
        note="建议增设夜间巡逻",
        actor=admin(world.a),
    )
    assert svc.item_delete(item=items["提出一条建议"], actor=city) == 1
    assert not ChecklistMark.objects.exists()
    events = list(
        AuditEvent.objects.filter(actor=city, event__startswith="checklist.item_")
        .order_by("id")
        .values_list("event", flat=True)
    )
    assert events == [
        "checklist.item_created",
        "checklist.item_updated",
        "checklist.item_moved",
        "checklist.item_moved",
        "checklist.item_deleted",
    ]
    deleted = AuditEvent.objects.get(event="checklist.item_deleted")
    assert deleted.changes["marks"] == 1 and deleted.changes["title"] == ["提出一条建议", None]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"title": "认领一个岗位"}, "duplicate_title"),
        ({"title": "x"}, "title_required"),
        ({"title": "一" * 61}, "title_too_long"),
        ({"title": "有岗位", "rule": "has_posts"}, "bad_rule"),  # a community rule on a member item
        ({"title": "有岗位", "rule": "no_such_rule"}, "bad_rule"),
    ],
)
def test_item_create_refusals(world, campaign, items, fields, code):
    before = ChecklistItem.objects.count()
    with pytest.raises(ChecklistError) as exc:
        svc.item_create(campaign=campaign, scope=MEMBER, actor=world.city_admin, **fields)
    assert exc.value.code == code and exc.value.message
    assert ChecklistItem.objects.count() == before


@pytest.mark.parametrize(
    "role", ["district_admin", "street_admin", "community_admin", "unit_admin", "inspector", "member"]
)
def test_only_the_city_admin_manages_items(world, campaign, items, role):
    user = world.a.users[role]
    with pytest.raises(ChecklistError) as exc:
        svc.item_create(campaign=campaign, scope=MEMBER, title="新事项", actor=user)
    assert exc.value.status == 403
    with pytest.raises(ChecklistError):
        svc.items_create_defaults(campaign=campaign, actor=user)
    with pytest.raises(ChecklistError):
        svc.item_delete(item=items["有公示栏"], actor=user)
    assert ChecklistItem.objects.count() == 14


def test_items_pages_for_the_city_admin(world, campaign, client, login):
    login(world.city_admin)
    url = "/supervision/items/"
    assert "还没有事项" in client.get(url).content.decode()
    response = client.post("/supervision/items/defaults/", {"campaign": campaign.pk})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "有考核办法" in page and "认领一个岗位" in page
    response = client.post(
        url,
        {
            "campaign": campaign.pk,
            "scope": "community",
            "community-title": "有电子屏",
            "community-rule": "",
            "community-description": "进驻公示电子屏",
        },
    )
    assert response.status_code == 302
    item = ChecklistItem.objects.get(title="有电子屏")
    assert item.scope == COMMUNITY and item.sort_order == 10
    response = client.post(
        url, {"campaign": campaign.pk, "scope": "community", "community-title": "有电子屏"}
    )
    assert response.status_code == 409 and "已有“有电子屏”" in response.content.decode()
    response = client.post(f"/supervision/items/{item.pk}/edit/", {"title": "有公示屏", "rule": "has_teams"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.rule) == ("有公示屏", "has_teams")
    assert client.post(f"/supervision/items/{item.pk}/move/", {"direction": "up"}).status_code == 302
    item.refresh_from_db()
    assert item.sort_order == 9
    assert client.post(f"/supervision/items/{item.pk}/delete/").status_code == 302
    assert not ChecklistItem.objects.filter(pk=item.pk).exists()
    # a district admin may not
    login(world.a.users["district_admin"])
    assert client.get(url).status_code == 403
    assert client.post("/supervision/items/defaults/", {"campaign": campaign.pk}).status_code == 403


# --- computed member rules -----------------------------------------------------------------------------------


def test_rule_has_active_post(world, campaign):
    a = world.a
    m0, m1, m2 = a.members
    register(a, m0, m1, m2)
    post = ps.post_create(
        community=a.community,
        category=category(),
        title="楼道宣传",
        capacity=3,
        starts_on=TODAY(),
        actor=admin(a),
    )
    c0 = ps.claim_create(member=m0, post=post, actor=m0.user)
    ps.claim_create(member=m1, post=post, actor=None)
    assert c0.status == ClaimStatus.PENDING
    assert ids(MEMBER, "has_active_post", members_of(world), campaign) == set()  # pending is not enough
    ps.claim_approve(claim=c0, actor=admin(a))
    assert ids(MEMBER, "has_active_post", members_of(world), campaign) == {m0.pk}
    ps.claim_withdraw(claim=c0, reason="时间冲突", actor=m0.user)
    assert ids(MEMBER, "has_active_post", members_of(world), campaign) == set()


def _activity(side, *, starts_in: dt.timedelta, minutes: int = 60, title="清扫楼道"):
    start = timezone.now() + starts_in
    return acts.activity_create(
        community=side.community,
        category=category(),
        title=title,
        place="社区广场",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=minutes),
        capacity=10,
        actor=admin(side),
    )


def test_rule_attended_activity(world, campaign):
    a = world.a
    m0, m1, m2 = a.members
    register(a, m0, m1, m2)
    later = _activity(a, starts_in=dt.timedelta(days=2))
    acts.signup_create(activity=later, member=m1, actor=m1.user)  # signed up, not (yet) attended
    now_on = _activity(a, starts_in=-dt.timedelta(minutes=10), title="义诊")
    result = acts.attendance_check_in(activity=now_on, member=m0, method="qr", actor=m0.user)
    assert result.signup.status == SignupStatus.ATTENDED
    assert ids(MEMBER, "attended_activity", members_of(world), campaign) == {m0.pk}
    # a verified record of an activity also counts (the community confirmed attendance)
    signup = Signup.objects.create(
        activity=now_on, member=m2, status=SignupStatus.SIGNED, created_at=timezone.now()
    )
    acts.attendance_confirm(signup=signup, actor=admin(a))
    assert ids(MEMBER, "attended_activity", members_of(world), campaign) == {m0.pk, m2.pk}
    # outside the campaign period it does not count
    campaign.ends_on = TODAY() - dt.timedelta(days=1)
    assert ids(MEMBER, "attended_activity", members_of(world), campaign) == set()


def test_rule_has_pairing(world, campaign):
    a = world.a
    m0, m1, _ = a.members
    register(a, m0, m1)
    household = ps.household_create(community=a.community, head_name="困难户甲", actor=admin(a))
    pairing = ps.pairing_create(household=household, member=m0, actor=admin(a))
    assert ids(MEMBER, "has_pairing", members_of(world), campaign) == {m0.pk}
    ps.pairing_end(pairing=pairing, reason="已脱困", actor=admin(a))
    assert ids(MEMBER, "has_pairing", members_of(world), campaign) == set()


def test_rule_has_verified_record(world, campaign):
    a = world.a
    m0, m1, _ = a.members
    register(a, m0, m1)
    r0 = rec.record_create(
        member=m0,
        served_on=TODAY(),
        hours="2",
        category=category(),
        description="帮助老人买菜",
        actor=m0.user,
    )
    r1 = rec.record_create(
        member=m1, served_on=TODAY(), hours="1", category=category(), description="清理小广告", actor=m1.user
    )
    assert ids(MEMBER, "has_verified_record", members_of(world), campaign) == set()  # pending
    rec.record_verify(record=r0, actor=admin(a))
    rec.record_reject(record=r1, reason="无法核实", actor=admin(a))
    assert ids(MEMBER, "has_verified_record", members_of(world), campaign) == {m0.pk}
    campaign.starts_on = TODAY() + dt.timedelta(days=1)
    campaign.ends_on = TODAY() + dt.timedelta(days=30)
    assert ids(MEMBER, "has_verified_record", members_of(world), campaign) == set()


# --- computed community rules ---------------------------------------------------------------------------------


def test_rule_has_posts(world, campaign):
    assert ids(COMMUNITY, "has_posts", communities_of(world), campaign) == set()
    post = ps.post_create(
        community=world.a.community,
        category=category(),
        title="治安巡逻",
        capacity=2,
        starts_on=TODAY(),
        actor=admin(world.a),
    )
    assert ids(COMMUNITY, "has_posts", communities_of(world), campaign) == {world.a.community.pk}
    ps.post_deactivate(post=post, reason="暂停", actor=admin(world.a))
    assert ids(COMMUNITY, "has_posts", communities_of(world), campaign) == set()


def test_rule_has_teams(world, campaign):
    team = ps.team_create(community=world.b.community, name="法律援助队", actor=admin(world.b))
    assert ids(COMMUNITY, "has_teams", communities_of(world), campaign) == {world.b.community.pk}
    ps.team_set_active(team=team, active=False, actor=admin(world.b))
    assert ids(COMMUNITY, "has_teams", communities_of(world), campaign) == set()


def test_rule_has_activity_plan(world, campaign):
    assert ids(COMMUNITY, "has_activity_plan", communities_of(world), campaign) == set()
    activity = _activity(world.a, starts_in=dt.timedelta(days=3))
    assert ids(COMMUNITY, "has_activity_plan", communities_of(world), campaign) == {world.a.community.pk}
    acts.activity_cancel(activity=activity, reason="天气原因", actor=admin(world.a))
    assert ids(COMMUNITY, "has_activity_plan", communities_of(world), campaign) == set()


def test_rule_has_ledger(world, campaign):
    m = world.a.members[1]
    reg = rp.registration_submit(member=m, community=world.a.community, actor=m.user)
    assert ids(COMMUNITY, "has_ledger", communities_of(world), campaign) == set()  # pending only
    rp.registration_confirm(registration=reg, actor=admin(world.a))
    assert ids(COMMUNITY, "has_ledger", communities_of(world), campaign) == {world.a.community.pk}


def test_rule_has_records(world, campaign):
    m = world.b.members[0]
    register(world.b, m)
    record = rec.record_create(
        member=m, served_on=TODAY(), hours="1.5", category=category(), description="普法讲座", actor=m.user
    )
    assert ids(COMMUNITY, "has_records", communities_of(world), campaign) == set()
    rec.record_verify(record=record, actor=admin(world.b))
    assert ids(COMMUNITY, "has_records", communities_of(world), campaign) == {world.b.community.pk}
    campaign.ends_on = TODAY() - dt.timedelta(days=1)
    assert ids(COMMUNITY, "has_records", communities_of(world), campaign) == set()


def test_rule_has_pairing_for_communities(world, campaign):
    register(world.a, world.a.members[2])
    household = ps.household_create(community=world.a.community, head_name="困难户乙", actor=admin(world.a))
    assert ids(COMMUNITY, "has_pairing", communities_of(world), campaign) == set()  # a household alone
    ps.pairing_create(household=household, member=world.a.members[2], actor=admin(world.a))
    assert ids(COMMUNITY, "has_pairing", communities_of(world), campaign) == {world.a.community.pk}


def test_every_registered_rule_has_a_test_above():
    tested = {
        ("member", "has_active_post"),
        ("member", "attended_activity"),
        ("member", "has_pairing"),
        ("member", "has_verified_record"),
        ("community", "has_posts"),
        ("community", "has_teams"),
        ("community", "has_activity_plan"),
        ("community", "has_ledger"),
        ("community", "has_records"),
        ("community", "has_pairing"),
    }
    assert set(RULES) == tested
    assert {r for items in DEFAULT_ITEMS.values() for _, r, _ in items if r} <= {n for _, n in RULES}


# --- manual marks ---------------------------------------------------------------------------------------------


def test_community_admin_marks_a_members_suggestion_with_evidence(world, campaign, items, client, login):
    a = world.a
    m = a.members[0]
    register(a, m)
    item = items["提出一条建议"]
    login(admin(a))
    before = last_audit_id()
    response = client.post(
        f"/supervision/members/{m.pk}/mark/",
        {"item": item.pk, "action": "mark", "note": "建议在小区增设夜间照明（3月5日）"},
    )
    assert response.status_code == 302
    mark = ChecklistMark.objects.get(item=item, member=m)
    assert (mark.done, mark.note, mark.marked_by) == (True, "建议在小区增设夜间照明（3月5日）", admin(a))
    rows = list(AuditEvent.objects.filter(pk__gt=before).values_list("event", "success", "object_id"))
    assert rows == [("checklist.marked", True, str(mark.pk))]
    assert sel.member_checklist(m, campaign).statuses[3].done
    page = client.get(f"/supervision/members/{m.pk}/").content.decode()
    assert "建议在小区增设夜间照明" in page and "撤销确认" in page
    # the member sees it on their phone page, with the evidence
    login(m.user)
    me = client.get("/supervision/me/").content.decode()
    assert "建议在小区增设夜间照明" in me and "1<span" in me.replace(" ", "").replace("\n", "")
    # withdraw: audited with the old note
    login(admin(a))
    before = last_audit_id()
    client.post(
        f"/supervision/members/{m.pk}/mark/", {"item": item.pk, "action": "unmark", "note": "重复登记"}
    )
    mark.refresh_from_db()
    assert not mark.done and mark.note == "重复登记"
    row = AuditEvent.objects.get(pk__gt=before)
    assert row.event == "checklist.unmarked"
    assert row.changes["note"] == ["建议在小区增设夜间照明（3月5日）", "重复登记"]
    assert not sel.member_checklist(m, campaign).statuses[3].done


def test_unit_admin_marks_their_units_member(world, campaign, items):
    m = world.a.members[1]  # not registered: the unit can still record the suggestion
    svc.mark_set(
        item=items["提出一条建议"],
        member=m,
        done=True,
        note="向单位党组织提出",
        actor=world.a.users["unit_admin"],
    )
    assert ChecklistMark.objects.filter(member=m, done=True).count() == 1


def test_street_admin_marks_a_community_item(world, campaign, items):
    street = world.a.users["street_admin"]
    svc.mark_set(
        item=items["有办公场所"],
        community=world.a.community,
        done=True,
        note="社区服务中心二楼 203 室",
        actor=street,
    )
    checklist = sel.community_checklist(world.a.community, campaign)
    office = next(s for s in checklist.statuses if s.item.title == "有办公场所")
    assert office.done and office.mark.note == "社区服务中心二楼 203 室" and office.mark.marked_by == street
    with pytest.raises(ChecklistError) as exc:
        svc.mark_set(
            item=items["有办公场所"],
            community=world.a.community,
            done=True,
            note="社区服务中心二楼 203 室",
            actor=street,
        )
    assert exc.value.code == "unchanged"


@pytest.mark.parametrize(
    ("role", "side"),
    [
        ("community_admin", "b"),
        ("street_admin", "b"),
        ("district_admin", "a"),
        ("inspector", "a"),
        ("unit_admin", "a"),
        ("city_admin", None),
        ("member", "a"),
    ],
)
def test_community_marks_refused_outside_scope_or_role(world, campaign, items, client, login, role, side):
    user = world.city_admin if role == "city_admin" else getattr(world, side).users[role]
    item = items["有公示栏"]
    login(user)
    before = table_snapshot()
    response = client.post(
        f"/supervision/communities/{world.a.community.pk}/mark/",
        {"item": item.pk, "action": "mark", "note": "社区门口公示栏"},
    )
    # roles that may mark somewhere get 404 for another community; roles that never mark get 403
    expected = 404 if role in ("community_admin", "street_admin") else 403
    assert response.status_code == expected
    assert table_snapshot() == before
    with pytest.raises(ChecklistError) as exc:
        svc.mark_set(item=item, community=world.a.community, done=True, note="社区门口公示栏", actor=user)
    assert exc.value.status == 404
    assert not ChecklistMark.objects.exists()


@pytest.mark.parametrize(
    ("role", "side", "expected"),
    [
        ("community_admin", "b", 404),
        ("unit_admin", "b", 404),
        ("street_admin", "a", 403),
        ("inspector", "a", 403),
        ("district_admin", "a", 403),
        ("member", "a", 403),
    ],
)
def test_member_marks_refused_outside_scope_or_role(
    world, campaign, items, client, login, role, side, expected
):
    m = world.a.members[0]
    register(world.a, m)
    login(getattr(world, side).users[role])
    before = table_snapshot()
    response = client.post(
        f"/supervision/members/{m.pk}/mark/",
        {"item": items["提出一条建议"].pk, "action": "mark", "note": "建议增设快递柜"},
    )
    assert response.status_code == expected
    assert table_snapshot() == before


def test_community_admin_of_another_community_cannot_mark_a_member_who_lives_there_but_is_not_registered(
    world, campaign, items
):
    m = world.a.members[1]  # lives in community a, not registered anywhere
    with pytest.raises(ChecklistError) as exc:
        svc.mark_set(item=items["提出一条建议"], member=m, done=True, note="口头建议", actor=admin(world.a))
    assert exc.value.status == 404


def test_inspector_reads_but_sees_no_mark_forms(world, campaign, items, client, login):
    register(world.a, world.a.members[0])
    svc.mark_set(
        item=items["有考核办法"],
        community=world.a.community,
        done=True,
        note="《社区在职党员考核办法》",
        actor=admin(world.a),
    )
    login(world.a.users["inspector"])
    page = client.get(f"/supervision/communities/{world.a.community.pk}/").content.decode()
    assert "《社区在职党员考核办法》" in page
    assert "/mark/" not in page
    member_page = client.get(f"/supervision/members/{world.a.members[0].pk}/").content.decode()
    assert "/mark/" not in member_page and "提出一条建议" in member_page
    assert client.get(f"/supervision/communities/{world.b.community.pk}/").status_code == 404
    assert client.get(f"/supervision/members/{world.b.members[0].pk}/").status_code == 404


def test_computed_items_cannot_be_marked_and_notes_are_required(world, campaign, items, client, login):
    register(world.a, world.a.members[0])
    with pytest.raises(ChecklistError) as exc:
        svc.mark_set(
            item=items["有岗位设置"],
            community=world.a.community,
            done=True,
            note="有岗位",
            actor=admin(world.a),
        )
    assert exc.value.code == "computed" and exc.value.status == 409
    with pytest.raises(ChecklistError) as exc:
        svc.mark_set(
            item=items["有公示栏"], community=world.a.community, done=True, note=" ", actor=admin(world.a)
        )
    assert exc.value.code == "note_required"
    with pytest.raises(ChecklistError) as exc:
        svc.mark_set(item=items["有公示栏"], community=world.a.community, done=False, actor=admin(world.a))
    assert exc.value.code == "not_marked"
    with pytest.raises(ChecklistError) as exc:  # a member item on a community
        svc.mark_set(
            item=items["提出一条建议"],
            community=world.a.community,
            done=True,
            note="建议",
            actor=admin(world.a),
        )
    assert exc.value.status == 404
    login(admin(world.a))
    response = client.post(
        f"/supervision/communities/{world.a.community.pk}/mark/",
        {"item": items["有公示栏"].pk, "action": "mark", "note": ""},
    )
    assert response.status_code == 302
    assert "请填写佐证说明" in client.get(response["Location"]).content.decode()
    assert not ChecklistMark.objects.exists()


def test_marks_of_an_item_made_computed_stop_counting_and_count_again(world, campaign, items):
    item = items["有公示栏"]
    svc.mark_set(item=item, community=world.a.community, done=True, note="门口公示栏", actor=admin(world.a))

    def done():
        return next(
            s.done
            for s in sel.community_checklist(world.a.community, campaign).statuses
            if s.item.pk == item.pk
        )

    assert done()
    svc.item_update(item=item, title=item.title, rule="has_teams", actor=world.city_admin)
    assert not done()
    svc.item_update(item=item, title=item.title, rule="", actor=world.city_admin)
    assert done()


# --- completion rates vs independent Python counts -------------------------------------------------------------


def _bigger_world(world, campaign, *, extra_members: int, seed: int):
    """Extra communities and members on both sides, with a seeded random mix of posts, claims, teams, pairings,
    activities with check-ins, verified records and marks, all made through the services. The first community
    gets everything, so some communities and members are complete."""
    rng = random.Random(seed)
    svc.items_create_defaults(campaign=campaign, actor=world.city_admin)
    items = {i.title: i for i in ChecklistItem.objects.filter(campaign=campaign)}
    communities = []
    for tag, side in (("a", world.a), ("b", world.b)):
        extra = make_region(f"{side.community.name}新{seed}", RegionKind.COMMUNITY, side.street)
        extra_admin = make_user(f"ca_{tag}_{seed}", Role.COMMUNITY_ADMIN, region=extra)
        communities += [(side, side.community, admin(side)), (side, extra, extra_admin)]
    unit2 = make_unit(f"第二单位{seed}", region=world.a.district)
    posts, households, activities = {}, {}, {}
    for n, (_side, community, cadmin) in enumerate(communities):
        lucky = n == 0
        if lucky or rng.random() < 0.7:
            posts[community.pk] = ps.post_create(
                community=community,
                category=category(),
                title="岗位",
                capacity=50,
                starts_on=TODAY(),
                actor=cadmin,
            )
        if lucky or rng.random() < 0.6:
            ps.team_create(community=community, name="服务队", actor=cadmin)
        if lucky or rng.random() < 0.7:
            start = timezone.now() - dt.timedelta(minutes=10)
            activities[community.pk] = acts.activity_create(
                community=community,
                category=category(),
                title="志愿服务",
                place="广场",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=1),
                capacity=99,
                actor=cadmin,
            )
        households[community.pk] = ps.household_create(community=community, head_name="困难户", actor=cadmin)
        for title in ("有办公场所", "有公示栏", "有考核办法", "有工作制度"):
            if lucky or rng.random() < 0.7:
                svc.mark_set(item=items[title], community=community, done=True, note="已核实", actor=cadmin)
    side, community, cadmin = communities[0]  # the lucky community's ledger, record, pairing
    m = make_member(f"党员{seed}x", side.unit, community, phone=False)
    rp.registration_register_at_office(member=m, community=community, actor=cadmin)
    rec.record_verify(
        record=rec.record_create(
            member=m, served_on=TODAY(), hours="2", category=category(), description="政策宣传", actor=None
        ),
        actor=cadmin,
    )
    ps.pairing_create(household=households[community.pk], member=m, actor=cadmin)
    ps.claim_approve(claim=ps.claim_create(member=m, post=posts[community.pk], actor=None), actor=cadmin)
    acts.attendance_check_in(activity=activities[community.pk], member=m, method="qr", actor=None)
    svc.mark_set(item=items["提出一条建议"], member=m, done=True, note="建议", actor=cadmin)  # complete
    for i in range(extra_members):
        side, community, cadmin = communities[rng.randrange(len(communities))]
        unit = unit2 if rng.random() < 0.3 else side.unit
        m = make_member(f"党员{seed}x{i}", unit, community, phone=False)
        if rng.random() < 0.1:
            continue  # not registered: not counted
        rp.registration_register_at_office(member=m, community=community, actor=cadmin)
        if community.pk in posts and rng.random() < 0.8:
            claim = ps.claim_create(member=m, post=posts[community.pk], actor=None)
            if rng.random() < 0.9:
                ps.claim_approve(claim=claim, actor=cadmin)
        if rng.random() < 0.6:
            ps.pairing_create(household=households[community.pk], member=m, actor=cadmin)
        if rng.random() < 0.7:
            svc.mark_set(item=items["提出一条建议"], member=m, done=True, note="提出建议", actor=cadmin)
        if community.pk in activities and rng.random() < 0.7:
            acts.attendance_check_in(activity=activities[community.pk], member=m, method="qr", actor=m.user)
        if rng.random() < 0.4:
            record = rec.record_create(
                member=m,
                served_on=TODAY(),
                hours="1",
                category=category(),
                description="入户走访",
                actor=None,
            )
            if rng.random() < 0.7:
                rec.record_verify(record=record, actor=cadmin)
        if rng.random() < 0.1:
            ps.claims_end_for_member(member=m, reason="调整", actor=cadmin)
        if rng.random() < 0.05:
            rp.end_registrations_for_leaver(member=m, actor=cadmin)  # left: no longer counted
    return items


def _expected(campaign):
    """Per community (id) of active confirmed registrations: (registered, complete 四个一), and per active
    community: set of 十个有 items done — computed row by row in plain Python, without the selectors."""
    from jinshequ.activities.models import Activity, ServiceRecord

    member_items = list(ChecklistItem.objects.filter(campaign=campaign, scope=MEMBER))
    community_items = list(ChecklistItem.objects.filter(campaign=campaign, scope=COMMUNITY))
    first, last = campaign.starts_on, campaign.ends_on
    members: dict[int, list[int]] = {}
    for reg in Registration.objects.filter(status=RegistrationStatus.CONFIRMED).select_related("member"):
        if reg.member.status != "active":
            continue
        m = reg.member
        done = 0
        for item in member_items:
            if item.rule == "has_active_post":
                ok = any(c.status == ClaimStatus.ACTIVE for c in PostClaim.objects.filter(member=m))
            elif item.rule == "has_pairing":
                ok = any(p.ended_on is None for p in Pairing.objects.filter(member=m))
            elif item.rule == "attended_activity":
                ok = any(
                    s.status == SignupStatus.ATTENDED
                    and first <= timezone.localtime(s.activity.starts_at).date() <= last
                    for s in Signup.objects.filter(member=m)
                )
            elif item.rule == "":
                ok = any(k.done for k in ChecklistMark.objects.filter(item=item, member=m))
            else:
                raise AssertionError(item.rule)
            done += ok
        tally = members.setdefault(reg.community_id, [0, 0])
        tally[0] += 1
        tally[1] += done == len(member_items)
    communities: dict[int, set[int]] = {}
    for c in Region.objects.filter(kind=RegionKind.COMMUNITY, is_active=True):
        done_items = set()
        for item in community_items:
            if item.rule == "has_posts":
                ok = any(p.is_active and (p.ends_on is None or p.ends_on >= TODAY()) for p in c.posts.all())
            elif item.rule == "has_teams":
                ok = any(t.is_active for t in c.service_teams.all())
            elif item.rule == "has_ledger":
                ok = any(r.status == RegistrationStatus.CONFIRMED for r in c.registrations.all())
            elif item.rule == "has_pairing":
                ok = any(p.ended_on is None for h in c.households.all() for p in h.pairings.all())
            elif item.rule == "has_activity_plan":
                ok = any(
                    a.status == "published"
                    and (
                        first <= timezone.localtime(a.starts_at).date() <= last
                        or a.starts_at >= timezone.now()
                    )
                    for a in Activity.objects.filter(community=c)
                )
            elif item.rule == "has_records":
                ok = any(
                    r.status == "verified" and first <= r.served_on <= last
                    for r in ServiceRecord.objects.filter(community=c)
                )
            elif item.rule == "":
                ok = any(k.done for k in ChecklistMark.objects.filter(item=item, community=c))
            else:
                raise AssertionError(item.rule)
            if ok:
                done_items.add(item.pk)
        communities[c.pk] = done_items
    return members, communities, community_items


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_completion_rates_equal_independent_counts(world, campaign, seed):
    _bigger_world(world, campaign, extra_members=24, seed=seed)
    members, communities, community_items = _expected(campaign)
    tree = sel.checklist_tree(world.city_admin, campaign)
    n_items = len(community_items)
    for pk, done_items in communities.items():
        node = tree.nodes[pk]
        assert {i.pk for i in community_items} - {i.pk for i in node.missing} == done_items
        assert node.members.total == members.get(pk, [0, 0])[0]
        assert node.members.complete == members.get(pk, [0, 0])[1]
    for side in (world.a, world.b):
        for region in (side.street, side.district):
            node = tree.nodes[region.pk]
            under = [
                c.pk for c in Region.objects.filter(kind=RegionKind.COMMUNITY, path__startswith=region.path)
            ]
            assert node.communities.total == len(under)
            assert node.communities.complete == sum(len(communities[c]) == n_items for c in under)
            assert node.members.total == sum(members.get(c, [0, 0])[0] for c in under)
            assert node.members.complete == sum(members.get(c, [0, 0])[1] for c in under)
    city = tree.nodes[world.city.pk]
    assert city.members.total == sum(v[0] for v in members.values()) > 0
    assert 0 < city.members.complete < city.members.total  # the test data has both kinds
    assert 0 < city.communities.complete < city.communities.total
    assert city.members.complete == sum(v[1] for v in members.values())
    missing, count = tree.communities_missing(None)
    assert count == sum(len(v) < n_items for v in communities.values())
    # a street admin sees the same figures for their street, and nothing of the other side
    street_tree = sel.checklist_tree(world.a.users["street_admin"], campaign)
    assert street_tree.nodes[world.a.street.pk].members.total == tree.nodes[world.a.street.pk].members.total
    assert world.b.community.pk not in street_tree.nodes
    # the community page's figures equal the same counts
    tally = sel.member_tally(
        sel.checklist_registrations(world.city_admin).filter(community=world.a.community),
        sel.items_of(campaign, MEMBER),
        campaign,
    )
    assert (tally.total, tally.complete) == tuple(members.get(world.a.community.pk, [0, 0]))


def test_unit_tree_and_member_rows_equal_the_region_counts(world, campaign):
    _bigger_world(world, campaign, extra_members=20, seed=7)
    members, _, _ = _expected(campaign)
    units = sel.checklist_unit_tree(world.city_admin, campaign)
    total = units.total(None)
    assert total.total == sum(v[0] for v in members.values())
    assert total.complete == sum(v[1] for v in members.values())
    items = sel.items_of(campaign, MEMBER)
    rows = sel.with_flags(
        list(sel.member_rows(world.city_admin, campaign, items, status="complete")), items, campaign
    )
    assert len(rows) == total.complete
    assert all(r.complete and all(done for _, done in r.flags) for r in rows)
    incomplete = sel.with_flags(
        list(sel.member_rows(world.city_admin, campaign, items, status="incomplete")), items, campaign
    )
    assert len(incomplete) == total.total - total.complete
    assert not any(r.complete or all(done for _, done in r.flags) for r in incomplete)
    for item in items:
        missing = sel.with_flags(
            list(sel.member_rows(world.city_admin, campaign, items, missing=item)), items, campaign
        )
        assert len(missing) == total.total - total.item_count(item)
        assert not any(done for r in missing for i, done in r.flags if i == item)
    # unit admin a: only their unit's members
    unit_admin = world.a.users["unit_admin"]
    unit_rows = list(sel.member_rows(unit_admin, campaign, items))
    assert {r.member.work_unit_id for r in unit_rows} <= {world.a.unit.pk}
    assert {r.member_id for r in unit_rows} == set(
        Registration.objects.filter(status="confirmed", member__work_unit=world.a.unit).values_list(
            "member_id", flat=True
        )
    )


# --- pages ------------------------------------------------------------------------------------------------------


def test_member_page_shows_own_items_on_a_phone(world, campaign, items, client, login):
    a = world.a
    m = a.members[0]
    register(a, m)
    post = ps.post_create(
        community=a.community,
        category=category(),
        title="环境整治岗",
        capacity=3,
        starts_on=TODAY(),
        actor=admin(a),
    )
    ps.claim_approve(claim=ps.claim_create(member=m, post=post, actor=m.user), actor=admin(a))
    login(m.user)
    page = client.get("/supervision/me/").content.decode()
    for title in ("认领一个岗位", "参加一次活动", "结对一户困难家庭", "提出一条建议"):
        assert title in page
    assert 'id="checklist-count">1<' in page
    assert "/posts/" not in page.split("认领一个岗位")[1].split("参加一次活动")[0]  # done: no "去完成" link
    assert 'href="/activities/"' in page  # not done: a link to do it
    # other members' data is not there, and staff pages are refused
    assert world.a.members[1].name not in page
    assert client.get(f"/supervision/members/{m.pk}/").status_code == 403
    assert client.get("/supervision/").status_code == 403


def test_member_page_without_campaign_or_items(world, client, login):
    login(world.a.members[0].user)
    assert "当前没有进行中的活动周期" in client.get("/supervision/me/").content.decode()
    make_campaign()
    assert "尚未公布" in client.get("/supervision/me/").content.decode()


def test_community_admin_overview_redirects_to_own_community(world, campaign, items, client, login):
    login(admin(world.a))
    response = client.get("/supervision/")
    assert (
        response.status_code == 302
        and response["Location"] == f"/supervision/communities/{world.a.community.pk}/"
    )
    assert client.get(f"/supervision/?region={world.b.community.pk}").status_code == 404
    assert client.get(f"/supervision/communities/{world.b.community.pk}/").status_code == 404
    assert client.get(f"/supervision/members/?region={world.b.community.pk}").status_code == 404
    assert client.get(f"/supervision/units/?unit={world.b.unit.pk}").status_code == 404


def test_overview_drills_down_to_communities_with_missing_items(world, campaign, items, client, login):
    register(world.a, world.a.members[0])
    login(world.city_admin)
    page = client.get("/supervision/").content.decode()
    assert world.a.district.name in page and world.b.district.name in page
    assert "有缺项的社区（2 个）" in page
    page = client.get(f"/supervision/?region={world.a.street.pk}").content.decode()
    assert f"/supervision/communities/{world.a.community.pk}/" in page
    assert world.b.community.name not in page
    response = client.get(f"/supervision/?region={world.a.community.pk}")
    assert response.status_code == 302
    community = client.get(response["Location"]).content.decode()
    assert "有办公场所" in community and "已报到党员" in community


def test_campaign_parameter(world, campaign, items, client, login):
    old = make_campaign(
        name="2025年在职党员进社区",
        is_current=False,
        starts_on=TODAY() - dt.timedelta(days=500),
        ends_on=TODAY() - dt.timedelta(days=140),
    )
    login(world.city_admin)
    page = client.get(f"/supervision/?campaign={old.pk}").content.decode()
    assert "本周期尚未设置" in page
    assert client.get("/supervision/?campaign=999999").status_code == 404
    assert client.get("/supervision/?campaign=abc").status_code == 404


# --- query bounds (T16) ----------------------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as q:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(q.captured_queries)


PAGES = [
    ("city_admin", "/supervision/"),
    ("city_admin", "/supervision/units/"),
    ("city_admin", "/supervision/members/"),
    ("street_admin", "/supervision/"),
    ("community_admin", "/supervision/communities/{community}/"),
    ("community_admin", "/supervision/members/{member}/"),
    ("unit_admin", "/supervision/units/"),
    ("unit_admin", "/supervision/members/"),
    ("inspector", "/supervision/members/?status=incomplete"),
    ("member", "/supervision/me/"),
]


def test_query_counts_do_not_grow_with_rows(world, campaign, client):
    svc.items_create_defaults(campaign=campaign, actor=world.city_admin)
    register(world.a, world.a.members[0])

    def counts():
        out = {}
        for role, url in PAGES:
            user = world.city_admin if role == "city_admin" else world.a.users[role]
            client.force_login(user)
            out[(role, url)] = _count(
                client, url.format(community=world.a.community.pk, member=world.a.members[0].pk)
            )
        return out

    small = counts()
    _bigger_world(world, campaign, extra_members=40, seed=11)
    for i in range(3):
        make_region(f"空社区{i}", RegionKind.COMMUNITY, world.a.street)
    large = counts()
    assert small == large, {k: (small[k], large[k]) for k in small if small[k] != large[k]}
    assert max(large.values()) <= 20, large


# --- R15: the member list equals the scope selector -------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["city_admin", "district_admin", "street_admin", "community_admin", "unit_admin", "inspector"]
)
def test_member_list_equals_the_selector(world, campaign, items, client, role):
    import re

    for side in (world.a, world.b):
        register(side, *side.members[:2])
    other = make_unit("外单位", region=world.a.district)
    outsider = make_member("外单位党员", other, world.a.community, phone=False)
    register(world.a, outsider)
    user = world.city_admin if role == "city_admin" else world.a.users[role]
    client.force_login(user)
    page = client.get("/supervision/members/").content.decode()
    linked = {int(x) for x in re.findall(r'href="/supervision/members/(\d+)/"', page)}
    expected = set(sel.checklist_registrations(user).values_list("member_id", flat=True))
    assert linked == expected and expected
    everyone = set(Registration.objects.filter(status="confirmed").values_list("member_id", flat=True))
    if role == "city_admin":
        assert expected == everyone
    elif role == "unit_admin":
        assert outsider.pk not in expected and world.b.members[0].pk not in expected
    else:
        assert world.b.members[0].pk not in expected and outsider.pk in expected
