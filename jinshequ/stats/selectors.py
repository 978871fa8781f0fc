"""Figures for the home dashboard and the report-in rates, computed from the scoped selectors (never unscoped)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from jinshequ.access import Kind, audiences, kind_of
from jinshequ.accounts.perms import Perm, user_has_perm
from jinshequ.campaigns.models import Campaign, current_campaign
from jinshequ.members.models import Member, MemberStatus
from jinshequ.members.roster import report_status_case
from jinshequ.members.selectors import member_list_for_user
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.selectors import region_list_for_user
from jinshequ.units.models import WorkUnit
from jinshequ.units.selectors import unit_list_for_user


def overview_for_user(user) -> dict:
    members = member_list_for_user(user).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=MemberStatus.ACTIVE)),
        probationary=Count("id", filter=Q(status=MemberStatus.ACTIVE, party_status="probationary")),
        cadres=Count("id", filter=Q(status=MemberStatus.ACTIVE, is_leading_cadre=True)),
    )
    out = {"members": members}
    if user_has_perm(user, Perm.REGION_VIEW):
        out["communities"] = (
            region_list_for_user(user).filter(kind=RegionKind.COMMUNITY, is_active=True).count()
        )
    if user_has_perm(user, Perm.UNIT_VIEW):
        out["units"] = unit_list_for_user(user).filter(is_active=True).count()
    if user_has_perm(user, Perm.STATS_VIEW):
        out["report"] = report_counts(members_in_scope(user))
        out["target"] = current_target()
        out["report_level"] = out["target"].level(out["report"])
    return out


# --- report-in rates (报到率) up the region and unit trees --------------------------------------
#
# Every figure comes from one grouped query over the user's member scope (``member_list_for_user``):
# active members grouped by home community (or by work unit) and by check-off status, each member's
# status decided by one CASE over three EXISTS probes. The tree roll-up happens in Python over the
# materialised ``path`` of regions and units, so the number of queries never depends on the number
# of communities, units or members.

DEADLINE_NEAR_DAYS = 14


@dataclass
class Rate:
    """Check-off counts of a set of active members. ``rate`` = reported / (active − exempt), in %."""

    active: int = 0
    reported: int = 0
    pending: int = 0
    exempt: int = 0
    outstanding: int = 0

    @property
    def expected(self) -> int:
        """应报到人数: active members without a valid exemption (the denominator)."""
        return self.active - self.exempt

    @property
    def rate(self) -> float | None:
        return round(100.0 * self.reported / self.expected, 1) if self.expected else None

    def add(self, other: Rate) -> None:
        self.active += other.active
        self.reported += other.reported
        self.pending += other.pending
        self.exempt += other.exempt
        self.outstanding += other.outstanding

    def below(self, target: Decimal | float | None) -> bool:
        """Below the campaign target (never for a set with nobody expected to report)."""
        return (
            target is not None and self.expected > 0 and self.reported * 100 < float(target) * self.expected
        )

    def count(self, status: str) -> int:
        return getattr(self, status)

    @classmethod
    def from_counts(cls, by_status: dict) -> Rate:
        """From ``{status: number of members}``."""
        rate = cls(**{s: by_status.get(s, 0) for s in ("reported", "pending", "exempt", "outstanding")})
        rate.active = rate.reported + rate.pending + rate.exempt + rate.outstanding
        return rate


def grouped_report_counts(members: QuerySet[Member], key: str | None, day: dt.date | None = None) -> dict:
    """``{key value: Rate}`` for the active members of ``members`` (one query). ``key=None``: ``{None: Rate}``."""
    qs = members.filter(status="active").annotate(rs=report_status_case(day))
    fields = [key, "rs"] if key else ["rs"]
    out: dict = {}
    for row in qs.values(*fields).annotate(n=Count("id")).order_by():
        rate = out.setdefault(row[key] if key else None, Rate())
        setattr(rate, row["rs"], getattr(rate, row["rs"]) + row["n"])
        rate.active += row["n"]
    return out


def report_counts(members: QuerySet[Member], day: dt.date | None = None) -> Rate:
    """Check-off counts of the active members of ``members`` (one query)."""
    return grouped_report_counts(members, None, day).get(None, Rate())


@dataclass
class Target:
    """The current campaign's target and deadline, and how urgent a shortfall is today."""

    campaign: Campaign | None
    today: dt.date

    @property
    def rate(self) -> Decimal | None:
        return self.campaign.target_rate if self.campaign else None

    @property
    def deadline(self) -> dt.date | None:
        return self.campaign.report_deadline if self.campaign else None

    @property
    def deadline_passed(self) -> bool:
        return bool(self.deadline and self.today > self.deadline)

    @property
    def deadline_near(self) -> bool:
        return bool(self.deadline and 0 <= (self.deadline - self.today).days <= DEADLINE_NEAR_DAYS)

    @property
    def days_left(self) -> int | None:
        return (self.deadline - self.today).days if self.deadline else None

    def level(self, rate: Rate) -> str:
        """'' (fine or no target), 'below', 'warning' (deadline near) or 'danger' (deadline passed)."""
        if not rate.below(self.rate):
            return ""
        if self.deadline_passed:
            return "danger"
        if self.deadline_near:
            return "warning"
        return "below"


def current_target(day: dt.date | None = None) -> Target:
    return Target(current_campaign(), day or timezone.localdate())


@dataclass
class RegionNode:
    pk: int
    name: str
    kind: str
    parent_id: int | None
    path: str
    rate: Rate = field(default_factory=Rate)
    communities: int = 0  # communities in the subtree with someone expected to report
    below_communities: int = 0  # … of which below the target
    children: list[RegionNode] = field(default_factory=list)

    @property
    def is_community(self) -> bool:
        return self.kind == RegionKind.COMMUNITY

    @property
    def kind_label(self) -> str:
        return str(RegionKind(self.kind).label) if self.kind in RegionKind.values else ""


