"""Report-in rates (报到率) by region (city → district/county → street → community, by members' home
community) and by work unit (each unit with its subtree), with drill-down to the members behind each
number. Everything is scoped by ``member_list_for_user``; figures come from ``stats.selectors``.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.members.models import MemberStatus
from jinshequ.members.reporting_selectors import ReportStatus
from jinshequ.members.roster import attach_report_details, page_of, roster_rows
from jinshequ.members.selectors import member_search
from jinshequ.regions.models import Region
from jinshequ.stats.selectors import (
    members_in_scope,
    registration_rates_by_region,
    registration_rates_by_unit,
)
from jinshequ.units.models import WorkUnit

PAGE_SIZE = 50

SORTS = {
    "name": (lambda n: n.name, False),
    "rate": (lambda n: (n.rate.rate is None, n.rate.rate or 0), False),
    "-rate": (lambda n: (n.rate.rate is not None, n.rate.rate or 0), True),
    "outstanding": (lambda n: n.rate.outstanding, True),
    "active": (lambda n: n.rate.active, True),
}
SORT_LABELS = {
    "": _("默认"),
    "name": _("名称"),
    "rate": _("报到率从低到高"),
    "-rate": _("报到率从高到低"),
    "outstanding": _("未报到人数"),
    "active": _("党员人数"),
}


def _sorted(rows: list, sort: str) -> list:
    if sort in SORTS:
        key, reverse = SORTS[sort]
        return sorted(rows, key=key, reverse=reverse)
    return rows


def _mark(rows, target, kind: str) -> None:
    """Each row's highlight ('', 'below', 'warning': deadline near, 'danger': deadline passed) and
    the query string that selects its members."""
    for row in rows:
        row.level = target.level(row.rate)
        row.key = f"{kind}={row.pk}"


def _chart(rows, target) -> dict:
    return {
        "names": [r.name for r in rows[:60]],
        "rates": [r.rate.rate for r in rows[:60]],
        "target": float(target.rate) if target.rate is not None else None,
        "labels": {"rate": str(_("报到率")), "target": str(_("目标"))},
    }


@require_perm(Perm.STATS_VIEW)
def registration(request):
    view = "unit" if request.GET.get("view") == "unit" else "region"
    sort = request.GET.get("sort", "")
    sort = sort if sort in SORTS else ""
    context = {"view": view, "sort": sort, "sorts": SORT_LABELS.items()}
    if view == "region":
        rates = registration_rates_by_region(request.user)
        focus = None
        if request.GET.get("region"):
            focus = rates.get(request.GET["region"])
            if focus is None:
                raise Http404
        elif len(rates.roots) == 1:
            focus = rates.roots[0]
        if focus is None:
            rows, total, crumbs = rates.roots, rates.total, []
        else:
            rows = focus.children or [focus]
            total, crumbs = focus.rate, rates.ancestors(focus)
        rows = _sorted(rows, sort)
        _mark(rows, rates.target, "region")
        below = (
            (focus.below_communities, focus.communities)
            if focus
            else (sum(r.below_communities for r in rates.roots), sum(r.communities for r in rates.roots))
        )
        context.update(
            rates=rates,
            target=rates.target,
            focus=focus,
            rows=rows,
            total=total,
            crumbs=crumbs,
            below=below,
            level=rates.target.level(total),
            chart=_chart(rows, rates.target),
        )
    else:
        rates = registration_rates_by_unit(request.user)
        parent = None
        if request.GET.get("unit"):
            parent = rates.get(request.GET["unit"])
            if parent is None:
                raise Http404
        rows = (list(parent.children) or [parent]) if parent else list(rates.roots)
        q = request.GET.get("q", "").strip()
        if q:
            rows = [r for r in rows if q in r.name]
        rows = _sorted(rows, sort)
        total = parent.rate if parent else rates.total
        below = (
            (parent.below_units, parent.units)
            if parent
            else (sum(r.below_units for r in rates.roots), sum(r.units for r in rates.roots))
        )
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        _mark(page.object_list, rates.target, "unit")
        query = request.GET.copy()
        query.pop("page", None)
        context.update(
            rates=rates,
            target=rates.target,
            parent=parent,
            page=page,
            rows=page.object_list,
            q=q,
            below=below,
            own_row=parent.own
            if parent and parent.children and parent.own.active and page.number == 1
            else None,
            own_key=f"unit={parent.pk}&own=1" if parent else "",
            total=total,
            crumbs=rates.ancestors(parent) if parent else [],
            level=rates.target.level(total),
            chart=_chart(page.object_list, rates.target),
            querystring_base=f"{query.urlencode()}&" if query else "",
        )
    context["can_roster"] = user_has_perm(request.user, Perm.ROSTER_VIEW)
    return render(request, "stats/registration.html", context)


@require_perm(Perm.STATS_VIEW)
def registration_members(request):
    """The members behind one number: ``?region=<id>`` or ``?unit=<id>`` (``&own=1``: that unit alone),
    ``&report=<status>`` (``all``: every active member; empty: everyone expected to report)."""
    members = members_in_scope(request.user).filter(status=MemberStatus.ACTIVE)
    own = False
    if request.GET.get("region"):
        rates = registration_rates_by_region(request.user)
        node = rates.get(request.GET["region"])
        if node is None:
            raise Http404
        # ``IN (subtree ids)``, not a join on ``path LIKE`` (SQLite cannot index LIKE: a join scans every member)
        members = members.filter(community__in=Region.objects.filter(path__startswith=node.path).values("pk"))
        counts, kind = node.rate, "region"
    elif request.GET.get("unit"):
        rates = registration_rates_by_unit(request.user)
        node = rates.get(request.GET["unit"])
        if node is None:
            raise Http404
        own = request.GET.get("own") == "1"
        if own:
            members = members.filter(work_unit_id=node.pk)
            counts = node.own
        else:
            members = members.filter(
                work_unit__in=WorkUnit.objects.filter(path__startswith=node.path).values("pk")
            )
            counts = node.rate
        kind = "unit"
    else:
        raise Http404
    report = request.GET.get("report", "")
    report = report if report in ReportStatus.LABELS or report == "all" else ""
    q = request.GET.get("q", "").strip()
    rows = member_search(roster_rows(members, status=report, day=rates.target.today), q)
    known = None
    if not q:  # the totals are already counted: no COUNT query for the paginator
        known = (
            {"": counts.expected, "all": counts.active}[report]
            if report in ("", "all")
            else counts.count(report)
        )
    page = page_of(rows, request.GET.get("page"), count=known, per_page=PAGE_SIZE)
    page.object_list = attach_report_details(page.object_list, rates.target.today)
    query = request.GET.copy()
    query.pop("page", None)
    base = query.copy()
    for key in ("report", "q"):
        base.pop(key, None)
    tabs = [("", _("应报到"), counts.expected), ("all", _("全部在职"), counts.active)] + [
        (s, str(ReportStatus.LABELS[s]), counts.count(s)) for s in ReportStatus.ORDER
    ]
    return render(
        request,
        "stats/registration_members.html",
        {
            "node": node,
            "kind": kind,
            "own": own,
            "counts": counts,
            "report": report,
            "q": q,
            "report_label": {k: lbl for k, lbl, _n in tabs}.get(report, ""),
            "tabs": tabs,
            "crumbs": rates.ancestors(node),
            "target": rates.target,
            "page": page,
            "members": page.object_list,
            "base": base.urlencode(),
            "querystring_base": f"{query.urlencode()}&" if query else "",
            "can_member": user_has_perm(request.user, Perm.MEMBER_VIEW),
        },
    )
