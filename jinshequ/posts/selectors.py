"""Scoped reads for posts, claims, teams, households and the 全员认领 coverage.

Who sees what:
- posts, claims and teams: a community admin their community; region roles (district, street, inspector)
  their subtree; the city admin everything; a member the posts of the community they are registered in
  and their own claims; unit admins none (they see coverage only).
- households: ONLY the community admin of the household's community and the members paired with it
  (open pairing). Everyone else — the city admin included — gets 404; oversight roles see counts only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from jinshequ.access import audiences
from jinshequ.access.audiences import administered_community_id
from jinshequ.members.models import Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.members.reporting_selectors import registration_list_for_user
from jinshequ.posts.models import (
    PLACE_HOLDING,
    ClaimStatus,
    Household,
    Pairing,
    Post,
    PostClaim,
    Schedule,
    ServiceTeam,
    TeamMembership,
)
from jinshequ.posts.policies import claim_policy, household_policy, post_policy, team_policy
from jinshequ.posts.services import max_active_posts
from jinshequ.regions.models import Region
from jinshequ.regions.selectors import region_list_for_user
from jinshequ.units.models import WorkUnit


def _member_of(user) -> Member | None:
    if not audiences.is_member(user):
        return None
    return Member.objects.filter(user=user).first()


def registration_of(member: Member) -> Registration | None:
    return (
        Registration.objects.filter(member=member, status=RegistrationStatus.CONFIRMED)
        .select_related("community")
        .first()
    )


# --- posts ------------------------------------------------------------------------------------------


def post_list_for_user(user) -> QuerySet[Post]:
    """The posts ``user`` may see (``PostPolicy``)."""
    return post_policy.rows(user)


def post_get_for_user(*, user, pk) -> Post:
    """The post ``pk`` or ``Http404`` for missing and foreign alike."""
    return post_policy.get(user=user, pk=pk)


def open_posts(qs: QuerySet[Post], day: dt.date | None = None) -> QuerySet[Post]:
    day = day or timezone.localdate()
    return qs.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day), is_active=True, starts_on__lte=day)


def posts_for_community_admin(user) -> QuerySet[Post]:
    """The community admin's posts with their pending-claim count (one query)."""
    return (
        post_list_for_user(user)
        .select_related("category")
        .annotate(pending=Count("claims", filter=Q(claims__status=ClaimStatus.PENDING)))
        .order_by("-is_active", "category__sort_order", "title", "pk")
    )


# --- claims -----------------------------------------------------------------------------------------


def claim_list_for_user(user) -> QuerySet[PostClaim]:
    """The claims ``user`` may see (``ClaimPolicy``)."""
    return claim_policy.rows(user)


def claim_get_for_user(*, user, pk) -> PostClaim:
    """The claim ``pk`` or ``Http404`` for missing and foreign alike."""
    return claim_policy.get(user=user, pk=pk)


def pending_claims(user) -> QuerySet[PostClaim]:
    """The community admin's queue, oldest first."""
    if administered_community_id(user) is None:
        return PostClaim.objects.none()
    return (
        claim_list_for_user(user)
        .filter(status=ClaimStatus.PENDING)
        .select_related("post", "post__category", "member", "member__work_unit")
        .order_by("created_at", "pk")
    )


def claimants(post: Post) -> QuerySet[PostClaim]:
    return post.claims.select_related("member", "member__work_unit").order_by("status", "-created_at", "-pk")


# --- ranking by fit (适宜、适时、适度) ------------------------------------------------------------------

SCHEDULE_AVAILABILITY = {
    Schedule.WEEKDAY_DAY: "avail_weekday_day",
    Schedule.WEEKDAY_EVENING: "avail_weekday_evening",
    Schedule.WEEKEND: "avail_weekend",
}


@dataclass
class Reason:
    principle: str  # 适宜 / 适时 / 适度 / 名额
    ok: bool | None  # True fits, False does not, None neutral
    text: str


@dataclass
class PostFit:
    post: Post
    skills_matched: list[str]
    skills_wanted: list[str]
    schedule_fits: bool
    score: int
    reasons: list[Reason] = field(default_factory=list)
    my_claim: PostClaim | None = None
    can_claim: bool = False
    refusal: str = ""

    @property
    def full(self) -> bool:
        return self.post.claimed >= self.post.capacity

    @property
    def good(self) -> bool:
        """Fits the member's time and does not ask for skills they lack."""
        return self.schedule_fits and (bool(self.skills_matched) or not self.skills_wanted)


