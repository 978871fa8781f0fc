"""The registry of computed checklist rules: the 四个一 / 十个有 items that the data can decide.

A rule is a condition on a member (or a community) given as a ``Q`` of ``Exists`` subqueries around
``OuterRef(ref)``, so the same definition serves three ways without ever querying per row:

- ``rule.ids(qs, campaign)``: the ids in a queryset of members (or communities) that satisfy it, one query;
- ``rule.condition(campaign, ref)`` inside ``Count(filter=...)``: grouped counts up the region tree, one query
  for all rules together (``supervision.selectors``);
- the same inside an annotation: one flag per item for a page of rows.

``ref`` names the column holding the member's (community's) id in the outer query: ``"pk"`` on members or
regions, ``"member_id"`` on registrations. The campaign gives the period (``starts_on`` .. ``ends_on``,
dates in Asia/Shanghai) of the rules that look at a period.

Items without a known rule are "manual": the responsible admin marks them with a note of evidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jinshequ.supervision.models import ChecklistScope

MEMBER = ChecklistScope.MEMBER
COMMUNITY = ChecklistScope.COMMUNITY


@dataclass(frozen=True)
class Period:
    """A campaign's period: dates, and the aware datetimes ``[start, end)`` covering them in local time."""

    first: dt.date
    last: dt.date

    @classmethod
    def of(cls, campaign) -> Period:
        return cls(campaign.starts_on, campaign.ends_on)

    @property
    def start(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.first, dt.time.min))

    @property
    def end(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min))


@dataclass(frozen=True)
class Rule:
    scope: str
    name: str
    label: str  # what the system checks (shown beside the item)
    hint: str  # how a member completes it (member page), or ""
    link: str  # URL name of the page where it is done, or ""
    build: Callable[[Period, str], Q]

    def condition(self, campaign, ref: str = "pk") -> Q:
        return self.build(Period.of(campaign), ref)

    def ids(self, qs: QuerySet, campaign) -> set[int]:
        """The ids of ``qs`` (members or communities) satisfying the rule: one query."""
        return set(qs.filter(self.condition(campaign, "pk")).order_by().values_list("pk", flat=True))


RULES: dict[tuple[str, str], Rule] = {}


def register(scope: str, name: str, label: str, *, hint: str = "", link: str = ""):
    def decorator(build: Callable[[Period, str], Q]) -> Callable[[Period, str], Q]:
        RULES[(str(scope), name)] = Rule(str(scope), name, label, hint, link, build)
        return build

    return decorator


def get_rule(scope: str, name: str) -> Rule | None:
    return RULES.get((str(scope), name)) if name else None


def rule_choices(scope: str) -> list[tuple[str, str]]:
    """For the item form: ``[("", manual), (name, label) …]``."""
    return [("", str(_("人工确认（管理员填写佐证）")))] + [
        (r.name, str(r.label)) for (s, _n), r in RULES.items() if s == str(scope)
    ]


# --- member rules (四个一) ----------------------------------------------------------------------------


@register(
    MEMBER,
    "has_active_post",
    _("有在岗的岗位认领"),
    hint=_("到“岗位”页面认领一个适合您的岗位，社区审核通过后即完成。"),
    link="posts:list",
)
def _member_has_active_post(period: Period, ref: str) -> Q:
    from jinshequ.posts.models import ClaimStatus, PostClaim

    return Q(Exists(PostClaim.objects.filter(member_id=OuterRef(ref), status=ClaimStatus.ACTIVE)))


@register(
    MEMBER,
    "attended_activity",
    _("本周期内签到参加过社区活动"),
    hint=_("报名参加社区活动，到场扫码签到后即完成。"),
    link="activities:list",
)
def _member_attended_activity(period: Period, ref: str) -> Q:
    from jinshequ.activities.models import RecordStatus, ServiceRecord, Signup, SignupStatus

    attended = Signup.objects.filter(
        member_id=OuterRef(ref),
        status=SignupStatus.ATTENDED,
        activity__starts_at__gte=period.start,
        activity__starts_at__lt=period.end,
    )
    # ``activity IS NOT NULL`` lets the database use the partial unique index (member, activity) of records
    recorded = ServiceRecord.objects.filter(
        member_id=OuterRef(ref),
        activity__isnull=False,
        activity__starts_at__gte=period.start,
        activity__starts_at__lt=period.end,
    ).exclude(status=RecordStatus.REJECTED)
    return Q(Exists(attended)) | Q(Exists(recorded))


@register(MEMBER, "has_pairing", _("有进行中的结对帮扶"), hint=_("由社区安排与困难家庭结对，结对后即完成。"))
def _member_has_pairing(period: Period, ref: str) -> Q:
    from jinshequ.posts.models import Pairing

    return Q(Exists(Pairing.objects.filter(member_id=OuterRef(ref), ended_on__isnull=True)))


