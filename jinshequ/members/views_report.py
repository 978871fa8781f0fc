"""Report-in pages (报到): the member's side (phone first) and the community admin's side.

Member: home status (``member_home_context`` feeds ``members:me``), choose a community and submit,
the community's report-in QR, the full-screen contact card, history, inbox.
Community admin: the pending queue (confirm, reject with a reason, batch confirm), registration at the
office by card number or scanned QR text, the ledger (登记台账: page, print view, .xlsx export) and the
printable report-in poster. Oversight roles open a community's ledger with ``?community=<id>``.

Every write goes through ``jinshequ.members.reporting``; every read of other people's rows through the
scope selectors (404 outside scope, the same as missing).
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from jinshequ.access import audiences
from jinshequ.accounts.models import Notification
from jinshequ.accounts.perms import Perm, require_perm
from jinshequ.campaigns.models import current_campaign
from jinshequ.core.errors import error_message
from jinshequ.core.pinyin import name_pinyin
from jinshequ.core.qr import qr_svg
from jinshequ.core.widgets import DateInput
from jinshequ.members import reporting
from jinshequ.members.exports import LedgerExporter
from jinshequ.members.models import (
    Member,
    MemberStatus,
    Registration,
    RegistrationMethod,
    RegistrationStatus,
)
from jinshequ.members.reporting import ReportingError
from jinshequ.members.reporting_selectors import (
    ReportStatus,
    ledger_for_community,
    pending_for_community,
    registration_get_for_user,
    registration_list_for_user,
    valid_exemptions,
    with_report_status,
)
from jinshequ.members.selectors import member_search
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.selectors import region_get_for_user, region_list_for_user

PAGE_SIZE = 50
INBOX_PREVIEW = 5


# --- small helpers ---------------------------------------------------------------------------


def card_number_display(number: str) -> str:
    """``123456789`` → ``123 456 789`` (easier to read out and to type)."""
    return " ".join(number[i : i + 3] for i in range(0, len(number), 3))


def _own_member(request) -> Member | None:
    return Member.objects.filter(user=request.user).select_related("work_unit", "community").first()


def _no_member(request):
    return render(request, "report/no_member.html", status=404)


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _community(pk) -> Region | None:
    """A community by id, active or not (the service explains why an inactive one is refused)."""
    pk = _int_or_none(pk)
    if pk is None:
        return None
    return (
        Region.objects.filter(pk=pk, kind=RegionKind.COMMUNITY)
        .select_related("parent", "parent__parent")
        .first()
    )


def _place(community: Region) -> str:
    """``站前街道 · 平山区`` for a community loaded with ``parent__parent``."""
    street = community.parent
    parts = [street.name] if street else []
    if street is not None and street.parent is not None:
        parts.append(street.parent.name)
    return " · ".join(parts)


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _member_state(member: Member) -> dict:
    """The member's report-in situation: current (confirmed), pending, last rejection, exemption."""
    open_regs = list(
        member.registrations.filter(
            status__in=[RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED]
        ).select_related("community")
    )
    confirmed = next((r for r in open_regs if r.status == RegistrationStatus.CONFIRMED), None)
    pending = next((r for r in open_regs if r.status == RegistrationStatus.PENDING), None)
    latest = member.registrations.select_related("community").order_by("-submitted_at", "-id").first()
    rejected = latest if latest is not None and latest.status == RegistrationStatus.REJECTED else None
    exemption = valid_exemptions().filter(member=member).order_by("-valid_until").first()
    if confirmed:
        status = ReportStatus.REPORTED
    elif exemption:
        status = ReportStatus.EXEMPT
    elif pending:
        status = ReportStatus.PENDING
    else:
        status = ReportStatus.OUTSTANDING
    campaign = current_campaign()
    return {
        "status": status,
        "status_label": ReportStatus.LABELS[status],
        "confirmed": confirmed,
        "pending": pending,
        "rejected": rejected,
        "exemption": exemption,
        "campaign": campaign,
        "campaign_open": bool(campaign and campaign.is_open()),
        "can_report": member.status == MemberStatus.ACTIVE,
    }


# --- member: home (members:me) ---------------------------------------------------------------


