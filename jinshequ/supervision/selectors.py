"""Scoped reads for the 四个一 / 十个有 checklists: who may see or mark what, each item's status, and
completion rates up the region and unit trees.

Every figure comes from grouped queries whose number does not depend on the number of members or
communities: an item's condition (a computed rule, or "a done mark exists" for a manual item) is a
``Q`` of ``Exists`` subqueries (``supervision.rules``), annotated as one boolean per item; counts group the
rows by those booleans (so each condition is evaluated once per row), a page of rows reads them directly.
Roll-ups up the trees are done in Python over materialised paths.

Who is counted: a member's 四个一 counts where the member is *registered* (a confirmed registration,
member active), as for the 全员认领 coverage; communities are the active communities of the user's scope.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import reduce

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from jinshequ.access import audiences, get_or_404
from jinshequ.accounts.perms import Perm, user_has_perm
from jinshequ.campaigns.models import Campaign, current_campaign
from jinshequ.members.models import Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.members.reporting_selectors import registration_list_for_user
from jinshequ.members.selectors import member_list_for_user
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.policies import region_policy
from jinshequ.regions.selectors import region_list_for_user
from jinshequ.supervision.models import ChecklistItem, ChecklistMark, ChecklistScope
from jinshequ.supervision.rules import Rule, get_rule
from jinshequ.units.models import WorkUnit

MEMBER = ChecklistScope.MEMBER
COMMUNITY = ChecklistScope.COMMUNITY

MISSING_LIST_LIMIT = 200  # communities listed with their missing items on one overview page


# --- campaign and items ------------------------------------------------------------------------------


def campaign_from(value) -> Campaign | None:
    """The campaign named by a query parameter (404 if it does not exist), else the current one."""
    if value in (None, ""):
        return current_campaign()
    if not str(value).isdigit():
        raise Http404
    campaign = Campaign.objects.filter(pk=int(value)).first()
    if campaign is None:
        raise Http404
    return campaign


def items_by_scope(campaign: Campaign | None) -> dict[str, list[ChecklistItem]]:
    """``{"member": [...], "community": [...]}`` in display order (one query)."""
    out: dict[str, list[ChecklistItem]] = {str(MEMBER): [], str(COMMUNITY): []}
    if campaign is not None:
        for item in ChecklistItem.objects.filter(campaign=campaign).order_by("sort_order", "pk"):
            out.setdefault(item.scope, []).append(item)
    return out


def items_of(campaign: Campaign | None, scope: str) -> list[ChecklistItem]:
    if campaign is None:
        return []
    return list(ChecklistItem.objects.filter(campaign=campaign, scope=scope).order_by("sort_order", "pk"))


def item_rule(item: ChecklistItem) -> Rule | None:
    """The computed rule of an item, or None for a manual item (also for a rule name no longer known)."""
    return get_rule(item.scope, item.rule)


def item_condition(item: ChecklistItem, campaign: Campaign, ref: str = "pk") -> Q:
    """The item is done for the member (community) whose id is ``OuterRef(ref)``."""
    rule = item_rule(item)
    if rule is not None:
        return rule.condition(campaign, ref)
    target = "member_id" if item.scope == MEMBER else "community_id"
    return Q(Exists(ChecklistMark.objects.filter(item_id=item.pk, done=True, **{target: OuterRef(ref)})))


def _flag(item: ChecklistItem) -> str:
    return f"c{item.pk}"


def annotate_flags(
    qs: QuerySet, items: list[ChecklistItem], campaign: Campaign, ref: str = "pk", *, complete: bool = True
) -> QuerySet:
    """Annotate ``c<item pk>`` (bool) per item and, with ``complete``, ``complete`` (all items done)."""
    conds = [item_condition(item, campaign, ref) for item in items]
    annotations = {
        _flag(item): ExpressionWrapper(cond, output_field=BooleanField())
        for item, cond in zip(items, conds, strict=True)
    }
    if conds and complete:
        annotations["complete"] = ExpressionWrapper(reduce(operator.and_, conds), output_field=BooleanField())
    return qs.annotate(**annotations)


def row_flags(row, items: list[ChecklistItem]) -> list[bool]:
    return [bool(getattr(row, _flag(item))) for item in items]


# --- scopes ----------------------------------------------------------------------------------------


def checklist_registrations(user) -> QuerySet[Registration]:
    """Confirmed registrations of active members in the user's scope: the members whose 四个一 count.

    "Active" is written as "not among the (few) inactive members": at city scale on SQLite, a join that
    looks up every member row was slower than one small NOT IN list."""
    inactive = Member.objects.exclude(status=MemberStatus.ACTIVE).values("pk")
    return (
        registration_list_for_user(user)
        .filter(status=RegistrationStatus.CONFIRMED)
        .exclude(member_id__in=inactive)
    )


def checklist_members_for_user(user) -> QuerySet[Member]:
    """Members whose 四个一 the user may read: the member scope, plus members registered in the user's scope."""
    if not user_has_perm(user, Perm.CHECKLIST_MEMBER_VIEW):
        return (
            Member.objects.filter(user=user)
            if user_has_perm(user, Perm.CHECKLIST_SELF)
            else Member.objects.none()
        )
    return Member.objects.filter(
        Q(pk__in=member_list_for_user(user).values("pk"))
        | Q(pk__in=checklist_registrations(user).values("member_id"))
    )


