"""Write services for activities (活动): publishing, sign-up with a waiting list, QR check-in and check-out,
attendance turned into service records, the day-before reminder and no-shows.

Every function runs in one transaction and writes its audit row inside it (R32). A refused action raises
``ActivityError`` with a stable ``code``, a Chinese ``message`` (views show it) and the HTTP ``status`` a
view should answer with.

Places (R45). ``Activity.signed_up`` counts the sign-ups that hold a place: ``signed``, ``attended`` and
``no_show`` (``HOLDING``); ``waitlisted`` and ``cancelled`` rows do not. Every function that changes it
locks the activity row first (``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; SQLite's IMMEDIATE
transactions already serialise writers), re-reads the counter under the lock and changes it with ``F()``
together with the sign-up rows. The CheckConstraint ``signed_up <= capacity`` and the partial unique
constraint (one open sign-up per member and activity) are the backstop: a sign-up that reaches the
constraint goes on the waiting list (``signup.backstop`` is set so a test can tell the lock did not do
its job). Lock order, everywhere: activity → sign-up → attendance, so no two transactions wait for each
other.

Decisions (documented for the community and the tests):

- Waiting list: when the activity is full a sign-up is ``waitlisted``; when a place is freed (a member
  cancels, or the capacity is raised) the oldest waitlisted sign-ups (``created_at``, then id) are
  promoted in the same transaction and notified. Sign-up and cancelling close when the activity starts.
- Check-in window: from ``starts_at − grace`` to ``ends_at + grace``
  (``settings.JINSHEQU_CHECKIN_GRACE_MINUTES``, default 30); check-out uses the same window.
- Rotating QR: the token is ``<activity id>-<i|o>-<HMAC(checkin_secret, id:mode:window)>`` with 30-second
  windows; the current and the previous window are accepted (so a code is good for 30–60 s). An older
  genuine token is "expired"; anything else is forged and written to the audit log.
- Scanning twice does nothing twice: a second check-in returns the existing attendance (``created``
  False; ``replayed`` True when the client sent the same nonce), a second check-out returns the
  existing record.
- Walk-ins: a member registered in the community who checks in without a sign-up gets one (status
  ``attended``) when a place is left; when the activity is full the check-in is refused. A waitlisted
  member who checks in takes a free place if there is one, else is refused.
- Hours: at check-out a service record is created — hours = checked time capped at the activity's
  duration, rounded to the nearest half hour; evidence "scanned at the venue" (3), status verified. Under
  15 minutes of checked time gives no record. Without a check-out there is no automatic record: after
  the activity the community admin confirms the attendance (``attendance_confirm``), which creates the
  record with the activity's duration (or the hours the admin gives) and evidence "confirmed by the
  community" (2). A member marked as a no-show can be confirmed the same way (e.g. a flat phone).
- No-shows: ``activities_close_ended`` (nightly) marks every ``signed`` sign-up of an activity that ended
  more than ``grace`` ago as ``no_show`` and stamps ``Activity.closed_at``.
- Reminders: ``reminders_send`` notifies every ``signed`` member of an activity starting before the end
  of tomorrow (local time), once per sign-up (``Signup.reminded_at`` is claimed with a conditional UPDATE,
  so two runs at the same time cannot both send).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext

from jinshequ.access.audiences import is_member, manages_community, member_acting_for_another
from jinshequ.accounts.services import audit
from jinshequ.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    EvidenceLevel,
    RecordStatus,
    ServiceRecord,
    Signup,
    SignupStatus,
)
from jinshequ.activities.policies import activity_policy, leads_team
from jinshequ.activities.records import MAX_DAY_HOURS, day_hours_locked
from jinshequ.core.errors import DomainError
from jinshequ.members.models import Member, MemberStatus
from jinshequ.members.reporting import current_registration
from jinshequ.posts.models import Post, PostCategory, ServiceTeam
from jinshequ.regions.models import Region, RegionKind

HOLDING = (SignupStatus.SIGNED, SignupStatus.ATTENDED, SignupStatus.NO_SHOW)  # counted in signed_up
OPEN = (SignupStatus.SIGNED, SignupStatus.WAITLISTED, SignupStatus.ATTENDED)  # the one_open_signup constraint
MAX_CAPACITY = 999
MAX_DURATION = dt.timedelta(hours=24)
WINDOW_SECONDS = 30
EXPIRED_LOOKBACK = 240  # windows (2 h): an older genuine token is "expired", not "forged"
MIN_RECORD_SECONDS = 15 * 60
TOKEN_RE = re.compile(r"^(\d{1,12})-([io])-([0-9a-f]{24})$")
MODES = {"in": "i", "out": "o"}


class ActivityError(DomainError):
    """A rule refused the action (see ``jinshequ.core.errors``). ``backstop`` marks a refusal that the
    database constraint made after the lock did not hold (tests tell the two apart)."""

    def __init__(self, code: str, message: str, *, status: int = 400, backstop: bool = False):
        super().__init__(code, message, status=status)
        self.backstop = backstop


@dataclass
class CheckResult:
    """What a check-in or check-out did. ``created`` is False when the scan repeated an earlier one."""

    action: str  # "in" or "out"
    signup: Signup
    attendance: Attendance
    created: bool
    replayed: bool = False
    walk_in: bool = False
    record: ServiceRecord | None = None
    day_full: bool = False  # the day's 24 hours left less than the activity's (or nothing) to record

    @property
    def message(self) -> str:
        local = timezone.localtime
        if self.action == "in":
            if not self.created:
                return gettext("您已于 %(local)s 签到，无需重复签到。") % {
                    "local": format(local(self.attendance.checked_in_at), "%H:%M")
                }
            extra = gettext("（现场报名）") if self.walk_in else ""
            return gettext("签到成功%(extra)s：%(local)s。活动结束时请扫码签退。") % {
                "extra": extra,
                "local": format(local(self.attendance.checked_in_at), "%H:%M"),
            }
        if not self.created:
            return gettext("您已于 %(local)s 签退，无需重复签退。") % {
                "local": format(local(self.attendance.checked_out_at), "%H:%M")
            }
        if self.record is None:
            if self.day_full:
                return gettext("签退成功。您当天已记录满 24 小时服务时长，本次未再记录。")
            return gettext("签退成功。签到时长不足 15 分钟，未记录服务时长。")
        if self.day_full:
            return gettext("签退成功，记录服务时长 %(hours)s 小时（当天累计已达 24 小时上限）。") % {
                "hours": self.record.hours
            }
        return gettext("签退成功，记录服务时长 %(hours)s 小时。") % {"hours": self.record.hours}


def _now() -> dt.datetime:
    return timezone.now()


def grace() -> dt.timedelta:
    return dt.timedelta(minutes=getattr(settings, "JINSHEQU_CHECKIN_GRACE_MINUTES", 30))


def checkin_opens(activity: Activity) -> dt.datetime:
    return activity.starts_at - grace()


def checkin_closes(activity: Activity) -> dt.datetime:
    return activity.ends_at + grace()


def in_checkin_window(activity: Activity, now: dt.datetime | None = None) -> bool:
    now = now or _now()
    return checkin_opens(activity) <= now <= checkin_closes(activity)


def half_hours(seconds: float) -> Decimal:
    """Round a duration to the nearest half hour (a quarter hour rounds up)."""
    return (Decimal(int((max(0.0, seconds) + 900) // 1800)) / 2).quantize(Decimal("0.1"))


def duration_hours(activity: Activity) -> Decimal:
    """The activity's length in hours, rounded to the nearest half hour, between 0.5 and 24."""
    hours = half_hours((activity.ends_at - activity.starts_at).total_seconds())
    return min(Decimal(24), max(Decimal("0.5"), hours))