def member_home_context(request, member: Member) -> dict:
    state = _member_state(member)
    # Reading the page never writes: a member without a card gets a button that issues it (POST).
    card = member.cards.filter(is_active=True).first() if member.status == MemberStatus.ACTIVE else None
    notes = Notification.objects.filter(member=member)
    return {
        "member": member,
        "skills": list(member.skills.all()),
        "state": state,
        "card": card,
        "card_number": card_number_display(card.number) if card else "",
        "card_qr": qr_svg(reporting.card_token(card)) if card else "",
        "notifications": list(notes[:INBOX_PREVIEW]),
        "unread_count": notes.filter(read_at__isnull=True).count(),
    }


# --- member: report in -----------------------------------------------------------------------


def _community_choices(member: Member, q: str) -> tuple[Region | None, list[dict]]:
    """The member's home community (proposed first) and every other active community, filtered by ``q``
    (name, or pinyin / initials). Names of active communities are public information."""
    communities = list(
        Region.objects.filter(kind=RegionKind.COMMUNITY, is_active=True)
        .select_related("parent", "parent__parent")
        .order_by("path")
    )
    home = next((c for c in communities if c.pk == member.community_id), None)
    q = q.strip().lower()
    rows = []
    for c in communities:
        if home is not None and c.pk == home.pk:
            continue
        full, initials = name_pinyin(c.name)
        place = _place(c)
        if q and q not in c.name and q not in place and not full.startswith(q) and not initials.startswith(q):
            continue
        rows.append({"community": c, "place": place, "filter": f"{c.name} {place} {full} {initials}".lower()})
    return home, rows


@require_perm(Perm.REPORT_SELF)
@require_http_methods(["GET", "POST"])
def report_start(request):
    member = _own_member(request)
    if member is None:
        return _no_member(request)
    state = _member_state(member)
    if request.method == "POST":
        community = _community(request.POST.get("community"))
        if community is None:
            messages.error(request, gettext("请选择一个启用中的社区。"))
            return redirect("report:start")
        try:
            reporting.registration_submit(
                member=member,
                community=community,
                actor=request.user,
                request=request,
                method=RegistrationMethod.SELF,
            )
        except ReportingError as exc:
            return render(
                request,
                "report/start_confirm.html",
                {
                    "member": member,
                    "state": state,
                    "community": community,
                    "place": _place(community),
                    "error": error_message(exc),
                },
                status=400,
            )
        messages.success(
            request, gettext("已向%(name)s提交报到申请，请等待社区确认。") % {"name": community.name}
        )
        return redirect("members:me")

    chosen = _community(request.GET.get("community"))
    if chosen is not None:
        return render(
            request,
            "report/start_confirm.html",
            {"member": member, "state": state, "community": chosen, "place": _place(chosen)},
        )
    q = request.GET.get("q", "")[:40]
    home, rows = _community_choices(member, q)
    return render(
        request,
        "report/start.html",
        {
            "member": member,
            "state": state,
            "home": home,
            "home_place": _place(home) if home else "",
            "rows": rows,
            "q": q,
        },
    )


@require_perm(Perm.REPORT_SELF)
@require_http_methods(["GET", "POST"])
def report_qr(request, token):
    """Opened from the community's report-in QR code (login brings the member back here)."""
    try:
        community = reporting.community_from_token(token, actor=request.user, request=request)
    except ReportingError as exc:
        return render(request, "report/qr_invalid.html", {"message": error_message(exc)}, status=400)
    member = _own_member(request)
    if member is None:
        return _no_member(request)
    community = _community(community.pk)
    state = _member_state(member)
    context = {
        "member": member,
        "state": state,
        "community": community,
        "place": _place(community),
        "via_qr": True,
        "token": token,
    }
    if request.method == "POST":
        try:
            reporting.registration_submit(
                member=member,
                community=community,
                actor=request.user,
                request=request,
                method=RegistrationMethod.QR,
            )
        except ReportingError as exc:
            return render(
                request, "report/start_confirm.html", {**context, "error": error_message(exc)}, status=400
            )
        messages.success(
            request, gettext("已向%(name)s提交报到申请，请等待社区确认。") % {"name": community.name}
        )
        return redirect("members:me")
    return render(request, "report/start_confirm.html", context)


@require_POST
@require_perm(Perm.REPORT_SELF)
def report_cancel(request, pk):
    """The member withdraws their own unanswered request (another member's id → 404)."""
    reg = registration_get_for_user(user=request.user, pk=pk)
    try:
        reporting.registration_cancel(registration=reg, actor=request.user, request=request)
    except ReportingError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, gettext("已撤回向%(name)s的报到申请。") % {"name": reg.community.name})
    return redirect(_safe_next(request, reverse("members:me")))