def checklist_member_get_for_user(*, user, pk) -> Member:
    """A member whose 四个一 ``user`` may read, or ``Http404``."""
    return get_or_404(checklist_members_for_user(user).select_related("work_unit", "community"), pk)


def member_markable(user, member: Member) -> bool:
    """Manual 四个一 items: the community admin of the member's registered community, or the unit admin of
    the member's unit (subtree). Members who left or were merged are not marked."""
    if not user_has_perm(user, Perm.CHECKLIST_MARK_MEMBER) or member.status != MemberStatus.ACTIVE:
        return False
    community_id = audiences.administered_community_id(user)
    if community_id is not None:
        return Registration.objects.filter(
            member=member, community_id=community_id, status=RegistrationStatus.CONFIRMED
        ).exists()
    top = audiences.administered_unit(user)
    if top is not None:
        return WorkUnit.objects.filter(pk=member.work_unit_id, path__startswith=top.path).exists()
    return False


def checklist_communities_for_user(user) -> QuerySet[Region]:
    """Communities whose 十个有 the user may read (region roles, in their subtree)."""
    if not user_has_perm(user, Perm.CHECKLIST_VIEW):
        return Region.objects.none()
    return region_list_for_user(user).filter(kind=RegionKind.COMMUNITY)


def checklist_community_get_for_user(*, user, pk) -> Region:
    """A community whose 十个有 ``user`` may read, or ``Http404``."""
    return get_or_404(checklist_communities_for_user(user), pk)


def community_markable(user, community: Region) -> bool:
    """Manual 十个有 items: the community's own admin, or the admin of the street it belongs to."""
    if not user_has_perm(user, Perm.CHECKLIST_MARK_COMMUNITY) or not community.is_active:
        return False
    # The permission narrows the region ladder to community and street admins.
    return community.kind == RegionKind.COMMUNITY and region_policy.contains(user, community)


# --- one member's or one community's checklist -----------------------------------------------------------


def _url(name: str) -> str:
    if not name:
        return ""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@dataclass
class ItemStatus:
    item: ChecklistItem
    rule: Rule | None
    done: bool
    mark: ChecklistMark | None = None

    @property
    def computed(self) -> bool:
        return self.rule is not None

    @property
    def link(self) -> str:
        return _url(self.rule.link) if self.rule else ""


