"""Scoped reads for activities, sign-ups and attendance.

Who sees which activities (``activity_list_for_user``):
- the city admin all; district, street admins and inspectors their region subtree; a community admin
  their community;
- a member the activities of the community they are registered in (confirmed registration), the ones
  they signed up for (history survives a transfer) and those of the teams they lead;
- unit admins none.

Who manages which (``activity_manage_list_for_user``): the community admin their community's; a team
leader (a member) the activities of the active teams they lead. Everyone else none. Out of scope is the
same 404 as missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jinshequ.access import audiences, get_or_404
from jinshequ.activities import policies
from jinshequ.activities.models import Activity, ActivityStatus, ServiceRecord, Signup, SignupStatus
from jinshequ.activities.policies import activity_policy
from jinshequ.members.models import Member
from jinshequ.posts.models import ServiceTeam


def member_of(user) -> Member | None:
    if not audiences.is_member(user):
        return None
    return Member.objects.filter(user=user).first()


def led_teams(user) -> QuerySet[ServiceTeam]:
    """The active teams whose leader is ``user``'s member record."""
    return policies.led_teams(user)


def leads_a_team(user) -> bool:
    return led_teams(user).exists()


# --- activities -------------------------------------------------------------------------------------


def activity_list_for_user(user) -> QuerySet[Activity]:
    """The activities ``user`` may see (``ActivityPolicy``)."""
    return activity_policy.rows(user)


def activity_get_for_user(*, user, pk) -> Activity:
    """The activity ``pk`` or ``Http404`` for missing and foreign alike."""
    return activity_policy.get(user=user, pk=pk)


def activity_manage_list_for_user(user) -> QuerySet[Activity]:
    """The activities ``user`` organises (community admin, or leader of the team)."""
    return activity_policy.manageable(user)


def activity_manage_get(*, user, pk) -> Activity:
    """An activity ``user`` organises, or ``Http404``."""
    return get_or_404(
        activity_manage_list_for_user(user).select_related("category", "community", "team", "post"), pk
    )


def signup_manage_get(*, user, pk) -> Signup:
    """A sign-up to an activity ``user`` organises, or ``Http404``."""
    return get_or_404(
        Signup.objects.filter(activity__in=activity_manage_list_for_user(user)).select_related(
            "activity", "member"
        ),
        pk,
    )


