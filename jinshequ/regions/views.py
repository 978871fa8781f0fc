from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.members.models import Member, MemberStatus
from jinshequ.regions import services
from jinshequ.regions.forms import RegionForm
from jinshequ.regions.models import RegionKind
from jinshequ.regions.policies import region_policy
from jinshequ.regions.selectors import region_get_for_user, region_list_for_user


def _member_counts(regions) -> dict[int, int]:
    """Active members living in each region's subtree, from one grouped query over communities."""
    communities = [r for r in regions if r.kind == RegionKind.COMMUNITY]
    per_community = (
        dict(
            Member.objects.filter(community__in=communities, status=MemberStatus.ACTIVE)
            .values_list("community")
            .annotate(n=Count("id"))
            .values_list("community", "n")
        )
        if communities
        else {}
    )
    totals: dict[int, int] = {}
    for c in communities:
        n = per_community.get(c.pk, 0)
        for ancestor in c.path.strip(".").split("."):
            totals[int(ancestor)] = totals.get(int(ancestor), 0) + n
    return totals


def _can_manage(user, region) -> bool:
    """Managers may edit regions below their own anchor (a district admin edits streets, not the district)."""
    return region_policy.can(user, "manage", region)


@require_perm(Perm.REGION_VIEW)
def region_list(request):
    qs = region_list_for_user(request.user)
    q = request.GET.get("q", "").strip()
    show_inactive = request.GET.get("inactive") == "1"
    if not show_inactive:
        qs = qs.filter(is_active=True)
    regions = list(qs.order_by("path"))
    counts = _member_counts(regions)
    if q:
        regions = [r for r in regions if q in r.name]
    rows = [
        {
            "region": r,
            "members": counts.get(r.pk, 0),
            "indent": min(r.depth - (regions[0].depth if regions else 0), 4),
        }
        for r in regions
    ]
    kinds = {k: sum(1 for r in regions if r.kind == k) for k in RegionKind.values}
    return render(
        request,
        "regions/region_list.html",
        {
            "rows": rows,
            "q": q,
            "show_inactive": show_inactive,
            "kinds": kinds,
            "can_manage": user_has_perm(request.user, Perm.REGION_MANAGE),
        },
    )


@require_perm(Perm.REGION_VIEW)
def region_detail(request, pk):
    region = region_get_for_user(user=request.user, pk=pk)
    children = list(region_list_for_user(request.user).filter(parent=region).order_by("name"))
    subtree = list(region_list_for_user(request.user).filter(path__startswith=region.path))
    counts = _member_counts(subtree)
    stats = Member.objects.filter(
        community__in=[r for r in subtree if r.kind == RegionKind.COMMUNITY]
    ).aggregate(
        active=Count("id", filter=Q(status=MemberStatus.ACTIVE)),
        cadres=Count("id", filter=Q(status=MemberStatus.ACTIVE, is_leading_cadre=True)),
        left=Count("id", filter=Q(status=MemberStatus.LEFT)),
    )
    ancestors = (
        region_list_for_user(request.user)
        .filter(pk__in=[int(x) for x in region.path.strip(".").split(".")[:-1]])
        .order_by("path")
    )
    return render(
        request,
        "regions/region_detail.html",
        {
            "region": region,
            "children": [(c, counts.get(c.pk, 0)) for c in children],
            "stats": stats,
            "ancestors": ancestors,
            "can_manage": _can_manage(request.user, region),
        },
    )


@require_perm(Perm.REGION_MANAGE)
def region_create(request):
    initial = {}
    if request.GET.get("parent"):
        parent = region_get_for_user(user=request.user, pk=request.GET["parent"])
        child_kind = {
            RegionKind.CITY: RegionKind.DISTRICT,
            RegionKind.DISTRICT: RegionKind.STREET,
            RegionKind.COUNTY: RegionKind.STREET,
            RegionKind.STREET: RegionKind.COMMUNITY,
        }.get(parent.kind)
        initial = {"parent": parent.pk, "kind": child_kind}
    form = RegionForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            region = services.region_create(
                name=d["name"],
                kind=d["kind"],
                parent=d["parent"],
                actor=request.user,
                request=request,
                code=d["code"],
                address=d["address"],
                office_phone=d["office_phone"],
            )
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(
                request,
                gettext("已新建%(get_kind_display)s“%(name)s”。")
                % {"get_kind_display": region.get_kind_display(), "name": region.name},
            )
            return redirect("regions:detail", pk=region.pk)
    return render(request, "regions/region_form.html", {"form": form, "creating": True})


def _apply(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@require_perm(Perm.REGION_MANAGE)
def region_edit(request, pk):
    region = region_get_for_user(user=request.user, pk=pk)
    if not _can_manage(request.user, region):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    initial = {
        "name": region.name,
        "kind": region.kind,
        "parent": region.parent_id,
        "code": region.code,
        "address": region.address,
        "office_phone": region.office_phone,
    }
    form = RegionForm(request.POST or None, user=request.user, region=region, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.region_update(region=region, actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, gettext("已保存修改。"))
            return redirect("regions:detail", pk=region.pk)
    return render(request, "regions/region_form.html", {"form": form, "region": region, "creating": False})


@require_POST
@require_perm(Perm.REGION_MANAGE)
def region_set_active(request, pk):
    region = region_get_for_user(user=request.user, pk=pk)
    if not _can_manage(request.user, region):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    active = request.POST.get("active") == "1"
    try:
        services.region_set_active(region=region, active=active, actor=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            (gettext("已启用“%(name)s”。") if active else gettext("已停用“%(name)s”。"))
            % {"name": region.name},
        )
    return redirect("regions:detail", pk=region.pk)