@require_perm(Perm.REPORT_SELF)
@require_http_methods(["GET", "POST"])
def report_card(request):
    """The full-screen contact card to show at the community office. Always the signed-in member's own.

    GET only reads; the first card is issued on demand by POST (``card_for_member``)."""
    member = _own_member(request)
    if member is None:
        return _no_member(request)
    active = member.status == MemberStatus.ACTIVE
    if request.method == "POST":
        if active:
            reporting.card_for_member(member, actor=request.user)
        return redirect("report:card")
    card = member.cards.filter(is_active=True).first() if active else None
    if card is None:
        return render(request, "report/card.html", {"member": member, "card": None, "can_issue": active})
    return render(
        request,
        "report/card.html",
        {
            "member": member,
            "card": card,
            "card_number": card_number_display(card.number),
            "card_qr": qr_svg(reporting.card_token(card)),
        },
    )


@require_perm(Perm.REPORT_SELF)
def report_history(request):
    member = _own_member(request)
    if member is None:
        return _no_member(request)
    regs = list(
        member.registrations.select_related("community", "community__parent").order_by("-submitted_at", "-id")
    )
    return render(request, "report/history.html", {"member": member, "registrations": regs})


@require_perm(Perm.REPORT_SELF)
@require_http_methods(["GET", "POST"])
def report_inbox(request):
    member = _own_member(request)
    if member is None:
        return _no_member(request)
    if request.method == "POST":
        ids = request.POST.getlist("id") or None
        count = reporting.notifications_mark_read(member=member, ids=ids)
        if count:
            messages.success(request, gettext("已全部标为已读。") if ids is None else gettext("已标为已读。"))
        return redirect(_safe_next(request, reverse("report:inbox")))
    notes = Notification.objects.filter(member=member)
    page = Paginator(notes, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "report/inbox.html",
        {
            "member": member,
            "page": page,
            "notifications": page.object_list,
            "unread_count": notes.filter(read_at__isnull=True).count(),
            "querystring_base": "",
        },
    )


# --- community admin: queue, office, poster --------------------------------------------------


def _my_community(request) -> Region:
    """The community a reviewer works for (REGISTRATION_REVIEW is a community admin's permission)."""
    user = request.user
    community_id = audiences.administered_community_id(user)
    if community_id is None:
        raise Http404
    community = Region.objects.filter(pk=community_id, kind=RegionKind.COMMUNITY).first()
    if community is None:
        raise Http404
    return community


def _pending_queue(user):
    current_elsewhere = Registration.objects.filter(
        member=OuterRef("member_id"), status=RegistrationStatus.CONFIRMED
    )
    return (
        pending_for_community(user)
        .select_related("member__community")
        .annotate(current_community_name=Subquery(current_elsewhere.values("community__name")[:1]))
    )


@require_perm(Perm.REGISTRATION_REVIEW)
def pending(request):
    community = _my_community(request)
    page = Paginator(_pending_queue(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "report/pending.html",
        {
            "community": community,
            "page": page,
            "registrations": page.object_list,
            "querystring_base": "",
            "tab": "pending",
        },
    )


@require_POST
@require_perm(Perm.REGISTRATION_REVIEW)
def confirm(request, pk):
    reg = registration_get_for_user(user=request.user, pk=pk)
    try:
        reporting.registration_confirm(registration=reg, actor=request.user, request=request)
    except ReportingError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, gettext("已确认%(name)s的报到。") % {"name": reg.member.name})
    return redirect(_safe_next(request, reverse("report:pending")))


@require_POST
@require_perm(Perm.REGISTRATION_REVIEW)
def reject(request, pk):
    reg = registration_get_for_user(user=request.user, pk=pk)
    try:
        reporting.registration_reject(
            registration=reg, reason=request.POST.get("reason", ""), actor=request.user, request=request
        )
    except ReportingError as exc:
        messages.error(
            request,
            gettext("%(name)s：%(message)s") % {"name": reg.member.name, "message": error_message(exc)},
        )
    else:
        messages.success(request, gettext("已退回%(name)s的报到，并通知本人。") % {"name": reg.member.name})
    return redirect(_safe_next(request, reverse("report:pending")))


