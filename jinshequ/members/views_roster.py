"""Unit roster (花名册) and follow-up: check-off status of every member, the unit's report-in rate,
exemptions, the outstanding list (.xlsx) and reminders; the member's inbox.

Who sees which unit: a unit admin their own unit (and its sub-units); region roles any unit in their
scope via ``?unit=<id>`` (404 otherwise, the same as a missing unit). Members always come through
``member_list_for_user``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from jinshequ.access import audiences
from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.core.errors import error_message
from jinshequ.core.widgets import DateInput
from jinshequ.members import reporting
from jinshequ.members.exports import OutstandingExporter
from jinshequ.members.models import Exemption, ExemptionReason, Member, MemberStatus
from jinshequ.members.reporting_selectors import ReportStatus, filter_report_status
from jinshequ.members.roster import reminders_send, roster_members, roster_page
from jinshequ.members.selectors import member_get_for_user, member_list_for_user
from jinshequ.stats.selectors import Rate, current_target
from jinshequ.units.models import WorkUnit
from jinshequ.units.selectors import unit_list_for_user

PAGE_SIZE = 50
TABS = (ReportStatus.OUTSTANDING, ReportStatus.PENDING, ReportStatus.REPORTED, ReportStatus.EXEMPT)


def _unit_from(request, value) -> WorkUnit | None:
    """The roster's unit: a unit admin's own unit by default; region roles must name one (404 outside scope,
    the same as ``unit_get_for_user``)."""
    user = request.user
    if not value:
        value = audiences.administered_unit_id(user)
    if not value:
        return None
    # unit_get_for_user's scope, plus whether the unit has sub-units, in one query
    try:
        return (
            unit_list_for_user(user)
            .annotate(has_children=Exists(WorkUnit.objects.filter(parent=OuterRef("pk"))))
            .get(pk=value)
        )
    except (WorkUnit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def _scope_note(user) -> str:
    if audiences.in_audience(user, audiences.REGION_OVERSIGHT):
        return gettext("只列出居住在您辖区内的党员。")
    return ""


@require_perm(Perm.ROSTER_VIEW)
def roster(request):
    unit = _unit_from(request, request.GET.get("unit"))
    if unit is None:
        return _unit_picker(request)
    include_sub = request.GET.get("sub") == "1"
    members = roster_members(request.user, unit, include_sub=include_sub)
    target = current_target()
    status = request.GET.get("status", "")
    status = status if status in ReportStatus.LABELS else ""
    q = request.GET.get("q", "").strip()
    by_status, page = roster_page(
        members,
        status=status,
        q=q,
        number=request.GET.get("page"),
        per_page=PAGE_SIZE,
        day=target.today,
        with_unit=include_sub,
    )
    counts = Rate.from_counts(by_status)
    can_member = user_has_perm(request.user, Perm.MEMBER_VIEW)
    can_exempt = user_has_perm(request.user, Perm.EXEMPTION_MANAGE)
    base = {"unit": unit.pk, **({"sub": "1"} if include_sub else {})}
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "unit": unit,
        "include_sub": include_sub,
        "has_children": unit.has_children,
        "counts": counts,
        "target": target,
        "level": target.level(counts),
        "status": status,
        "status_label": ReportStatus.LABELS.get(status, ""),
        "q": q,
        "tabs": [(s, str(ReportStatus.LABELS[s]), counts.count(s)) for s in TABS],
        "page": page,
        "members": page.object_list,
        "base": base,
        "querystring_base": f"{query.urlencode()}&" if query else "",
        "scope_note": _scope_note(request.user),
        "here": request.get_full_path(),
        "can_exempt": can_exempt,
        "can_remind": user_has_perm(request.user, Perm.REMINDER_SEND),
        "can_member": can_member,
        "can_stats": user_has_perm(request.user, Perm.STATS_VIEW),
    }
    return render(request, "roster/roster.html", context)


def _unit_picker(request):
    """Region roles choose a unit of their scope first."""
    q = request.GET.get("q", "").strip()
    units = unit_list_for_user(request.user).filter(is_active=True).order_by("name")
    if q:
        units = units.filter(name__contains=q)
    page = Paginator(units, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "roster/unit_picker.html",
        {
            "page": page,
            "units": page.object_list,
            "q": q,
            "querystring_base": f"{query.urlencode()}&" if query else "",
        },
    )


@require_perm(Perm.ROSTER_VIEW)
def outstanding_export(request):
    """未报到名单 (.xlsx): the unit's outstanding members, phones masked, audited."""
    unit = _unit_from(request, request.GET.get("unit"))
    if unit is None:
        raise Http404
    include_sub = request.GET.get("sub") == "1"
    members = roster_members(request.user, unit, include_sub=include_sub)
    qs = filter_report_status(members, ReportStatus.OUTSTANDING).order_by(
        "work_unit__name", "name_pinyin", "id"
    )
    exporter = OutstandingExporter(user=request.user, queryset=qs, unit=unit, include_sub=include_sub)
    return exporter.response()


