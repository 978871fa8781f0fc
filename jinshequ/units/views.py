from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.members.models import Member, MemberStatus
from jinshequ.units import services
from jinshequ.units.forms import UnitForm
from jinshequ.units.models import UnitKind
from jinshequ.units.policies import unit_policy
from jinshequ.units.selectors import unit_get_for_user, unit_list_for_user


def _can_manage(user, unit) -> bool:
    """Unit admins manage their sub-units but not their own unit's placement; others manage in scope."""
    return unit_policy.can(user, "manage", unit)


@require_perm(Perm.UNIT_VIEW)
def unit_list(request):
    qs = unit_list_for_user(request.user)
    q = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(short_name__contains=q))
    if kind in UnitKind.values:
        qs = qs.filter(kind=kind)
    if request.GET.get("inactive") != "1":
        qs = qs.filter(is_active=True)
    qs = qs.select_related("region", "parent").order_by("name")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    units = list(page.object_list)
    counts = dict(
        Member.objects.filter(work_unit__in=units, status=MemberStatus.ACTIVE)
        .values_list("work_unit")
        .annotate(n=Count("id"))
        .values_list("work_unit", "n")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "units/unit_list.html",
        {
            "page": page,
            "rows": [(u, counts.get(u.pk, 0)) for u in units],
            "q": q,
            "kind": kind,
            "kinds": UnitKind.choices,
            "show_inactive": request.GET.get("inactive") == "1",
            "querystring_base": f"{query.urlencode()}&" if query else "",
            "can_create": user_has_perm(request.user, Perm.UNIT_MANAGE),
        },
    )


@require_perm(Perm.UNIT_VIEW)
def unit_detail(request, pk):
    unit = unit_get_for_user(user=request.user, pk=pk)
    children = unit_list_for_user(request.user).filter(parent=unit).order_by("name")
    members = Member.objects.filter(work_unit__path__startswith=unit.path)
    stats = members.aggregate(
        active=Count("id", filter=Q(status=MemberStatus.ACTIVE)),
        own=Count("id", filter=Q(status=MemberStatus.ACTIVE, work_unit=unit)),
        cadres=Count("id", filter=Q(status=MemberStatus.ACTIVE, is_leading_cadre=True)),
        left=Count("id", filter=Q(status=MemberStatus.LEFT)),
    )
    communities = (
        members.filter(status=MemberStatus.ACTIVE)
        .values("community__name")
        .annotate(n=Count("id"))
        .order_by("-n")[:10]
    )
    return render(
        request,
        "units/unit_detail.html",
        {
            "unit": unit,
            "children": children,
            "stats": stats,
            "communities": communities,
            "can_manage": _can_manage(request.user, unit),
            "can_add_child": user_has_perm(request.user, Perm.UNIT_MANAGE),
        },
    )


def _apply(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@require_perm(Perm.UNIT_MANAGE)
def unit_create(request):
    initial = {}
    if request.GET.get("parent"):
        parent = unit_get_for_user(user=request.user, pk=request.GET["parent"])
        initial = {"parent": parent.pk, "region": parent.region_id}
    form = UnitForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.unit_create(actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, gettext("已新建单位“%(name)s”。") % {"name": unit.name})
            return redirect("units:detail", pk=unit.pk)
    return render(request, "units/unit_form.html", {"form": form, "creating": True})


@require_perm(Perm.UNIT_MANAGE)
def unit_edit(request, pk):
    unit = unit_get_for_user(user=request.user, pk=pk)
    if not _can_manage(request.user, unit):
        raise PermissionDenied
    initial = {f: getattr(unit, f) for f in ("name", "short_name", "kind", "party_org_name", "contact_name")}
    initial.update(parent=unit.parent_id, region=unit.region_id)
    form = UnitForm(request.POST or None, user=request.user, unit=unit, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.unit_update(unit=unit, actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, gettext("已保存修改。"))
            return redirect("units:detail", pk=unit.pk)
    return render(request, "units/unit_form.html", {"form": form, "unit": unit, "creating": False})


@require_POST
@require_perm(Perm.UNIT_MANAGE)
def unit_set_active(request, pk):
    unit = unit_get_for_user(user=request.user, pk=pk)
    if not _can_manage(request.user, unit):
        raise PermissionDenied
    active = request.POST.get("active") == "1"
    try:
        services.unit_set_active(unit=unit, active=active, actor=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            (gettext("已启用“%(name)s”。") if active else gettext("已停用“%(name)s”。"))
            % {"name": unit.name},
        )
    return redirect("units:detail", pk=unit.pk)
