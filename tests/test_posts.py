"""Posts and claims (适宜、适时、适度), approval, capacity bookkeeping, idempotent claims (R47), service teams,
households' privacy, 全员认领 coverage, scope (R13/R14) and query bounds (T16)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from openpyxl import load_workbook

from jinshequ.accounts.models import AuditEvent, Notification, Role
from jinshequ.core.models import IdempotencyKey
from jinshequ.members import reporting as rp
from jinshequ.members.models import Registration, RegistrationStatus, Skill
from jinshequ.posts import selectors as sel
from jinshequ.posts import services as ps
from jinshequ.posts.integrity import check_posts_integrity
from jinshequ.posts.models import (
    PLACE_HOLDING,
    ClaimStatus,
    Household,
    Post,
    PostCategory,
    PostClaim,
    Schedule,
    ServiceTeam,
)
from jinshequ.regions.models import RegionKind
from tests.factories import (
    CANARY_PHONES,
    make_campaign,
    make_member,
    make_region,
    make_unit,
    make_user,
    new_phone,
)
from tests.properties import stateful
from tests.securitykit import canary_hits, table_snapshot

TODAY = timezone.localdate


@pytest.fixture
def campaign(db):
    return make_campaign()


def admin(side):
    return side.users["community_admin"]


def register(side, *members):
    for m in members:
        rp.registration_register_at_office(member=m, community=side.community, actor=admin(side))


def category(name="法律咨询"):
    return PostCategory.objects.get(name=name)


def make_post(side, title="法律咨询岗", capacity=3, schedule=Schedule.FLEXIBLE, skills=(), **extra):
    return ps.post_create(
        community=side.community,
        category=extra.pop("category", category()),
        title=title,
        capacity=capacity,
        schedule=schedule,
        starts_on=extra.pop("starts_on", TODAY()),
        skills=[Skill.objects.get(name=s) for s in skills],
        actor=admin(side),
        **extra,
    )


def claim(member, post):
    return ps.claim_create(member=member, post=post, actor=member.user)


def held(post) -> int:
    return PostClaim.objects.filter(post=post, status__in=PLACE_HOLDING).count()


@pytest.fixture
def reg_world(world, campaign):
    """Side a's three members registered in their community; side b's first member registered too."""
    register(world.a, *world.a.members)
    register(world.b, world.b.members[0])
    return world


# --- ranking by fit ----------------------------------------------------------------------------------


def test_ranking_orders_by_fit_and_shows_reasons(reg_world):
    w = reg_world
    member = w.a.members[0]
    member.skills.set([Skill.objects.get(name="法律咨询")])
    member.avail_weekday_day, member.avail_weekday_evening, member.avail_weekend = False, False, True
    member.save()
    misfit = make_post(w.a, title="社区义诊", skills=["医疗保健"], schedule=Schedule.WEEKDAY_DAY)
    open_post = make_post(w.a, title="环境整治", schedule=Schedule.FLEXIBLE)
    best = make_post(w.a, title="法律咨询周末岗", skills=["法律咨询"], schedule=Schedule.WEEKEND)
    fits, load = sel.rank_posts_for_member(member, w.a.community.pk)
    assert [f.post.pk for f in fits] == [best.pk, open_post.pk, misfit.pk]
    texts = {f.post.pk: [(r.principle, r.ok, r.text) for r in f.reasons] for f in fits}
    assert ("适宜", True, "特长匹配：法律咨询") in texts[best.pk]
    assert ("适时", True, "周末，与您的可服务时间相符") in texts[best.pk]
    assert ("适宜", None, "不限特长") in texts[open_post.pk]
    assert ("适时", True, "时间灵活，随时可参加") in texts[open_post.pk]
    assert ("适宜", False, "岗位需要：医疗保健") in texts[misfit.pk]
    assert ("适时", False, "工作日白天，您的可服务时间：周末") in texts[misfit.pk]
    assert load.held == 0 and load.limit == 2


def test_flexible_schedule_fits_a_member_with_no_availability(reg_world):
    member = reg_world.a.members[0]
    member.avail_weekday_day = member.avail_weekday_evening = member.avail_weekend = False
    member.save()
    assert sel.schedule_fits(member, Schedule.FLEXIBLE)
    for s in (Schedule.WEEKDAY_DAY, Schedule.WEEKDAY_EVENING, Schedule.WEEKEND):
        assert not sel.schedule_fits(member, s)


def test_member_page_lists_community_posts_with_reasons(reg_world, login, client):
    w = reg_world
    make_post(w.a, title="东风岗位")
    make_post(w.b, title="西湖岗位")
    login(w.a.users["member"])
    response = client.get("/posts/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "东风岗位" in body and "西湖岗位" not in body
    assert "时间灵活，随时可参加" in body and "适度" in body and "还可认领 2 个" in body


def test_unregistered_member_is_told_to_report_in(world, campaign, login, client):
    post = make_post(world.a)
    login(world.a.users["member"])
    body = client.get("/posts/").content.decode()
    assert "您还没有在社区报到" in body and 'href="/report/"' in body
    assert post.title not in body
    response = client.post(f"/posts/{post.pk}/claim/")
    assert response.status_code == 404
    with pytest.raises(ps.PostError) as err:
        claim(world.a.members[0], post)
    assert err.value.code == "not_registered"
    assert not PostClaim.objects.exists()


def test_pending_registration_is_not_enough(world, campaign):
    member = world.a.members[0]
    rp.registration_submit(member=member, community=world.a.community, actor=member.user)
    post = make_post(world.a)
    with pytest.raises(ps.PostError) as err:
        claim(member, post)
    assert err.value.code == "not_registered"


def test_member_cannot_claim_post_of_another_community(reg_world):
    post_b = make_post(reg_world.b)
    with pytest.raises(ps.PostError) as err:
        claim(reg_world.a.members[0], post_b)
    assert err.value.code == "not_registered"


# --- 适度: the load limit -----------------------------------------------------------------------------


def test_load_limit_refuses_with_a_clear_message(reg_world, login, client):
    w = reg_world
    member = w.a.members[0]
    posts = [make_post(w.a, title=f"岗位{i}") for i in range(3)]
    claim(member, posts[0])
    claim(member, posts[1])
    with pytest.raises(ps.PostError) as err:
        claim(member, posts[2])
    assert err.value.code == "load_limit" and "上限" in err.value.message
    login(w.a.users["member"])
    body = client.get("/posts/").content.decode()
    assert "达到上限 2 个" in body and "已达认领上限（2 个）" in body
    response = client.post(f"/posts/{posts[2].pk}/claim/")
    assert response.status_code == 409
    assert "达到每名党员最多 2 个的上限" in response.content.decode()
    assert held(posts[2]) == 0


def test_load_limit_follows_the_campaign(reg_world):
    from jinshequ.campaigns.models import Campaign

    Campaign.objects.filter(is_current=True).update(max_active_posts=1)
    posts = [make_post(reg_world.a, title=f"岗位{i}") for i in range(2)]
    claim(reg_world.a.members[0], posts[0])
    with pytest.raises(ps.PostError) as err:
        claim(reg_world.a.members[0], posts[1])
    assert err.value.code == "load_limit"


def test_withdrawn_claim_no_longer_counts_against_the_limit(reg_world):
    member = reg_world.a.members[0]
    posts = [make_post(reg_world.a, title=f"岗位{i}") for i in range(3)]
    first = claim(member, posts[0])
    claim(member, posts[1])
    ps.claim_withdraw(claim=first, reason="时间冲突", actor=member.user)
    assert claim(member, posts[2]).status == ClaimStatus.PENDING


# --- approval, auto-approve, release ------------------------------------------------------------------


def test_claim_waits_for_approval_then_is_active(reg_world, django_capture_on_commit_callbacks):
    w = reg_world
    post = make_post(w.a)
    c = claim(w.a.members[0], post)
    assert c.status == ClaimStatus.PENDING
    post.refresh_from_db()
    assert post.claimed == 1  # a pending claim holds its place
    with django_capture_on_commit_callbacks(execute=True):
        ps.claim_approve(claim=c, actor=admin(w.a))
    c.refresh_from_db()
    assert c.status == ClaimStatus.ACTIVE and c.decided_by == admin(w.a)
    assert Notification.objects.filter(member=w.a.members[0], kind="posts.claim_approved").count() == 1
    assert AuditEvent.objects.filter(event="posts.claim_approved", object_id=str(c.pk)).count() == 1
    with pytest.raises(ps.PostError) as err:
        ps.claim_approve(claim=c, actor=admin(w.a))
    assert err.value.code == "not_pending"


def test_auto_approve_makes_claims_active_at_once(reg_world, login, client):
    w = reg_world
    login(admin(w.a))
    assert client.post("/posts/manage/settings/", {"auto_approve_claims": "on"}).status_code == 302
    assert ps.community_settings(w.a.community).auto_approve_claims
    post = make_post(w.a)
    c = claim(w.a.members[0], post)
    assert c.status == ClaimStatus.ACTIVE and c.decided_at is not None
    assert AuditEvent.objects.filter(event="posts.settings_changed").count() == 1
    # the other community is not affected
    assert not ps.community_settings(w.b.community).auto_approve_claims


@pytest.mark.parametrize("how", ["reject", "withdraw", "end"])
def test_releasing_a_claim_frees_its_place(reg_world, how):
    w = reg_world
    post = make_post(w.a, capacity=1)
    member, other = w.a.members[0], w.a.members[1]
    c = claim(member, post)
    with pytest.raises(ps.PostError) as err:
        claim(other, post)
    assert (
        err.value.code == "post_full"
        and err.value.status == 409
        and err.value.message == "岗位已满，请选择其他岗位。"
    )
    if how == "reject":
        ps.claim_reject(claim=c, reason="名额已安排", actor=admin(w.a))
    elif how == "withdraw":
        ps.claim_withdraw(claim=c, reason="工作调整", actor=member.user)
    else:
        ps.claim_approve(claim=c, actor=admin(w.a))
        ps.claim_end(claim=c, reason="服务期满", actor=admin(w.a))
    c.refresh_from_db()
    assert c.status == {"reject": "rejected", "withdraw": "withdrawn", "end": "ended"}[how]
    assert c.end_reason
    post.refresh_from_db()
    assert post.claimed == 0 == held(post)
    assert claim(other, post).status == ClaimStatus.PENDING


def test_release_requires_a_reason(reg_world):
    post = make_post(reg_world.a)
    c = claim(reg_world.a.members[0], post)
    with pytest.raises(ps.PostError) as err:
        ps.claim_withdraw(claim=c, reason=" ", actor=reg_world.a.members[0].user)
    assert err.value.code == "reason_required"
    post.refresh_from_db()
    assert post.claimed == 1


def test_member_withdraws_through_the_page(reg_world, login, client):
    w = reg_world
    post = make_post(w.a)
    c = claim(w.a.members[0], post)
    login(w.a.users["member"])
    response = client.post(f"/posts/claims/{c.pk}/withdraw/", {"reason": ""})
    assert response.status_code == 400
    response = client.post(f"/posts/claims/{c.pk}/withdraw/", {"reason": "家中有事"})
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.status == ClaimStatus.WITHDRAWN and c.end_reason == "家中有事"


def test_admin_pages_approve_reject_and_end(reg_world, login, client):
    w = reg_world
    post = make_post(w.a)
    c1, c2 = claim(w.a.members[0], post), claim(w.a.members[1], post)
    login(admin(w.a))
    body = client.get("/posts/manage/claims/").content.decode()
    assert w.a.members[0].name in body and w.a.members[1].name in body
    assert client.post(f"/posts/manage/claims/{c1.pk}/approve/").status_code == 302
    assert client.post(f"/posts/manage/claims/{c2.pk}/reject/", {"reason": "岗位已安排"}).status_code == 302
    assert (
        client.post(f"/posts/manage/claims/{c1.pk}/end/", {"reason": "服务期满", "next": "post"})["Location"]
        == f"/posts/manage/{post.pk}/"
    )
    c1.refresh_from_db()
    c2.refresh_from_db()
    assert (c1.status, c2.status) == (ClaimStatus.ENDED, ClaimStatus.REJECTED)
    body = client.get(f"/posts/manage/{post.pk}/").content.decode()
    assert "服务期满" in body and "岗位已安排" in body


def test_post_full_answers_409_with_message(reg_world, login, client):
    w = reg_world
    post = make_post(w.a, capacity=1)
    claim(w.a.members[1], post)
    login(w.a.users["member"])
    response = client.post(f"/posts/{post.pk}/claim/")
    assert response.status_code == 409
    assert "岗位已满" in response.content.decode()
    response = client.post(f"/posts/{post.pk}/claim/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and response.json()["code"] == "post_full"


def test_capacity_cannot_drop_below_claimed(reg_world):
    post = make_post(reg_world.a, capacity=3)
    claim(reg_world.a.members[0], post)
    claim(reg_world.a.members[1], post)
    with pytest.raises(ps.PostError) as err:
        ps.post_update(post=post, capacity=1, actor=admin(reg_world.a))
    assert err.value.code == "capacity_below_claimed"
    post.refresh_from_db()
    assert post.capacity == 3
    ps.post_update(post=post, capacity=2, title="新名称", actor=admin(reg_world.a))
    post.refresh_from_db()
    assert (post.capacity, post.title) == (2, "新名称")


def test_deactivating_a_post_ends_its_claims(reg_world):
    post = make_post(reg_world.a)
    a = claim(reg_world.a.members[0], post)
    ps.claim_approve(claim=a, actor=admin(reg_world.a))
    claim(reg_world.a.members[1], post)
    ps.post_deactivate(post=post, actor=admin(reg_world.a), reason="活动结束")
    post.refresh_from_db()
    assert not post.is_active and post.claimed == 0 == held(post)
    assert set(post.claims.values_list("status", flat=True)) == {ClaimStatus.ENDED}
    with pytest.raises(ps.PostError) as err:
        claim(reg_world.a.members[2], post)
    assert err.value.code == "post_closed"


def test_post_outside_its_period_cannot_be_claimed(reg_world):
    post = make_post(reg_world.a, starts_on=TODAY() + dt.timedelta(days=3))
    with pytest.raises(ps.PostError) as err:
        claim(reg_world.a.members[0], post)
    assert err.value.code == "post_closed"
    fits, _ = sel.rank_posts_for_member(reg_world.a.members[0], reg_world.a.community.pk)
    assert fits == []


def test_double_submitted_claim_gives_one_row(reg_world):
    post = make_post(reg_world.a)
    claim(reg_world.a.members[0], post)
    with pytest.raises(ps.PostError) as err:
        claim(reg_world.a.members[0], post)
    assert err.value.code == "already_claimed"
    assert PostClaim.objects.filter(post=post).count() == 1
    post.refresh_from_db()
    assert post.claimed == 1


def test_member_service_end_frees_places_after_a_transfer(reg_world):
    w = reg_world
    member = w.a.members[0]
    post = make_post(w.a)
    claim(member, post)
    team = ps.team_create(community=w.a.community, name="法律服务队", actor=admin(w.a))
    ps.team_join(team=team, member=member, actor=member.user)
    # The transfer itself ends the old community's claim and team membership (reporting calls
    # posts.services.member_service_end), so no place stays held by someone who left.
    rp.registration_register_at_office(member=member, community=w.b.community, actor=admin(w.b))
    assert AuditEvent.objects.get(event="posts.member_service_ended", object_id=str(member.pk)).changes == {
        "claims": 1,
        "teams": 1,
        "pairings": 0,
    }
    post.refresh_from_db()
    assert post.claimed == 0
    assert check_posts_integrity() == []


# --- idempotent claim requests (R47) -------------------------------------------------------------------


def test_idempotent_replay_returns_same_response_and_one_row(reg_world, login, client):
    post = make_post(reg_world.a)
    login(reg_world.a.users["member"])
    headers = {"HTTP_IDEMPOTENCY_KEY": "claim-key-0001", "HTTP_ACCEPT": "application/json"}
    first = client.post(f"/posts/{post.pk}/claim/", **headers)
    second = client.post(f"/posts/{post.pk}/claim/", **headers)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert PostClaim.objects.filter(post=post).count() == 1
    assert AuditEvent.objects.filter(event="posts.claim_created").count() == 1


def test_idempotent_form_field_double_click(reg_world, login, client):
    post = make_post(reg_world.a)
    login(reg_world.a.users["member"])
    first = client.post(f"/posts/{post.pk}/claim/", {"idempotency_key": "form-key-123456"})
    second = client.post(f"/posts/{post.pk}/claim/", {"idempotency_key": "form-key-123456"})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == "/posts/"
    assert PostClaim.objects.filter(post=post).count() == 1


def test_idempotency_different_key_makes_a_second_effect(reg_world, login, client):
    w = reg_world
    posts = [make_post(w.a, title=f"岗位{i}") for i in range(2)]
    login(w.a.users["member"])
    for i, post in enumerate(posts):
        r = client.post(
            f"/posts/{post.pk}/claim/", HTTP_IDEMPOTENCY_KEY=f"key-number-{i}", HTTP_ACCEPT="application/json"
        )
        assert r.status_code == 201
    assert PostClaim.objects.filter(member=w.a.members[0]).count() == 2


def test_idempotency_key_in_progress_gets_409(reg_world, login, client):
    post = make_post(reg_world.a)
    user = reg_world.a.users["member"]
    IdempotencyKey.objects.create(
        user=user, key="busy-key-0001", scope="posts:claim", fingerprint="x", created_at=timezone.now()
    )
    login(user)
    r = client.post(
        f"/posts/{post.pk}/claim/", HTTP_IDEMPOTENCY_KEY="busy-key-0001", HTTP_ACCEPT="application/json"
    )
    # a different fingerprint → 422; same fingerprint while running → 409
    assert r.status_code == 422
    from django.test import RequestFactory

    from jinshequ.core.idempotency import fingerprint

    fp = fingerprint(RequestFactory().post(f"/posts/{post.pk}/claim/"))
    IdempotencyKey.objects.filter(key="busy-key-0001").update(fingerprint=fp)
    r = client.post(
        f"/posts/{post.pk}/claim/", HTTP_IDEMPOTENCY_KEY="busy-key-0001", HTTP_ACCEPT="application/json"
    )
    assert r.status_code == 409 and r.json()["code"] == "idempotency_in_progress"
    assert not PostClaim.objects.exists()


def test_idempotency_keys_are_scoped_per_user(reg_world, client, login):
    w = reg_world
    post = make_post(w.a)
    second_user = make_user("member_a2", Role.MEMBER, member=w.a.members[1])
    for user in (w.a.users["member"], second_user):
        login(user)
        r = client.post(
            f"/posts/{post.pk}/claim/", HTTP_IDEMPOTENCY_KEY="shared-key-001", HTTP_ACCEPT="application/json"
        )
        assert r.status_code == 201 and "Idempotent-Replayed" not in r
    assert PostClaim.objects.filter(post=post).count() == 2
    assert IdempotencyKey.objects.filter(key="shared-key-001").count() == 2


def test_idempotency_key_reused_for_another_post_is_refused(reg_world, login, client):
    posts = [make_post(reg_world.a, title=f"岗位{i}") for i in range(2)]
    login(reg_world.a.users["member"])
    h = {"HTTP_IDEMPOTENCY_KEY": "reused-key-01", "HTTP_ACCEPT": "application/json"}
    assert client.post(f"/posts/{posts[0].pk}/claim/", **h).status_code == 201
    r = client.post(f"/posts/{posts[1].pk}/claim/", **h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert PostClaim.objects.count() == 1


def test_idempotency_bad_key_and_failed_request_release(reg_world, login, client):
    post = make_post(reg_world.a)
    login(reg_world.a.users["member"])
    assert client.post(f"/posts/{post.pk}/claim/", HTTP_IDEMPOTENCY_KEY="short").status_code == 400
    # a refused claim (stored 4xx) is replayed as it was
    ps.post_deactivate(post=post, actor=admin(reg_world.a))
    h = {"HTTP_IDEMPOTENCY_KEY": "closed-post-01", "HTTP_ACCEPT": "application/json"}
    first = client.post(f"/posts/{post.pk}/claim/", **h)
    second = client.post(f"/posts/{post.pk}/claim/", **h)
    assert first.status_code == second.status_code == 400 and first.content == second.content


def test_idempotency_purge_drops_old_keys(reg_world):
    from jinshequ.core.idempotency import idempotency_purge

    user = reg_world.a.users["member"]
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=user, key="old-key-00001", scope="s", fingerprint="x", created_at=now - dt.timedelta(hours=25)
    )
    IdempotencyKey.objects.create(user=user, key="new-key-00001", scope="s", fingerprint="x", created_at=now)
    assert idempotency_purge(now=now) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key-00001"]


# --- invariants after any sequence (R46) -------------------------------------------------------------

RUNS, STEPS = stateful()
MI = st.integers(0, 3)
PI = st.integers(0, 2)


class ClaimMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        city = make_region("状态市", RegionKind.CITY)
        district = make_region("状态区", RegionKind.DISTRICT, city)
        street = make_region("状态街道", RegionKind.STREET, district)
        self.community = make_region("状态社区", RegionKind.COMMUNITY, street)
        unit = make_unit("状态单位", region=district)
        self.admin = make_user(f"sm_posts_{id(self)}", Role.COMMUNITY_ADMIN, region=self.community)
        make_campaign()
        self.members = [make_member(f"状态{i}", unit, self.community) for i in range(4)]
        for m in self.members[:3]:  # the fourth stays unregistered
            rp.registration_register_at_office(member=m, community=self.community, actor=self.admin)
        self.posts = [
            ps.post_create(
                community=self.community,
                category=category(),
                title=f"岗{i}",
                capacity=c,
                starts_on=TODAY(),
                actor=self.admin,
            )
            for i, c in enumerate((1, 2, 3))
        ]

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _try(self, fn, **kwargs):
        try:
            with transaction.atomic():
                fn(**kwargs)
        except ps.PostError:
            pass

    def _claim_of(self, i, p, statuses=PLACE_HOLDING):
        return PostClaim.objects.filter(
            member=self.members[i], post=self.posts[p], status__in=statuses
        ).first()

    @rule(i=MI, p=PI)
    def create(self, i, p):
        self._try(
            ps.claim_create, member=self.members[i], post=Post.objects.get(pk=self.posts[p].pk), actor=None
        )

    @rule(i=MI, p=PI)
    def approve(self, i, p):
        c = self._claim_of(i, p, (ClaimStatus.PENDING,))
        if c:
            self._try(ps.claim_approve, claim=c, actor=self.admin)

    @rule(i=MI, p=PI, how=st.sampled_from(["reject", "withdraw", "end"]))
    def release(self, i, p, how):
        c = self._claim_of(i, p)
        if c:
            fn = {"reject": ps.claim_reject, "withdraw": ps.claim_withdraw, "end": ps.claim_end}[how]
            self._try(fn, claim=c, reason="测试原因", actor=self.admin if how != "withdraw" else None)

    @rule(p=PI, capacity=st.integers(1, 4))
    def resize(self, p, capacity):
        self._try(ps.post_update, post=self.posts[p], capacity=capacity, actor=self.admin)

    @rule(p=PI, on=st.booleans())
    def toggle(self, p, on):
        fn = ps.post_activate if on else ps.post_deactivate
        self._try(fn, post=self.posts[p], actor=self.admin)

    @rule(auto=st.booleans())
    def auto_approve(self, auto):
        ps.settings_update(community=self.community, auto_approve_claims=auto, actor=self.admin)

    @invariant()
    def claimed_equals_open_claims(self):
        for post in Post.objects.filter(pk__in=[p.pk for p in self.posts]):
            assert post.claimed == held(post) <= post.capacity
        for m in self.members:
            assert PostClaim.objects.filter(member=m, status__in=PLACE_HOLDING).count() <= 2
        assert not PostClaim.objects.filter(member=self.members[3]).exists()
        assert check_posts_integrity() == []


@pytest.mark.property
def test_claim_invariants_after_any_sequence(db):
    run_state_machine_as_test(
        ClaimMachine,
        settings=settings(
            max_examples=RUNS,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- scope: other communities and roles get 404 / 403 (R13, R14) -------------------------------------


def test_other_community_admin_gets_404_and_changes_nothing(reg_world, login, client):
    w = reg_world
    post = make_post(w.a)
    c = claim(w.a.members[0], post)
    team = ps.team_create(community=w.a.community, name="环境服务队", actor=admin(w.a))
    login(admin(w.b))
    for url in (
        f"/posts/manage/{post.pk}/",
        f"/posts/manage/{post.pk}/edit/",
        f"/posts/manage/teams/{team.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    before = table_snapshot(("posts.Post", "posts.PostClaim", "posts.ServiceTeam", "posts.TeamMembership"))
    for url, data in (
        (f"/posts/manage/claims/{c.pk}/approve/", {}),
        (f"/posts/manage/claims/{c.pk}/reject/", {"reason": "越权测试"}),
        (f"/posts/manage/claims/{c.pk}/end/", {"reason": "越权测试"}),
        (f"/posts/manage/{post.pk}/deactivate/", {}),
        (f"/posts/manage/{post.pk}/edit/", {"title": "x", "capacity": 9}),
        (f"/posts/manage/teams/{team.pk}/action/", {"action": "deactivate"}),
    ):
        assert client.post(url, data).status_code == 404, url
    assert (
        table_snapshot(("posts.Post", "posts.PostClaim", "posts.ServiceTeam", "posts.TeamMembership"))
        == before
    )


def test_other_member_gets_404(reg_world, login, client):
    w = reg_world
    post = make_post(w.a)
    c = claim(w.a.members[0], post)
    login(w.b.users["member"])
    assert client.get(f"/posts/{post.pk}/").status_code == 404
    assert client.post(f"/posts/{post.pk}/claim/").status_code == 404
    assert client.post(f"/posts/claims/{c.pk}/withdraw/", {"reason": "越权测试"}).status_code == 404
    c.refresh_from_db()
    assert c.status == ClaimStatus.PENDING


def _url_table(w, post, c, team, household, pairing):
    """(url, method, roles allowed) for every URL of the posts app."""
    everyone_oversight = {
        "city_admin",
        "district_admin",
        "street_admin",
        "community_admin",
        "unit_admin",
        "inspector",
    }
    member, community = {"member"}, {"community_admin"}
    return [
        ("/posts/", "get", member),
        (f"/posts/{post.pk}/", "get", member),
        (f"/posts/{post.pk}/claim/", "post", member),
        (f"/posts/claims/{c.pk}/withdraw/", "post", member),
        ("/posts/teams/", "get", member),
        (f"/posts/teams/{team.pk}/join/", "post", member),
        (f"/posts/teams/{team.pk}/leave/", "post", member),
        ("/posts/households/mine/", "get", member),
        (f"/posts/households/mine/{household.pk}/", "get", member),
        (f"/posts/households/{household.pk}/reveal/", "post", member | community),
        ("/posts/manage/", "get", community),
        ("/posts/manage/settings/", "post", community),
        ("/posts/manage/new/", "get", community),
        (f"/posts/manage/{post.pk}/", "get", community),
        (f"/posts/manage/{post.pk}/edit/", "get", community),
        (f"/posts/manage/{post.pk}/deactivate/", "post", community),
        (f"/posts/manage/{post.pk}/activate/", "post", community),
        ("/posts/manage/claims/", "get", community),
        (f"/posts/manage/claims/{c.pk}/approve/", "post", community),
        (f"/posts/manage/claims/{c.pk}/reject/", "post", community),
        (f"/posts/manage/claims/{c.pk}/end/", "post", community),
        ("/posts/manage/teams/", "get", community),
        (f"/posts/manage/teams/{team.pk}/", "get", community),
        (f"/posts/manage/teams/{team.pk}/action/", "post", community),
        ("/posts/manage/households/", "get", community),
        (f"/posts/manage/households/{household.pk}/", "get", community),
        (f"/posts/manage/households/{household.pk}/active/", "post", community),
        (f"/posts/manage/households/{household.pk}/pair/", "post", community),
        (f"/posts/manage/pairings/{pairing.pk}/end/", "post", community),
        ("/posts/categories/", "get", {"city_admin"}),
        ("/posts/coverage/", "get", everyone_oversight),
        ("/posts/coverage/units/", "get", everyone_oversight),
        ("/posts/coverage/missing/", "get", everyone_oversight),
        ("/posts/coverage/missing/export/", "get", everyone_oversight),
    ]


def test_permission_matrix_covers_every_url(reg_world, client, login):
    """R13: allowed roles get 2xx/3xx (or a 4xx refusal from the rules, never 403), the others 403;
    anonymous users are sent to the login page. Fails if a URL of the app is missing from the table."""
    w = reg_world
    post = make_post(w.a)
    c = claim(w.a.members[0], post)
    team = ps.team_create(community=w.a.community, name="矩阵服务队", actor=admin(w.a))
    household = ps.household_create(
        community=w.a.community, head_name="赵大爷", phone=new_phone(), actor=admin(w.a)
    )
    pairing = ps.pairing_create(household=household, member=w.a.members[0], actor=admin(w.a))
    table = _url_table(w, post, c, team, household, pairing)
    from django.urls import resolve

    from jinshequ.posts import urls as posts_urls

    names = {p.name for p in posts_urls.urlpatterns}
    covered = {resolve(url).url_name for url, _, _ in table}
    assert covered == names, names - covered
    roles = dict(w.users())
    roles = {"city_admin": roles["city_admin"], **{k[:-2]: v for k, v in roles.items() if k.endswith("_a")}}
    for role, user in roles.items():
        login(user)
        for url, method, allowed in table:
            with transaction.atomic():
                sid = transaction.savepoint()
                response = getattr(client, method)(url)
                transaction.savepoint_rollback(sid)
            if role in allowed:
                assert response.status_code != 403 and response.status_code < 500, (
                    role,
                    url,
                    response.status_code,
                )
            else:
                assert response.status_code == 403, (role, url, response.status_code)
    client.logout()
    for url, method, _ in table:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


# --- service teams ---------------------------------------------------------------------------------


def test_member_joins_and_leaves_a_team(reg_world, login, client):
    w = reg_world
    team = ps.team_create(community=w.a.community, name="法律援助队", actor=admin(w.a))
    ps.team_create(community=w.b.community, name="西湖服务队", actor=admin(w.b))
    login(w.a.users["member"])
    body = client.get("/posts/teams/").content.decode()
    assert "法律援助队" in body and "西湖服务队" not in body
    assert client.post(f"/posts/teams/{team.pk}/join/").status_code == 302
    assert team.memberships.filter(left_at__isnull=True).count() == 1
    assert client.post(f"/posts/teams/{team.pk}/join/").status_code == 302  # refused politely, still one
    assert team.memberships.count() == 1
    ps.team_update(team=team, leader=w.a.members[0], actor=admin(w.a))
    assert client.post(f"/posts/teams/{team.pk}/leave/").status_code == 302
    team.refresh_from_db()
    assert team.leader is None and team.memberships.filter(left_at__isnull=True).count() == 0


def test_team_rules(reg_world, world):
    w = reg_world
    team = ps.team_create(community=w.a.community, name="治安巡逻队", actor=admin(w.a))
    with pytest.raises(ps.PostError) as err:
        ps.team_create(community=w.a.community, name="治安巡逻队", actor=admin(w.a))
    assert err.value.code == "duplicate"
    with pytest.raises(ps.PostError) as err:
        ps.team_join(team=team, member=w.b.members[0], actor=w.b.members[0].user)
    assert err.value.code == "not_registered"
    with pytest.raises(ps.PostError) as err:
        ps.team_update(team=team, leader=w.a.members[1], actor=admin(w.a))
    assert err.value.code == "leader_not_member"
    with pytest.raises(ps.PostError) as err:
        ps.team_create(community=w.a.community, name="别人的队", actor=admin(w.b))
    assert err.value.code == "not_your_community"
    ps.team_set_active(team=team, active=False, actor=admin(w.a))
    with pytest.raises(ps.PostError) as err:
        ps.team_join(team=team, member=w.a.members[0], actor=admin(w.a))
    assert err.value.code == "team_inactive"


def test_admin_team_page_adds_member_and_sets_leader(reg_world, login, client):
    w = reg_world
    login(admin(w.a))
    r = client.post("/posts/manage/teams/", {"name": "文艺服务队", "description": "文体活动"})
    team = ServiceTeam.objects.get(name="文艺服务队")
    assert r["Location"] == f"/posts/manage/teams/{team.pk}/"
    m = w.a.members[1]
    client.post(f"/posts/manage/teams/{team.pk}/action/", {"action": "add", "member": m.pk})
    client.post(f"/posts/manage/teams/{team.pk}/action/", {"action": "leader", "member": m.pk})
    team.refresh_from_db()
    assert team.leader == m
    # a member of another community cannot be added by id
    r = client.post(f"/posts/manage/teams/{team.pk}/action/", {"action": "add", "member": w.b.members[0].pk})
    assert r.status_code == 404


# --- households: private to the community admin and paired members -----------------------------------


@pytest.fixture
def household(reg_world):
    phone = new_phone()
    h = ps.household_create(
        community=reg_world.a.community,
        head_name="孙秀兰",
        address="幸福路 12 号 2 单元 301",
        phone=phone,
        situation="独居老人，行动不便",
        needs="代买药品",
        actor=admin(reg_world.a),
    )
    h.plain_phone = phone
    return h


def test_household_contact_is_encrypted_and_masked(household):
    row = Household.objects.get(pk=household.pk)
    assert household.plain_phone not in row.phone_enc and "幸福路" not in row.address_enc
    assert row.phone_masked == household.plain_phone[:3] + "****" + household.plain_phone[-4:]
    assert ps.household_phone(row) == household.plain_phone
    assert ps.household_address(row) == "幸福路 12 号 2 单元 301"
    events = AuditEvent.objects.filter(object_type="posts.household")
    assert events.exists()
    assert not any(
        household.plain_phone in str(e.changes) or "幸福路" in str(e.changes) + e.object_repr for e in events
    )


def test_household_visible_only_to_its_admin_and_paired_members(reg_world, household, login, client):
    w = reg_world
    url_admin = f"/posts/manage/households/{household.pk}/"
    url_member = f"/posts/households/mine/{household.pk}/"
    login(admin(w.a))
    body = client.get(url_admin).content.decode()
    assert "孙秀兰" in body and "幸福路 12 号 2 单元 301" in body and household.plain_phone not in body
    for user, url, status in (
        (admin(w.b), url_admin, 404),
        (w.city_admin, url_admin, 403),
        (w.a.users["district_admin"], url_admin, 403),
        (w.a.users["inspector"], url_admin, 403),
        (w.a.users["member"], url_member, 404),
    ):
        login(user)
        assert client.get(url).status_code == status, (user, url)
        reveal_status = 404 if user.role in (Role.COMMUNITY_ADMIN, Role.MEMBER) else 403
        assert client.post(f"/posts/households/{household.pk}/reveal/").status_code == reveal_status
    ps.pairing_create(household=household, member=w.a.members[0], actor=admin(w.a))
    login(w.a.users["member"])
    body = client.get("/posts/households/mine/").content.decode()
    assert "孙秀兰" in body
    body = client.get(url_member).content.decode()
    assert (
        "幸福路 12 号 2 单元 301" in body
        and household.phone_masked in body
        and household.plain_phone not in body
    )
    before = AuditEvent.objects.filter(event="posts.household_revealed").count()
    response = client.post(f"/posts/households/{household.pk}/reveal/")
    assert household.plain_phone in response.content.decode() and response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(event="posts.household_revealed").count() == before + 1
    # another member of the same community, not paired: nothing
    other = make_user("member_a3", Role.MEMBER, member=w.a.members[2])
    login(other)
    assert client.get(url_member).status_code == 404
    assert "孙秀兰" not in client.get("/posts/households/mine/").content.decode()


def test_household_reveals_share_the_per_user_reveal_budget(reg_world, household, login, client, settings):
    """Household phones count toward the same hourly budget as members' ID numbers and phones (R21)."""
    settings.JINSHEQU_REVEAL_PER_HOUR = 3
    user = admin(reg_world.a)
    login(user)
    member = reg_world.a.members[1]
    response = client.post(f"/members/{member.pk}/reveal/", {"field": "phone", "reason": "核对"})
    assert response.status_code == 200
    for _ in range(2):
        assert client.post(f"/posts/households/{household.pk}/reveal/").status_code == 200
    response = client.post(f"/posts/households/{household.pk}/reveal/")
    body = response.content.decode()
    assert response.status_code == 429 and household.plain_phone not in body and "查看次数已达上限" in body
    assert AuditEvent.objects.filter(event="posts.household_revealed", actor=user).count() == 2
    assert AuditEvent.objects.filter(event="security.reveal_limit", actor=user, success=False).count() == 1
    # and the member reveal is refused too: one budget
    response = client.post(f"/members/{member.pk}/reveal/", {"field": "phone", "reason": "再核对"})
    assert response.status_code == 429


