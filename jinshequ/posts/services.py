"""Write services for post categories, posts and claims (认领), service teams, households and pairing.

Every function runs in one transaction and writes its audit row inside it (R32). Rules that refuse an
action raise ``PostError`` with a stable ``code`` and a Chinese ``message`` (views show the message;
``status`` is the HTTP status a view should answer with).

Capacity (R45). ``Post.claimed`` counts the places held by pending and active claims. ``claim_create``
locks the member row and then the post row (``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; on SQLite the
IMMEDIATE transaction already serialises writers), re-reads ``claimed`` under the lock, refuses with
``post_full`` when no place is left, increments ``claimed`` with ``F()`` and inserts the claim. The
CheckConstraint ``claimed <= capacity`` and the partial unique constraint (one open claim per member and
post) are the backstop: an ``IntegrityError`` becomes the same clear error, with ``backstop=True`` so a
test can tell that the lock did not do its job. Releasing a place (reject, withdraw, end) locks the post
row, then the claim row, and decrements ``claimed`` in the same transaction.

Lock order, everywhere: member → post → claim. No function takes them in another order, so two
transactions cannot wait for each other (no deadlocks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy

from jinshequ.access.audiences import is_member, manages_community, member_acting_for_another
from jinshequ.accounts.services import audit
from jinshequ.campaigns.models import current_campaign
from jinshequ.core import crypto
from jinshequ.core.errors import DomainError
from jinshequ.core.idcard import mask_phone, validate_phone
from jinshequ.members.models import Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.posts.models import (
    PLACE_HOLDING,
    ClaimStatus,
    CommunitySettings,
    Household,
    Pairing,
    Post,
    PostCategory,
    PostClaim,
    Schedule,
    ServiceTeam,
    TeamMembership,
)
from jinshequ.regions.models import Region, RegionKind

ADDRESS_PURPOSE = "household_address"
PHONE_PURPOSE = "household_phone"
DEFAULT_MAX_ACTIVE_POSTS = 2
MAX_CAPACITY = 999


class PostError(DomainError):
    """A rule refused the action (see ``jinshequ.core.errors``). ``backstop`` marks a refusal that the
    database constraint made after the lock did not hold (tests tell the two apart)."""

    def __init__(self, code: str, message: str, *, status: int = 400, backstop: bool = False):
        super().__init__(code, message, status=status)
        self.backstop = backstop


def _now() -> dt.datetime:
    return timezone.now()


def _clean_reason(reason: str, *, what: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise PostError("reason_required", gettext("请写明%(what)s的原因。") % {"what": what})
    return reason[:200]


def _on_commit_notify(member: Member, *, kind: str, title: str, body: str = "", link: str = "") -> None:
    """Notify after commit: a slow SMS gateway must never hold a post lock."""
    from jinshequ.accounts.notify import notify_member

    member_id = member.pk
    transaction.on_commit(
        lambda: notify_member(
            member=Member.objects.get(pk=member_id), kind=kind, title=title, body=body, link=link
        )
    )


def _require_community_admin(
    actor, community_id: int, what: str = pgettext_lazy("only your community's", "岗位")
) -> None:
    """Defence in depth behind the views' scope checks; ``actor=None`` is the system."""
    if actor is None:
        return
    if manages_community(actor, community_id):
        return
    raise PostError("not_your_community", gettext("只能管理本社区的%(what)s。") % {"what": what}, status=404)


def _check_community(community: Region) -> None:
    if community.kind != RegionKind.COMMUNITY or not community.is_active:
        raise PostError("bad_community", gettext("请选择一个启用中的社区。"))


def registered_community_id(member: Member) -> int | None:
    """The community of the member's confirmed registration (报到), or None."""
    return (
        Registration.objects.filter(member=member, status=RegistrationStatus.CONFIRMED)
        .values_list("community_id", flat=True)
        .first()
    )


def max_active_posts() -> int:
    """The city-wide 适度 limit of the current campaign (default 2)."""
    campaign = current_campaign()
    return campaign.max_active_posts if campaign else DEFAULT_MAX_ACTIVE_POSTS


def open_claim_count(member: Member) -> int:
    return PostClaim.objects.filter(member=member, status__in=PLACE_HOLDING).count()


# --- categories (city) ------------------------------------------------------------------------------


def _category_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise PostError("name_required", gettext("请填写类别名称。"))
    if len(name) > 30:
        raise PostError("name_too_long", gettext("类别名称不能超过 30 个字。"))
    return name


@transaction.atomic
def category_create(*, name: str, actor, request=None) -> PostCategory:
    name = _category_name(name)
    if PostCategory.objects.filter(name=name).exists():
        raise PostError("duplicate", gettext("已有名为“%(name)s”的类别。") % {"name": name})
    order = (
        PostCategory.objects.order_by("-sort_order").values_list("sort_order", flat=True).first() or 0
    ) + 1
    category = PostCategory.objects.create(name=name, sort_order=order)
    audit(
        event="posts.category_created",
        actor=actor,
        request=request,
        obj=category,
        changes={"name": [None, name]},
    )
    return category


