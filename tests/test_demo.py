"""The demo city (``jinshequ demo``) and the system check (``check_system``).

Small scale only, so the file stays fast; the city-scale build is measured by
``benchmarks/pages.py`` and by hand (``jinshequ demo --scale city --no-serve``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Sum

from jinshequ.accounts.demo_accounts import DEMO_PASSWORD, DEMO_USERNAMES
from jinshequ.accounts.models import AuditEvent, Notification, Role, User
from jinshequ.activities.integrity import check_activities_integrity
from jinshequ.activities.models import Activity, Attendance, ServiceRecord, Signup
from jinshequ.campaigns.models import current_campaign
from jinshequ.core import crypto, system
from jinshequ.core.idcard import id_birth_date, id_gender, validate_id_number, validate_phone
from jinshequ.core.pinyin import name_pinyin
from jinshequ.demo.geography import DISTRICTS
from jinshequ.members.models import (
    ContactCard,
    Exemption,
    Member,
    MemberStatus,
    PartyStatus,
    Registration,
    id_number_hash,
    phone_hash,
)
from jinshequ.members.reporting_selectors import with_report_status
from jinshequ.members.selectors import member_list_for_user
from jinshequ.posts.integrity import check_posts_integrity
from jinshequ.posts.models import (
    CommunitySettings,
    Household,
    Pairing,
    Post,
    PostClaim,
    ServiceTeam,
    TeamMembership,
)
from jinshequ.posts.services import ADDRESS_PURPOSE, PHONE_PURPOSE
from jinshequ.regions.models import Region, RegionKind
from jinshequ.site.integrity import check_integrity
from jinshequ.supervision.models import ChecklistItem, ChecklistMark
from jinshequ.units.models import WorkUnit

AS_OF = "2026-06-30"
AWARE_AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
AREA_CODES = {d.name: d.area_code for d in DISTRICTS}


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", "--as-of", AS_OF, *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Everything the seed decides, in creation order (ids themselves may differ between builds)."""
    return {
        "registrations": list(
            Registration.objects.order_by("id").values_list(
                "member__id_number_hash",
                "community__name",
                "status",
                "method",
                "submitted_at",
                "decided_at",
                "confirmed_on",
                "ended_on",
                "end_reason",
                "reject_reason",
            )
        ),
        "exemptions": list(
            Exemption.objects.order_by("id").values_list(
                "member__id_number_hash", "reason", "valid_until", "revoked_at"
            )
        ),
        "cards": list(
            ContactCard.objects.order_by("id").values_list(
                "member__id_number_hash", "number", "is_active", "printed_at"
            )
        ),
        "posts": list(
            Post.objects.order_by("id").values_list("community__name", "title", "capacity", "claimed")
        ),
        "claims": list(
            PostClaim.objects.order_by("id").values_list(
                "member__id_number_hash", "post__title", "status", "created_at"
            )
        ),
        "activities": list(
            Activity.objects.order_by("id").values_list(
                "community__name", "title", "starts_at", "signed_up", "status"
            )
        ),
        "signups": list(
            Signup.objects.order_by("id").values_list("member__id_number_hash", "status", "created_at")
        ),
        "records": list(
            ServiceRecord.objects.order_by("id").values_list(
                "member__id_number_hash",
                "served_on",
                "hours",
                "status",
                "evidence",
                "description",
                "created_at",
            )
        ),
        "households": list(Household.objects.order_by("id").values_list("head_name", "phone_masked")),
        "marks": list(ChecklistMark.objects.order_by("id").values_list("item__title", "note")),
        "members": list(
            Member.objects.order_by("id").values_list(
                "name",
                "id_number_hash",
                "phone_hash",
                "birth_date",
                "gender",
                "community__name",
                "work_unit__name",
                "address",
                "party_status",
                "is_leading_cadre",
                "status",
            )
        ),
        "skills": list(
            Member.skills.through.objects.order_by("member_id", "skill_id").values_list(
                "member__id_number_hash", "skill__name"
            )
        ),
        "regions": list(Region.objects.order_by("id").values_list("name", "kind", "code")),
        "units": list(
            WorkUnit.objects.order_by("id").values_list("name", "kind", "parent__name", "region__name")
        ),
        "accounts": sorted(
            User.objects.values_list("username", "role", "region__name", "work_unit__name", "display_name")
        ),
    }