@require_POST
@require_perm(Perm.REGISTRATION_REVIEW)
def confirm_batch(request):
    ids = [i for i in (_int_or_none(v) for v in request.POST.getlist("ids")) if i is not None]
    if not ids:
        messages.warning(request, gettext("请先勾选要确认的报到。"))
        return redirect("report:pending")
    regs = list(
        registration_list_for_user(request.user)
        .filter(pk__in=ids, status=RegistrationStatus.PENDING)
        .select_related("member", "community")
    )
    done, failed = 0, []
    for reg in regs:
        try:
            reporting.registration_confirm(registration=reg, actor=request.user, request=request)
            done += 1
        except ReportingError as exc:
            failed.append(
                gettext("%(name)s：%(message)s") % {"name": reg.member.name, "message": error_message(exc)}
            )
    skipped = len(ids) - len(regs)
    if done:
        messages.success(
            request,
            ngettext("已确认 %(done)s 人的报到。", "已确认 %(done)s 人的报到。", done) % {"done": done},
        )
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(skipped)s 条已被处理或不属于本社区，已跳过。",
                "%(skipped)s 条已被处理或不属于本社区，已跳过。",
                skipped,
            )
            % {"skipped": skipped},
        )
    for line in failed:
        messages.error(request, line)
    return redirect("report:pending")


CARD_NUMBER_TYPED = re.compile(r"[\d\s-]+")


def _normalise_code(value: str) -> str:
    """A typed card number may contain spaces or dashes (``123 456 789``); a scanned token is kept as is."""
    value = (value or "").strip()
    if CARD_NUMBER_TYPED.fullmatch(value):
        return re.sub(r"[\s-]", "", value)
    return value


@require_perm(Perm.REGISTRATION_REVIEW)
@require_http_methods(["GET", "POST"])
def office(request):
    """Register a member at the community office from their contact card (typed number or scanned QR)."""
    community = _my_community(request)
    context = {"community": community, "tab": "office", "code": ""}
    if request.method == "POST":
        code = _normalise_code(request.POST.get("code", ""))
        action = request.POST.get("action", "lookup")
        if not code:
            context["error"] = gettext("请输入联系卡卡号，或用扫码枪扫描联系卡上的二维码。")
        else:
            try:
                card = reporting.card_from_scan(code, actor=request.user, request=request)
            except ReportingError as exc:
                context["error"] = error_message(exc)
            else:
                member = card.member
                if action == "register":
                    try:
                        reporting.registration_register_at_office(
                            member=member, community=community, actor=request.user, request=request
                        )
                    except ReportingError as exc:
                        context["error"] = error_message(exc)
                    else:
                        messages.success(
                            request,
                            gettext("%(name)s已在%(name2)s完成报到。")
                            % {"name": member.name, "name2": community.name},
                        )
                        return redirect("report:office")
                row = with_report_status(
                    Member.objects.filter(pk=member.pk).select_related("work_unit", "community")
                ).get()
                context.update({"found": row, "card": card, "card_number": card_number_display(card.number)})
        context["code"] = "" if "found" in context else request.POST.get("code", "")[:200]
    context["today"] = list(
        Registration.objects.filter(
            community=community,
            method=RegistrationMethod.OFFICE,
            status=RegistrationStatus.CONFIRMED,
            confirmed_on=timezone.localdate(),
        )
        .select_related("member", "member__work_unit")
        .order_by("-decided_at")[:20]
    )
    status = 400 if context.get("error") else 200
    return render(request, "report/office.html", context, status=status)


@require_perm(Perm.REGISTRATION_REVIEW)
def poster(request):
    """The printable report-in poster: the community's QR code (a signed URL) and short instructions."""
    community = _community(_my_community(request).pk)
    url = reporting.site_url(reporting.report_qr_url(community))
    return render(
        request,
        "report/poster.html",
        {"community": community, "place": _place(community), "qr": qr_svg(url), "url": url},
    )


# --- the ledger (登记台账) -------------------------------------------------------------------