@dataclass
class Checklist:
    campaign: Campaign | None
    statuses: list[ItemStatus]

    @property
    def total(self) -> int:
        return len(self.statuses)

    @property
    def done(self) -> int:
        return sum(1 for s in self.statuses if s.done)

    @property
    def complete(self) -> bool:
        return bool(self.statuses) and self.done == self.total

    @property
    def left(self) -> int:
        return self.total - self.done

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def _checklist(
    campaign: Campaign | None, items: list[ChecklistItem], qs: QuerySet, target: str, target_id: int
) -> Checklist:
    if campaign is None or not items:
        return Checklist(campaign, [])
    row = (
        annotate_flags(qs.filter(pk=target_id), items, campaign, complete=False)
        .values(*[_flag(i) for i in items])
        .first()
        or {}
    )
    manual = [i.pk for i in items if item_rule(i) is None]
    marks = {}
    if manual:
        marks = {
            m.item_id: m
            for m in ChecklistMark.objects.filter(item_id__in=manual, **{target: target_id}).select_related(
                "marked_by"
            )
        }
    return Checklist(
        campaign,
        [
            ItemStatus(item=i, rule=item_rule(i), done=bool(row.get(_flag(i))), mark=marks.get(i.pk))
            for i in items
        ],
    )


def member_checklist(
    member: Member, campaign: Campaign | None, items: list[ChecklistItem] | None = None
) -> Checklist:
    """A member's 四个一 (three queries: items, flags, marks)."""
    items = items_of(campaign, MEMBER) if items is None else items
    return _checklist(campaign, items, Member.objects.all(), "member_id", member.pk)


def community_checklist(
    community: Region, campaign: Campaign | None, items: list[ChecklistItem] | None = None
) -> Checklist:
    """A community's 十个有 (three queries: items, flags, marks)."""
    items = items_of(campaign, COMMUNITY) if items is None else items
    return _checklist(campaign, items, Region.objects.all(), "community_id", community.pk)