@pytest.fixture
def demo(db):
    output = run_demo()
    yield output
    assert check_integrity() == []  # whatever the test did, the demo keeps every invariant


def test_small_demo_has_the_promised_shape(demo):
    assert Region.objects.filter(kind=RegionKind.CITY).get().name == "本溪市"
    assert set(Region.objects.filter(kind=RegionKind.DISTRICT).values_list("name", flat=True)) == {
        "平山区",
        "溪湖区",
    }
    assert Region.objects.filter(kind=RegionKind.STREET).count() == 4
    assert Region.objects.filter(kind=RegionKind.COMMUNITY).count() == 8
    assert WorkUnit.objects.count() == 30
    assert WorkUnit.objects.exclude(parent=None).exists(), "some units must be nested"
    assert Member.objects.count() == 400
    # every community and unit has people in it
    assert not Region.objects.filter(kind=RegionKind.COMMUNITY, resident_members=None).exists()
    assert not WorkUnit.objects.filter(members=None).exists()
    # one summary audit row, not one per member
    built = AuditEvent.objects.filter(event="demo.built").get()
    assert built.changes["members"] == 400 and built.changes["scale"] == "small"
    assert AuditEvent.objects.filter(event="member.created").count() == 0


def test_demo_paths_match_the_services_format(demo):
    for region in Region.objects.all():
        expected = f"{region.parent.path if region.parent_id else ''}{region.pk}."
        assert region.path == expected, region.name
    for unit in WorkUnit.objects.select_related("parent", "region"):
        assert unit.path == f"{unit.parent.path if unit.parent_id else ''}{unit.pk}.", unit.name
        assert unit.region_path == unit.region.path, unit.name


def test_demo_output_lists_url_accounts_password_and_time(demo):
    assert "http://127.0.0.1:8000/" in demo
    assert DEMO_PASSWORD in demo
    assert re.search(r"建成用时 \d+\.\d 秒", demo)
    for username in DEMO_USERNAMES:
        assert re.search(rf"^{username}\s", demo, re.M), username
    assert "平山区 · 站前街道" in demo  # the street admin's scope


def test_demo_is_deterministic_and_reset_rebuilds(demo):
    first = snapshot()
    output = run_demo("--reset")
    assert "已建成" in output
    assert snapshot() == first
    assert AuditEvent.objects.filter(event="demo.built").count() == 1  # the reset emptied the log too


def test_other_seed_gives_other_people(demo):
    first = [name for name, *_ in snapshot()["members"]]
    run_demo("--reset", "--seed", "7")
    second = [name for name, *_ in snapshot()["members"]]
    assert len(second) == 400
    assert sum(a != b for a, b in zip(first, second, strict=True)) > 300


def test_second_run_without_reset_does_not_duplicate(demo):
    before = (Member.objects.count(), Region.objects.count(), WorkUnit.objects.count(), User.objects.count())
    output = run_demo()
    assert "已有演示城市" in output
    assert "已建成" not in output
    after = (Member.objects.count(), Region.objects.count(), WorkUnit.objects.count(), User.objects.count())
    assert after == before
    assert AuditEvent.objects.filter(event="demo.built").count() == 1
    assert DEMO_PASSWORD in output and "city_admin" in output  # the accounts are printed again


def test_demo_refuses_to_mix_with_other_data(world):
    with pytest.raises(CommandError, match="--reset"):
        run_demo()
    assert not Region.objects.filter(name="本溪市").exists()


def test_demo_refuses_production_settings(db):
    from django.test import override_settings

    with (
        override_settings(SETTINGS_MODULE="jinshequ.settings_production"),
        pytest.raises(CommandError, match="生产配置"),
    ):
        run_demo()
    assert not Region.objects.exists()


