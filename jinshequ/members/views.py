from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.accounts.services import audit
from jinshequ.core.errors import error_message
from jinshequ.imports.models import ImportJob
from jinshequ.imports.views import UploadForm, handle_upload, max_mb, recent_jobs
from jinshequ.members import services
from jinshequ.members.choices import KINDS, blank_choice, pick_choices
from jinshequ.members.exports import MemberListExporter
from jinshequ.members.forms import MemberFilterForm, MemberForm, RevealForm, SkillForm, StatusForm
from jinshequ.members.importers import MemberImporter
from jinshequ.members.models import Gender, Member, MemberStatus, PartyStatus, Skill
from jinshequ.members.policies import member_policy
from jinshequ.members.selectors import (
    is_full_identifier,
    member_filter,
    member_get_for_user,
    member_list_for_user,
    member_search,
)

PAGE_SIZE = 50
# What a row of the list shows, read as plain values: no model instances for a 50-row page.
LIST_VALUES = (
    "pk",
    "name",
    "is_leading_cadre",
    "gender",
    "id_number_masked",
    "phone_masked",
    "party_status",
    "status",
    "work_unit__name",
    "community__name",
)


def _filters(request):
    form = MemberFilterForm(request.GET or None, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    return form, data


def _filtered(request, data):
    qs = member_filter(
        request.user,
        q=data.get("q", ""),
        unit=data.get("unit"),
        community=data.get("community"),
        status=data.get("status", ""),
        party_status=data.get("party_status", ""),
        sort=data.get("sort") or "name",
    )
    # a name typed in a searchable pick list and no option chosen (e.g. without JavaScript): names that contain it
    if data.get("unit_name") and not data.get("unit"):
        qs = qs.filter(work_unit__name__contains=data["unit_name"])
    if data.get("community_name") and not data.get("community"):
        qs = qs.filter(community__name__contains=data["community_name"])
    if data.get("report"):  # check-off status (active members only), e.g. from the report-in rates page
        from jinshequ.members.reporting_selectors import filter_report_status

        qs = filter_report_status(qs, data["report"])
    return qs


@require_perm(Perm.MEMBER_VIEW)
def member_list(request):
    form, data = _filters(request)
    if is_full_identifier(data.get("q", "")):
        # Whole ID numbers and phones never go into URLs or access logs: use the POST look-up instead.
        messages.warning(
            request,
            gettext("为保护个人信息，完整的身份证号或手机号请在“精确查找”中输入；这里可按后四位搜索。"),
        )
        data = {**data, "q": ""}
    # counted on the model query (no joins), the page's rows read as values
    page = Paginator(_filtered(request, data), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = page.object_list.values(*LIST_VALUES)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "members": _list_rows(page.object_list),
        "querystring": query.urlencode(),
        "querystring_base": f"{query.urlencode()}&" if query else "",
        "filtered": any(
            data.get(k)
            for k in ("q", "unit", "unit_name", "community", "community_name", "status", "party_status")
        ),
    }
    if request.htmx:
        return render(request, "members/member_list.html#results", context)
    return render(request, "members/member_list.html", context)


def _list_rows(rows) -> list[SimpleNamespace]:
    """The list's rows (``LIST_VALUES`` dicts) with their choice labels, looked up once per page
    (``get_FOO_display`` re-translates every choice on each call)."""
    labels = {
        name: {k: str(v) for k, v in choices.choices}
        for name, choices in (("gender", Gender), ("party_status", PartyStatus), ("status", MemberStatus))
    }
    return [
        SimpleNamespace(
            **row,
            unit_name=row["work_unit__name"],
            community_name=row["community__name"],
            gender_label=labels["gender"].get(row["gender"], row["gender"]),
            party_status_label=labels["party_status"].get(row["party_status"], row["party_status"]),
            status_label=labels["status"].get(row["status"], row["status"]),
        )
        for row in rows
    ]


@require_perm(Perm.MEMBER_VIEW)
def member_choices(request, kind):
    """The ``<option>``s of a searchable pick list (``members.choices``) for the text typed so far: htmx swaps
    them into the list's ``<select>``, or with ``names=1`` into a ``<datalist>`` of names (the move form, which
    takes a unit's name). Scoped by the same selectors as the forms; a fixed number of queries."""
    if kind not in KINDS:
        raise Http404
    filtering = request.GET.get("all") == "1"
    choices = pick_choices(
        request.user, kind, q=request.GET.get(f"{kind}_name", ""), selected=request.GET.get(kind)
    )
    if request.GET.get("names") == "1":
        return render(request, "members/_choices.html#names", {"choices": choices})
    return render(
        request,
        "members/_choices.html",
        {
            "blank": blank_choice(kind, filtering=filtering),
            "choices": choices,
            "selected": choices[0][0] if choices and str(choices[0][0]) == request.GET.get(kind) else None,
        },
    )


@require_POST
@require_perm(Perm.MEMBER_VIEW)
def member_lookup(request):
    """Exact look-up by a whole ID number or phone, sent by POST so the value stays out of URLs (R23)."""
    value = request.POST.get("value", "").strip()
    form = MemberFilterForm(None, user=request.user)
    if not is_full_identifier(value):
        messages.error(request, gettext("请输入完整的 18 位身份证号或 11 位手机号。"))
        members = Member.objects.none()
    else:
        members = member_search(member_list_for_user(request.user), value).values(*LIST_VALUES)
    page = Paginator(members, PAGE_SIZE).get_page(1)
    response = render(
        request,
        "members/member_list.html",
        {
            "form": form,
            "page": page,
            "members": _list_rows(page.object_list),
            "querystring": "",
            "querystring_base": "",
            "filtered": True,
            "lookup": True,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@require_perm(Perm.MEMBER_EXPORT)
def member_export(request):
    form, data = _filters(request)
    qs = _filtered(request, data)
    full = request.GET.get("full") == "1"
    if full and not user_has_perm(request.user, Perm.MEMBER_VIEW_SENSITIVE):
        raise PermissionDenied
    return MemberListExporter(user=request.user, queryset=qs, params=data, full=full).response()


@require_perm(Perm.MEMBER_VIEW)
def member_detail(request, pk):
    member = member_get_for_user(user=request.user, pk=pk)
    return render(request, "members/member_detail.html", _detail_context(request, member))


def _detail_context(request, member, **extra):
    from jinshequ.accounts.models import AuditEvent

    history = (
        AuditEvent.objects.filter(object_type="members.member", object_id=str(member.pk)).exclude(
            event="member.revealed"
        )[:20]
        if member_policy.can(request.user, "history", member)
        else []
    )
    from jinshequ.members.models import UnitChange

    return {
        "member": member,
        "registrations": list(
            member.registrations.select_related("community").order_by("-submitted_at", "-id")[:20]
        ),
        "unit_changes": list(
            UnitChange.objects.filter(member=member).select_related("from_unit", "to_unit")[:20]
        ),
        "can_merge": user_has_perm(request.user, Perm.MEMBER_MERGE),
        "skills": list(member.skills.all()),
        "can_edit": user_has_perm(request.user, Perm.MEMBER_MANAGE),
        "can_reveal": user_has_perm(request.user, Perm.MEMBER_VIEW_SENSITIVE),
        "history": history,
        "reveal_form": RevealForm(),
        "status_form": StatusForm(),
        **extra,
    }


@require_perm(Perm.MEMBER_MANAGE)
def member_create(request):
    form = MemberForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.member_create(
                actor=request.user,
                request=request,
                id_number=form.cleaned_data["id_number"],
                phone=form.cleaned_data["phone"],
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, gettext("已登记党员 %(name)s。") % {"name": member.name})
            return redirect("members:detail", pk=member.pk)
    return render(request, "members/member_form.html", {"form": form, "creating": True})


@require_perm(Perm.MEMBER_MANAGE)
def member_edit(request, pk):
    member = member_get_for_user(user=request.user, pk=pk)
    initial = {
        "name": member.name,
        "gender": member.gender,
        "birth_date": member.birth_date,
        "work_unit": member.work_unit_id,
        "community": member.community_id,
        "address": member.address,
        "party_status": member.party_status,
        "is_leading_cadre": member.is_leading_cadre,
        "joined_party_on": member.joined_party_on,
        "skills": list(member.skills.values_list("pk", flat=True)),
        "avail_weekday_day": member.avail_weekday_day,
        "avail_weekday_evening": member.avail_weekday_evening,
        "avail_weekend": member.avail_weekend,
    }
    form = MemberForm(request.POST or None, user=request.user, member=member, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(
                member=member,
                actor=request.user,
                request=request,
                id_number=form.cleaned_data["id_number"] or None,
                phone=form.cleaned_data["phone"] or None,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, gettext("已保存修改。"))
            return redirect("members:detail", pk=member.pk)
    return render(request, "members/member_form.html", {"form": form, "member": member, "creating": False})


@require_POST
@require_perm(Perm.MEMBER_MANAGE)
def member_set_status(request, pk):
    member = member_get_for_user(user=request.user, pk=pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("操作无效。"))
    elif form.cleaned_data["action"] == "left":
        services.member_mark_left(
            member=member,
            actor=request.user,
            request=request,
            left_on=form.cleaned_data["left_on"],
            reason=form.cleaned_data["reason"],
        )
        messages.success(
            request, gettext("已将 %(name)s 标记为离开；记录保留，可随时恢复。") % {"name": member.name}
        )
    else:
        services.member_reactivate(member=member, actor=request.user, request=request)
        messages.success(request, gettext("已恢复 %(name)s 为在职。") % {"name": member.name})
    return redirect("members:detail", pk=member.pk)


@require_POST
def member_reveal(request, pk):
    """Show one full ID number or phone: allowed roles only, in scope, with a reason, audited (R21)."""
    if not user_has_perm(request.user, Perm.MEMBER_VIEW_SENSITIVE):
        raise Http404
    member = member_get_for_user(user=request.user, pk=pk)
    form = RevealForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, member, reveal_form=form)
        return render(request, "members/member_detail.html", context, status=400)
    try:
        value = services.member_reveal(
            member=member,
            field=form.cleaned_data["field"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
            request=request,
        )
    except services.RevealLimitExceeded as exc:
        return render(
            request,
            "members/member_detail.html",
            _detail_context(request, member, reveal_error=exc.message),
            status=429,
        )
    revealed = {form.cleaned_data["field"]: value}
    response = render(
        request, "members/member_detail.html", _detail_context(request, member, revealed=revealed)
    )
    response["Cache-Control"] = "no-store"
    return response


@require_perm(Perm.SELF_SERVICE)
def member_me(request):
    """The member's home: report-in status, contact card, inbox and a masked profile summary."""
    from jinshequ.members.views_report import member_home_context

    member = Member.objects.filter(user=request.user).select_related("work_unit", "community").first()
    if member is None:
        return render(request, "members/member_me.html", {"member": None})
    return render(request, "members/member_me.html", member_home_context(request, member))


@require_perm(Perm.SKILL_MANAGE)
def skill_list(request):
    form = SkillForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("toggle"):
            skill = Skill.objects.filter(pk=request.POST["toggle"]).first()
            if skill is None:
                raise Http404
            with transaction.atomic():
                skill.is_active = not skill.is_active
                skill.save(update_fields=["is_active"])
                audit(
                    event="skill.updated",
                    request=request,
                    obj=skill,
                    changes={"is_active": [str(not skill.is_active), str(skill.is_active)]},
                )
            return redirect("members:skills")
        if form.is_valid():
            with transaction.atomic():
                skill = Skill.objects.create(name=form.cleaned_data["name"], sort_order=Skill.objects.count())
                audit(event="skill.created", request=request, obj=skill, changes={"name": [None, skill.name]})
            messages.success(request, gettext("已添加特长“%(name)s”。") % {"name": skill.name})
            return redirect("members:skills")
    from django.db.models import Count, Q

    skills = Skill.objects.annotate(n=Count("members", filter=Q(members__status="active")))
    return render(request, "members/skill_list.html", {"form": form, "skills": skills})


@require_POST
@require_perm(Perm.MEMBER_MANAGE)
def member_move(request, pk):
    """Move a member to another work unit (调动); the unit history is kept."""
    from jinshequ.members.reporting import ReportingError, member_move_unit
    from jinshequ.units.models import WorkUnit

    member = member_get_for_user(user=request.user, pk=pk)
    name = request.POST.get("work_unit_name", "").strip()  # the unit's name, suggested by members:choices
    unit = WorkUnit.objects.filter(name=name, is_active=True).first()
    if unit is None:
        import difflib

        names = list(WorkUnit.objects.filter(is_active=True).values_list("name", flat=True))
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
        hint = gettext("您是不是要找：%(join)s？") % {"join": gettext("、").join(close)} if close else ""
        messages.error(
            request, gettext("没有找到名为“%(name)s”的启用单位。%(hint)s") % {"name": name, "hint": hint}
        )
        return redirect("members:detail", pk=member.pk)
    try:
        member_move_unit(
            member=member,
            to_unit=unit,
            actor=request.user,
            request=request,
            on=_parse_date(request.POST.get("on")),
        )
    except ReportingError as exc:
        messages.error(request, error_message(exc))
        return redirect("members:detail", pk=member.pk)
    messages.success(
        request,
        gettext("已将 %(name)s 调至 %(name2)s，调动记录已保存。") % {"name": member.name, "name2": unit.name},
    )
    if member_list_for_user_contains(request.user, member.pk):
        return redirect("members:detail", pk=member.pk)
    return redirect("members:list")


def _parse_date(value):
    import datetime as dt

    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def member_list_for_user_contains(user, pk) -> bool:
    from jinshequ.members.selectors import member_list_for_user

    return member_list_for_user(user).filter(pk=pk).exists()


@require_perm(Perm.MEMBER_MERGE)
def member_merge(request, pk):
    """Merge a duplicate record of the same person into this member, after a side-by-side check."""
    from jinshequ.members.reporting import ReportingError
    from jinshequ.members.reporting import member_merge as merge_service
    from jinshequ.members.selectors import member_list_for_user, member_search

    keep = member_get_for_user(user=request.user, pk=pk)
    term = (request.POST.get("q") or request.GET.get("q", "")).strip()
    candidates = []
    if term:
        candidates = list(
            member_search(member_list_for_user(request.user), term)
            .exclude(pk=keep.pk)
            .exclude(status="merged")
            .select_related("work_unit", "community")[:20]
        )
    duplicate = None
    if request.GET.get("other") or request.POST.get("other"):
        duplicate = member_get_for_user(
            user=request.user, pk=request.GET.get("other") or request.POST.get("other")
        )
    if request.method == "POST" and duplicate is not None and not request.POST.get("q"):
        try:
            merge_service(keep=keep, duplicate=duplicate, actor=request.user, request=request)
        except ReportingError as exc:
            messages.error(request, error_message(exc))
        else:
            messages.success(
                request,
                gettext("已把记录 #%(pk)s 合并到 %(name)s，两条记录的报到、联系卡和历史都已保留。")
                % {"pk": duplicate.pk, "name": keep.name},
            )
            return redirect("members:detail", pk=keep.pk)
    return render(
        request,
        "members/member_merge.html",
        {"keep": keep, "duplicate": duplicate, "candidates": candidates, "q": term},
    )


@require_http_methods(["GET", "POST"])
@require_perm(Perm.MEMBER_IMPORT)
def import_upload(request):
    form = UploadForm()
    if request.method == "POST":
        form, job = handle_upload(request, ImportJob.Kind.MEMBERS)
        if job is not None:
            return redirect("imports:detail", pk=job.pk)
    return render(
        request,
        "members/import_upload.html",
        {
            "form": form,
            "columns": MemberImporter.columns,
            "jobs": recent_jobs(request.user, ImportJob.Kind.MEMBERS),
            "max_mb": max_mb(),
        },
    )