def test_ending_the_pairing_hides_the_household(reg_world, household, login, client):
    w = reg_world
    pairing = ps.pairing_create(household=household, member=w.a.members[0], actor=admin(w.a))
    ps.pairing_end(pairing=pairing, actor=admin(w.a))
    login(w.a.users["member"])
    assert client.get(f"/posts/households/mine/{household.pk}/").status_code == 404


def test_city_admin_sees_household_counts_only(reg_world, household, login, client):
    ps.pairing_create(household=household, member=reg_world.a.members[0], actor=admin(reg_world.a))
    login(reg_world.city_admin)
    body = client.get(f"/posts/coverage/?region={reg_world.a.street.pk}").content.decode()
    assert "困难家庭" in body and "孙秀兰" not in body and "幸福路" not in body
    tree = sel.coverage_by_region(reg_world.city_admin)
    node = tree.get(reg_world.a.community.pk)
    assert (node.coverage.households, node.coverage.paired) == (1, 1)
    assert tree.get(reg_world.city.pk).coverage.households == 1


def test_pairing_rules(reg_world, household):
    w = reg_world
    with pytest.raises(ps.PostError) as err:
        ps.pairing_create(household=household, member=w.b.members[0], actor=admin(w.a))
    assert err.value.code == "not_registered"
    ps.pairing_create(household=household, member=w.a.members[1], actor=admin(w.a))
    with pytest.raises(ps.PostError) as err:
        ps.pairing_create(household=household, member=w.a.members[1], actor=admin(w.a))
    assert err.value.code == "already_paired"
    ps.household_set_active(household=household, active=False, actor=admin(w.a))
    assert not household.pairings.filter(ended_on__isnull=True).exists()