@dataclass
class MemberLoad:
    held: int
    limit: int

    @property
    def at_limit(self) -> bool:
        return self.held >= self.limit

    @property
    def text(self) -> str:
        if self.at_limit:
            return ngettext(
                "您已认领 %(held)s 个岗位，达到上限 %(limit)s 个",
                "您已认领 %(held)s 个岗位，达到上限 %(limit)s 个",
                self.held,
            ) % {"held": self.held, "limit": self.limit}
        return ngettext(
            "您已认领 %(held)s 个岗位，还可认领 %(value)s 个",
            "您已认领 %(held)s 个岗位，还可认领 %(value)s 个",
            self.held,
        ) % {"held": self.held, "value": self.limit - self.held}


def member_load(member: Member) -> MemberLoad:
    held = PostClaim.objects.filter(member=member, status__in=PLACE_HOLDING).count()
    return MemberLoad(held=held, limit=max_active_posts())


def schedule_fits(member: Member, schedule: str) -> bool:
    if schedule == Schedule.FLEXIBLE:
        return True
    attr = SCHEDULE_AVAILABILITY.get(schedule)
    return bool(attr and getattr(member, attr))


def rank_posts_for_member(
    member: Member, community_id: int, day: dt.date | None = None
) -> tuple[list[PostFit], MemberLoad]:
    """The open posts of ``community_id`` for ``member``, best fit first, each with its reasons.

    Score: 3 per matched skill (at most 3 counted), 1 when the post asks for no particular skill, 3 when
    the schedule fits. Posts with a free place come before full ones; then score; then newest. A fixed
    number of queries whatever the number of posts (posts, their skills, the member's skills, claims,
    campaign).
    """
    posts = list(
        open_posts(Post.objects.filter(community_id=community_id), day)
        .select_related("category")
        .prefetch_related("skills")
    )
    member_skills = set(member.skills.values_list("name", flat=True))
    mine = {c.post_id: c for c in PostClaim.objects.filter(member=member, status__in=PLACE_HOLDING)}
    load = MemberLoad(held=len(mine), limit=max_active_posts())
    avail = member.availability_labels
    fits = []
    for post in posts:
        wanted = [s.name for s in post.skills.all()]
        matched = [s for s in wanted if s in member_skills]
        sched_ok = schedule_fits(member, post.schedule)
        reasons = []
        if matched:
            reasons.append(
                Reason(
                    gettext("适宜"),
                    True,
                    gettext("特长匹配：%(join)s") % {"join": gettext("、").join(matched)},
                )
            )
        elif wanted:
            reasons.append(
                Reason(
                    gettext("适宜"),
                    False,
                    gettext("岗位需要：%(join)s") % {"join": gettext("、").join(wanted)},
                )
            )
        else:
            reasons.append(Reason(gettext("适宜"), None, gettext("不限特长")))
        if post.schedule == Schedule.FLEXIBLE:
            reasons.append(Reason(gettext("适时"), True, gettext("时间灵活，随时可参加")))
        elif sched_ok:
            reasons.append(
                Reason(
                    gettext("适时"),
                    True,
                    gettext("%(get_schedule_display)s，与您的可服务时间相符")
                    % {"get_schedule_display": post.get_schedule_display()},
                )
            )
        else:
            yours = gettext("、").join(avail) if avail else gettext("未填写")
            reasons.append(
                Reason(
                    gettext("适时"),
                    False,
                    gettext("%(get_schedule_display)s，您的可服务时间：%(yours)s")
                    % {"get_schedule_display": post.get_schedule_display(), "yours": yours},
                )
            )
        my_claim = mine.get(post.pk)
        fit = PostFit(
            post=post,
            skills_matched=matched,
            skills_wanted=wanted,
            schedule_fits=sched_ok,
            score=3 * min(3, len(matched)) + (1 if not wanted else 0) + (3 if sched_ok else 0),
            reasons=reasons,
            my_claim=my_claim,
        )
        if my_claim is not None:
            fit.refusal = (
                gettext("您已认领") if my_claim.status == ClaimStatus.ACTIVE else gettext("等待社区审核")
            )
        elif load.at_limit:
            fit.refusal = gettext("已达认领上限（%(limit)s 个）") % {"limit": load.limit}
        elif fit.full:
            fit.refusal = gettext("名额已满")
        else:
            fit.can_claim = True
        fits.append(fit)
    fits.sort(
        key=lambda f: (f.my_claim is None, not f.full, f.score, f.post.created_at, f.post.pk), reverse=True
    )
    return fits, load


def my_claims(member: Member) -> QuerySet[PostClaim]:
    return (
        PostClaim.objects.filter(member=member)
        .select_related("post", "post__category", "post__community")
        .order_by("-created_at", "-pk")
    )


# --- teams ------------------------------------------------------------------------------------------


def team_list_for_user(user) -> QuerySet[ServiceTeam]:
    """The service teams ``user`` may see (``TeamPolicy``)."""
    return team_policy.rows(user)


def team_get_for_user(*, user, pk) -> ServiceTeam:
    """The team ``pk`` or ``Http404`` for missing and foreign alike."""
    return team_policy.get(user=user, pk=pk)