# --- counts ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """How many of ``total`` members (communities) have all items done, and each item done."""

    total: int = 0
    complete: int = 0
    items: dict[int, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.total += other.total
        self.complete += other.complete
        for pk, n in other.items.items():
            self.items[pk] = self.items.get(pk, 0) + n

    @property
    def incomplete(self) -> int:
        return self.total - self.complete

    @property
    def rate(self) -> float | None:
        return round(100.0 * self.complete / self.total, 1) if self.total else None

    def item_count(self, item: ChecklistItem) -> int:
        return self.items.get(item.pk, 0)

    def item_rate(self, item: ChecklistItem) -> float | None:
        return round(100.0 * self.item_count(item) / self.total, 1) if self.total else None


def member_tallies(
    regs: QuerySet[Registration], items: list[ChecklistItem], campaign: Campaign | None, key: str | None
) -> dict:
    """``{key value: Tally}`` of the members of ``regs`` (confirmed registrations), one grouped query.
    ``key=None`` gives ``{None: Tally}``. Without items nobody is complete.

    The rows are grouped by the key *and* by each item's flag, so every condition is evaluated once per
    member (not once for its count and again for "all done"); at most ``2**items`` groups per key value are
    summed up here."""
    flags = [_flag(item) for item in items] if campaign is not None else []
    keys = [key] if key else []
    if flags:
        qs = annotate_flags(regs, items, campaign, "member_id", complete=False).values(*keys, *flags)
    else:
        qs = regs.values(*keys)
    out: dict = {}
    rows = (
        qs.annotate(n=Count("pk")).order_by()
        if (key or flags)
        else [regs.order_by().aggregate(n=Count("pk"))]
    )
    for row in rows:
        done = [bool(row[f]) for f in flags]
        tally = Tally(
            total=row["n"],
            complete=row["n"] if flags and all(done) else 0,
            items={item.pk: row["n"] if ok else 0 for item, ok in zip(items, done, strict=False)},
        )
        out.setdefault(row[key] if key else None, Tally()).add(tally)
    return out


def member_tally(
    regs: QuerySet[Registration], items: list[ChecklistItem], campaign: Campaign | None
) -> Tally:
    return member_tallies(regs, items, campaign, None).get(None, Tally())


# --- the region tree --------------------------------------------------------------------------------


def _path_ids(path: str) -> list[int]:
    return [int(x) for x in path.strip(".").split(".") if x]


@dataclass
class Node:
    pk: int
    name: str
    kind: str
    parent_id: int | None
    path: str
    members: Tally = field(default_factory=Tally)
    communities: Tally = field(default_factory=Tally)
    missing: list[ChecklistItem] = field(default_factory=list)  # a community's items not done
    children: list[Node] = field(default_factory=list)

    @property
    def is_community(self) -> bool:
        return self.kind == RegionKind.COMMUNITY

    @property
    def kind_label(self) -> str:
        return str(RegionKind(self.kind).label) if self.kind in RegionKind.values else ""


@dataclass
class Tree:
    campaign: Campaign | None
    member_items: list[ChecklistItem]
    community_items: list[ChecklistItem]
    nodes: dict[int, Node]
    roots: list[Node]

    def get(self, pk) -> Node | None:
        try:
            return self.nodes.get(int(pk))
        except (TypeError, ValueError):
            return None

    def ancestors(self, node: Node) -> list[Node]:
        return [self.nodes[i] for i in _path_ids(node.path)[:-1] if i in self.nodes]

    def totals(self, node: Node | None) -> tuple[Tally, Tally]:
        """(members, communities) of a node, or of all roots."""
        if node is not None:
            return node.members, node.communities
        members, communities = Tally(), Tally()
        for root in self.roots:
            members.add(root.members)
            communities.add(root.communities)
        return members, communities

    def communities_missing(
        self, node: Node | None, limit: int = MISSING_LIST_LIMIT
    ) -> tuple[list[Node], int]:
        """Communities under ``node`` (or all) with items not done, by path; and how many there are in all."""
        prefix = node.path if node is not None else ""
        found = sorted(
            (n for n in self.nodes.values() if n.is_community and n.missing and n.path.startswith(prefix)),
            key=lambda n: n.path,
        )
        return found[:limit], len(found)


def checklist_tree(user, campaign: Campaign | None) -> Tree:
    """十个有 and 四个一 per community of the user's region scope, rolled up street → district → city.

    Four queries whatever the size: items, regions, community flags, member counts per community.
    """
    items = items_by_scope(campaign)
    member_items, community_items = items[str(MEMBER)], items[str(COMMUNITY)]
    fields = ("id", "name", "kind", "parent_id", "path")
    regions = (
        region_list_for_user(user) if user_has_perm(user, Perm.CHECKLIST_VIEW) else Region.objects.none()
    )
    nodes = {
        r["id"]: Node(pk=r["id"], name=r["name"], kind=r["kind"], parent_id=r["parent_id"], path=r["path"])
        for r in regions.filter(is_active=True).values(*fields)
    }
    community_ids = [pk for pk, n in nodes.items() if n.is_community]
    if campaign is not None and community_items and community_ids:
        flagged = annotate_flags(
            regions.filter(kind=RegionKind.COMMUNITY, is_active=True), community_items, campaign
        )
        for row in flagged.values("pk", *[_flag(i) for i in community_items]):
            node = nodes[row["pk"]]
            node.missing = [i for i in community_items if not row[_flag(i)]]
    counts = (
        member_tallies(checklist_registrations(user), member_items, campaign, "community_id") if nodes else {}
    )
    for pk in community_ids:
        community = nodes[pk]
        own = Tally(
            total=1,
            complete=int(bool(community_items) and not community.missing),
            items={i.pk: 0 if i in community.missing else 1 for i in community_items},
        )
        if campaign is None or not community_items:
            own = Tally(total=1)
        for anc in _path_ids(community.path):
            if anc in nodes:
                nodes[anc].communities.add(own)
                if pk in counts:
                    nodes[anc].members.add(counts[pk])
    roots = []
    for node in sorted(nodes.values(), key=lambda n: n.path):
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)
    return Tree(
        campaign=campaign,
        member_items=member_items,
        community_items=community_items,
        nodes=nodes,
        roots=roots,
    )


# --- the unit tree (members' 四个一 by work unit) --------------------------------------------------------


@dataclass
class UnitNode:
    pk: int
    name: str
    parent_id: int | None
    path: str
    members: Tally = field(default_factory=Tally)
    children: list[UnitNode] = field(default_factory=list)