def test_household_pages_leak_no_canary(reg_world, household, login, client):
    login(admin(reg_world.a))
    for url in ("/posts/manage/households/", f"/posts/manage/households/{household.pk}/"):
        body = client.get(url).content.decode()
        assert not canary_hits(body), url
        assert household.phone_masked in body


# --- 全员认领 coverage -------------------------------------------------------------------------------


@pytest.fixture
def coverage_world(world, campaign):
    """Side a: 3 registered (1 active claim, 1 pending, 1 nothing) + extra members; side b: 1 registered
    with an active claim, 1 registered in a's community (home b), 1 unregistered."""
    w = world
    register(w.a, *w.a.members)
    register(w.b, w.b.members[0])
    register(w.a, w.b.members[1])  # lives in b, reports to a's community
    post_a = make_post(w.a, capacity=5)
    post_b = make_post(w.b, capacity=5)
    ps.claim_approve(claim=claim(w.a.members[0], post_a), actor=admin(w.a))
    claim(w.a.members[1], post_a)  # pending: not covered
    ps.claim_approve(claim=claim(w.b.members[0], post_b), actor=admin(w.b))
    ps.claim_approve(claim=claim(w.b.members[1], post_a), actor=admin(w.a))
    return w


def _independent_counts():
    """Brute force in Python: per registration community, (registered, covered)."""
    out = {}
    for reg in Registration.objects.filter(status=RegistrationStatus.CONFIRMED, member__status="active"):
        covered = any(
            c.status == ClaimStatus.ACTIVE and c.post.community_id == reg.community_id
            for c in PostClaim.objects.filter(member_id=reg.member_id)
        )
        r, cov = out.get(reg.community_id, (0, 0))
        out[reg.community_id] = (r + 1, cov + int(covered))
    return out