@transaction.atomic
def category_rename(*, category: PostCategory, name: str, actor, request=None) -> PostCategory:
    name = _category_name(name)
    category = PostCategory.objects.select_for_update().get(pk=category.pk)
    if PostCategory.objects.filter(name=name).exclude(pk=category.pk).exists():
        raise PostError("duplicate", gettext("已有名为“%(name)s”的类别。") % {"name": name})
    old = category.name
    if old != name:
        category.name = name
        category.save(update_fields=["name"])
        audit(
            event="posts.category_renamed",
            actor=actor,
            request=request,
            obj=category,
            changes={"name": [old, name]},
        )
    return category


@transaction.atomic
def category_set_active(*, category: PostCategory, active: bool, actor, request=None) -> PostCategory:
    """Deactivated categories are no longer offered for new posts; existing posts keep theirs."""
    category = PostCategory.objects.select_for_update().get(pk=category.pk)
    if category.is_active != active:
        category.is_active = active
        category.save(update_fields=["is_active"])
        audit(
            event="posts.category_activated" if active else "posts.category_deactivated",
            actor=actor,
            request=request,
            obj=category,
            changes={"is_active": [str(not active), str(active)]},
        )
    return category


# --- community settings -----------------------------------------------------------------------------


def community_settings(community: Region) -> CommunitySettings:
    """The community's settings, or unsaved defaults (reading never writes)."""
    return CommunitySettings.objects.filter(community=community).first() or CommunitySettings(
        community=community
    )


@transaction.atomic
def settings_update(
    *, community: Region, auto_approve_claims: bool, actor, request=None
) -> CommunitySettings:
    _require_community_admin(actor, community.pk, pgettext("only your community's", "设置"))
    obj, _ = CommunitySettings.objects.select_for_update().get_or_create(community=community)
    if obj.auto_approve_claims != auto_approve_claims:
        old = obj.auto_approve_claims
        obj.auto_approve_claims = auto_approve_claims
        obj.save(update_fields=["auto_approve_claims"])
        audit(
            event="posts.settings_changed",
            actor=actor,
            request=request,
            obj=community,
            changes={"auto_approve_claims": [str(old), str(auto_approve_claims)]},
        )
    return obj


# --- posts ------------------------------------------------------------------------------------------

POST_FIELDS = ("category", "title", "description", "schedule", "capacity", "starts_on", "ends_on")


def _validate_post(
    *,
    category: PostCategory,
    title: str,
    schedule: str,
    capacity: int,
    starts_on: dt.date,
    ends_on: dt.date | None,
    old_category_id: int | None = None,
) -> None:
    if not (title or "").strip():
        raise PostError("title_required", gettext("请填写岗位名称。"))
    if not category.is_active and category.pk != old_category_id:
        raise PostError(
            "category_inactive", gettext("类别“%(name)s”已停用，请选择其他类别。") % {"name": category.name}
        )
    if schedule not in Schedule.values:
        raise PostError("bad_schedule", gettext("请选择服务时间。"))
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise PostError(
            "bad_capacity",
            gettext("名额应为 1 到 %(max_capacity)s 之间的整数。") % {"max_capacity": MAX_CAPACITY},
        )
    if ends_on and ends_on < starts_on:
        raise PostError("bad_period", gettext("结束日期不能早于开始日期。"))