def test_every_demo_id_number_and_phone_is_valid(demo):
    as_of = dt.date.fromisoformat(AS_OF)
    members = list(Member.objects.select_related("community__parent__parent"))
    assert len({m.id_number_hash for m in members}) == len(members)
    for m in members:
        number = m.reveal_id_number()
        assert validate_id_number(number) == number
        assert id_number_hash(number) == m.id_number_hash
        assert id_birth_date(number) == m.birth_date
        assert id_gender(number) == m.gender
        assert number[:6] == AREA_CODES[m.community.parent.parent.name]
        age = (
            as_of.year
            - m.birth_date.year
            - ((as_of.month, as_of.day) < (m.birth_date.month, m.birth_date.day))
        )
        assert 23 <= age <= 60, (m.name, m.birth_date)
        assert m.id_number_masked == f"{number[:4]}{'*' * 10}{number[-4:]}"
        if m.phone_enc:
            phone = m.reveal_phone()
            assert validate_phone(phone) == phone and phone_hash(phone) == m.phone_hash
        assert (m.name_pinyin, m.name_initials) == name_pinyin(m.name)


def test_demo_members_look_real(demo):
    members = list(Member.objects.prefetch_related("skills"))
    n = len(members)
    probationary = sum(m.party_status == PartyStatus.PROBATIONARY for m in members)
    cadres = sum(m.is_leading_cadre for m in members)
    left = [m for m in members if m.status == MemberStatus.LEFT]
    assert 0.02 * n <= probationary <= 0.09 * n
    assert 0.03 * n <= cadres <= 0.14 * n
    assert 1 <= len(left) <= 0.03 * n and all(m.left_on for m in left)
    assert all(
        m.joined_party_on and m.birth_date < m.joined_party_on <= dt.date.fromisoformat(AS_OF)
        for m in members
    )
    assert all(re.fullmatch(r".+\d+号楼\d单元\d{3,4}室", m.address) for m in members)
    assert all(m.avail_weekday_day or m.avail_weekday_evening or m.avail_weekend for m in members)
    skill_counts = Counter(len(m.skills.all()) for m in members)
    assert set(skill_counts) <= {0, 1, 2, 3} and skill_counts[0] and skill_counts[3]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", m.name) for m in members)
    assert len({m.name[0] for m in members}) > 40  # many surnames …
    assert Counter(m.name[0] for m in members).most_common(1)[0][0] in "王李张刘"  # … weighted like reality
    assert 0.45 < sum(m.gender == "M" for m in members) / n < 0.72


def test_demo_accounts_are_anchored_as_described(demo):
    users = {u.username: u for u in User.objects.select_related("region", "work_unit")}
    assert set(DEMO_USERNAMES) <= set(users)
    assert users["city_admin"].region.kind == RegionKind.CITY
    assert users["district_admin"].region.name == "平山区"
    assert users["inspector"].role == Role.INSPECTOR and users["inspector"].region.name == "平山区"
    street = users["street_admin"].region
    assert street.kind == RegionKind.STREET and street.parent.name == "平山区"
    community = users["community_admin"].region
    assert community.kind == RegionKind.COMMUNITY and community.parent_id == street.pk
    community_2 = users["community_admin_2"].region
    assert community_2.kind == RegionKind.COMMUNITY and not community_2.path.startswith(street.parent.path)
    unit, unit_2 = users["unit_admin"].work_unit, users["unit_admin_2"].work_unit
    assert unit and unit_2 and unit != unit_2
    assert Member.objects.filter(work_unit=unit, community=community).count() >= 3

    member, member_2 = users["member"].member, users["member_2"].member
    assert member.community == community and member.work_unit == unit
    assert member_2.community == community_2
    for username in ("member", "member_2"):
        user = users[username]
        assert user.display_name == user.member.name
        assert user.phone_hash == user.member.phone_hash != ""
        assert user.phone_masked == user.member.phone_masked
    for user in users.values():
        assert user.display_name and user.password_changed_at
    # the anchors give the scopes the demo is meant to show
    assert member in member_list_for_user(users["community_admin"])
    assert member in member_list_for_user(users["unit_admin"])
    assert member in member_list_for_user(users["street_admin"])
    assert member not in member_list_for_user(users["community_admin_2"])
    assert list(member_list_for_user(users["member"])) == [member]