def test_coverage_figures_match_independent_counts(coverage_world):
    w = coverage_world
    expected = _independent_counts()
    assert expected == {w.a.community.pk: (4, 2), w.b.community.pk: (1, 1)}
    tree = sel.coverage_by_region(w.city_admin)
    for pk, (registered, covered) in expected.items():
        node = tree.get(pk)
        assert (node.coverage.registered, node.coverage.covered) == (registered, covered)
    assert (tree.get(w.a.district.pk).coverage.registered, tree.get(w.a.district.pk).coverage.covered) == (
        4,
        2,
    )
    city = tree.get(w.city.pk).coverage
    assert (city.registered, city.covered, city.rate) == (5, 3, 60.0)
    units = sel.coverage_by_unit(w.city_admin)
    assert (units.get(w.a.unit.pk).coverage.registered, units.get(w.a.unit.pk).coverage.covered) == (3, 1)
    assert (units.get(w.b.unit.pk).coverage.registered, units.get(w.b.unit.pk).coverage.covered) == (2, 2)


def test_coverage_is_scoped(coverage_world):
    w = coverage_world
    tree = sel.coverage_by_region(admin(w.b))
    assert set(tree.nodes) == {w.b.community.pk}
    assert tree.total.registered == 1
    tree = sel.coverage_by_region(w.b.users["district_admin"])
    assert w.a.community.pk not in tree.nodes and tree.total.registered == 1
    # unit admin b: members of unit b wherever they are registered
    tree = sel.coverage_by_region(w.b.users["unit_admin"])
    assert tree.total.registered == 2 and tree.get(w.a.community.pk).coverage.registered == 1
    units = sel.coverage_by_unit(w.b.users["unit_admin"])
    assert set(units.nodes) == {w.b.unit.pk}