def teams_with_counts(qs: QuerySet[ServiceTeam], member: Member | None = None) -> QuerySet[ServiceTeam]:
    qs = qs.select_related("leader", "category").annotate(
        size=Count("memberships", filter=Q(memberships__left_at__isnull=True))
    )
    if member is not None:
        qs = qs.annotate(
            is_mine=Exists(
                TeamMembership.objects.filter(team=OuterRef("pk"), member=member, left_at__isnull=True)
            )
        )
    return qs.order_by("-is_active", "name", "pk")


def team_members(team: ServiceTeam) -> QuerySet[TeamMembership]:
    return (
        team.memberships.filter(left_at__isnull=True)
        .select_related("member", "member__work_unit")
        .order_by("joined_at", "pk")
    )


# --- households (private) ---------------------------------------------------------------------------


def household_list_for_user(user) -> QuerySet[Household]:
    """Only the community admin (their community) and paired members. Nobody else, whatever the role."""
    return household_policy.rows(user)


def household_get_for_user(*, user, pk) -> Household:
    """The household ``pk`` or ``Http404`` for missing, foreign and unpaired alike."""
    return household_policy.get(user=user, pk=pk)


def households_for_admin(user) -> QuerySet[Household]:
    return (
        household_list_for_user(user)
        .annotate(paired=Count("pairings", filter=Q(pairings__ended_on__isnull=True)))
        .order_by("-is_active", "head_name", "pk")
    )


def pairing_list_for_household(household: Household) -> QuerySet[Pairing]:
    return household.pairings.select_related("member", "member__work_unit").order_by(
        "ended_on", "-started_on"
    )


def registered_members_of(community_id: int) -> QuerySet[Member]:
    """Active members with a confirmed registration in the community (for pick lists)."""
    reg = Registration.objects.filter(community_id=community_id, status=RegistrationStatus.CONFIRMED)
    return (
        Member.objects.filter(status=MemberStatus.ACTIVE, pk__in=reg.values("member_id"))
        .select_related("work_unit")
        .order_by("name_pinyin", "pk")
    )


def household_counts(regions: QuerySet[Region]) -> dict[int, dict]:
    """``{community_id: {"households": n, "paired": m}}`` — counts only, no names (oversight roles)."""
    open_pairing = Pairing.objects.filter(household=OuterRef("pk"), ended_on__isnull=True)
    rows = (
        Household.objects.filter(community__in=regions, is_active=True)
        .annotate(p=Exists(open_pairing))
        .values("community_id", "p")
        .annotate(n=Count("id"))
        .order_by()
    )
    out: dict[int, dict] = {}
    for row in rows:
        d = out.setdefault(row["community_id"], {"households": 0, "paired": 0})
        d["households"] += row["n"]
        if row["p"]:
            d["paired"] += row["n"]
    return out


# --- 全员认领 coverage ---------------------------------------------------------------------------------
#
# A member counts when they are active and have a confirmed registration; they are covered when they hold
# an ACTIVE claim on a post of the community they are registered in. One grouped query over the user's
# registration scope gives every community's (or unit's) counts; the tree roll-up is done in Python over
# the materialised paths, so the number of queries does not depend on the number of rows.


@dataclass
class Coverage:
    registered: int = 0
    covered: int = 0
    households: int = 0
    paired: int = 0

    @property
    def missing(self) -> int:
        return self.registered - self.covered

    @property
    def rate(self) -> float | None:
        return round(100.0 * self.covered / self.registered, 1) if self.registered else None

    def add(self, other: Coverage) -> None:
        self.registered += other.registered
        self.covered += other.covered
        self.households += other.households
        self.paired += other.paired


def covered_registrations(user) -> QuerySet[Registration]:
    """Confirmed registrations of active members in the user's scope, annotated ``covered``."""
    active_claim = PostClaim.objects.filter(
        member_id=OuterRef("member_id"),
        status=ClaimStatus.ACTIVE,
        post__community_id=OuterRef("community_id"),
    )
    return (
        registration_list_for_user(user)
        .filter(status=RegistrationStatus.CONFIRMED, member__status=MemberStatus.ACTIVE)
        .annotate(covered=Exists(active_claim))
    )


def _grouped(user, key: str) -> dict:
    out: dict = {}
    for row in covered_registrations(user).values(key, "covered").annotate(n=Count("id")).order_by():
        cov = out.setdefault(row[key], Coverage())
        cov.registered += row["n"]
        if row["covered"]:
            cov.covered += row["n"]
    return out


def _path_ids(path: str) -> list[int]:
    return [int(x) for x in path.strip(".").split(".") if x]


@dataclass
class Node:
    pk: int
    name: str
    kind: str
    parent_id: int | None
    path: str
    coverage: Coverage = field(default_factory=Coverage)
    own: Coverage = field(default_factory=Coverage)
    children: list[Node] = field(default_factory=list)

    @property
    def is_community(self) -> bool:
        return self.kind == "community"


