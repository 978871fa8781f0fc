"""Pages for activities: the member's list, detail, sign-up, calendar and QR check-in; the organiser's list,
form, attendees, check-in screen (rotating QR), card scanning, attendance confirmation and no-shows.

Views are thin: function-level access by permission (organisers: the community admin, or a member who
leads a team), objects through ``activities.selectors`` (404 out of scope), writes through
``activities.services``; a refused action shows the service's Chinese message with its status code.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from jinshequ.access.audiences import administered_community_id
from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.activities import selectors as sel
from jinshequ.activities import services
from jinshequ.activities.forms import ActivityForm, ConfirmForm, ReasonForm, ScanForm
from jinshequ.activities.ics import render_calendar
from jinshequ.activities.models import ActivityStatus, SignupStatus
from jinshequ.activities.services import ActivityError
from jinshequ.core.errors import error_json, error_message
from jinshequ.core.http import wants_json
from jinshequ.core.idempotency import idempotent, new_idempotency_key
from jinshequ.core.qr import qr_svg
from jinshequ.members.models import Member, MemberStatus
from jinshequ.members.reporting import ReportingError, card_from_scan, current_registration
from jinshequ.posts.models import PostCategory
from jinshequ.regions.models import Region

PAGE_SIZE = 50
TICKET_SALT = "jinshequ.checkin-ticket.v1"
TICKET_MAX_AGE = 10 * 60  # seconds between opening the scanned link and pressing "confirm"


def _me(request) -> Member:
    member = Member.objects.filter(user=request.user).first()
    if member is None:
        raise Http404
    return member


def require_organiser(view):
    """The community admin (``ACTIVITY_MANAGE``), or a member who leads an active service team."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (
            user_has_perm(user, Perm.ACTIVITY_MANAGE)
            or (user_has_perm(user, Perm.ACTIVITY_JOIN) and sel.leads_a_team(user))
        ):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.required_perm = Perm.ACTIVITY_MANAGE
    return wrapped


# --- the member -------------------------------------------------------------------------------------


@require_perm(Perm.ACTIVITY_JOIN)
def member_list(request):
    member = _me(request)
    reg = current_registration(member) if member.status == MemberStatus.ACTIVE else None
    now = timezone.now()
    signups = list(sel.my_signups(member)[:40])
    mine = [
        s
        for s in signups
        if s.activity.ends_at >= now
        and s.activity.status == ActivityStatus.PUBLISHED
        and s.status in services.OPEN
    ]
    past = [s for s in signups if s not in mine]
    upcoming = list(sel.upcoming_for_member(member, reg.community_id, now)[:PAGE_SIZE]) if reg else []
    return render(
        request,
        "activities/member_list.html",
        {
            "member": member,
            "registration": reg,
            "mine": mine,
            "past": past,
            "upcoming": upcoming,
            "leads": sel.leads_a_team(request.user),
            "now": now,
        },
    )


def _detail_context(request, member: Member, activity, **extra) -> dict:
    signup = sel.my_open_signup(member, activity)
    reg = current_registration(member) if member.status == MemberStatus.ACTIVE else None
    now = timezone.now()
    open_signup = signup if signup and signup.status in services.OPEN else None
    record = None
    if signup and signup.status in (SignupStatus.ATTENDED, SignupStatus.NO_SHOW):
        record = activity.records.filter(member=member).first()
    can_sign_up = (
        activity.status == ActivityStatus.PUBLISHED
        and now < activity.starts_at
        and open_signup is None
        and reg is not None
        and reg.community_id == activity.community_id
    )
    return {
        "member": member,
        "activity": activity,
        "signup": signup,
        "open_signup": open_signup,
        "record": record,
        "registered_here": reg is not None and reg.community_id == activity.community_id,
        "can_sign_up": can_sign_up,
        "can_cancel": (
            open_signup is not None
            and open_signup.status != SignupStatus.ATTENDED
            and now < activity.starts_at
        ),
        "position": services.waitlist_position(open_signup) if open_signup else None,
        "in_window": services.in_checkin_window(activity, now),
        "opens": services.checkin_opens(activity),
        "closes": services.checkin_closes(activity),
        "places_left": max(0, activity.capacity - activity.signed_up),
        "idempotency_key": new_idempotency_key(),
        "now": now,
        **extra,
    }