def test_missing_list_names_members_without_an_active_claim(coverage_world, login, client):
    w = coverage_world
    login(admin(w.a))
    body = client.get("/posts/coverage/missing/").content.decode()
    assert w.a.members[1].name in body and w.a.members[2].name in body  # pending, nothing
    assert w.a.members[0].name not in body and w.b.members[1].name not in body
    assert "待社区审核" in body
    login(w.b.users["district_admin"])
    assert client.get(f"/posts/coverage/missing/?region={w.a.community.pk}").status_code == 404
    assert client.get(f"/posts/coverage/?region={w.a.community.pk}").status_code == 404
    login(w.a.users["unit_admin"])
    assert client.get(f"/posts/coverage/missing/?unit={w.b.unit.pk}").status_code == 404
    body = client.get(f"/posts/coverage/missing/?unit={w.a.unit.pk}").content.decode()
    assert w.a.members[2].name in body


def test_missing_export_equals_the_list(coverage_world, login, client):
    w = coverage_world
    login(w.city_admin)
    response = client.get("/posts/coverage/missing/export/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    data = b"".join(response.streaming_content)
    assert not canary_hits(data)
    ws = load_workbook(io.BytesIO(data)).active
    names = sorted(row[0] for row in ws.iter_rows(min_row=2, values_only=True))
    expected = sorted(r.member.name for r in sel.uncovered_members(w.city_admin))
    assert names == expected == sorted([w.a.members[1].name, w.a.members[2].name])
    assert AuditEvent.objects.filter(event="posts.coverage_exported").count() == 1


def test_coverage_pages_render_for_every_oversight_role(coverage_world, login, client):
    w = coverage_world
    for user in (
        w.city_admin,
        w.a.users["district_admin"],
        w.a.users["street_admin"],
        admin(w.a),
        w.a.users["unit_admin"],
        w.a.users["inspector"],
    ):
        login(user)
        for url in ("/posts/coverage/", "/posts/coverage/units/", "/posts/coverage/missing/"):
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            assert not canary_hits(response.content.decode())


# --- categories ------------------------------------------------------------------------------------


def test_city_admin_manages_categories(world, login, client):
    login(world.city_admin)
    assert client.post("/posts/categories/", {"action": "add", "name": "垃圾分类"}).status_code == 302
    cat = PostCategory.objects.get(name="垃圾分类")
    client.post("/posts/categories/", {"action": "rename", "category": cat.pk, "name": "垃圾分类宣传"})
    cat.refresh_from_db()
    assert cat.name == "垃圾分类宣传"
    client.post("/posts/categories/", {"action": "add", "name": "垃圾分类宣传"})
    assert PostCategory.objects.filter(name="垃圾分类宣传").count() == 1
    client.post("/posts/categories/", {"action": "deactivate", "category": cat.pk})
    cat.refresh_from_db()
    assert not cat.is_active
    login(admin(world.a))
    body = client.get("/posts/manage/new/").content.decode()
    assert "垃圾分类宣传" not in body and "政策宣传" in body
    assert AuditEvent.objects.filter(event__startswith="posts.category_").count() == 3


def test_default_categories_exist(db):
    names = set(PostCategory.objects.values_list("name", flat=True))
    assert {
        "政策宣传",
        "环境整治",
        "治安巡逻",
        "文体活动",
        "法律咨询",
        "医疗健康",
        "助老助残",
        "矛盾调解",
        "教育辅导",
        "其他",
    } <= names


def test_admin_creates_and_edits_a_post_through_the_form(world, campaign, login, client):
    login(admin(world.a))
    data = {
        "category": category().pk,
        "title": "法律咨询岗",
        "description": "每周六上午",
        "schedule": "weekend",
        "capacity": "2",
        "starts_on": TODAY().isoformat(),
        "skills": [Skill.objects.get(name="法律咨询").pk],
    }
    response = client.post("/posts/manage/new/", data)
    post = Post.objects.get(title="法律咨询岗")
    assert response["Location"] == f"/posts/manage/{post.pk}/"
    assert post.community == world.a.community and list(post.skills.values_list("name", flat=True)) == [
        "法律咨询"
    ]
    bad = dict(data, ends_on=(TODAY() - dt.timedelta(days=1)).isoformat())
    assert "结束日期不能早于开始日期" in client.post(f"/posts/manage/{post.pk}/edit/", bad).content.decode()
    client.post(f"/posts/manage/{post.pk}/edit/", dict(data, capacity="4"))
    post.refresh_from_db()
    assert post.capacity == 4


# --- query bounds (T16) ----------------------------------------------------------------------------


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_query_counts_do_not_grow_with_rows(reg_world, login, client):
    w = reg_world
    for i in range(2):
        make_post(w.a, title=f"少{i}", skills=["法律咨询"])
    claim(w.a.members[1], Post.objects.filter(community=w.a.community).first())
    household = ps.household_create(community=w.a.community, head_name="户主甲", actor=admin(w.a))
    ps.team_create(community=w.a.community, name="队甲", actor=admin(w.a))
    urls_member = ["/posts/", "/posts/teams/"]
    urls_admin = [
        "/posts/manage/",
        "/posts/manage/claims/",
        "/posts/manage/teams/",
        "/posts/manage/households/",
        "/posts/coverage/",
        "/posts/coverage/units/",
        "/posts/coverage/missing/",
    ]
    login(w.a.users["member"])
    few_member = [_count(client, u) for u in urls_member]
    login(admin(w.a))
    few_admin = [_count(client, u) for u in urls_admin]
    login(w.city_admin)
    few_city = _count(client, "/posts/coverage/")
    # grow everything: posts, claims, members, teams, households, communities
    street = w.a.street
    for i in range(15):
        p = make_post(w.a, title=f"多{i}", skills=["医疗保健", "法律咨询"], schedule=Schedule.WEEKEND)
        m = make_member(f"新党员{i}", w.a.unit, w.a.community)
        register(w.a, m)
        claim(m, p)
        ps.team_create(community=w.a.community, name=f"队{i}", actor=admin(w.a))
        ps.household_create(community=w.a.community, head_name=f"户主{i}", actor=admin(w.a))
        make_region(f"新社区{i}", RegionKind.COMMUNITY, street)
    assert household
    login(w.a.users["member"])
    assert [_count(client, u) for u in urls_member] == few_member
    login(admin(w.a))
    assert [_count(client, u) for u in urls_admin] == few_admin
    login(w.city_admin)
    assert _count(client, "/posts/coverage/") == few_city


def test_canary_phones_never_in_post_pages(reg_world, login, client):
    make_post(reg_world.a)
    login(reg_world.a.users["member"])
    assert not canary_hits(client.get("/posts/").content.decode())
    assert CANARY_PHONES  # the world made some


# --- R32: the audit insert is part of the claim's transaction ----------------------------------------


def test_failed_audit_insert_rolls_back_the_claim(reg_world):
    from unittest import mock

    from django.db import IntegrityError

    post = make_post(reg_world.a)
    with (
        mock.patch.object(AuditEvent.objects, "create", side_effect=IntegrityError("injected")),
        pytest.raises(IntegrityError),
    ):
        claim(reg_world.a.members[0], post)
    post.refresh_from_db()
    assert post.claimed == 0 and not PostClaim.objects.exists()


def test_failed_audit_insert_through_the_page_releases_the_idempotency_key(reg_world):
    from unittest import mock

    from django.db import IntegrityError
    from django.test import Client

    post = make_post(reg_world.a)
    client = Client(raise_request_exception=False)
    client.force_login(reg_world.a.users["member"])
    with mock.patch.object(AuditEvent.objects, "create", side_effect=IntegrityError("injected")):
        response = client.post(f"/posts/{post.pk}/claim/", {"idempotency_key": "retry-after-500"})
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body and "injected" not in body and response["X-Request-ID"] in body
    assert not PostClaim.objects.exists() and not IdempotencyKey.objects.exists()
    # the same key can be used again once the fault is gone
    response = client.post(f"/posts/{post.pk}/claim/", {"idempotency_key": "retry-after-500"})
    assert response.status_code == 302 and PostClaim.objects.count() == 1