@require_POST
@require_perm(Perm.REMINDER_SEND)
def remind(request):
    unit = _unit_from(request, request.POST.get("unit"))
    if unit is None:
        raise Http404
    include_sub = request.POST.get("sub") == "1"
    members = roster_members(request.user, unit, include_sub=include_sub)
    target = current_target()
    sent, skipped = reminders_send(
        members=members, campaign=target.campaign, actor=request.user, request=request, unit=unit
    )
    if sent:
        messages.success(
            request,
            ngettext("已向 %(sent)s 名未报到党员发送提醒。", "已向 %(sent)s 名未报到党员发送提醒。", sent)
            % {"sent": sent},
        )
    elif not skipped:
        messages.info(request, gettext("没有未报到的党员，无需提醒。"))
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(skipped)s 名党员在 24 小时内已提醒过，本次跳过。",
                "%(skipped)s 名党员在 24 小时内已提醒过，本次跳过。",
                skipped,
            )
            % {"skipped": skipped},
        )
    url = reverse("roster:unit") + f"?unit={unit.pk}" + ("&sub=1" if include_sub else "")
    return redirect(url)


# --- exemptions -------------------------------------------------------------------------------


class ExemptionForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("原因"), choices=ExemptionReason.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    valid_until = forms.DateField(label=_("有效期至"), widget=DateInput(attrs={"class": "form-control"}))
    note = forms.CharField(
        label=_("说明"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": _("如：外派至某地挂职，预计年底返回")}
        ),
    )

    def clean_valid_until(self):
        value = self.cleaned_data["valid_until"]
        if value < timezone.localdate():
            raise forms.ValidationError(gettext("有效期不能早于今天。"))
        return value


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/roster/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _roster_url(member: Member) -> str:
    return reverse("roster:unit") + f"?unit={member.work_unit_id}"


@require_perm(Perm.EXEMPTION_MANAGE)
def exemption_set(request, pk):
    member = member_get_for_user(user=request.user, pk=pk)
    if member.status != MemberStatus.ACTIVE:
        raise Http404
    target = current_target()
    default_until = (
        target.campaign.ends_on
        if target.campaign and target.campaign.ends_on >= target.today
        else target.today + dt.timedelta(days=180)
    )
    form = ExemptionForm(request.POST or None, initial={"valid_until": default_until})
    next_url = _next_url(request, _roster_url(member))
    if request.method == "POST" and form.is_valid():
        try:
            reporting.exemption_set(
                member=member,
                reason=form.cleaned_data["reason"],
                valid_until=form.cleaned_data["valid_until"],
                note=form.cleaned_data["note"],
                actor=request.user,
                request=request,
            )
        except reporting.ReportingError as exc:
            form.add_error(None, error_message(exc))
        else:
            messages.success(
                request,
                gettext("已为 %(name)s 设置免报到，有效期至 %(value)s。")
                % {"name": member.name, "value": format(form.cleaned_data["valid_until"], "%Y-%m-%d")},
            )
            return redirect(next_url)
    current = member.exemptions.filter(revoked_at__isnull=True, valid_until__gte=target.today).first()
    return render(
        request,
        "roster/exemption_form.html",
        {"member": member, "form": form, "current": current, "next": next_url},
    )


@require_POST
@require_perm(Perm.EXEMPTION_MANAGE)
def exemption_revoke(request, pk):
    try:
        exemption = Exemption.objects.select_related("member").get(
            pk=pk, member__in=member_list_for_user(request.user)
        )
    except (Exemption.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    reporting.exemption_revoke(exemption=exemption, actor=request.user, request=request)
    messages.success(
        request, gettext("已撤销 %(name)s 的免报到，其重新计入应报到人数。") % {"name": exemption.member.name}
    )
    return redirect(_next_url(request, _roster_url(exemption.member)))


# --- the member's inbox -----------------------------------------------------------------------


@require_perm(Perm.REPORT_SELF)
def inbox(request):
    """The member's inbox lives at /report/inbox/; this older address stays valid for links already sent."""
    return redirect("report:inbox", permanent=True)