class LedgerFilterForm(forms.Form):
    q = forms.CharField(
        label=_("姓名"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": _("姓名或拼音首字母"), "class": "form-control"}),
    )
    unit = forms.CharField(
        label=_("所在单位"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": _("单位名称"), "class": "form-control"}),
    )
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), ("current", _("在册")), ("ended", _("已结束"))],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    method = forms.ChoiceField(
        label=_("方式"),
        required=False,
        choices=[("", _("全部")), *RegistrationMethod.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    date_from = forms.DateField(
        label=_("报到日期自"), required=False, widget=DateInput(attrs={"class": "form-control"})
    )
    date_to = forms.DateField(
        label=_("报到日期至"), required=False, widget=DateInput(attrs={"class": "form-control"})
    )


def _ledger_community(request) -> Region | None:
    """``?community=<id>`` within the user's scope (404 outside it), else the community admin's own."""
    cid = request.GET.get("community")
    if cid:
        community = region_get_for_user(user=request.user, pk=cid)
        if community.kind != RegionKind.COMMUNITY:
            raise Http404
        return community
    if audiences.administered_community_id(request.user) is not None:
        return _my_community(request)
    return None


def _ledger_rows(request, community):
    form = LedgerFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = ledger_for_community(community)
    if data.get("q"):
        qs = qs.filter(member__in=member_search(Member.objects.all(), data["q"]).values("pk"))
    if data.get("unit"):
        qs = qs.filter(member__work_unit__name__contains=data["unit"])
    if data.get("status") == "current":
        qs = qs.filter(status=RegistrationStatus.CONFIRMED)
    elif data.get("status") == "ended":
        qs = qs.filter(status=RegistrationStatus.ENDED)
    if data.get("method"):
        qs = qs.filter(method=data["method"])
    if data.get("date_from"):
        qs = qs.filter(confirmed_on__gte=data["date_from"])
    if data.get("date_to"):
        qs = qs.filter(confirmed_on__lte=data["date_to"])
    filtered = any(data.get(k) for k in ("q", "unit", "status", "method", "date_from", "date_to"))
    return form, data, qs, filtered


def _ledger_query(request, community) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query["community"] = str(community.pk)
    return query.urlencode()


@require_perm(Perm.LEDGER_VIEW)
def ledger(request):
    community = _ledger_community(request)
    if community is None:
        return _ledger_choose(request)
    form, data, qs, filtered = _ledger_rows(request, community)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = _ledger_query(request, community)
    counts = ledger_for_community(community).aggregate(
        current=Count("pk", filter=Q(status=RegistrationStatus.CONFIRMED)),
        ended=Count("pk", filter=Q(status=RegistrationStatus.ENDED)),
    )
    return render(
        request,
        "report/ledger.html",
        {
            "community": community,
            "place": _place(_community(community.pk)),
            "form": form,
            "page": page,
            "registrations": page.object_list,
            "filtered": filtered,
            "counts": counts,
            "querystring": query,
            "querystring_base": f"{query}&",
            "tab": "ledger",
            "own": audiences.manages_community(request.user, community.pk),
        },
    )


def _ledger_choose(request):
    """Oversight roles pick a community in their scope first."""
    q = request.GET.get("q", "").strip()[:40]
    qs = (
        region_list_for_user(request.user)
        .filter(kind=RegionKind.COMMUNITY)
        .select_related("parent")
        .annotate(
            current=Count("registrations", filter=Q(registrations__status=RegistrationStatus.CONFIRMED))
        )
        .order_by("path")
    )
    if q:
        qs = qs.filter(name__contains=q)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "report/ledger_choose.html",
        {
            "page": page,
            "communities": page.object_list,
            "q": q,
            "querystring_base": f"q={q}&" if q else "",
        },
    )


@require_perm(Perm.LEDGER_VIEW)
def ledger_export(request):
    community = _ledger_community(request)
    if community is None:
        raise Http404
    form, data, qs, filtered = _ledger_rows(request, community)
    return LedgerExporter(user=request.user, queryset=qs, params=data, community=community).response()


@require_perm(Perm.LEDGER_VIEW)
def ledger_print(request):
    community = _ledger_community(request)
    if community is None:
        raise Http404
    form, data, qs, filtered = _ledger_rows(request, community)
    return render(
        request,
        "report/ledger_print.html",
        {
            "community": community,
            "place": _place(_community(community.pk)),
            "registrations": qs,
            "filtered": filtered,
            "data": data,
            "printed_at": timezone.localtime(),
            "back": f"{reverse('report:ledger')}?{_ledger_query(request, community)}",
        },
    )