@dataclass
class UnitTree:
    campaign: Campaign | None
    member_items: list[ChecklistItem]
    nodes: dict[int, UnitNode]
    roots: list[UnitNode]

    def get(self, pk) -> UnitNode | None:
        try:
            return self.nodes.get(int(pk))
        except (TypeError, ValueError):
            return None

    def ancestors(self, node: UnitNode) -> list[UnitNode]:
        return [self.nodes[i] for i in _path_ids(node.path)[:-1] if i in self.nodes]

    def total(self, node: UnitNode | None) -> Tally:
        if node is not None:
            return node.members
        total = Tally()
        for root in self.roots:
            total.add(root.members)
        return total


def checklist_unit_tree(user, campaign: Campaign | None) -> UnitTree:
    """四个一 of the members registered in the user's scope, per work unit with its subtree (a unit admin:
    from their own unit down). Four queries: items, grouped counts, units, their missing ancestors."""
    member_items = items_of(campaign, MEMBER)
    counts = member_tallies(checklist_registrations(user), member_items, campaign, "member__work_unit_id")
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
        pk: UnitNode(pk=pk, name=r["name"], parent_id=r["parent_id"], path=r["path"])
        for pk, r in rows.items()
    }
    for unit_id, tally in counts.items():
        unit = nodes.get(unit_id)
        if unit is None:
            continue
        for anc in _path_ids(unit.path):
            if anc in nodes:
                nodes[anc].members.add(tally)
    roots = []
    top_id = top.pk if top is not None else None
    for node in sorted(nodes.values(), key=lambda n: (n.path.count("."), n.name)):
        parent = nodes.get(node.parent_id) if node.parent_id and node.pk != top_id else None
        (parent.children if parent else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.name)
    roots.sort(key=lambda n: n.name)
    return UnitTree(campaign=campaign, member_items=member_items, nodes=nodes, roots=roots)


# --- members with their 四个一 (drill-down lists) -----------------------------------------------------------


class MemberFilter:
    ALL = ""
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    LABELS = {ALL: _("全部"), COMPLETE: _("已完成"), INCOMPLETE: _("未完成")}


def member_rows(
    user,
    campaign: Campaign | None,
    items: list[ChecklistItem],
    *,
    community: Region | None = None,
    unit: WorkUnit | None = None,
    status: str = "",
    missing: ChecklistItem | None = None,
) -> QuerySet[Registration]:
    """Registrations (confirmed, in scope) filtered by completion, in list order. The per-item flags are not
    selected here (a database would compute them for every row it sorts): ``with_flags`` adds them to the
    rows of one page."""
    qs = checklist_registrations(user)
    if community is not None:
        qs = qs.filter(community__path__startswith=community.path)
    if unit is not None:
        qs = qs.filter(member__work_unit__path__startswith=unit.path)
    if (
        campaign is not None
        and items
        and (status in (MemberFilter.COMPLETE, MemberFilter.INCOMPLETE) or missing)
    ):
        conds = {item.pk: item_condition(item, campaign, "member_id") for item in items}
        every = reduce(operator.and_, conds.values())
        if status == MemberFilter.COMPLETE:
            qs = qs.filter(every)
        elif status == MemberFilter.INCOMPLETE:
            qs = qs.filter(~every)
        if missing is not None:
            qs = qs.filter(~conds[missing.pk])
    return qs.order_by("community__path", "member__name_pinyin", "pk")


def with_flags(
    regs: list[Registration], items: list[ChecklistItem], campaign: Campaign | None
) -> list[Registration]:
    """The given registrations (one page) again, with their member, unit and community, ``c<item pk>`` flags,
    ``complete`` and ``flags`` (``[(item, done), …]``), in the same order: one query."""
    if not regs:
        return []
    qs = Registration.objects.filter(pk__in=[r.pk for r in regs]).select_related(
        "member", "member__work_unit", "community"
    )
    if campaign is not None and items:
        qs = annotate_flags(qs, items, campaign, "member_id")
    by_pk = {r.pk: r for r in qs}
    out = [by_pk[r.pk] for r in regs if r.pk in by_pk]
    for row in out:
        row.flags = (
            list(zip(items, row_flags(row, items), strict=True)) if campaign is not None and items else []
        )
        if not row.flags:
            row.complete = False
    return out
