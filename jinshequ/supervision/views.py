"""Pages for the 四个一 / 十个有 checklists: the member's own list, the city admin's items per campaign, a
community's 十个有 with evidence, a member's 四个一, member lists, and completion up the region and unit trees.

Views are thin: permissions by ``require_perm``, objects through ``supervision.selectors`` (404 out of scope),
writes through ``supervision.services``. A refused action shows the service's Chinese message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from jinshequ.access import audiences
from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.campaigns.models import Campaign
from jinshequ.core.errors import error_message
from jinshequ.members.models import Member
from jinshequ.members.reporting import current_registration
from jinshequ.regions.models import Region
from jinshequ.regions.selectors import region_get_for_user, region_list_for_user
from jinshequ.supervision import selectors as sel
from jinshequ.supervision import services
from jinshequ.supervision.forms import ItemForm, MarkForm
from jinshequ.supervision.models import ChecklistItem, ChecklistScope
from jinshequ.supervision.rules import get_rule
from jinshequ.supervision.services import ChecklistError
from jinshequ.units.models import WorkUnit

PAGE_SIZE = 50
MEMBER = ChecklistScope.MEMBER
COMMUNITY = ChecklistScope.COMMUNITY


def _campaign(request) -> Campaign | None:
    return sel.campaign_from(request.GET.get("campaign"))


def _campaign_query(request, campaign: Campaign | None) -> str:
    """``?campaign=<pk>`` when the page was asked for another campaign than the current one."""
    return f"?campaign={campaign.pk}" if campaign is not None and request.GET.get("campaign") else ""


def _campaign_choices() -> list[Campaign]:
    return list(Campaign.objects.order_by("-starts_on", "-pk")[:20])


# --- the member ----------------------------------------------------------------------------------


@require_perm(Perm.CHECKLIST_SELF)
def me(request):
    member = Member.objects.filter(user=request.user).select_related("community").first()
    if member is None:
        raise Http404
    campaign = _campaign(request)
    return render(
        request,
        "supervision/me.html",
        {
            "member": member,
            "campaign": campaign,
            "checklist": sel.member_checklist(member, campaign),
            "registration": current_registration(member),
        },
    )


# --- the city admin: items per campaign -------------------------------------------------------------------


def _items_url(campaign: Campaign) -> str:
    return f"{reverse('supervision:items')}?campaign={campaign.pk}"


@require_perm(Perm.CHECKLIST_MANAGE)
def items(request):
    source = request.POST if request.method == "POST" else request.GET
    campaign = sel.campaign_from(source.get("campaign"))
    forms = {str(scope): ItemForm(prefix=str(scope), scope=scope) for scope in ChecklistScope.values}
    status = 200
    if request.method == "POST":
        scope = request.POST.get("scope", "")
        if campaign is None or scope not in ChecklistScope.values:
            raise Http404
        form = forms[scope] = ItemForm(request.POST, prefix=scope, scope=scope)
        if form.is_valid():
            try:
                item = services.item_create(
                    campaign=campaign, scope=scope, actor=request.user, request=request, **form.cleaned_data
                )
            except ChecklistError as exc:
                form.add_error(None, error_message(exc))
                status = exc.status
            else:
                messages.success(request, gettext("已添加“%(title)s”。") % {"title": item.title})
                return redirect(_items_url(campaign))
        else:
            status = 400
    by_scope = sel.items_by_scope(campaign)
    sections = []
    for scope in ChecklistScope.values:
        rows = [(item, get_rule(scope, item.rule)) for item in by_scope.get(scope, [])]
        sections.append(
            {"scope": scope, "label": ChecklistScope(scope).label, "rows": rows, "form": forms[scope]}
        )
    return render(
        request,
        "supervision/items.html",
        {"campaign": campaign, "campaigns": _campaign_choices(), "sections": sections},
        status=status,
    )


@require_POST
@require_perm(Perm.CHECKLIST_MANAGE)
def defaults(request):
    campaign = sel.campaign_from(request.POST.get("campaign"))
    if campaign is None:
        raise Http404
    try:
        created = services.items_create_defaults(campaign=campaign, actor=request.user, request=request)
    except ChecklistError as exc:
        messages.error(request, error_message(exc))
    else:
        if created:
            messages.success(
                request,
                ngettext("已按默认清单添加 %(len)s 项。", "已按默认清单添加 %(len)s 项。", len(created))
                % {"len": len(created)},
            )
        else:
            messages.info(request, gettext("默认事项都已存在，没有新增。"))
    return redirect(_items_url(campaign))


@require_perm(Perm.CHECKLIST_MANAGE)
def item_edit(request, pk):
    item = get_object_or_404(ChecklistItem.objects.select_related("campaign"), pk=pk)
    initial = {"title": item.title, "rule": item.rule, "description": item.description}
    form = ItemForm(request.POST or None, scope=item.scope, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.item_update(item=item, actor=request.user, request=request, **form.cleaned_data)
            except ChecklistError as exc:
                form.add_error(None, error_message(exc))
                status = exc.status
            else:
                messages.success(request, gettext("已保存。"))
                return redirect(_items_url(item.campaign))
        else:
            status = 400
    return render(
        request,
        "supervision/item_form.html",
        {
            "item": item,
            "form": form,
            "scope_label": ChecklistScope(item.scope).label,
            "marks": item.marks.count(),
        },
        status=status,
    )


@require_POST
@require_perm(Perm.CHECKLIST_MANAGE)
def item_move(request, pk):
    item = get_object_or_404(ChecklistItem.objects.select_related("campaign"), pk=pk)
    try:
        services.item_move(
            item=item, direction=request.POST.get("direction", ""), actor=request.user, request=request
        )
    except ChecklistError as exc:
        messages.error(request, error_message(exc))
    return redirect(_items_url(item.campaign))


@require_POST
@require_perm(Perm.CHECKLIST_MANAGE)
def item_delete(request, pk):
    item = get_object_or_404(ChecklistItem.objects.select_related("campaign"), pk=pk)
    campaign, title = item.campaign, item.title
    marks = services.item_delete(item=item, actor=request.user, request=request)
    messages.success(
        request,
        (gettext("已删除“%(title)s”") % {"title": title})
        + (
            ngettext("及其 %(marks)s 条确认记录。", "及其 %(marks)s 条确认记录。", marks) % {"marks": marks}
            if marks
            else gettext("。")
        ),
    )
    return redirect(_items_url(campaign))


# --- completion up the trees ---------------------------------------------------------------------------


def _item_rows(items_list, tally: sel.Tally) -> list[dict]:
    return [{"item": i, "count": tally.item_count(i), "rate": tally.item_rate(i)} for i in items_list]


def _community_url(community_id: int, campaign_query: str = "") -> str:
    return reverse("supervision:community", kwargs={"pk": community_id}) + campaign_query


@require_perm(Perm.CHECKLIST_VIEW)
def overview(request):
    campaign = _campaign(request)
    query = _campaign_query(request, campaign)
    own_community = audiences.administered_community_id(request.user)
    if own_community is not None and not request.GET.get("region"):
        return redirect(_community_url(own_community, query))
    tree = sel.checklist_tree(request.user, campaign)
    node = None
    if request.GET.get("region"):
        node = tree.get(request.GET["region"])
        if node is None:
            raise Http404
        if node.is_community:
            return redirect(_community_url(node.pk, query))
    rows = node.children if node else tree.roots
    if node is None and len(rows) == 1 and rows[0].children:
        node, rows = rows[0], rows[0].children
    members, communities = tree.totals(node)
    missing, missing_count = tree.communities_missing(node)
    return render(
        request,
        "supervision/overview.html",
        {
            "tree": tree,
            "campaign": campaign,
            "campaigns": _campaign_choices(),
            "campaign_query": query,
            "node": node,
            "rows": rows,
            "ancestors": tree.ancestors(node) if node else [],
            "members": members,
            "communities": communities,
            "missing": missing,
            "missing_count": missing_count,
            "member_items": tree.member_items,
            "community_items": tree.community_items,
            "member_item_rows": _item_rows(tree.member_items, members),
            "community_item_rows": _item_rows(tree.community_items, communities),
            "can_manage": user_has_perm(request.user, Perm.CHECKLIST_MANAGE),
            "keep": [("region", node.pk)] if node else [],
        },
    )


@require_perm(Perm.CHECKLIST_MEMBER_VIEW)
def overview_units(request):
    campaign = _campaign(request)
    tree = sel.checklist_unit_tree(request.user, campaign)
    node = None
    if request.GET.get("unit"):
        node = tree.get(request.GET["unit"])
        if node is None:
            raise Http404
    rows = node.children if node else tree.roots
    if node is None and len(rows) == 1 and rows[0].children:
        node, rows = rows[0], rows[0].children
    return render(
        request,
        "supervision/overview_units.html",
        {
            "tree": tree,
            "campaign": campaign,
            "campaigns": _campaign_choices(),
            "campaign_query": _campaign_query(request, campaign),
            "node": node,
            "rows": rows,
            "ancestors": tree.ancestors(node) if node else [],
            "members": tree.total(node),
            "member_items": tree.member_items,
            "perms_view": user_has_perm(request.user, Perm.CHECKLIST_VIEW),
            "keep": [("unit", node.pk)] if node else [],
            "unit_rows": [
                {"node": r, "items": [(i, r.members.item_count(i)) for i in tree.member_items]} for r in rows
            ],
        },
    )


# --- a community's 十个有 ----------------------------------------------------------------------------------


def _back(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require_perm(Perm.CHECKLIST_VIEW)
def community(request, pk):
    community_obj = sel.checklist_community_get_for_user(user=request.user, pk=pk)
    campaign = _campaign(request)
    by_scope = sel.items_by_scope(campaign)
    member_items = by_scope[str(MEMBER)]
    checklist = sel.community_checklist(community_obj, campaign, by_scope[str(COMMUNITY)])
    regs = sel.checklist_registrations(request.user).filter(community=community_obj)
    tally = sel.member_tally(regs, member_items, campaign)
    ancestor_ids = [int(x) for x in community_obj.path.strip(".").split(".") if x][:-1]
    ancestors = list(region_list_for_user(request.user).filter(pk__in=ancestor_ids).order_by("path"))
    return render(
        request,
        "supervision/community.html",
        {
            "community": community_obj,
            "campaign": campaign,
            "campaigns": _campaign_choices(),
            "campaign_query": _campaign_query(request, campaign),
            "checklist": checklist,
            "member_items": member_items,
            "tally": tally,
            "ancestors": ancestors,
            "item_rows": _item_rows(member_items, tally),
            "can_mark": sel.community_markable(request.user, community_obj),
            "show_tree": not audiences.in_audience(request.user, audiences.COMMUNITY_ADMINS),
        },
    )


def _mark(request, *, scope: str, target: dict, back: str):
    form = MarkForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("请求无效，请重试。"))
        return redirect(back)
    item = ChecklistItem.objects.filter(pk=form.cleaned_data["item"], scope=scope).first()
    if item is None:
        raise Http404
    done = form.cleaned_data["action"] == "mark"
    try:
        services.mark_set(
            item=item,
            done=done,
            note=form.cleaned_data["note"],
            actor=request.user,
            request=request,
            **target,
        )
    except ChecklistError as exc:
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request,
            gettext("已确认“%(title)s”。") % {"title": item.title}
            if done
            else gettext("已撤销“%(title)s”的确认。") % {"title": item.title},
        )
    return redirect(back)


@require_POST
@require_perm(Perm.CHECKLIST_MARK_COMMUNITY)
def community_mark(request, pk):
    community_obj = sel.checklist_community_get_for_user(user=request.user, pk=pk)
    if not sel.community_markable(request.user, community_obj):
        raise Http404
    return _mark(
        request,
        scope=COMMUNITY,
        target={"community": community_obj},
        back=_back(request, _community_url(community_obj.pk)),
    )


# --- members' 四个一 --------------------------------------------------------------------------------------


def _region_filter(request, value) -> Region | None:
    if not value:
        return None
    if user_has_perm(request.user, Perm.CHECKLIST_VIEW):
        return region_get_for_user(user=request.user, pk=value)
    region = Region.objects.filter(pk=value).first() if str(value).isdigit() else None
    if (
        region is None
        or not sel.checklist_registrations(request.user)
        .filter(community__path__startswith=region.path)
        .exists()
    ):
        raise Http404
    return region


def _unit_filter(request, value) -> WorkUnit | None:
    if not value:
        return None
    unit = WorkUnit.objects.filter(pk=value).first() if str(value).isdigit() else None
    if unit is None:
        raise Http404
    if audiences.unit_outside_anchor(request.user, unit):
        raise Http404
    if (
        not sel.checklist_registrations(request.user)
        .filter(member__work_unit__path__startswith=unit.path)
        .exists()
    ):
        raise Http404
    return unit


@require_perm(Perm.CHECKLIST_MEMBER_VIEW)
def members(request):
    campaign = _campaign(request)
    items_list = sel.items_of(campaign, MEMBER)
    region = _region_filter(request, request.GET.get("region"))
    unit = _unit_filter(request, request.GET.get("unit"))
    status = request.GET.get("status", "")
    if status not in sel.MemberFilter.LABELS:
        status = ""
    missing = None
    if request.GET.get("missing"):
        missing = next((i for i in items_list if str(i.pk) == request.GET["missing"]), None)
        if missing is None:
            raise Http404
    qs = sel.member_rows(
        request.user, campaign, items_list, community=region, unit=unit, status=status, missing=missing
    )
    page = Paginator(qs.only("pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = sel.with_flags(list(page.object_list), items_list, campaign)
    query = request.GET.copy()
    query.pop("page", None)
    base = query.copy()
    for key in ("status", "missing"):
        base.pop(key, None)
    return render(
        request,
        "supervision/members.html",
        {
            "campaign": campaign,
            "items": items_list,
            "region": region,
            "unit": unit,
            "status": status,
            "missing": missing,
            "page": page,
            "rows": rows,
            "statuses": list(sel.MemberFilter.LABELS.items()),
            "querystring": query.urlencode(),
            "base_query": base.urlencode(),
            "campaign_query": _campaign_query(request, campaign),
            "perms_view": user_has_perm(request.user, Perm.CHECKLIST_VIEW),
        },
    )


@require_perm(Perm.CHECKLIST_MEMBER_VIEW)
def member(request, pk):
    member_obj = sel.checklist_member_get_for_user(user=request.user, pk=pk)
    campaign = _campaign(request)
    return render(
        request,
        "supervision/member.html",
        {
            "member": member_obj,
            "campaign": campaign,
            "campaigns": _campaign_choices(),
            "campaign_query": _campaign_query(request, campaign),
            "checklist": sel.member_checklist(member_obj, campaign),
            "registration": current_registration(member_obj),
            "can_mark": sel.member_markable(request.user, member_obj),
        },
    )


@require_POST
@require_perm(Perm.CHECKLIST_MARK_MEMBER)
def member_mark(request, pk):
    member_obj = sel.checklist_member_get_for_user(user=request.user, pk=pk)
    if not sel.member_markable(request.user, member_obj):
        raise Http404
    return _mark(
        request,
        scope=MEMBER,
        target={"member": member_obj},
        back=_back(request, reverse("supervision:member", kwargs={"pk": member_obj.pk})),
    )