def test_every_demo_account_logs_in(demo):
    from django.test import Client

    for username in DEMO_USERNAMES:
        client = Client()
        response = client.post("/accounts/login/", {"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username
        assert "/accounts/login/" not in response["Location"], username
        assert client.session.get("_auth_user_id") == str(User.objects.get(username=username).pk), username


def test_demo_member_logs_in_by_phone(demo, client):
    phone = User.objects.get(username="member").member.reveal_phone()
    response = client.post("/accounts/login/", {"username": phone, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(User.objects.get(username="member").pk)


def test_demo_wrong_password_is_refused(demo, client):
    response = client.post("/accounts/login/", {"username": "city_admin", "password": "jinshequ-demo-x"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


# --- report-in (issue 3) and service (issue 4) data ---------------------------------------------


def test_demo_data_keeps_every_invariant(demo):
    assert check_integrity() == []
    assert check_posts_integrity() == []
    assert check_activities_integrity() == []


def test_demo_campaign_is_current_with_deadline_passed(demo):
    campaign = current_campaign()
    as_of = dt.date.fromisoformat(AS_OF)
    assert campaign is not None and campaign.name == "2026年在职党员进社区"
    assert 230 <= (as_of - campaign.starts_on).days <= 280  # started about eight months ago
    assert campaign.is_open(as_of) and campaign.deadline_passed(as_of)
    assert campaign.target_rate == 95 and campaign.max_active_posts == 2


def test_demo_report_in_mix(demo):
    as_of = dt.date.fromisoformat(AS_OF)
    active = Member.objects.filter(status=MemberStatus.ACTIVE)
    n = active.count()
    mix = Counter(with_report_status(active).values_list("report_status", flat=True))
    assert 0.78 * n <= mix["reported"] <= 0.9 * n
    assert 0.03 * n <= mix["pending"] <= 0.12 * n
    assert 1 <= mix["exempt"] <= 0.06 * n
    assert 0.03 * n <= mix["outstanding"] <= 0.12 * n
    regs = Registration.objects.all()
    assert {"confirmed", "pending", "rejected", "ended"} <= set(regs.values_list("status", flat=True))
    assert set(regs.values_list("method", flat=True)) == {"self", "office", "qr"}
    assert not regs.filter(status="rejected", reject_reason="").exists()
    assert not regs.filter(status="ended").filter(ended_on=None).exists()
    transfers = regs.filter(status="ended", end_reason__startswith="转至")
    assert transfers.exists()
    for old in transfers:  # the new registration was confirmed the day the old one ended
        assert regs.filter(member=old.member_id, status="confirmed", confirmed_on=old.ended_on).exists()
    confirmed = regs.filter(status="confirmed")
    assert confirmed.exclude(community=F("member__community")).exists()  # a few report in elsewhere
    assert not confirmed.filter(confirmed_on__gte=as_of).exists()
    left = Member.objects.filter(status=MemberStatus.LEFT)
    assert not regs.filter(member__in=left, status__in=["confirmed", "pending"]).exists()
    exemptions = Exemption.objects.all()
    assert exemptions.filter(revoked_at=None, valid_until__gte=as_of).exists()
    assert exemptions.filter(revoked_at=None, valid_until__lt=as_of).exists()  # expired
    assert exemptions.filter(revoked_at__isnull=False).exists()
    assert len(set(exemptions.values_list("reason", flat=True))) >= 2


def test_demo_community_queues_hold_a_transfer_and_a_non_resident(demo):
    for username in ("community_admin", "community_admin_2"):
        community = User.objects.get(username=username).region
        queue = Registration.objects.filter(community=community, status="pending")
        assert queue.count() >= 3, username
        assert queue.exclude(member__community=community).exists(), username  # lives elsewhere
        moving = queue.filter(member__registrations__status="confirmed")  # reported elsewhere, moving here
        assert (
            moving.exists()
            and not moving.filter(
                member__registrations__community=community, member__registrations__status="confirmed"
            ).exists()
        )


def test_demo_cards_notifications_and_unit_history(demo):
    active = Member.objects.filter(status=MemberStatus.ACTIVE)
    carded = active.filter(cards__is_active=True).distinct().count()
    assert carded >= 0.85 * active.count()
    assert ContactCard.objects.filter(is_active=True, printed_at__isnull=False).exists()
    assert ContactCard.objects.filter(is_active=True, printed_at=None).exists()
    member = User.objects.get(username="member").member
    cards = list(member.cards.order_by("issued_at"))
    assert [c.is_active for c in cards] == [False, True] and cards[0].revoked_at < cards[1].issued_at
    kinds = set(Notification.objects.filter(member=member).values_list("kind", flat=True))
    assert {"registration.confirmed", "roster.reminder", "activities.reminder"} <= kinds
    reminded = Notification.objects.filter(kind="roster.reminder").exclude(member=member)
    assert reminded.exists()
    assert all(
        s == "outstanding"
        for s in with_report_status(Member.objects.filter(pk__in=reminded.values("member_id"))).values_list(
            "report_status", flat=True
        )
    )
    member_2 = User.objects.get(username="member_2").member
    assert member_2.unit_changes.filter(to_unit=member_2.work_unit).exists()


def test_demo_posts_claims_teams_and_households(demo):
    communities = Region.objects.filter(kind=RegionKind.COMMUNITY)
    for community in communities:
        posts = Post.objects.filter(community=community, is_active=True)
        assert 5 <= posts.count() <= 15, community.name
        assert 2 <= ServiceTeam.objects.filter(community=community).count() <= 3
        assert 3 <= Household.objects.filter(community=community).count() <= 10
    capacities = set(Post.objects.values_list("capacity", flat=True))
    assert min(capacities) >= 2 and len(capacities) >= 5
    assert len(set(Post.objects.values_list("category", flat=True))) >= 8
    assert len(set(Post.objects.values_list("schedule", flat=True))) == 4
    assert Post.skills.through.objects.exists()
    settings = set(CommunitySettings.objects.values_list("auto_approve_claims", flat=True))
    assert settings == {True, False}
    registered = Registration.objects.filter(status="confirmed", member__status=MemberStatus.ACTIVE)
    holders = PostClaim.objects.filter(status="active").values("member").distinct().count()
    assert 0.55 * registered.count() <= holders <= 0.85 * registered.count()
    assert {"active", "pending", "withdrawn", "rejected"} <= set(
        PostClaim.objects.values_list("status", flat=True)
    )
    assert not PostClaim.objects.filter(
        status="pending", post__community__post_settings__auto_approve_claims=True
    ).exists()
    assert not ServiceTeam.objects.filter(leader=None).exists()
    for team in ServiceTeam.objects.all():
        assert TeamMembership.objects.filter(team=team, member=team.leader, left_at=None).exists()
    for household in Household.objects.all():
        assert crypto.decrypt(household.address_enc, purpose=ADDRESS_PURPOSE).endswith("室")
        assert validate_phone(crypto.decrypt(household.phone_enc, purpose=PHONE_PURPOSE))
        assert household.address_enc.count(":") == 2 and "室" not in household.address_enc
        if household.is_active:
            assert 1 <= household.pairings.filter(ended_on=None).count() <= 2


def test_demo_activities_and_records(demo):
    as_of = dt.date.fromisoformat(AS_OF)
    members = Member.objects.count()
    activities = Activity.objects.count()
    assert 0.5 * members <= activities <= 0.8 * members  # ~50,000 for 77,000 members
    statuses = Counter(Signup.objects.values_list("status", flat=True))
    assert set(statuses) == {"signed", "waitlisted", "cancelled", "attended", "no_show"}
    assert 7 * activities <= sum(statuses.values()) <= 13 * activities
    assert Attendance.objects.count() == statuses["attended"]
    assert not Signup.objects.filter(status="waitlisted", activity__starts_at__lt=AWARE_AS_OF).exists()
    ended = Activity.objects.filter(ends_at__lt=AWARE_AS_OF - dt.timedelta(hours=2))
    assert not ended.filter(closed_at=None).exists()
    assert not Signup.objects.filter(activity__in=ended, status="signed").exists()
    records = ServiceRecord.objects.all()
    assert 10 * members <= records.count() <= 16 * members  # ~1,000,000 for 77,000 members
    mix = Counter(records.values_list("status", "evidence"))
    assert {("verified", 2), ("verified", 3), ("verified", 4), ("pending", 1), ("rejected", 1)} <= set(mix)
    assert mix["verified", 2] > mix["pending", 1] + mix["rejected", 1]
    assert not records.filter(status="rejected", reject_reason="").exists()
    assert not records.filter(served_on__gte=as_of).exists()
    assert not records.filter(hours__lt=0.5).exists() and not records.filter(hours__gt=24).exists()
    assert records.filter(activity__isnull=False).count() >= 0.2 * records.count()
    by_day = (
        records.exclude(status="rejected")
        .values("member", "served_on")
        .annotate(h=Sum("hours"))
        .order_by("-h")
        .first()
    )
    assert by_day["h"] <= 24
    first = {}
    for member_id, day in Registration.objects.filter(confirmed_on__isnull=False).values_list(
        "member", "confirmed_on"
    ):
        first[member_id] = min(day, first.get(member_id, day))
    for member_id, day, month in records.values_list("member", "served_on", "month"):
        assert day >= first[member_id]
        assert month == day.year * 100 + day.month
    assert records.filter(status="verified", evidence=4, resident_code__used_at__isnull=False).exists()


def test_demo_checklists(demo):
    items = ChecklistItem.objects.filter(campaign=current_campaign())
    assert items.filter(scope="member").count() == 4 and items.filter(scope="community").count() == 10
    marks = ChecklistMark.objects.all()
    assert marks.filter(community__isnull=False).exists() and marks.filter(member__isnull=False).exists()
    assert not marks.filter(item__rule__gt="").exists()  # computed items are never marked by hand
    assert not marks.filter(done=True, note="").exists()


def test_demo_member_has_every_kind_of_record(demo):
    member = User.objects.get(username="member").member
    registration = member.registrations.get(status="confirmed")
    assert registration.community == member.community and registration.method == "self"
    assert member.cards.filter(is_active=True).count() == 1
    claims = set(member.post_claims.values_list("status", flat=True))
    assert {"active", "pending", "withdrawn"} <= claims
    assert ServiceTeam.objects.filter(leader=member).exists()
    assert Pairing.objects.filter(member=member, ended_on=None).exists()
    signups = Counter(member.signups.values_list("status", flat=True))
    assert signups["attended"] >= 5 and signups["signed"] >= 2 and signups["waitlisted"] >= 1
    records = Counter(member.service_records.values_list("status", "evidence"))
    assert {("verified", 2), ("verified", 3), ("verified", 4), ("pending", 1), ("rejected", 1)} <= set(
        records
    )
    assert sum(records.values()) >= 60
    assert ChecklistMark.objects.filter(member=member, item__title="提出一条建议").exists()
    member_2 = User.objects.get(username="member_2").member
    assert member_2.registrations.filter(status="confirmed").exists()
    assert member_2.post_claims.filter(status="active").exists()


# --- check_system ------------------------------------------------------------------------------


def run_check(*args: str) -> str:
    out = io.StringIO()
    call_command("check_system", *args, stdout=out)
    return out.getvalue()


def test_check_system_reports_what_is_installed():
    output = run_check()
    font, browser = system.cjk_font_available(), system.chromium_path()
    assert ("[正常] 中文字体" in output) == font
    assert ("[正常] Chromium" in output) == bool(browser)
    if font and browser:
        assert "系统检查通过" in output
        assert "apt-get" not in output


@pytest.fixture
def nothing_installed(monkeypatch):
    monkeypatch.setattr(system, "cjk_font_available", lambda: False)
    monkeypatch.setattr(system, "chromium_path", lambda: None)


def test_check_system_fails_with_the_install_line_when_missing(nothing_installed):
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"apt-get install fonts-noto-cjk chromium"):
        call_command("check_system", stdout=out)
    assert "[缺少] 中文字体" in out.getvalue()
    assert "[缺少] Chromium" in out.getvalue()


def test_check_system_for_tests_only_warns(nothing_installed):
    output = run_check("--for-tests")  # no exception: exit status 0
    assert "警告" in output
    assert "apt-get install fonts-noto-cjk chromium" in output


def test_check_system_names_only_the_missing_package(monkeypatch):
    monkeypatch.setattr(system, "cjk_font_available", lambda: True)
    monkeypatch.setattr(system, "chromium_path", lambda: None)
    with pytest.raises(CommandError) as excinfo:
        call_command("check_system", stdout=io.StringIO())
    assert "apt-get install chromium" in str(excinfo.value)
    assert "fonts-noto-cjk" not in str(excinfo.value)


def test_chromium_path_honours_the_environment(monkeypatch, tmp_path):
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JINSHEQU_CHROMIUM", str(fake))
    assert system.chromium_path() == str(fake)
    fake.chmod(0o644)  # not executable: skipped
    assert system.chromium_path() != str(fake)