@dataclass
class RegionRates:
    nodes: dict[int, RegionNode]
    roots: list[RegionNode]
    target: Target

    def get(self, pk) -> RegionNode | None:
        try:
            return self.nodes.get(int(pk))
        except (TypeError, ValueError):
            return None

    def ancestors(self, node: RegionNode) -> list[RegionNode]:
        ids = [int(x) for x in node.path.strip(".").split(".") if x][:-1]
        return [self.nodes[i] for i in ids if i in self.nodes]

    @property
    def total(self) -> Rate:
        total = Rate()
        for root in self.roots:
            total.add(root.rate)
        return total


def _path_ids(path: str) -> list[int]:
    return [int(x) for x in path.strip(".").split(".") if x]


def members_in_scope(user) -> QuerySet[Member]:
    """``member_list_for_user`` (the member policy already restricts a unit admin as ``work_unit_id IN
    (their subtree's units)``, the shape SQLite serves from an index)."""
    return member_list_for_user(user)


def registration_rates_by_region(user, day: dt.date | None = None) -> RegionRates:
    """Report-in rates of the user's member scope by home community, rolled up street → district → city.

    Scope: region roles see their subtree (a community admin their community), a unit admin the
    regions where their unit subtree's members live, the city admin everything. Three queries:
    the campaign, the grouped counts, the regions.
    """
    target = current_target(day)
    counts = grouped_report_counts(members_in_scope(user), "community_id", target.today)
    kind = kind_of(user)
    if kind in (Kind.REGION, Kind.COMMUNITY):
        regions = region_list_for_user(user)
        only_with_members = False
    else:
        regions = Region.objects.all()
        only_with_members = kind is not Kind.CITY
    nodes = {
        r["id"]: RegionNode(
            pk=r["id"], name=r["name"], kind=r["kind"], parent_id=r["parent_id"], path=r["path"]
        )
        for r in regions.filter(is_active=True).values("id", "name", "kind", "parent_id", "path")
    }
    # Members may live in a community that was since deactivated: keep their figures in the roll-up.
    missing = [pk for pk in counts if pk not in nodes]
    if missing:
        for r in Region.objects.filter(pk__in=missing).values("id", "name", "kind", "parent_id", "path"):
            nodes[r["id"]] = RegionNode(
                pk=r["id"], name=r["name"], kind=r["kind"], parent_id=r["parent_id"], path=r["path"]
            )
    for community_id, rate in counts.items():
        community = nodes.get(community_id)
        if community is None:
            continue
        below = rate.below(target.rate)
        for pk in _path_ids(community.path):
            node = nodes.get(pk)
            if node is None:
                continue
            node.rate.add(rate)
            if rate.expected:
                node.communities += 1
                node.below_communities += below
    if only_with_members:
        nodes = {pk: n for pk, n in nodes.items() if n.rate.active}
    roots = []
    for node in sorted(nodes.values(), key=lambda n: n.path):
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)
    return RegionRates(nodes=nodes, roots=roots, target=target)


@dataclass
class UnitNode:
    pk: int
    name: str
    parent_id: int | None
    path: str
    own: Rate = field(default_factory=Rate)  # members directly in this unit
    rate: Rate = field(default_factory=Rate)  # the unit with its whole subtree
    units: int = 0  # units in the subtree with someone expected to report
    below_units: int = 0  # … of which below the target
    children: list[UnitNode] = field(default_factory=list)

    @property
    def has_children(self) -> bool:
        return bool(self.children)


@dataclass
class UnitRates:
    nodes: dict[int, UnitNode]
    roots: list[UnitNode]
    target: Target

    def get(self, pk) -> UnitNode | None:
        try:
            return self.nodes.get(int(pk))
        except (TypeError, ValueError):
            return None

    def ancestors(self, node: UnitNode) -> list[UnitNode]:
        return [self.nodes[i] for i in _path_ids(node.path)[:-1] if i in self.nodes]

    @property
    def total(self) -> Rate:
        total = Rate()
        for root in self.roots:
            total.add(root.rate)
        return total


def registration_rates_by_unit(user, day: dt.date | None = None) -> UnitRates:
    """Report-in rates of the user's member scope by work unit, each unit with its whole subtree.

    Roots are top-level units (a unit admin: their own unit). Units appear when members of the
    user's scope belong to them (for region roles: members living in their region). Four queries:
    the campaign, the grouped counts, the units and their missing ancestors.
    """
    target = current_target(day)
    counts = grouped_report_counts(members_in_scope(user), "work_unit_id", target.today)
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
    if top is not None and top.pk not in rows:
        rows[top.pk] = {"id": top.pk, "name": top.name, "parent_id": top.parent_id, "path": top.path}
    nodes = {
        pk: UnitNode(pk=pk, name=r["name"], parent_id=r["parent_id"], path=r["path"])
        for pk, r in rows.items()
    }
    for unit_id, rate in counts.items():
        unit = nodes.get(unit_id)
        if unit is None:
            continue
        unit.own.add(rate)
        below = rate.below(target.rate)
        for pk in _path_ids(unit.path):
            node = nodes.get(pk)
            if node is None:
                continue
            node.rate.add(rate)
            if rate.expected:
                node.units += 1
                node.below_units += below
    roots = []
    for node in sorted(nodes.values(), key=lambda n: (n.path.count("."), n.name)):
        parent = nodes.get(node.parent_id) if node.parent_id and node.pk != getattr(top, "pk", None) else None
        (parent.children if parent else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.name)
    roots.sort(key=lambda n: n.name)
    return UnitRates(nodes=nodes, roots=roots, target=target)