def _on_commit_notify(member: Member, *, kind: str, title: str, body: str = "", link: str = "") -> None:
    """Notify after commit: a slow SMS gateway must never hold an activity lock."""
    from jinshequ.accounts.notify import notify_member

    member_id = member.pk
    transaction.on_commit(
        lambda: notify_member(
            member=Member.objects.get(pk=member_id), kind=kind, title=title, body=body, link=link
        )
    )


def _when(activity: Activity) -> str:
    start, end = timezone.localtime(activity.starts_at), timezone.localtime(activity.ends_at)
    same_day = start.date() == end.date()
    return (
        f"{start:{gettext('%m月%d日 %H:%M')}}—{end:%H:%M}"
        if same_day
        else f"{start:{gettext('%m月%d日 %H:%M')}}—{end:{gettext('%m月%d日 %H:%M')}}"
    )


def _link(activity: Activity) -> str:
    return f"/activities/{activity.pk}/"


# --- who may do what (defence in depth behind the views' scope selectors) -----------------------------


def _require_manager(actor, activity: Activity) -> None:
    """The community admin of the activity's community, or the leader of its team; ``None`` is the system."""
    if actor is None or activity_policy.can(actor, "manage", activity):
        return
    raise ActivityError("not_your_activity", gettext("只能管理本社区或本人带领的服务队的活动。"), status=404)


def _require_community_admin(actor, community_id: int) -> None:
    if actor is None or manages_community(actor, community_id):
        return
    raise ActivityError("not_your_community", gettext("只有本社区的管理员可以确认服务时长。"), status=404)


def _require_self(actor, member: Member) -> None:
    if member_acting_for_another(actor, member):
        raise ActivityError("not_yourself", gettext("只能为自己报名或签到。"), status=404)


def _require_registered(member: Member, community_id: int, message: str) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise ActivityError("member_inactive", gettext("该党员已不在职，不能参加活动。"), status=403)
    reg = current_registration(member)
    if reg is None or reg.community_id != community_id:
        raise ActivityError("not_registered", message, status=403)


def _lock_activity(pk: int) -> Activity:
    """The activity row, locked until the transaction ends: sign-ups of one activity are serialised here.
    (The R45 negative control in tests/test_activities.py replaces this function with an unlocked read.)"""
    return Activity.objects.select_for_update(no_key=True).get(pk=pk)


# --- publishing -------------------------------------------------------------------------------------

ACTIVITY_FIELDS = (
    "title",
    "category",
    "post",
    "team",
    "place",
    "description",
    "starts_at",
    "ends_at",
    "capacity",
)