@require_perm(Perm.ACTIVITY_JOIN)
def member_detail(request, pk):
    member = _me(request)
    activity = sel.activity_get_for_user(user=request.user, pk=pk)
    return render(request, "activities/member_detail.html", _detail_context(request, member, activity))


@require_POST
@require_perm(Perm.ACTIVITY_JOIN)
@idempotent("activities:signup")
def signup(request, pk):
    member = _me(request)
    activity = sel.activity_get_for_user(user=request.user, pk=pk)
    try:
        new = services.signup_create(activity=activity, member=member, actor=request.user, request=request)
    except ActivityError as exc:
        if wants_json(request):
            return error_json(exc)
        return render(
            request,
            "activities/member_detail.html",
            _detail_context(request, member, activity, error=error_message(exc)),
            status=exc.status,
        )
    if wants_json(request):
        return JsonResponse({"id": new.pk, "status": new.status, "activity": activity.pk}, status=201)
    if new.status == SignupStatus.SIGNED:
        messages.success(
            request, gettext("报名成功：“%(title)s”。活动前一天会提醒您。") % {"title": activity.title}
        )
    else:
        messages.warning(
            request,
            gettext(
                "名额已满，您已进入候补名单（第 %(waitlist_position)s 位）。有人取消时会自动递补并通知您。"
            )
            % {"waitlist_position": services.waitlist_position(new)},
        )
    return redirect("activities:detail", pk=activity.pk)


@require_POST
@require_perm(Perm.ACTIVITY_JOIN)
def signup_cancel(request, pk):
    member = _me(request)
    activity = sel.activity_get_for_user(user=request.user, pk=pk)
    mine = activity.signups.filter(
        member=member, status__in=(SignupStatus.SIGNED, SignupStatus.WAITLISTED)
    ).first()
    if mine is None:
        messages.info(request, gettext("您没有这个活动的报名。"))
        return redirect("activities:detail", pk=activity.pk)
    try:
        services.signup_cancel(signup=mine, actor=request.user, request=request)
    except ActivityError as exc:
        return render(
            request,
            "activities/member_detail.html",
            _detail_context(request, member, activity, error=error_message(exc)),
            status=exc.status,
        )
    messages.success(request, gettext("已取消报名“%(title)s”。") % {"title": activity.title})
    return redirect("activities:detail", pk=activity.pk)


@require_perm(Perm.ACTIVITY_JOIN)
def calendar(request):
    """The member's upcoming activities as an .ics file (RFC 5545)."""
    member = _me(request)
    rows = list(sel.calendar_signups(member))
    body = render_calendar(
        rows,
        now=timezone.now(),
        uid_domain=request.get_host().split(":")[0] or "jinshequ",
        url_for=lambda pk: request.build_absolute_uri(reverse("activities:detail", args=[pk])),
    )
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="jinshequ-activities.ics"'
    return response


def _ticket(activity, mode: str, user) -> str:
    return signing.dumps({"a": activity.pk, "m": mode, "u": user.pk}, salt=TICKET_SALT)