@dataclass
class Tree:
    nodes: dict[int, Node]
    roots: list[Node]

    def get(self, pk) -> Node | None:
        try:
            return self.nodes.get(int(pk))
        except (TypeError, ValueError):
            return None

    def ancestors(self, node: Node) -> list[Node]:
        return [self.nodes[i] for i in _path_ids(node.path)[:-1] if i in self.nodes]

    @property
    def total(self) -> Coverage:
        total = Coverage()
        for root in self.roots:
            total.add(root.coverage)
        return total


def _build(nodes: dict[int, Node], counts: dict, top_id: int | None = None) -> Tree:
    for pk, cov in counts.items():
        node = nodes.get(pk)
        if node is None:
            continue
        node.own.add(cov)
        for anc in _path_ids(node.path):
            if anc in nodes:
                nodes[anc].coverage.add(cov)
    roots = []
    for node in sorted(nodes.values(), key=lambda n: (n.path.count("."), n.name)):
        parent = nodes.get(node.parent_id) if node.parent_id and node.pk != top_id else None
        (parent.children if parent else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.path if n.kind != "unit" else n.name)
    return Tree(nodes=nodes, roots=sorted(roots, key=lambda n: n.path if n.kind != "unit" else n.name))


def coverage_by_region(user) -> Tree:
    """Coverage per community of registration, rolled up street → district → city (three to four queries).

    Region roles see their subtree; a unit admin the regions where their members are registered. Household
    counts (no names) are added for region roles.
    """
    counts = _grouped(user, "community_id")
    fields = ("id", "name", "kind", "parent_id", "path")
    region_role = audiences.in_audience(user, audiences.REGION_ANCHORED)
    if region_role:
        rows = list(region_list_for_user(user).filter(is_active=True).values(*fields))
    else:
        paths = dict(Region.objects.filter(pk__in=list(counts)).values_list("pk", "path"))
        needed = {i for p in paths.values() for i in _path_ids(p)}
        rows = list(Region.objects.filter(pk__in=needed).values(*fields))
    nodes = {
        r["id"]: Node(pk=r["id"], name=r["name"], kind=r["kind"], parent_id=r["parent_id"], path=r["path"])
        for r in rows
    }
    missing = [pk for pk in counts if pk not in nodes]
    if missing and region_role:  # a deactivated community still holding registrations
        for r in region_list_for_user(user).filter(pk__in=missing).values(*fields):
            nodes[r["id"]] = Node(
                pk=r["id"], name=r["name"], kind=r["kind"], parent_id=r["parent_id"], path=r["path"]
            )
    if region_role:
        for pk, hc in household_counts(region_list_for_user(user)).items():
            counts.setdefault(pk, Coverage())
            counts[pk].households += hc["households"]
            counts[pk].paired += hc["paired"]
    return _build(nodes, counts)


def coverage_by_unit(user) -> Tree:
    """Coverage per work unit of the registered members in the user's scope, each unit with its subtree."""
    counts = _grouped(user, "member__work_unit_id")
    fields = ("id", "name", "parent_id", "path")
    rows = {r["id"]: r for r in WorkUnit.objects.filter(pk__in=list(counts)).values(*fields)}
    top = audiences.administered_unit(user)
    needed = set()
    for r in rows.values():
        ids = _path_ids(r["path"])
        if top is not None:
            ids = ids[ids.index(top.pk) :] if top.pk in ids else []
        needed.update(i for i in ids if i not in rows)
    if needed:
        rows.update({r["id"]: r for r in WorkUnit.objects.filter(pk__in=needed).values(*fields)})
    nodes = {
        pk: Node(pk=pk, name=r["name"], kind="unit", parent_id=r["parent_id"], path=r["path"])
        for pk, r in rows.items()
    }
    return _build(nodes, counts, top_id=top.pk if top else None)


def uncovered_members(user, *, region: Region | None = None, unit: WorkUnit | None = None):
    """Registrations (in scope) of members without an active claim in their community, for the drill-down.

    Returns a queryset of ``Registration`` with the member, unit and community loaded, plus ``pending``
    (whether the member waits for approval of a claim there)."""
    qs = covered_registrations(user).filter(covered=False)
    if region is not None:
        qs = qs.filter(community__path__startswith=region.path)
    if unit is not None:
        qs = qs.filter(member__work_unit__path__startswith=unit.path)
    pending = PostClaim.objects.filter(
        member_id=OuterRef("member_id"),
        status=ClaimStatus.PENDING,
        post__community_id=OuterRef("community_id"),
    )
    return (
        qs.annotate(pending=Exists(pending))
        .select_related("member", "member__work_unit", "community")
        .order_by("community__path", "member__name_pinyin", "pk")
    )