@transaction.atomic
def post_create(
    *,
    community: Region,
    category: PostCategory,
    title: str,
    capacity: int,
    starts_on: dt.date,
    schedule: str = Schedule.FLEXIBLE,
    description: str = "",
    skills: Iterable = (),
    ends_on: dt.date | None = None,
    actor,
    request=None,
) -> Post:
    _require_community_admin(actor, community.pk)
    _check_community(community)
    _validate_post(
        category=category,
        title=title,
        schedule=schedule,
        capacity=capacity,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    post = Post.objects.create(
        community=community,
        category=category,
        title=title.strip()[:60],
        description=description.strip(),
        schedule=schedule,
        capacity=capacity,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    post.skills.set(list(skills))
    audit(
        event="posts.post_created",
        actor=actor,
        request=request,
        obj=post,
        changes={"title": [None, post.title], "capacity": [None, capacity], "schedule": [None, schedule]},
    )
    return post


@transaction.atomic
def post_update(*, post: Post, actor, request=None, skills: Iterable | None = None, **fields) -> Post:
    """Change a post. The capacity cannot drop below the places already held (``claimed``)."""
    unknown = set(fields) - set(POST_FIELDS)
    if unknown:
        raise TypeError(f"unknown post fields: {sorted(unknown)}")
    post = Post.objects.select_for_update(no_key=True).get(pk=post.pk)
    _require_community_admin(actor, post.community_id)
    old = {name: getattr(post, name) for name in POST_FIELDS}
    old_skills = sorted(post.skills.values_list("name", flat=True))
    for name, value in fields.items():
        setattr(post, name, value.strip() if isinstance(value, str) and name != "schedule" else value)
    _validate_post(
        category=post.category,
        title=post.title,
        schedule=post.schedule,
        capacity=post.capacity,
        starts_on=post.starts_on,
        ends_on=post.ends_on,
        old_category_id=old["category"].pk,
    )
    if post.capacity < post.claimed:
        raise PostError(
            "capacity_below_claimed",
            gettext("已有 %(claimed)s 人认领（含待审核），名额不能少于 %(claimed)s。")
            % {"claimed": post.claimed},
        )
    if fields:
        post.save(update_fields=list(fields))
    changes = {
        name: [
            str(old[name]) if old[name] is not None else None,
            str(getattr(post, name)) if getattr(post, name) is not None else None,
        ]
        for name in POST_FIELDS
        if old[name] != getattr(post, name)
    }
    if skills is not None:
        post.skills.set(list(skills))
        new_skills = sorted(post.skills.values_list("name", flat=True))
        if new_skills != old_skills:
            changes["skills"] = [gettext("、").join(old_skills), gettext("、").join(new_skills)]
    if changes:
        audit(event="posts.post_updated", actor=actor, request=request, obj=post, changes=changes)
    return post


@transaction.atomic
def post_deactivate(*, post: Post, actor, request=None, reason: str = "") -> Post:
    """Stop a post: no new claims, and every open claim ends (its places are freed)."""
    post = Post.objects.select_for_update(no_key=True).get(pk=post.pk)
    _require_community_admin(actor, post.community_id)
    if not post.is_active:
        return post
    why = (reason or "").strip()[:150] or gettext("岗位已停用")
    now = _now()
    claims = list(
        PostClaim.objects.select_for_update(of=("self",))
        .filter(post=post, status__in=PLACE_HOLDING)
        .select_related("member")
    )
    for claim in claims:
        old_status = claim.status
        claim.status = ClaimStatus.ENDED
        claim.ended_at = now
        claim.end_reason = (gettext("岗位停用：%(why)s") % {"why": why})[:200]
        claim.save(update_fields=["status", "ended_at", "end_reason"])
        audit(
            event="posts.claim_ended",
            actor=actor,
            request=request,
            obj=claim,
            reason=claim.end_reason,
            changes={"status": [old_status, ClaimStatus.ENDED]},
        )
        _on_commit_notify(
            claim.member,
            kind="posts.claim_ended",
            title=gettext("岗位已停用"),
            body=gettext("您认领的岗位“%(title)s”已停用。") % {"title": post.title},
            link="/posts/",
        )
    post.is_active = False
    post.claimed = 0
    post.save(update_fields=["is_active", "claimed"])
    audit(
        event="posts.post_deactivated",
        actor=actor,
        request=request,
        obj=post,
        reason=why,
        changes={"is_active": ["True", "False"], "claims_ended": len(claims)},
    )
    return post


@transaction.atomic
def post_activate(*, post: Post, actor, request=None) -> Post:
    post = Post.objects.select_for_update(no_key=True).get(pk=post.pk)
    _require_community_admin(actor, post.community_id)
    if not post.is_active:
        post.is_active = True
        post.save(update_fields=["is_active"])
        audit(
            event="posts.post_activated",
            actor=actor,
            request=request,
            obj=post,
            changes={"is_active": ["False", "True"]},
        )
    return post


def post_is_open(post: Post, day: dt.date | None = None) -> bool:
    """Active and inside its active period."""
    day = day or timezone.localdate()
    return post.is_active and post.starts_on <= day and (post.ends_on is None or post.ends_on >= day)


# --- claims -----------------------------------------------------------------------------------------


def _lock_post(post_id: int) -> Post:
    """The post row, locked until the transaction ends: claims of one post are serialised here. (The R45
    negative control in tests/test_claims_concurrency.py replaces this function with an unlocked read.)"""
    return Post.objects.select_for_update(no_key=True).get(pk=post_id)


def _integrity_error(exc: IntegrityError) -> PostError:
    text = str(exc)
    if "post_claimed_within_capacity" in text or ("claimed" in text and "CHECK" in text.upper()):
        return PostError("post_full", gettext("岗位已满，请选择其他岗位。"), status=409, backstop=True)
    return PostError(
        "already_claimed", gettext("您已认领这个岗位，无需重复提交。"), status=409, backstop=True
    )


@transaction.atomic
def claim_create(*, member: Member, post: Post, actor, request=None) -> PostClaim:
    """A registered member claims a place on a post of the community they reported to.

    Refused (``PostError``): ``member_inactive``, ``not_registered`` (no confirmed registration in the
    post's community), ``post_closed`` (inactive or outside its period), ``already_claimed`` (an open claim
    on this post), ``load_limit`` (适度: as many open claims as the campaign allows), ``post_full`` (409).
    With the community's auto-approve setting the claim is active at once, otherwise pending.
    """
    member = Member.objects.select_for_update(no_key=True).get(pk=member.pk)  # serialises one member's claims
    if member.status != MemberStatus.ACTIVE:
        raise PostError("member_inactive", gettext("该党员已不在职，不能认领岗位。"))
    if member_acting_for_another(actor, member):
        raise PostError("not_yourself", gettext("只能为自己认领岗位。"), status=404)
    if registered_community_id(member) != post.community_id:
        raise PostError("not_registered", gettext("请先到这个社区报到，报到确认后即可认领岗位。"), status=403)
    post = _lock_post(post.pk)
    if not post_is_open(post):
        raise PostError("post_closed", gettext("这个岗位已停用或不在认领期内。"))
    if PostClaim.objects.filter(member=member, post=post, status__in=PLACE_HOLDING).exists():
        raise PostError("already_claimed", gettext("您已认领这个岗位，无需重复提交。"), status=409)
    limit = max_active_posts()
    held = open_claim_count(member)
    if held >= limit:
        raise PostError(
            "load_limit",
            ngettext(
                "您已认领 %(held)s 个岗位，达到每名党员最多 %(limit)s 个的上限（适度原则）。如需认领新岗位，请先退出一个岗位。",
                "您已认领 %(held)s 个岗位，达到每名党员最多 %(limit)s 个的上限（适度原则）。如需认领新岗位，请先退出一个岗位。",
                held,
            )
            % {"held": held, "limit": limit},
            status=409,
        )
    if post.claimed >= post.capacity:
        raise PostError("post_full", gettext("岗位已满，请选择其他岗位。"), status=409)
    auto = bool(
        CommunitySettings.objects.filter(community_id=post.community_id)
        .values_list("auto_approve_claims", flat=True)
        .first()
    )
    now = _now()
    try:
        with transaction.atomic():
            Post.objects.filter(pk=post.pk).update(claimed=F("claimed") + 1)
            claim = PostClaim.objects.create(
                post=post,
                member=member,
                created_at=now,
                status=ClaimStatus.ACTIVE if auto else ClaimStatus.PENDING,
                decided_at=now if auto else None,
            )
    except IntegrityError as exc:
        raise _integrity_error(exc) from exc
    audit(
        event="posts.claim_created",
        actor=actor,
        request=request,
        obj=claim,
        changes={"status": [None, claim.status], "post": post.pk, "auto_approved": auto},
    )
    return claim


def _lock_claim(claim: PostClaim) -> tuple[Post, PostClaim]:
    """Lock the post row, then the claim row (the global lock order)."""
    post = Post.objects.select_for_update(no_key=True).get(pk=claim.post_id)
    claim = (
        PostClaim.objects.select_for_update(of=("self",)).select_related("member", "post").get(pk=claim.pk)
    )
    return post, claim


def _release(
    *,
    claim: PostClaim,
    status: str,
    reason: str,
    actor,
    request,
    event: str,
    allowed: tuple[str, ...] = PLACE_HOLDING,
    check=None,
) -> PostClaim:
    post, claim = _lock_claim(claim)
    if check is not None:
        check(post, claim)
    if claim.status not in allowed:
        raise PostError("not_open", gettext("这条认领已经处理过了。"), status=409)
    old_status = claim.status
    now = _now()
    claim.status = status
    claim.end_reason = reason
    fields = ["status", "end_reason"]
    if status == ClaimStatus.REJECTED:
        claim.decided_at, claim.decided_by = now, actor if getattr(actor, "pk", None) else None
        fields += ["decided_at", "decided_by"]
    else:
        claim.ended_at = now
        fields.append("ended_at")
    claim.save(update_fields=fields)
    Post.objects.filter(pk=post.pk).update(claimed=F("claimed") - 1)
    audit(
        event=event,
        actor=actor,
        request=request,
        obj=claim,
        reason=reason,
        changes={"status": [old_status, status]},
    )
    return claim


@transaction.atomic
def claim_approve(*, claim: PostClaim, actor, request=None) -> PostClaim:
    # Only the claim row is locked (of=self): locking the member here would break the lock order.
    claim = (
        PostClaim.objects.select_for_update(of=("self",)).select_related("post", "member").get(pk=claim.pk)
    )
    _require_community_admin(actor, claim.post.community_id)
    if claim.status != ClaimStatus.PENDING:
        raise PostError("not_pending", gettext("这条认领已经处理过了。"), status=409)
    if registered_community_id(claim.member) != claim.post.community_id:
        raise PostError(
            "not_registered",
            gettext("%(name)s已不在本社区报到，不能通过。请驳回这条认领。") % {"name": claim.member.name},
        )
    claim.status = ClaimStatus.ACTIVE
    claim.decided_at = _now()
    claim.decided_by = actor if getattr(actor, "pk", None) else None
    claim.save(update_fields=["status", "decided_at", "decided_by"])
    audit(
        event="posts.claim_approved",
        actor=actor,
        request=request,
        obj=claim,
        changes={"status": [ClaimStatus.PENDING, ClaimStatus.ACTIVE]},
    )
    _on_commit_notify(
        claim.member,
        kind="posts.claim_approved",
        title=gettext("岗位认领已通过"),
        body=gettext("您认领的岗位“%(title)s”已通过社区审核。") % {"title": claim.post.title},
        link="/posts/",
    )
    return claim


@transaction.atomic
def claim_reject(*, claim: PostClaim, reason: str, actor, request=None) -> PostClaim:
    reason = _clean_reason(reason, what=pgettext("reason for", "不通过"))

    def check(post, c):
        _require_community_admin(actor, post.community_id)

    claim = _release(
        claim=claim,
        status=ClaimStatus.REJECTED,
        reason=reason,
        actor=actor,
        request=request,
        event="posts.claim_rejected",
        allowed=(ClaimStatus.PENDING,),
        check=check,
    )
    _on_commit_notify(
        claim.member,
        kind="posts.claim_rejected",
        title=gettext("岗位认领未通过"),
        body=gettext("“%(title)s”：%(reason)s") % {"title": claim.post.title, "reason": reason},
        link="/posts/",
    )
    return claim


@transaction.atomic
def claim_withdraw(*, claim: PostClaim, reason: str, actor, request=None) -> PostClaim:
    """The member gives up a pending or active claim, with a reason."""
    reason = _clean_reason(reason, what=pgettext("reason for", "退出岗位"))

    def check(post, c):
        if member_acting_for_another(actor, c.member):
            raise PostError("not_yours", gettext("只能退出自己认领的岗位。"), status=404)

    return _release(
        claim=claim,
        status=ClaimStatus.WITHDRAWN,
        reason=reason,
        actor=actor,
        request=request,
        event="posts.claim_withdrawn",
        check=check,
    )


@transaction.atomic
def claim_end(*, claim: PostClaim, reason: str, actor, request=None) -> PostClaim:
    """The community ends a claim (the member no longer serves on the post), with a reason."""
    reason = _clean_reason(reason, what=pgettext("reason for", "结束认领"))

    def check(post, c):
        _require_community_admin(actor, post.community_id)

    claim = _release(
        claim=claim,
        status=ClaimStatus.ENDED,
        reason=reason,
        actor=actor,
        request=request,
        event="posts.claim_ended",
        check=check,
    )
    _on_commit_notify(
        claim.member,
        kind="posts.claim_ended",
        title=gettext("岗位认领已结束"),
        body=gettext("“%(title)s”：%(reason)s") % {"title": claim.post.title, "reason": reason},
        link="/posts/",
    )
    return claim


@transaction.atomic
def claims_end_for_member(
    *, member: Member, reason: str, actor, request=None, keep_community_id: int | None = None
) -> int:
    """End a member's open claims (all, or those outside ``keep_community_id``): for a member who moves to
    another community, leaves, or is merged away. Returns how many ended."""
    qs = PostClaim.objects.filter(member=member, status__in=PLACE_HOLDING)
    if keep_community_id is not None:
        qs = qs.exclude(post__community_id=keep_community_id)
    n = 0
    for claim in qs.order_by("post_id"):  # post order: the lock order
        _release(
            claim=claim,
            status=ClaimStatus.ENDED,
            reason=reason[:200],
            actor=actor,
            request=request,
            event="posts.claim_ended",
        )
        n += 1
    return n


# --- service teams ----------------------------------------------------------------------------------


def _team_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise PostError("name_required", gettext("请填写服务队名称。"))
    return name[:60]


def _require_registered(member: Member, community_id: int, message: str) -> None:
    if member.status != MemberStatus.ACTIVE or registered_community_id(member) != community_id:
        raise PostError("not_registered", message, status=403)


@transaction.atomic
def team_create(
    *,
    community: Region,
    name: str,
    description: str = "",
    category: PostCategory | None = None,
    actor,
    request=None,
) -> ServiceTeam:
    _require_community_admin(actor, community.pk, pgettext("only your community's", "服务队"))
    _check_community(community)
    name = _team_name(name)
    if ServiceTeam.objects.filter(community=community, name=name).exists():
        raise PostError("duplicate", gettext("本社区已有名为“%(name)s”的服务队。") % {"name": name})
    team = ServiceTeam.objects.create(
        community=community, name=name, description=description.strip(), category=category
    )
    audit(event="posts.team_created", actor=actor, request=request, obj=team, changes={"name": [None, name]})
    return team


@transaction.atomic
def team_update(
    *,
    team: ServiceTeam,
    actor,
    request=None,
    name: str | None = None,
    description: str | None = None,
    category: PostCategory | None = None,
    leader: Member | None = None,
    clear_leader: bool = False,
) -> ServiceTeam:
    """Rename, describe, set the category, or set / clear the leader (a current member of the team)."""
    team = ServiceTeam.objects.select_for_update().get(pk=team.pk)
    _require_community_admin(actor, team.community_id, pgettext("only your community's", "服务队"))
    changes = {}
    if name is not None:
        name = _team_name(name)
        if ServiceTeam.objects.filter(community_id=team.community_id, name=name).exclude(pk=team.pk).exists():
            raise PostError("duplicate", gettext("本社区已有名为“%(name)s”的服务队。") % {"name": name})
        if name != team.name:
            changes["name"] = [team.name, name]
            team.name = name
    if description is not None and description.strip() != team.description:
        changes["description"] = ["…", "…"]
        team.description = description.strip()
    if category is not None and category.pk != team.category_id:
        changes["category"] = [str(team.category) if team.category_id else None, category.name]
        team.category = category
    if clear_leader and team.leader_id:
        changes["leader"] = [team.leader_id, None]
        team.leader = None
    elif leader is not None and leader.pk != team.leader_id:
        if not TeamMembership.objects.filter(team=team, member=leader, left_at__isnull=True).exists():
            raise PostError("leader_not_member", gettext("队长须是本服务队的队员。"))
        changes["leader"] = [team.leader_id, leader.pk]
        team.leader = leader
    if changes:
        team.save()
        audit(event="posts.team_updated", actor=actor, request=request, obj=team, changes=changes)
    return team


@transaction.atomic
def team_set_active(*, team: ServiceTeam, active: bool, actor, request=None) -> ServiceTeam:
    """A deactivated team takes no new members; its history stays."""
    team = ServiceTeam.objects.select_for_update().get(pk=team.pk)
    _require_community_admin(actor, team.community_id, pgettext("only your community's", "服务队"))
    if team.is_active != active:
        team.is_active = active
        team.save(update_fields=["is_active"])
        audit(
            event="posts.team_activated" if active else "posts.team_deactivated",
            actor=actor,
            request=request,
            obj=team,
            changes={"is_active": [str(not active), str(active)]},
        )
    return team


@transaction.atomic
def team_join(*, team: ServiceTeam, member: Member, actor, request=None) -> TeamMembership:
    """A registered member joins a team of their community (or the community admin adds them)."""
    member = Member.objects.select_for_update(no_key=True).get(pk=member.pk)
    team = ServiceTeam.objects.get(pk=team.pk)
    if is_member(actor):
        if member.user_id != actor.pk:
            raise PostError("not_yourself", gettext("只能本人加入服务队。"), status=404)
    else:
        _require_community_admin(actor, team.community_id, pgettext("only your community's", "服务队"))
    _require_registered(member, team.community_id, gettext("请先到这个社区报到，报到确认后即可加入服务队。"))
    if not team.is_active:
        raise PostError("team_inactive", gettext("这个服务队已停用。"))
    if TeamMembership.objects.filter(team=team, member=member, left_at__isnull=True).exists():
        raise PostError("already_member", gettext("已经是这个服务队的队员了。"), status=409)
    try:
        with transaction.atomic():
            membership = TeamMembership.objects.create(team=team, member=member, joined_at=_now())
    except IntegrityError as exc:
        raise PostError(
            "already_member", gettext("已经是这个服务队的队员了。"), status=409, backstop=True
        ) from exc
    audit(
        event="posts.team_joined",
        actor=actor,
        request=request,
        obj=membership,
        object_repr=f"{member.name} → {team.name}",
        changes={"team": team.pk, "member": member.pk},
    )
    return membership


@transaction.atomic
def team_leave(*, team: ServiceTeam, member: Member, actor, request=None) -> TeamMembership:
    team = ServiceTeam.objects.select_for_update().get(pk=team.pk)
    if is_member(actor):
        if member.user_id != actor.pk:
            raise PostError("not_yourself", gettext("只能本人退出服务队。"), status=404)
    else:
        _require_community_admin(actor, team.community_id, pgettext("only your community's", "服务队"))
    membership = (
        TeamMembership.objects.select_for_update()
        .filter(team=team, member=member, left_at__isnull=True)
        .first()
    )
    if membership is None:
        raise PostError("not_member", gettext("不是这个服务队的队员。"), status=409)
    membership.left_at = _now()
    membership.save(update_fields=["left_at"])
    if team.leader_id == member.pk:
        team.leader = None
        team.save(update_fields=["leader"])
    audit(
        event="posts.team_left",
        actor=actor,
        request=request,
        obj=membership,
        object_repr=f"{member.name} ← {team.name}",
        changes={"team": team.pk, "member": member.pk},
    )
    return membership


# --- households in difficulty and pairing ------------------------------------------------------------


def household_address(household: Household) -> str:
    return crypto.decrypt(household.address_enc, purpose=ADDRESS_PURPOSE) if household.address_enc else ""


def household_phone(household: Household) -> str:
    return crypto.decrypt(household.phone_enc, purpose=PHONE_PURPOSE) if household.phone_enc else ""


def mask_address(address: str) -> str:
    """Keep the first few characters (street), hide the rest: 幸福路 8 号*** ."""
    if not address:
        return ""
    keep = min(6, max(2, len(address) // 3))
    return address[:keep] + "***"


def _set_household_contact(household: Household, *, address: str | None, phone: str | None) -> list[str]:
    changed = []
    if address is not None:
        address = address.strip()[:200]
        if address != household_address(household):
            household.address_enc = crypto.encrypt(address, purpose=ADDRESS_PURPOSE) if address else ""
            changed.append("address")
    if phone is not None:
        phone = validate_phone(phone) if phone.strip() else ""
        if phone != household_phone(household):
            household.phone_enc = crypto.encrypt(phone, purpose=PHONE_PURPOSE) if phone else ""
            household.phone_masked = mask_phone(phone) if phone else ""
            changed.append("phone")
    return changed


def _household_repr(household: Household) -> str:
    return gettext("困难家庭 #%(pk)s") % {"pk": household.pk}


@transaction.atomic
def household_create(
    *,
    community: Region,
    head_name: str,
    address: str = "",
    phone: str = "",
    situation: str = "",
    needs: str = "",
    actor,
    request=None,
) -> Household:
    """Record a household in difficulty; the address and phone are stored encrypted (never in the audit)."""
    _require_community_admin(actor, community.pk, pgettext("only your community's", "困难家庭"))
    _check_community(community)
    head_name = (head_name or "").strip()
    if not head_name:
        raise PostError("name_required", gettext("请填写户主姓名。"))
    household = Household(
        community=community, head_name=head_name[:40], situation=situation.strip(), needs=needs.strip()
    )
    _set_household_contact(household, address=address, phone=phone)
    household.save()
    audit(
        event="posts.household_created",
        actor=actor,
        request=request,
        obj=household,
        object_repr=_household_repr(household),
        changes={"fields": ["head_name", "address", "phone"]},
    )
    return household


@transaction.atomic
def household_update(
    *,
    household: Household,
    actor,
    request=None,
    head_name: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    situation: str | None = None,
    needs: str | None = None,
) -> Household:
    """``None`` leaves a field unchanged. Only the names of changed fields are audited (no personal data)."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    _require_community_admin(actor, household.community_id, pgettext("only your community's", "困难家庭"))
    changed = _set_household_contact(household, address=address, phone=phone)
    for name, value in (("head_name", head_name), ("situation", situation), ("needs", needs)):
        if value is not None and value.strip() != getattr(household, name):
            if name == "head_name" and not value.strip():
                raise PostError("name_required", gettext("请填写户主姓名。"))
            setattr(household, name, value.strip()[:40] if name == "head_name" else value.strip())
            changed.append(name)
    if changed:
        household.save()
        audit(
            event="posts.household_updated",
            actor=actor,
            request=request,
            obj=household,
            object_repr=_household_repr(household),
            changes={"fields": changed},
        )
    return household


@transaction.atomic
def household_set_active(*, household: Household, active: bool, actor, request=None) -> Household:
    """Closing a household's file (no longer in difficulty) ends its open pairings."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    _require_community_admin(actor, household.community_id, pgettext("only your community's", "困难家庭"))
    if household.is_active == active:
        return household
    ended = 0
    if not active:
        today = timezone.localdate()
        for pairing in Pairing.objects.select_for_update().filter(household=household, ended_on__isnull=True):
            pairing.ended_on = today
            pairing.save(update_fields=["ended_on"])
            ended += 1
    household.is_active = active
    household.save(update_fields=["is_active"])
    audit(
        event="posts.household_activated" if active else "posts.household_deactivated",
        actor=actor,
        request=request,
        obj=household,
        object_repr=_household_repr(household),
        changes={"is_active": [str(not active), str(active)], "pairings_ended": ended},
    )
    return household


def household_reveal_phone(*, household: Household, actor, request=None) -> str:
    """The full phone for the community admin or a paired member (callers check scope); audited, within the
    same per-user reveal budget as members' ID numbers and phones (R21)."""
    from jinshequ.members.services import RevealLimitExceeded, reveal_limit_reached

    if reveal_limit_reached(actor):
        audit(
            event="security.reveal_limit",
            actor=actor,
            request=request,
            obj=household,
            success=False,
            object_repr=_household_repr(household),
            reason="reveal rate limit reached",
        )
        raise RevealLimitExceeded
    with transaction.atomic():
        phone = household_phone(household)
        audit(
            event="posts.household_revealed",
            actor=actor,
            request=request,
            obj=household,
            object_repr=_household_repr(household),
            changes={"field": "phone"},
        )
    return phone


@transaction.atomic
def pairing_create(
    *,
    household: Household,
    member: Member,
    actor,
    request=None,
    note: str = "",
    started_on: dt.date | None = None,
) -> Pairing:
    """Pair a member registered in the household's community with it (结对帮扶)."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    _require_community_admin(actor, household.community_id, pgettext("only your community's", "困难家庭"))
    if not household.is_active:
        raise PostError("household_inactive", gettext("这户家庭的帮扶档案已关闭。"))
    _require_registered(
        member, household.community_id, gettext("%(name)s未在本社区报到，不能结对。") % {"name": member.name}
    )
    if Pairing.objects.filter(household=household, member=member, ended_on__isnull=True).exists():
        raise PostError(
            "already_paired", gettext("%(name)s已与这户家庭结对。") % {"name": member.name}, status=409
        )
    try:
        with transaction.atomic():
            pairing = Pairing.objects.create(
                household=household,
                member=member,
                note=note.strip()[:200],
                started_on=started_on or timezone.localdate(),
            )
    except IntegrityError as exc:
        raise PostError(
            "already_paired",
            gettext("%(name)s已与这户家庭结对。") % {"name": member.name},
            status=409,
            backstop=True,
        ) from exc
    audit(
        event="posts.pairing_created",
        actor=actor,
        request=request,
        obj=pairing,
        object_repr=f"{member.name} ↔ {_household_repr(household)}",
        changes={"household": household.pk, "member": member.pk},
    )
    _on_commit_notify(
        member,
        kind="posts.pairing_created",
        title=gettext("结对帮扶"),
        body=gettext("社区已为您安排结对帮扶的困难家庭，请在“结对家庭”中查看。"),
        link="/posts/households/mine/",
    )
    return pairing


@transaction.atomic
def pairing_end(*, pairing: Pairing, actor, request=None, reason: str = "") -> Pairing:
    pairing = (
        Pairing.objects.select_for_update(of=("self",))
        .select_related("household", "member")
        .get(pk=pairing.pk)
    )
    _require_community_admin(
        actor, pairing.household.community_id, pgettext("only your community's", "困难家庭")
    )
    if pairing.ended_on is not None:
        raise PostError("already_ended", gettext("这条结对已经结束。"), status=409)
    pairing.ended_on = timezone.localdate()
    pairing.save(update_fields=["ended_on"])
    audit(
        event="posts.pairing_ended",
        actor=actor,
        request=request,
        obj=pairing,
        reason=(reason or "")[:200],
        object_repr=f"{pairing.member.name} ↔ {_household_repr(pairing.household)}",
    )
    return pairing


# --- when members move, leave or merge (hooks for the report-in services) ---------------------------


@transaction.atomic
def member_service_end(
    *, member: Member, reason: str, actor, request=None, keep_community_id: int | None = None
) -> dict:
    """End a member's open claims, team memberships and pairings outside ``keep_community_id`` (all when
    None). Call when a registration ends (transfer, leaving) so no place stays held by someone gone."""
    claims = claims_end_for_member(
        member=member, reason=reason, actor=actor, request=request, keep_community_id=keep_community_id
    )
    memberships = TeamMembership.objects.filter(member=member, left_at__isnull=True)
    pairings = Pairing.objects.filter(member=member, ended_on__isnull=True)
    if keep_community_id is not None:
        memberships = memberships.exclude(team__community_id=keep_community_id)
        pairings = pairings.exclude(household__community_id=keep_community_id)
    ServiceTeam.objects.filter(leader=member, pk__in=memberships.values("team_id")).update(leader=None)
    left = memberships.update(left_at=_now())
    unpaired = pairings.update(ended_on=timezone.localdate())
    if claims or left or unpaired:
        audit(
            event="posts.member_service_ended",
            actor=actor,
            request=request,
            obj=member,
            reason=reason,
            changes={"claims": claims, "teams": left, "pairings": unpaired},
        )
    return {"claims": claims, "teams": left, "pairings": unpaired}