def _from_ticket(value: str, user):
    try:
        data = signing.loads(value or "", salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        return None
    if data.get("u") != user.pk or data.get("m") not in services.MODES:
        return None
    activity = services.Activity.objects.filter(pk=data.get("a")).first()
    return (activity, data["m"]) if activity else None


PENDING_KEY = "activities.checkin_pending"


@login_not_required
def checkin(request, token):
    """The page a member's phone opens from the venue QR.

    Signed out: a valid token is remembered in the (anonymous) session, which survives the login, and the
    phone is sent to log in; a member who needs a minute to type their password is not told afterwards
    that the code has expired. Signed in: see ``_checkin``."""
    if not request.user.is_authenticated:
        try:
            activity, mode = services.activity_from_token(token, request=request)
        except ActivityError:
            pass
        else:
            request.session[PENDING_KEY] = {"a": activity.pk, "m": mode, "t": timezone.now().timestamp()}
        return redirect_to_login(request.get_full_path())
    return _checkin(request, token)


def _pending(request, token: str):
    """The activity and mode a valid token named before the login (same token prefix, ten minutes)."""
    data = request.session.get(PENDING_KEY) or {}
    m = services.TOKEN_RE.match(token or "")
    if (
        not data
        or m is None
        or str(data.get("a")) != m.group(1)
        or services.MODES.get(data.get("m")) != m.group(2)
        or timezone.now().timestamp() - float(data.get("t", 0)) > TICKET_MAX_AGE
    ):
        return None
    activity = services.Activity.objects.filter(pk=data["a"]).first()
    return (activity, data["m"]) if activity else None


@require_perm(Perm.ACTIVITY_JOIN)
@idempotent("activities:checkin")
def _checkin(request, token):
    """GET shows the activity and a confirm button; POST checks in or out. The token is checked when the
    page opens; the page carries a signed ticket (ten minutes, this member only) so a slow tap still works
    after the QR on the screen has rotated."""
    member = _me(request)
    found = _from_ticket(request.POST.get("ticket", ""), request.user) if request.method == "POST" else None
    try:
        activity, mode = found or services.activity_from_token(token, actor=request.user, request=request)
    except ActivityError as exc:
        found = _pending(request, token) if exc.code == "token_expired" else None
        if found is None:
            return render(
                request,
                "activities/checkin.html",
                {"error": error_message(exc), "code": exc.code},
                status=exc.status,
            )
        activity, mode = found
    request.session.pop(PENDING_KEY, None)
    if not sel.activity_list_for_user(request.user).filter(pk=activity.pk).exists():
        raise Http404
    if request.method == "POST":
        try:
            result = services.attendance_scan(
                activity=activity,
                member=member,
                mode=mode,
                method="qr",
                nonce=request.POST.get("nonce", ""),
                actor=request.user,
                request=request,
            )
        except ActivityError as exc:
            return render(
                request,
                "activities/checkin.html",
                _checkin_context(request, member, activity, mode, error=error_message(exc)),
                status=exc.status,
            )
        (messages.success if result.created else messages.info)(request, result.message)
        return redirect("activities:detail", pk=activity.pk)
    return render(request, "activities/checkin.html", _checkin_context(request, member, activity, mode))


def _checkin_context(request, member, activity, mode, **extra) -> dict:
    signup = sel.my_open_signup(member, activity)
    attendance = getattr(signup, "attendance", None) if signup else None
    return {
        "activity": activity,
        "mode": mode,
        "signup": signup,
        "attendance": attendance,
        "ticket": _ticket(activity, mode, request.user),
        "nonce": new_idempotency_key(),
        "idempotency_key": new_idempotency_key(),
        "in_window": services.in_checkin_window(activity),
        "opens": services.checkin_opens(activity),
        "closes": services.checkin_closes(activity),
        **extra,
    }


# --- organisers: the community admin and team leaders -----------------------------------------------


def _organiser_community_id(request) -> int:
    user = request.user
    community_id = administered_community_id(user)
    if community_id is not None:
        return community_id
    team = sel.led_teams(user).order_by("pk").first()
    if team is None:
        raise Http404
    return team.community_id


def _is_admin(request) -> bool:
    """Whether the organiser is the community admin (rather than a team leader)."""
    return administered_community_id(request.user) is not None


def _team_choices(request):
    """None for the community admin (any team of the community); a leader's own teams otherwise."""
    return None if _is_admin(request) else sel.led_teams(request.user).order_by("name")


@require_organiser
def manage(request):
    when = request.GET.get("when", "upcoming")
    when = when if when in sel.WHEN_CHOICES else "upcoming"
    qs = sel.filter_activities(
        sel.activity_manage_list_for_user(request.user).select_related("category", "team"),
        when=when,
        category=request.GET.get("category", ""),
        q=request.GET.get("q", "").strip(),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "activities/manage_list.html",
        {
            "page": page,
            "activities": sel.attach_counts(list(page.object_list)),
            "when": when,
            "when_choices": sel.WHEN_CHOICES,
            "categories": PostCategory.objects.order_by("sort_order", "name"),
            "category": request.GET.get("category", ""),
            "q": request.GET.get("q", ""),
            "querystring_base": f"{query.urlencode()}&" if query else "",
            "is_admin": _is_admin(request),
            "now": timezone.now(),
        },
    )


def _form_kwargs(form: ActivityForm) -> dict:
    d = form.cleaned_data
    return {
        name: d.get(name)
        for name in (
            "title",
            "category",
            "post",
            "team",
            "place",
            "starts_at",
            "ends_at",
            "capacity",
            "description",
        )
    } | {"description": d.get("description") or ""}


@require_organiser
def create(request):
    community_id = _organiser_community_id(request)
    form = ActivityForm(request.POST or None, community_id=community_id, teams=_team_choices(request))
    if request.method == "POST" and form.is_valid():
        kwargs = _form_kwargs(form)
        community = kwargs["team"].community if kwargs.get("team") else Region.objects.get(pk=community_id)
        try:
            activity = services.activity_create(
                community=community, actor=request.user, request=request, **kwargs
            )
        except ActivityError as exc:
            form.add_error(None, error_message(exc))
        else:
            messages.success(request, gettext("已发布活动“%(title)s”。") % {"title": activity.title})
            return redirect("activities:manage_detail", pk=activity.pk)
    return render(request, "activities/form.html", {"form": form, "creating": True})


@require_organiser
def edit(request, pk):
    activity = sel.activity_manage_get(user=request.user, pk=pk)
    initial = {
        name: getattr(activity, name)
        for name in ("title", "place", "description", "starts_at", "ends_at", "capacity")
    }
    initial.update(category=activity.category_id, post=activity.post_id, team=activity.team_id)
    form = ActivityForm(
        request.POST or None,
        community_id=activity.community_id,
        teams=_team_choices(request),
        activity=activity,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.activity_update(
                activity=activity, actor=request.user, request=request, **_form_kwargs(form)
            )
        except ActivityError as exc:
            form.add_error("capacity" if exc.code == "capacity_below_signed" else None, error_message(exc))
        else:
            messages.success(request, gettext("已保存修改。"))
            return redirect("activities:manage_detail", pk=activity.pk)
    return render(request, "activities/form.html", {"form": form, "activity": activity, "creating": False})


@require_organiser
def manage_detail(request, pk):
    activity = sel.activity_manage_get(user=request.user, pk=pk)
    rows = sel.attendees(activity)
    now = timezone.now()
    return render(
        request,
        "activities/manage_detail.html",
        {
            "activity": activity,
            "rows": rows,
            "counts": sel.status_counts(activity),
            "reason_form": ReasonForm(),
            "is_admin": _is_admin(request),
            "started": now >= activity.starts_at,
            "ended": now > activity.ends_at,
            "in_window": services.in_checkin_window(activity, now),
            "opens": services.checkin_opens(activity),
            "closes": services.checkin_closes(activity),
            "duration": services.duration_hours(activity),
        },
    )


@require_POST
@require_organiser
def cancel(request, pk):
    activity = sel.activity_manage_get(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect("activities:manage_detail", pk=activity.pk)
    try:
        services.activity_cancel(
            activity=activity, reason=form.cleaned_data["reason"], actor=request.user, request=request
        )
    except ActivityError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request, gettext("已取消活动“%(title)s”，已通知报名的党员。") % {"title": activity.title}
        )
    return redirect("activities:manage_detail", pk=activity.pk)


def _screen_context(request, activity, mode: str) -> dict:
    token = services.checkin_token(activity, mode)
    url = request.build_absolute_uri(reverse("activities:checkin", args=[token]))
    counts = sel.status_counts(activity)
    return {
        "activity": activity,
        "mode": mode,
        "qr": qr_svg(url),
        "checkin_url": url,
        "seconds_left": services.seconds_left_in_window(),
        "counts": counts,
        "in_window": services.in_checkin_window(activity),
        "opens": services.checkin_opens(activity),
        "closes": services.checkin_closes(activity),
        "cancelled": activity.status == ActivityStatus.CANCELLED,
    }


def _mode(request) -> str:
    return "out" if request.GET.get("mode") == "out" else "in"


@require_organiser
def screen(request, pk):
    """Full-screen check-in (or check-out) QR for the venue; ``checkin.js`` fetches a fresh code each window."""
    activity = sel.activity_manage_get(user=request.user, pk=pk)
    return render(request, "activities/screen.html", _screen_context(request, activity, _mode(request)))


@require_organiser
def screen_code(request, pk):
    activity = sel.activity_manage_get(user=request.user, pk=pk)
    return render(
        request, "activities/screen.html#qr-block", _screen_context(request, activity, _mode(request))
    )


@require_organiser
@idempotent("activities:scan")
def scan(request, pk):
    """The organiser scans (or types) members' contact cards to check them in or out."""
    activity = sel.activity_manage_get(user=request.user, pk=pk)
    form = ScanForm(request.POST or None)
    result = error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        mode = form.cleaned_data["mode"]
        try:
            card = card_from_scan(form.cleaned_data["code"], actor=request.user, request=request)
            result = services.attendance_scan(
                activity=activity,
                member=card.member,
                mode=mode,
                method="card",
                actor=request.user,
                request=request,
            )
        except (ReportingError, ActivityError) as exc:
            # A refused scan is the card's or the member's problem, shown on the operator's page (409),
            # not an access decision about the operator.
            error, status = error_message(exc), (404 if getattr(exc, "status", 409) == 404 else 409)
        form = ScanForm(initial={"mode": mode})
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "activities/scan.html",
        {
            "activity": activity,
            "form": form,
            "result": result,
            "error": error,
            "recent": sel.recent_scans(activity),
            "counts": sel.status_counts(activity),
            "in_window": services.in_checkin_window(activity),
            "idempotency_key": new_idempotency_key(),
        },
        status=status,
    )


@require_POST
@require_perm(Perm.ACTIVITY_MANAGE)
def confirm(request, pk):
    """The community admin confirms a member's attendance (no check-out, or a no-show): evidence 2."""
    signup_obj = sel.signup_manage_get(user=request.user, pk=pk)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, next(iter(form.errors.values()))[0])
        return redirect("activities:manage_detail", pk=signup_obj.activity_id)
    try:
        record = services.attendance_confirm(
            signup=signup_obj, hours=form.cleaned_data.get("hours"), actor=request.user, request=request
        )
    except ActivityError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request,
            gettext("已确认 %(name)s 参加，记录服务时长 %(hours)s 小时。")
            % {"name": signup_obj.member.name, "hours": record.hours},
        )
    return redirect("activities:manage_detail", pk=signup_obj.activity_id)


@require_perm(Perm.ACTIVITY_MANAGE)
def no_shows(request):
    page = Paginator(sel.no_show_members(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "activities/no_shows.html",
        {"page": page, "members": page.object_list, "querystring_base": ""},
    )