def _validate(activity: Activity, *, old_category_id: int | None = None, now: dt.datetime) -> None:
    if not activity.title:
        raise ActivityError("title_required", gettext("请填写活动名称。"))
    if len(activity.title) > 80:
        raise ActivityError("title_too_long", gettext("活动名称不能超过 80 个字。"))
    if not activity.place:
        raise ActivityError("place_required", gettext("请填写活动地点。"))
    if len(activity.place) > 100:
        raise ActivityError("place_too_long", gettext("活动地点不能超过 100 个字。"))
    if not activity.category.is_active and activity.category_id != old_category_id:
        raise ActivityError(
            "category_inactive",
            gettext("类别“%(name)s”已停用，请选择其他类别。") % {"name": activity.category.name},
        )
    if not isinstance(activity.capacity, int) or not 1 <= activity.capacity <= MAX_CAPACITY:
        raise ActivityError(
            "bad_capacity",
            gettext("名额应为 1 到 %(max_capacity)s 之间的整数。") % {"max_capacity": MAX_CAPACITY},
        )
    if activity.starts_at is None or activity.ends_at is None:
        raise ActivityError("time_required", gettext("请填写开始和结束时间。"))
    if activity.ends_at <= activity.starts_at:
        raise ActivityError("bad_period", gettext("结束时间必须晚于开始时间。"))
    if activity.ends_at - activity.starts_at > MAX_DURATION:
        raise ActivityError("too_long", gettext("一次活动不能超过 24 小时，跨天的活动请分场次发布。"))
    if activity.ends_at <= now:
        raise ActivityError("in_the_past", gettext("结束时间已过，请填写将来的时间。"))
    if activity.post_id and activity.post.community_id != activity.community_id:
        raise ActivityError("bad_post", gettext("只能选择本社区的岗位。"))
    if activity.team_id and activity.team.community_id != activity.community_id:
        raise ActivityError("bad_team", gettext("只能选择本社区的服务队。"))
    if activity.team_id and not activity.team.is_active:
        raise ActivityError("team_inactive", gettext("这个服务队已停用。"))