def attach_counts(activities: list[Activity]) -> list[Activity]:
    """Set ``n_waitlisted``, ``n_attended`` and ``n_no_show`` on each activity of a page: one grouped query over
    the page's sign-ups only (annotating the whole list made the paginator's count aggregate a year of
    sign-ups)."""
    counts = {pk: {} for pk in (a.pk for a in activities)}
    if counts:
        rows = (
            Signup.objects.filter(
                activity_id__in=list(counts),
                status__in=(SignupStatus.WAITLISTED, SignupStatus.ATTENDED, SignupStatus.NO_SHOW),
            )
            .values_list("activity_id", "status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for activity_id, status, n in rows:
            counts[activity_id][status] = n
    for a in activities:
        c = counts[a.pk]
        a.n_waitlisted = c.get(SignupStatus.WAITLISTED, 0)
        a.n_attended = c.get(SignupStatus.ATTENDED, 0)
        a.n_no_show = c.get(SignupStatus.NO_SHOW, 0)
    return activities


WHEN_CHOICES = {"upcoming": _("未结束"), "past": _("已结束"), "cancelled": _("已取消"), "all": _("全部")}


def filter_activities(
    qs: QuerySet[Activity],
    *,
    when: str = "upcoming",
    category: str = "",
    q: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[Activity]:
    now = now or timezone.now()
    if when == "upcoming":
        qs = qs.filter(status=ActivityStatus.PUBLISHED, ends_at__gte=now).order_by("starts_at", "pk")
    elif when == "past":
        qs = qs.filter(status=ActivityStatus.PUBLISHED, ends_at__lt=now).order_by("-starts_at", "-pk")
    elif when == "cancelled":
        qs = qs.filter(status=ActivityStatus.CANCELLED).order_by("-starts_at", "-pk")
    else:
        qs = qs.order_by("-starts_at", "-pk")
    if category and str(category).isdigit():
        qs = qs.filter(category_id=int(category))
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(place__icontains=q))
    return qs


# --- the member's view ------------------------------------------------------------------------------


def upcoming_for_member(
    member: Member, community_id: int, now: dt.datetime | None = None
) -> QuerySet[Activity]:
    """Published activities of the community that have not ended, each with the member's open sign-up
    status (``my_status``, or None) — one query."""
    now = now or timezone.now()
    mine = Signup.objects.filter(
        activity=OuterRef("pk"),
        member=member,
        status__in=(SignupStatus.SIGNED, SignupStatus.WAITLISTED, SignupStatus.ATTENDED),
    )
    return (
        Activity.objects.filter(community_id=community_id, status=ActivityStatus.PUBLISHED, ends_at__gte=now)
        .select_related("category", "team")
        .annotate(my_status=Subquery(mine.values("status")[:1]))
        .order_by("starts_at", "pk")
    )


def my_signups(member: Member) -> QuerySet[Signup]:
    return (
        Signup.objects.filter(member=member)
        .select_related("activity", "activity__category", "attendance")
        .order_by("-activity__starts_at", "-pk")
    )


def my_open_signup(member: Member, activity: Activity) -> Signup | None:
    return (
        Signup.objects.filter(member=member, activity=activity)
        .select_related("attendance")
        .order_by("-created_at", "-pk")
        .first()
    )


def calendar_signups(member: Member, now: dt.datetime | None = None) -> QuerySet[Signup]:
    """The member's sign-ups (signed or waitlisted) for published activities that have not ended."""
    now = now or timezone.now()
    return (
        Signup.objects.filter(
            member=member,
            status__in=(SignupStatus.SIGNED, SignupStatus.WAITLISTED, SignupStatus.ATTENDED),
            activity__status=ActivityStatus.PUBLISHED,
            activity__ends_at__gte=now,
        )
        .select_related("activity", "activity__community", "activity__category")
        .order_by("activity__starts_at", "pk")
    )


# --- the organiser's view ---------------------------------------------------------------------------


@dataclass
class AttendeeRow:
    signup: Signup
    record: ServiceRecord | None

    @property
    def attendance(self):
        return getattr(self.signup, "attendance", None)

    @property
    def needs_confirmation(self) -> bool:
        """Took part (or marked absent) but no hours recorded yet: the admin may confirm."""
        return self.record is None and self.signup.status in (SignupStatus.ATTENDED, SignupStatus.NO_SHOW)


def attendees(activity: Activity) -> list[AttendeeRow]:
    """Every sign-up of the activity with its attendance and record: three queries in all."""
    signups = list(
        activity.signups.select_related("member", "member__work_unit", "attendance").order_by(
            "status", "created_at", "pk"
        )
    )
    order = {
        SignupStatus.ATTENDED: 0,
        SignupStatus.SIGNED: 1,
        SignupStatus.NO_SHOW: 2,
        SignupStatus.WAITLISTED: 3,
        SignupStatus.CANCELLED: 4,
    }
    signups.sort(key=lambda s: (order.get(s.status, 9), s.created_at, s.pk))
    records = {r.member_id: r for r in ServiceRecord.objects.filter(activity=activity)}
    return [AttendeeRow(s, records.get(s.member_id)) for s in signups]


def status_counts(activity: Activity) -> dict[str, int]:
    counts = dict.fromkeys(SignupStatus.values, 0)
    for row in activity.signups.values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    counts["checked_out"] = activity.signups.filter(attendance__checked_out_at__isnull=False).count()
    return counts


def recent_scans(activity: Activity, limit: int = 12) -> list[Signup]:
    return list(
        activity.signups.filter(attendance__isnull=False)
        .select_related("member", "attendance")
        .order_by("-attendance__checked_in_at", "-pk")[:limit]
    )


def no_show_members(user) -> QuerySet[Member]:
    """Members with at least one no-show in the manager's activities, with counts (one query)."""
    activities = activity_manage_list_for_user(user)
    signups = Signup.objects.filter(activity__in=activities)
    no_show = signups.filter(status=SignupStatus.NO_SHOW)
    return (
        Member.objects.filter(Exists(no_show.filter(member=OuterRef("pk"))))
        .select_related("work_unit")
        .annotate(
            n_no_show=Coalesce(
                Subquery(
                    no_show.filter(member=OuterRef("pk"))
                    .values("member")
                    .annotate(n=Count("pk"))
                    .values("n")[:1],
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
            n_attended=Coalesce(
                Subquery(
                    signups.filter(member=OuterRef("pk"), status=SignupStatus.ATTENDED)
                    .values("member")
                    .annotate(n=Count("pk"))
                    .values("n")[:1],
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
            last_no_show=Subquery(
                no_show.filter(member=OuterRef("pk"))
                .values("member")
                .annotate(m=Max("activity__starts_at"))
                .values("m")[:1]
            ),
        )
        .prefetch_related(
            Prefetch(
                "signups",
                to_attr="no_show_signups",
                queryset=no_show.select_related("activity").order_by("-activity__starts_at", "-pk"),
            )
        )
        .order_by("-n_no_show", "name", "pk")
    )
