"""R45: capacity is never exceeded when many members claim the last places at the same moment (T6).

PostgreSQL only for the threaded tests (SQLite serialises writers with IMMEDIATE transactions, so there
is no race to show): 20 threads, each with its own database connection, released together by a barrier
against a post of capacity k ∈ {1, 2, 3}. ``JINSHEQU_CLAIM_ROUNDS`` sets the rounds per k (CI 10; the
release profile uses 50).

The negative control (pretix style) replaces the service's lock seam ``posts.services._lock_post`` with
an unlocked read followed by a sleep before the check and the write: the same test must
then show violations — claims that passed the capacity check and were only stopped by the database
constraint (``PostError.backstop``), or overbooking — proving that the positive test can fail.

The constraint itself (a direct SQL update past capacity → IntegrityError) and the double submit are
checked on both databases.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone

from jinshequ.accounts.models import Role
from jinshequ.members import reporting as rp
from jinshequ.posts import services as ps
from jinshequ.posts.integrity import check_posts_integrity
from jinshequ.posts.models import PLACE_HOLDING, Post, PostCategory, PostClaim
from jinshequ.regions.models import RegionKind
from tests.factories import make_campaign, make_member, make_region, make_unit, make_user
from tests.races import unlocked_slow_read

ROUNDS = int(os.environ.get("JINSHEQU_CLAIM_ROUNDS", "10"))
THREADS = 20

postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="row locks and real concurrent transactions need PostgreSQL; SQLite serialises writers "
    "(IMMEDIATE transactions), so the race cannot happen there",
)


def _is_pg() -> bool:
    return connection.vendor == "postgresql"


class Arena:
    """A community with THREADS registered members, an admin and a campaign without a practical load limit."""

    def __init__(self, n=THREADS, tag="并发"):
        city = make_region(f"{tag}市", RegionKind.CITY)
        district = make_region(f"{tag}区", RegionKind.DISTRICT, city)
        street = make_region(f"{tag}街道", RegionKind.STREET, district)
        self.community = make_region(f"{tag}社区", RegionKind.COMMUNITY, street)
        unit = make_unit(f"{tag}单位", region=district)
        self.admin = make_user(f"{tag}_admin", Role.COMMUNITY_ADMIN, region=self.community)
        make_campaign(max_active_posts=999)
        self.members = [make_member(f"{tag}{i}", unit, self.community) for i in range(n)]
        for m in self.members:
            rp.registration_register_at_office(member=m, community=self.community, actor=self.admin)
        self.category, _ = PostCategory.objects.get_or_create(name="其他")  # flushed by transactional_db

    def post(self, capacity: int, title: str = "抢名额") -> Post:
        return ps.post_create(
            community=self.community,
            category=self.category,
            title=title,
            capacity=capacity,
            starts_on=timezone.localdate(),
            actor=self.admin,
        )


def race(arena: Arena, post: Post, members=None) -> list:
    """Every member claims ``post`` at the same moment; returns one outcome per thread."""
    members = members or arena.members
    barrier = threading.Barrier(len(members))
    outcomes: list = [None] * len(members)

    def worker(i, member):
        try:
            barrier.wait(timeout=30)
            ps.claim_create(member=member, post=post, actor=None)
            outcomes[i] = ("ok",)
        except ps.PostError as exc:
            outcomes[i] = ("refused", exc.code, exc.backstop, exc.status)
        except Exception as exc:  # anything else is a failure of the test (5xx, deadlock …)
            outcomes[i] = ("error", type(exc).__name__, str(exc)[:200])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, m)) for i, m in enumerate(members)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a claimant hung (deadlock?)"
    return outcomes


def release_all(arena: Arena, post: Post) -> None:
    for c in PostClaim.objects.filter(post=post, status__in=PLACE_HOLDING):
        ps.claim_withdraw(claim=c, reason="本轮结束", actor=None)


@postgres_only
@pytest.mark.postgres
@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_concurrent_claims_never_overbook(transactional_db, capacity):
    arena = Arena()
    totals = Counter()
    for round_no in range(ROUNDS):
        post = arena.post(capacity, title=f"抢名额{capacity}-{round_no}")
        outcomes = race(arena, post)
        kinds = Counter(o[0] for o in outcomes)
        errors = [o for o in outcomes if o[0] == "error"]
        assert not errors, errors  # no 5xx-style failures, no deadlocks
        assert kinds["ok"] == capacity, (round_no, outcomes)
        refused = [o for o in outcomes if o[0] == "refused"]
        assert all(o[1] == "post_full" and o[3] == 409 for o in refused), refused
        assert not any(o[2] for o in refused), "the lock let a claimant through to the constraint"
        post.refresh_from_db()
        assert post.claimed == capacity == PostClaim.objects.filter(post=post).count()
        assert PostClaim.objects.filter(post=post).values("member").distinct().count() == capacity
        totals.update(kinds)
        release_all(arena, post)
    assert totals["ok"] == capacity * ROUNDS
    assert check_posts_integrity() == []


@postgres_only
@pytest.mark.postgres
@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_negative_control_without_lock_shows_violations(transactional_db, capacity, monkeypatch):
    """The same race with the lock off and a sleep between check and write must go wrong."""
    arena = Arena()
    violations = 0
    monkeypatch.setattr(ps, "_lock_post", unlocked_slow_read(Post, 0.05))
    for round_no in range(max(3, ROUNDS // 5)):
        post = arena.post(capacity, title=f"无锁{capacity}-{round_no}")
        outcomes = race(arena, post)
        rows = PostClaim.objects.filter(post=post).count()
        backstop = sum(1 for o in outcomes if o[0] == "refused" and o[2])
        violations += backstop + max(0, rows - capacity)
        release_all(arena, post)
    assert violations >= 1, "the negative control showed no race: the positive test proves nothing"


@postgres_only
@pytest.mark.postgres
def test_concurrent_double_submit_makes_one_claim(transactional_db):
    arena = Arena(n=2)
    post = arena.post(5)
    member = arena.members[0]
    outcomes = race(arena, post, members=[member] * 10)
    assert not [o for o in outcomes if o[0] == "error"], outcomes
    assert sum(o[0] == "ok" for o in outcomes) == 1
    assert all(o[1] == "already_claimed" for o in outcomes if o[0] == "refused")
    assert PostClaim.objects.filter(post=post, member=member).count() == 1
    post.refresh_from_db()
    assert post.claimed == 1


@postgres_only
@pytest.mark.postgres
def test_mixed_claims_and_releases_have_no_deadlock(transactional_db):
    """Claims, withdrawals, approvals and ends on three posts at once: lock order member → post → claim."""
    import random

    arena = Arena(n=12)
    posts = [arena.post(c, title=f"混合{c}") for c in (1, 2, 3)]
    errors: list = []
    barrier = threading.Barrier(len(arena.members) + 1)

    def member_worker(seed, member):
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for _ in range(8):
                post = rng.choice(posts)
                try:
                    if rng.random() < 0.6:
                        ps.claim_create(member=member, post=post, actor=None)
                    else:
                        c = PostClaim.objects.filter(
                            member=member, post=post, status__in=PLACE_HOLDING
                        ).first()
                        if c:
                            ps.claim_withdraw(claim=c, reason="并发测试", actor=None)
                except ps.PostError:
                    pass
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            connection.close()

    def admin_worker():
        rng = random.Random(99)
        try:
            barrier.wait(timeout=30)
            for _ in range(30):
                c = PostClaim.objects.filter(post__in=posts, status__in=PLACE_HOLDING).order_by("?").first()
                if c is None:
                    continue
                try:
                    if c.status == "pending":
                        ps.claim_approve(claim=c, actor=arena.admin)
                    elif rng.random() < 0.3:
                        ps.claim_end(claim=c, reason="并发测试", actor=arena.admin)
                except ps.PostError:
                    pass
        except Exception as exc:
            errors.append(f"admin {type(exc).__name__}: {exc}"[:300])
        finally:
            connection.close()

    threads = [threading.Thread(target=member_worker, args=(i, m)) for i, m in enumerate(arena.members)]
    threads.append(threading.Thread(target=admin_worker))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    for post in posts:
        post.refresh_from_db()
        assert (
            post.claimed
            == PostClaim.objects.filter(post=post, status__in=PLACE_HOLDING).count()
            <= post.capacity
        )
    assert check_posts_integrity() == []


@postgres_only
@pytest.mark.postgres
def test_concurrent_idempotent_duplicate_gets_409(transactional_db, monkeypatch):
    """Two identical requests with one key at the same time: one effect; the other 409 (or the replay)."""
    arena = Arena(n=1)
    member = arena.members[0]
    user = make_user("并发党员", Role.MEMBER, member=member)
    post = arena.post(3)
    barrier = threading.Barrier(2)
    statuses: list = []

    def worker():
        try:
            client = Client()
            client.force_login(user)
            barrier.wait(timeout=30)
            r = client.post(
                f"/posts/{post.pk}/claim/",
                HTTP_IDEMPOTENCY_KEY="concurrent-key-1",
                HTTP_ACCEPT="application/json",
            )
            statuses.append(r.status_code)
        finally:
            connection.close()

    locked = ps._lock_post

    def locked_then_slow(post_id):  # keep the first request inside the claim while the second arrives
        row = locked(post_id)
        time.sleep(0.5)
        return row

    monkeypatch.setattr(ps, "_lock_post", locked_then_slow)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [201, 409], statuses
    assert PostClaim.objects.filter(post=post).count() == 1


# --- both databases -------------------------------------------------------------------------------


def test_direct_update_past_capacity_is_refused_by_the_database(db):
    arena = Arena(n=1, tag="约束")
    post = arena.post(2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Post.objects.filter(pk=post.pk).update(claimed=F("capacity") + 1)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Post._meta.db_table} SET claimed = capacity + 1 WHERE id = %s", [post.pk])
    post.refresh_from_db()
    assert post.claimed == 0


def test_duplicate_open_claim_is_refused_by_the_database(db):
    arena = Arena(n=1, tag="唯一")
    post = arena.post(3)
    member = arena.members[0]
    ps.claim_create(member=member, post=post, actor=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        PostClaim.objects.create(
            post=post, member=member, status="active", created_at=timezone.now(), decided_at=timezone.now()
        )
    assert PostClaim.objects.filter(post=post).count() == 1


def test_backstop_turns_a_constraint_error_into_post_full(db):
    """If the check is bypassed (here: the counter raised behind the service's back), the constraint
    stops the write and the member still gets the clear message, not a 500."""
    arena = Arena(n=1, tag="兜底")
    post = arena.post(1)
    real = ps.PostClaim.objects.filter

    # Make the capacity check pass on a stale read: pretend the post is empty, then the F() update fails.
    original_lock = ps._lock_post

    def stale_lock(post_id):
        p = original_lock(post_id)
        Post.objects.filter(pk=post_id).update(claimed=1)  # someone else took the place
        return p

    ps._lock_post = stale_lock
    try:
        with pytest.raises(ps.PostError) as err:
            ps.claim_create(member=arena.members[0], post=post, actor=None)
    finally:
        ps._lock_post = original_lock
    assert err.value.code == "post_full" and err.value.backstop and err.value.status == 409
    assert isinstance(err.value.__cause__, IntegrityError)
    assert not real(post=post).exists()