@register(
    MEMBER,
    "has_verified_record",
    _("本周期内有经核实的服务记录"),
    hint=_("记录一次服务，社区核实后即完成。"),
    link="records:mine",
)
def _member_has_verified_record(period: Period, ref: str) -> Q:
    from jinshequ.activities.models import RecordStatus, ServiceRecord

    return Q(
        Exists(
            ServiceRecord.objects.filter(
                member_id=OuterRef(ref),
                status=RecordStatus.VERIFIED,
                served_on__gte=period.first,
                served_on__lte=period.last,
            )
        )
    )


# --- community rules (十个有) -------------------------------------------------------------------------


@register(COMMUNITY, "has_posts", _("有启用中的服务岗位"))
def _community_has_posts(period: Period, ref: str) -> Q:
    from jinshequ.posts.models import Post

    today = timezone.localdate()
    return Q(
        Exists(
            Post.objects.filter(
                Q(ends_on__isnull=True) | Q(ends_on__gte=today), community_id=OuterRef(ref), is_active=True
            )
        )
    )


@register(COMMUNITY, "has_teams", _("有启用中的服务队"))
def _community_has_teams(period: Period, ref: str) -> Q:
    from jinshequ.posts.models import ServiceTeam

    return Q(Exists(ServiceTeam.objects.filter(community_id=OuterRef(ref), is_active=True)))


@register(COMMUNITY, "has_activity_plan", _("有本周期内或即将开展的活动"))
def _community_has_activity_plan(period: Period, ref: str) -> Q:
    from jinshequ.activities.models import Activity, ActivityStatus

    when = Q(starts_at__gte=period.start, starts_at__lt=period.end) | Q(starts_at__gte=timezone.now())
    return Q(
        Exists(Activity.objects.filter(when, community_id=OuterRef(ref), status=ActivityStatus.PUBLISHED))
    )


@register(COMMUNITY, "has_ledger", _("有已确认的报到登记（登记台账）"))
def _community_has_ledger(period: Period, ref: str) -> Q:
    from jinshequ.members.models import Registration, RegistrationStatus

    return Q(
        Exists(Registration.objects.filter(community_id=OuterRef(ref), status=RegistrationStatus.CONFIRMED))
    )


@register(COMMUNITY, "has_records", _("本周期内有经核实的服务记录"))
def _community_has_records(period: Period, ref: str) -> Q:
    from jinshequ.activities.models import RecordStatus, ServiceRecord

    return Q(
        Exists(
            ServiceRecord.objects.filter(
                community_id=OuterRef(ref),
                status=RecordStatus.VERIFIED,
                served_on__gte=period.first,
                served_on__lte=period.last,
            )
        )
    )


@register(COMMUNITY, "has_pairing", _("有进行中的结对帮扶"))
def _community_has_pairing(period: Period, ref: str) -> Q:
    from jinshequ.posts.models import Pairing

    return Q(Exists(Pairing.objects.filter(household__community_id=OuterRef(ref), ended_on__isnull=True)))


# --- the defaults the city admin can create for a campaign with one button -------------------------------

# (title, rule name or "" for manual, description)
DEFAULT_ITEMS: dict[str, list[tuple[str, str, str]]] = {
    str(MEMBER): [
        ("认领一个岗位", "has_active_post", "在报到社区认领至少一个服务岗位并在岗。"),
        ("参加一次活动", "attended_activity", "本周期内至少参加一次社区组织的活动并签到。"),
        ("结对一户困难家庭", "has_pairing", "与社区的一户困难家庭结对帮扶。"),
        ("提出一条建议", "", "为社区建设提出至少一条意见建议；由社区或单位管理员确认并注明建议内容。"),
    ],
    str(COMMUNITY): [
        ("有办公场所", "", "有固定的在职党员报到服务场所；注明地址或房间。"),
        ("有公示栏", "", "有公示在职党员报到、认领岗位和服务情况的公示栏或电子屏；注明位置。"),
        ("有岗位设置", "has_posts", "结合社区需要设置服务岗位，供在职党员认领。"),
        ("有服务队伍", "has_teams", "组建在职党员服务队（如法律援助队、志愿服务队）。"),
        ("有活动计划", "has_activity_plan", "有本周期内安排或即将开展的服务活动。"),
        ("有工作台账", "has_ledger", "有在职党员报到登记台账（系统中已确认的报到）。"),
        ("有服务记录", "has_records", "有经社区核实的在职党员服务记录。"),
        ("有结对帮扶", "has_pairing", "困难家庭与在职党员结对帮扶。"),
        ("有考核办法", "", "有在职党员进社区服务的考核评价办法；注明文件名称或印发日期。"),
        ("有工作制度", "", "有报到、联系、服务、反馈等工作制度并上墙公开；注明制度名称。"),
    ],
}