@transaction.atomic
def activity_create(
    *,
    community: Region,
    category: PostCategory,
    title: str,
    place: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int,
    description: str = "",
    post: Post | None = None,
    team: ServiceTeam | None = None,
    actor,
    request=None,
) -> Activity:
    """Publish an activity. The community admin publishes for their community; a team leader (a member) for
    the team they lead, which must then be given."""
    if community.kind != RegionKind.COMMUNITY or not community.is_active:
        raise ActivityError("bad_community", gettext("请选择一个启用中的社区。"))
    if (
        actor is not None
        and not manages_community(actor, community.pk)
        and (team is None or team.community_id != community.pk or not leads_team(actor, team.pk))
    ):
        raise ActivityError(
            "not_your_activity", gettext("只能为本社区或本人带领的服务队发布活动。"), status=404
        )
    activity = Activity(
        community=community,
        category=category,
        title=(title or "").strip(),
        place=(place or "").strip(),
        description=(description or "").strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        post=post,
        team=team,
        checkin_secret=secrets.token_hex(16),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _validate(activity, now=_now())
    activity.save()
    audit(
        event="activities.activity_created",
        actor=actor,
        request=request,
        obj=activity,
        changes={
            "title": [None, activity.title],
            "capacity": [None, capacity],
            "starts_at": [None, starts_at.isoformat()],
            "team": [None, team.pk if team else None],
        },
    )
    return activity


@transaction.atomic
def activity_update(*, activity: Activity, actor, request=None, **fields) -> Activity:
    """Change an activity that has not ended. The capacity cannot drop below the places taken; raising it
    promotes waitlisted members. A change of time or place is sent to everyone signed up or waiting."""
    unknown = set(fields) - set(ACTIVITY_FIELDS)
    if unknown:
        raise TypeError(f"unknown activity fields: {sorted(unknown)}")
    activity = _lock_activity(activity.pk)
    _require_manager(actor, activity)
    if activity.status == ActivityStatus.CANCELLED:
        raise ActivityError("cancelled", gettext("活动已取消，不能修改。"), status=409)
    now = _now()
    if activity.ends_at <= now:
        raise ActivityError("ended", gettext("活动已结束，不能修改。"), status=409)
    if "team" in fields and actor is not None and not manages_community(actor, activity.community_id):
        team = fields["team"]
        if team is None or not leads_team(actor, team.pk):
            raise ActivityError(
                "not_your_activity", gettext("队长只能为本人带领的服务队发布活动。"), status=404
            )
    old = {name: getattr(activity, name) for name in ACTIVITY_FIELDS}
    for name, value in fields.items():
        setattr(activity, name, value.strip() if isinstance(value, str) else value)
    _validate(activity, old_category_id=old["category"].pk, now=now)
    if activity.capacity < activity.signed_up:
        raise ActivityError(
            "capacity_below_signed",
            gettext("已有 %(signed_up)s 人报名，名额不能少于 %(signed_up)s。")
            % {"signed_up": activity.signed_up},
        )
    changed = [name for name in ACTIVITY_FIELDS if old[name] != getattr(activity, name)]
    if not changed:
        return activity
    activity.save(update_fields=changed)
    audit(
        event="activities.activity_updated",
        actor=actor,
        request=request,
        obj=activity,
        changes={name: [_plain(old[name]), _plain(getattr(activity, name))] for name in changed},
    )
    if "starts_at" in changed:  # the day-before reminder is due again for the new date
        activity.signups.filter(reminded_at__isnull=False).update(reminded_at=None)
    if {"starts_at", "ends_at", "place"} & set(changed):
        for signup in activity.signups.filter(
            status__in=(SignupStatus.SIGNED, SignupStatus.WAITLISTED)
        ).select_related("member"):
            _on_commit_notify(
                signup.member,
                kind="activities.changed",
                title=gettext("活动时间地点有变"),
                body=gettext("您报名的活动“%(title)s”改为 %(when)s，地点：%(place)s。")
                % {"title": activity.title, "when": _when(activity), "place": activity.place},
                link=_link(activity),
            )
    if "capacity" in changed:
        _promote(activity, actor=actor, request=request, now=now)
    return activity


def _plain(value):
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    return str(value)


@transaction.atomic
def activity_cancel(*, activity: Activity, reason: str, actor, request=None) -> Activity:
    """Cancel an activity nobody has checked in to yet; every open sign-up is cancelled and notified."""
    activity = _lock_activity(activity.pk)
    _require_manager(actor, activity)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ActivityError("reason_required", gettext("请写明取消活动的原因。"))
    if activity.status == ActivityStatus.CANCELLED:
        raise ActivityError("cancelled", gettext("活动已经取消了。"), status=409)
    now = _now()
    if activity.ends_at <= now:
        raise ActivityError("ended", gettext("活动已结束，不能取消。"), status=409)
    if (
        Attendance.objects.filter(signup__activity=activity).exists()
        or activity.signups.filter(status=SignupStatus.ATTENDED).exists()
    ):
        raise ActivityError("has_attendance", gettext("已有党员签到，不能取消活动。"), status=409)
    signups = list(
        activity.signups.select_for_update(of=("self",)).filter(status__in=OPEN).select_related("member")
    )
    for signup in signups:
        signup.status = SignupStatus.CANCELLED
        signup.cancelled_at = now
        _on_commit_notify(
            signup.member,
            kind="activities.cancelled",
            title=gettext("活动取消"),
            body=gettext("您报名的活动“%(title)s”（%(when)s）已取消。原因：%(value)s")
            % {"title": activity.title, "when": _when(activity), "value": reason[:100]},
            link=_link(activity),
        )
    Signup.objects.bulk_update(signups, ["status", "cancelled_at"])
    activity.status = ActivityStatus.CANCELLED
    activity.signed_up = 0
    activity.save(update_fields=["status", "signed_up"])
    audit(
        event="activities.activity_cancelled",
        actor=actor,
        request=request,
        obj=activity,
        reason=reason[:200],
        changes={
            "status": [ActivityStatus.PUBLISHED, ActivityStatus.CANCELLED],
            "signups_cancelled": len(signups),
        },
    )
    return activity


# --- sign-up and the waiting list -------------------------------------------------------------------


def _capacity_error(exc: IntegrityError) -> bool:
    return "within_capacity" in str(exc)


@transaction.atomic
def signup_create(*, activity: Activity, member: Member, actor, request=None) -> Signup:
    """Sign a registered member up; ``waitlisted`` when the activity is full.

    Refused (``ActivityError``): ``not_yourself`` (404), ``member_inactive`` / ``not_registered`` (403),
    ``cancelled``, ``started`` (sign-up closes when the activity starts), ``already_signed_up`` (409).
    """
    _require_self(actor, member)
    activity = _lock_activity(activity.pk)
    if activity.status == ActivityStatus.CANCELLED:
        raise ActivityError("cancelled", gettext("活动已取消。"), status=409)
    now = _now()
    if now >= activity.starts_at:
        raise ActivityError(
            "started",
            gettext("活动已开始，报名已截止。到场后可扫码签到（有空余名额时现场报名）。"),
            status=409,
        )
    _require_registered(
        member, activity.community_id, gettext("请先到这个社区报到，报到确认后即可报名参加活动。")
    )
    existing = Signup.objects.filter(activity=activity, member=member, status__in=OPEN).first()
    if existing is not None:
        message = (
            gettext("您已在候补名单中，无需重复报名。")
            if existing.status == SignupStatus.WAITLISTED
            else gettext("您已报名，无需重复报名。")
        )
        raise ActivityError("already_signed_up", message, status=409)
    signup, backstop = None, False
    if activity.signed_up < activity.capacity:
        try:
            with transaction.atomic():
                Activity.objects.filter(pk=activity.pk).update(signed_up=F("signed_up") + 1)
                signup = Signup.objects.create(
                    activity=activity, member=member, status=SignupStatus.SIGNED, created_at=now
                )
        except IntegrityError as exc:
            if not _capacity_error(exc):
                raise ActivityError(
                    "already_signed_up", gettext("您已报名，无需重复报名。"), status=409, backstop=True
                ) from exc
            backstop = True  # the lock did not hold: the constraint caught the last place
    if signup is None:
        try:
            with transaction.atomic():
                signup = Signup.objects.create(
                    activity=activity, member=member, status=SignupStatus.WAITLISTED, created_at=now
                )
        except IntegrityError as exc:
            raise ActivityError(
                "already_signed_up", gettext("您已报名，无需重复报名。"), status=409, backstop=True
            ) from exc
    signup.backstop = backstop
    audit(
        event="activities.signed_up",
        actor=actor,
        request=request,
        obj=signup,
        object_repr=f"{member.name} → {activity.title}",
        changes={
            "activity": activity.pk,
            "status": [None, signup.status],
            **({"backstop": True} if backstop else {}),
        },
    )
    return signup


@transaction.atomic
def signup_cancel(*, signup: Signup, actor, request=None) -> Signup:
    """Cancel a sign-up (the member, before the start) and promote the first waitlisted member."""
    activity = _lock_activity(signup.activity_id)
    signup = Signup.objects.select_for_update().select_related("member").get(pk=signup.pk)
    if is_member(actor):
        _require_self(actor, signup.member)
    else:
        _require_manager(actor, activity)
    if signup.status not in (SignupStatus.SIGNED, SignupStatus.WAITLISTED):
        raise ActivityError("not_open", gettext("这条报名已取消或已签到，不能取消。"), status=409)
    now = _now()
    if now >= activity.starts_at:
        raise ActivityError("started", gettext("活动已开始，不能取消报名。"), status=409)
    held = signup.status == SignupStatus.SIGNED
    old = signup.status
    signup.status = SignupStatus.CANCELLED
    signup.cancelled_at = now
    signup.save(update_fields=["status", "cancelled_at"])
    audit(
        event="activities.signup_cancelled",
        actor=actor,
        request=request,
        obj=signup,
        object_repr=f"{signup.member.name} ← {activity.title}",
        changes={"status": [old, SignupStatus.CANCELLED]},
    )
    if held:
        Activity.objects.filter(pk=activity.pk).update(signed_up=F("signed_up") - 1)
        activity.signed_up -= 1
        _promote(activity, actor=actor, request=request, now=now)
    return signup


def _promote(activity: Activity, *, actor, request, now: dt.datetime) -> list[Signup]:
    """Give free places to the oldest waitlisted sign-ups (caller holds the activity lock)."""
    if activity.status != ActivityStatus.PUBLISHED or now >= activity.starts_at:
        return []
    free = activity.capacity - activity.signed_up
    if free <= 0:
        return []
    promoted = list(
        Signup.objects.select_for_update(of=("self",))
        .select_related("member")
        .filter(activity=activity, status=SignupStatus.WAITLISTED)
        .order_by("created_at", "pk")[:free]
    )
    if not promoted:
        return []
    Activity.objects.filter(pk=activity.pk).update(signed_up=F("signed_up") + len(promoted))
    activity.signed_up += len(promoted)
    for signup in promoted:
        signup.status = SignupStatus.SIGNED
        signup.save(update_fields=["status"])
        audit(
            event="activities.promoted",
            actor=actor,
            request=request,
            obj=signup,
            object_repr=f"{signup.member.name} → {activity.title}",
            changes={"status": [SignupStatus.WAITLISTED, SignupStatus.SIGNED]},
        )
        _on_commit_notify(
            signup.member,
            kind="activities.promoted",
            title=gettext("候补成功"),
            body=gettext("有人取消了报名，您已从候补转为正式报名：“%(title)s”，%(when)s，地点：%(place)s。")
            % {"title": activity.title, "when": _when(activity), "place": activity.place},
            link=_link(activity),
        )
    return promoted


def waitlist_position(signup: Signup) -> int | None:
    """1 for the first in line; None when the sign-up is not waitlisted."""
    if signup.status != SignupStatus.WAITLISTED:
        return None
    before = Q(created_at__lt=signup.created_at) | Q(created_at=signup.created_at, pk__lt=signup.pk)
    return (
        Signup.objects.filter(before, activity_id=signup.activity_id, status=SignupStatus.WAITLISTED).count()
        + 1
    )


# --- the rotating check-in QR -----------------------------------------------------------------------


def _window(now: dt.datetime | None = None) -> int:
    return int((now or _now()).timestamp()) // WINDOW_SECONDS


def seconds_left_in_window(now: dt.datetime | None = None) -> int:
    ts = (now or _now()).timestamp()
    return max(1, int(WINDOW_SECONDS - ts % WINDOW_SECONDS))


def _mac(activity: Activity, mode: str, window: int) -> str:
    msg = f"{activity.pk}:{mode}:{window}".encode()
    return hmac.new(activity.checkin_secret.encode(), msg, hashlib.sha256).hexdigest()[:24]


def checkin_token(activity: Activity, mode: str = "in", now: dt.datetime | None = None) -> str:
    """The token the check-in screen shows now (``mode`` "in" or "out")."""
    code = MODES[mode]
    return f"{activity.pk}-{code}-{_mac(activity, code, _window(now))}"


def activity_from_token(
    token: str, *, actor=None, request=None, now: dt.datetime | None = None
) -> tuple[Activity, str]:
    """The activity and mode ("in"/"out") of a scanned token of the current or the previous window.

    ``token_expired`` for a genuine older token (up to two hours), ``token_invalid`` (audited) otherwise.
    """
    m = TOKEN_RE.match(token or "")
    activity = Activity.objects.filter(pk=int(m.group(1))).first() if m else None
    if activity is not None:
        code, mac = m.group(2), m.group(3)
        window = _window(now)
        if any(hmac.compare_digest(mac, _mac(activity, code, w)) for w in (window, window - 1)):
            return activity, ("in" if code == "i" else "out")
        if any(
            hmac.compare_digest(mac, _mac(activity, code, w))
            for w in range(window - EXPIRED_LOOKBACK, window - 1)
        ):
            raise ActivityError(
                "token_expired", gettext("二维码已过期，请重新扫描现场大屏上的二维码。"), status=400
            )
    with transaction.atomic():
        audit(
            event="security.checkin_token_rejected",
            actor=actor,
            request=request,
            success=False,
            object_type="activities.activity",
            object_id=str(activity.pk) if activity else "",
            reason="forged or malformed check-in token",
        )
    raise ActivityError(
        "token_invalid", gettext("签到二维码无效，请扫描活动现场大屏上的二维码。"), status=400
    )


# --- check-in and check-out -------------------------------------------------------------------------


def _check_window(activity: Activity, now: dt.datetime, what: str) -> None:
    if activity.status == ActivityStatus.CANCELLED:
        raise ActivityError("cancelled", gettext("活动已取消。"), status=409)
    opens, closes = checkin_opens(activity), checkin_closes(activity)
    if opens <= now <= closes:
        return
    minutes = int(grace().total_seconds() // 60)
    span = (
        gettext("%(localtime)s 至 %(localtime2)s")
        % {
            "localtime": format(timezone.localtime(opens), gettext("%m月%d日 %H:%M")),
            "localtime2": format(timezone.localtime(closes), "%H:%M"),
        }
        if timezone.localtime(opens).date() == timezone.localtime(closes).date()
        else gettext("%(localtime)s 至 %(localtime2)s")
        % {
            "localtime": format(timezone.localtime(opens), gettext("%m月%d日 %H:%M")),
            "localtime2": format(timezone.localtime(closes), gettext("%m月%d日 %H:%M")),
        }
    )
    if now < opens:
        raise ActivityError(
            "too_early",
            gettext("还没到%(what)s时间。%(what)s时间为 %(span)s（活动开始前 %(minutes)s 分钟开放）。")
            % {"what": what, "span": span, "minutes": minutes},
            status=409,
        )
    raise ActivityError(
        "too_late",
        gettext("%(what)s时间已过（%(span)s）。如确实参加了活动，请联系社区确认服务时长。")
        % {"what": what, "span": span},
        status=409,
    )


def _require_scanner(actor, activity: Activity, member: Member, method: str) -> None:
    if method == "card":
        _require_manager(actor, activity)
    else:
        _require_self(actor, member)


@transaction.atomic
def attendance_check_in(
    *, activity: Activity, member: Member, method: str = "qr", nonce: str = "", actor, request=None
) -> CheckResult:
    """Check a member in (their own QR scan, or the admin scanning their card). Repeating does nothing."""
    activity = _lock_activity(activity.pk)
    _require_scanner(actor, activity, member, method)
    now = _now()
    _check_window(activity, now, pgettext("window", "签到"))
    nonce = (nonce or "")[:64]
    signup = (
        Signup.objects.select_for_update().filter(activity=activity, member=member, status__in=OPEN).first()
    )
    walk_in = False
    if signup is None:
        _require_registered(
            member, activity.community_id, gettext("您未在本社区报到，不能参加本社区的活动。")
        )
        if activity.signed_up >= activity.capacity:
            raise ActivityError(
                "activity_full", gettext("活动名额已满，不能现场报名。请联系活动负责人。"), status=409
            )
        try:
            with transaction.atomic():
                Activity.objects.filter(pk=activity.pk).update(signed_up=F("signed_up") + 1)
                signup = Signup.objects.create(
                    activity=activity, member=member, status=SignupStatus.ATTENDED, created_at=now
                )
        except IntegrityError as exc:
            raise ActivityError(
                "activity_full", gettext("活动名额已满，不能现场报名。"), status=409, backstop=True
            ) from exc
        walk_in = True
    elif signup.status == SignupStatus.WAITLISTED:
        if activity.signed_up >= activity.capacity:
            raise ActivityError(
                "waitlisted", gettext("您在候补名单中，目前没有空余名额，不能签到。"), status=409
            )
        Activity.objects.filter(pk=activity.pk).update(signed_up=F("signed_up") + 1)
    existing = Attendance.objects.filter(signup=signup).first()
    if existing is not None:
        return CheckResult(
            "in", signup, existing, created=False, replayed=bool(nonce) and existing.nonce == nonce
        )
    old_status = signup.status
    if signup.status != SignupStatus.ATTENDED:
        signup.status = SignupStatus.ATTENDED
        signup.save(update_fields=["status"])
    attendance = Attendance.objects.create(signup=signup, checked_in_at=now, method=method, nonce=nonce)
    audit(
        event="activities.checked_in",
        actor=actor,
        request=request,
        obj=signup,
        object_repr=f"{member.name} @ {activity.title}",
        changes={
            "method": method,
            "walk_in": walk_in,
            "status": [None if walk_in else old_status, SignupStatus.ATTENDED],
        },
    )
    return CheckResult("in", signup, attendance, created=True, walk_in=walk_in)


@transaction.atomic
def attendance_check_out(
    *, activity: Activity, member: Member, method: str = "qr", nonce: str = "", actor, request=None
) -> CheckResult:
    """Check a member out and record the hours (evidence 3, verified). Repeating does nothing."""
    activity = _lock_activity(activity.pk)
    _require_scanner(actor, activity, member, method)
    now = _now()
    _check_window(activity, now, pgettext("window", "签退"))
    signup = (
        Signup.objects.select_for_update()
        .filter(activity=activity, member=member, status=SignupStatus.ATTENDED)
        .first()
    )
    attendance = Attendance.objects.select_for_update().filter(signup=signup).first() if signup else None
    if attendance is None:
        raise ActivityError("not_checked_in", gettext("您还没有签到，请先扫描签到二维码。"), status=409)
    if attendance.checked_out_at is not None:
        record = ServiceRecord.objects.filter(member=member, activity=activity).first()
        return CheckResult("out", signup, attendance, created=False, record=record)
    attendance.checked_out_at = max(now, attendance.checked_in_at)
    attendance.save(update_fields=["checked_out_at"])
    checked = (attendance.checked_out_at - attendance.checked_in_at).total_seconds()
    capped = min(checked, (activity.ends_at - activity.starts_at).total_seconds())
    record, day_full = None, False
    if (
        capped >= MIN_RECORD_SECONDS
        and not ServiceRecord.objects.filter(member=member, activity=activity).exists()
    ):
        hours = min(Decimal(24), half_hours(capped))
        room = _day_room(member, activity)
        day_full = hours > room  # the day's other records leave less: record what fits, if anything
        if min(hours, room) >= Decimal("0.5"):
            record = _record_create(
                activity=activity,
                member=member,
                hours=min(hours, room),
                evidence=EvidenceLevel.VENUE_QR,
                verified_by=None,
                now=now,
            )
    audit(
        event="activities.checked_out",
        actor=actor,
        request=request,
        obj=signup,
        object_repr=f"{member.name} @ {activity.title}",
        changes={
            "method": method,
            "hours": str(record.hours) if record else "0",
            "record": record.pk if record else None,
            **({"day_full": True} if day_full else {}),
        },
    )
    return CheckResult("out", signup, attendance, created=True, record=record, day_full=day_full)


def attendance_scan(
    *, activity: Activity, member: Member, mode: str, method: str = "qr", nonce: str = "", actor, request=None
) -> CheckResult:
    if mode == "out":
        return attendance_check_out(
            activity=activity, member=member, method=method, nonce=nonce, actor=actor, request=request
        )
    return attendance_check_in(
        activity=activity, member=member, method=method, nonce=nonce, actor=actor, request=request
    )


def _day_room(member: Member, activity: Activity) -> Decimal:
    """Hours left for the member on the activity's day, under the same 24-hour rule and lock as the records
    members log themselves (``records.day_hours_locked``)."""
    served_on = timezone.localtime(activity.starts_at).date()
    return max(Decimal(0), MAX_DAY_HOURS - day_hours_locked(member, served_on))


def _record_create(
    *, activity: Activity, member: Member, hours: Decimal, evidence: int, verified_by, now: dt.datetime
) -> ServiceRecord:
    served_on = timezone.localtime(activity.starts_at).date()
    return ServiceRecord.objects.create(
        member=member,
        community_id=activity.community_id,
        category_id=activity.category_id,
        activity=activity,
        served_on=served_on,
        month=served_on.year * 100 + served_on.month,
        hours=hours,
        description=(gettext("参加活动：%(title)s") % {"title": activity.title})[:300],
        status=RecordStatus.VERIFIED,
        evidence=evidence,
        verified_by=verified_by,
        verified_at=now,
        created_at=now,
    )


@transaction.atomic
def attendance_confirm(*, signup: Signup, actor, request=None, hours: Decimal | None = None) -> ServiceRecord:
    """The community admin confirms that a member took part (no check-out, or marked as a no-show): a
    verified record with evidence "confirmed by the community" (2) and the activity's duration, or
    ``hours`` (0.5 steps, at most the duration)."""
    activity = _lock_activity(signup.activity_id)
    _require_community_admin(actor, activity.community_id)
    signup = Signup.objects.select_for_update().select_related("member").get(pk=signup.pk)
    now = _now()
    if activity.status == ActivityStatus.CANCELLED:
        raise ActivityError("cancelled", gettext("活动已取消。"), status=409)
    if now < activity.starts_at:
        raise ActivityError("not_started", gettext("活动还没开始，不能确认参加。"), status=409)
    if signup.status not in HOLDING:
        raise ActivityError("not_open", gettext("这名党员没有报名或已取消，不能确认。"), status=409)
    if ServiceRecord.objects.filter(member=signup.member, activity=activity).exists():
        raise ActivityError("record_exists", gettext("已经记录了这次活动的服务时长。"), status=409)
    limit = duration_hours(activity)
    if hours is None:
        hours = limit
    hours = Decimal(hours)
    if hours < Decimal("0.5") or hours > limit or (hours * 2) % 1:
        raise ActivityError(
            "bad_hours",
            gettext("服务时长应为 0.5 到 %(limit)s 小时之间、以 0.5 小时为单位。") % {"limit": limit},
        )
    room = _day_room(signup.member, activity)
    if hours > room:
        day = timezone.localtime(activity.starts_at)
        raise ActivityError(
            "day_over_24",
            (
                gettext("%(name)s在%(year)s年%(month)s月%(day)s日已记录 %(value)s 小时，一天最多 24 小时，")
                % {
                    "name": signup.member.name,
                    "year": day.year,
                    "month": day.month,
                    "day": day.day,
                    "value": MAX_DAY_HOURS - room,
                }
            )
            + (
                gettext("最多还能记录 %(room)s 小时。") % {"room": room}
                if room >= Decimal("0.5")
                else gettext("不能再记录。")
            ),
        )
    old = signup.status
    if signup.status != SignupStatus.ATTENDED:
        signup.status = SignupStatus.ATTENDED
        signup.save(update_fields=["status"])
    try:
        with transaction.atomic():
            record = _record_create(
                activity=activity,
                member=signup.member,
                hours=hours,
                evidence=EvidenceLevel.COMMUNITY,
                verified_by=actor,
                now=now,
            )
    except IntegrityError as exc:
        raise ActivityError(
            "record_exists", gettext("已经记录了这次活动的服务时长。"), status=409, backstop=True
        ) from exc
    audit(
        event="activities.attendance_confirmed",
        actor=actor,
        request=request,
        obj=signup,
        object_repr=f"{signup.member.name} @ {activity.title}",
        changes={"status": [old, SignupStatus.ATTENDED], "hours": str(hours), "record": record.pk},
    )
    _on_commit_notify(
        signup.member,
        kind="activities.confirmed",
        title=gettext("服务时长已记录"),
        body=gettext("社区确认您参加了“%(title)s”，记录服务时长 %(hours)s 小时。")
        % {"title": activity.title, "hours": hours},
        link=_link(activity),
    )
    return record


# --- nightly jobs -----------------------------------------------------------------------------------


def activities_close_ended(*, now: dt.datetime | None = None, actor=None) -> dict:
    """Mark the no-shows of every activity that ended more than the grace ago and was not closed yet.

    Each activity is closed in its own short transaction (the activity lock, then its sign-ups), so the
    job can run while members check in elsewhere, and a second run finds nothing to do.
    """
    now = now or _now()
    cutoff = now - grace()
    ids = list(
        Activity.objects.filter(closed_at__isnull=True, ends_at__lt=cutoff)
        .order_by("ends_at", "pk")
        .values_list("pk", flat=True)
    )
    closed = no_shows = 0
    for pk in ids:
        with transaction.atomic():
            activity = _lock_activity(pk)
            if activity.closed_at is not None:
                continue
            n = Signup.objects.filter(activity=activity, status=SignupStatus.SIGNED).update(
                status=SignupStatus.NO_SHOW
            )
            activity.closed_at = now
            activity.save(update_fields=["closed_at"])
            audit(
                event="activities.activity_closed",
                actor=actor,
                obj=activity,
                actor_name="activities_close_ended",
                changes={"no_shows": n},
            )
        closed += 1
        no_shows += n
    return {"activities": closed, "no_shows": no_shows}


def reminders_send(*, now: dt.datetime | None = None) -> int:
    """Remind every signed-up member of an activity that starts before the end of tomorrow (local time).

    Once per sign-up: ``reminded_at`` is claimed by a conditional UPDATE in the same transaction as the
    notification, so a second run (or two at once) sends nothing twice. Returns the number sent.
    """
    from jinshequ.accounts.notify import notify_member

    now = now or _now()
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    until = timezone.make_aware(dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time.min))
    activities = Activity.objects.filter(
        status=ActivityStatus.PUBLISHED, starts_at__gt=now, starts_at__lt=until
    )
    pending = (
        Signup.objects.filter(activity__in=activities, status=SignupStatus.SIGNED, reminded_at__isnull=True)
        .select_related("activity", "member")
        .order_by("activity__starts_at", "pk")
    )
    sent = 0
    for signup in pending.iterator(chunk_size=500):
        with transaction.atomic():
            claimed = Signup.objects.filter(
                pk=signup.pk, status=SignupStatus.SIGNED, reminded_at__isnull=True
            ).update(reminded_at=now)
            if not claimed:
                continue
            activity = signup.activity
            day = (
                gettext("今天")
                if timezone.localtime(activity.starts_at).date() == timezone.localdate(now)
                else gettext("明天")
            )
            notify_member(
                member=signup.member,
                kind="activities.reminder",
                title=gettext("活动提醒"),
                body=gettext(
                    "您报名的活动“%(title)s”%(day)s %(localtime)s 开始，地点：%(place)s。到场后请扫码签到。"
                )
                % {
                    "title": activity.title,
                    "day": day,
                    "localtime": format(timezone.localtime(activity.starts_at), "%H:%M"),
                    "place": activity.place,
                },
                link=_link(activity),
            )
            sent += 1
    if sent:
        with transaction.atomic():
            audit(
                event="activities.reminders_sent",
                actor_name="send_activity_reminders",
                object_type="activities.signup",
                changes={"count": sent},
            )
    return sent


# --- when a member moves or leaves (hook for the report-in services) ----------------------------------


@transaction.atomic
def signups_end_for_member(
    *, member: Member, reason: str, actor, request=None, keep_community_id: int | None = None
) -> int:
    """Cancel the member's sign-ups for activities that have not started, outside ``keep_community_id``
    (all when None), promoting waitlisted members. Call when a registration ends."""
    now = _now()
    qs = Signup.objects.filter(
        member=member, status__in=(SignupStatus.SIGNED, SignupStatus.WAITLISTED), activity__starts_at__gt=now
    )
    if keep_community_id is not None:
        qs = qs.exclude(activity__community_id=keep_community_id)
    n = 0
    for signup in list(qs.order_by("activity_id")):
        signup_cancel(signup=signup, actor=None, request=request)
        n += 1
    if n:
        audit(
            event="activities.member_signups_ended",
            actor=actor,
            request=request,
            obj=member,
            reason=reason,
            changes={"signups": n},
        )
    return n
