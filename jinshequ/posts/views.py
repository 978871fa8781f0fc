"""Pages for posts and claims, service teams, households and pairing, and the 全员认领 coverage.

Views are thin: permissions by ``require_perm``, objects through the scope selectors (404 out of scope),
writes through ``posts.services``. A refused action shows the service's Chinese message with the
service's status code (e.g. 409 for "岗位已满").
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from jinshequ.access import audiences
from jinshequ.access.audiences import administered_community_id
from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.core.errors import error_json, error_message
from jinshequ.core.http import wants_json
from jinshequ.core.idempotency import idempotent, new_idempotency_key
from jinshequ.members.models import Member, MemberStatus
from jinshequ.members.services import RevealLimitExceeded
from jinshequ.posts import selectors as sel
from jinshequ.posts import services
from jinshequ.posts.exports import UncoveredMembersExporter
from jinshequ.posts.forms import (
    CategoryForm,
    HouseholdForm,
    PairingForm,
    PostForm,
    ReasonForm,
    SettingsForm,
    TeamForm,
)
from jinshequ.posts.models import ClaimStatus, PostCategory
from jinshequ.posts.policies import household_policy
from jinshequ.posts.services import PostError
from jinshequ.regions.models import Region
from jinshequ.regions.selectors import region_get_for_user
from jinshequ.units.models import WorkUnit

PAGE_SIZE = 50


def _me(request) -> Member:
    member = Member.objects.filter(user=request.user).select_related("community").first()
    if member is None:
        raise Http404
    return member


def _is_community_admin(request) -> bool:
    """Whether the page sits among the community admin's tabs."""
    return administered_community_id(request.user) is not None


def _community(request) -> Region:
    """The community admin's community."""
    if administered_community_id(request.user) is None:
        raise Http404
    return request.user.region


# --- member: posts and claims -----------------------------------------------------------------------


def _member_posts_context(request, member: Member, **extra) -> dict:
    reg = sel.registration_of(member) if member.status == MemberStatus.ACTIVE else None
    context = {
        "member": member,
        "registration": reg,
        "idempotency_key": new_idempotency_key(),
        "reason_form": ReasonForm(),
    }
    if reg is not None:
        fits, load = sel.rank_posts_for_member(member, reg.community_id)
        claims = list(sel.my_claims(member)[:20])
        context.update(
            fits=fits,
            load=load,
            claims=claims,
            open_claims=[c for c in claims if c.status in (ClaimStatus.PENDING, ClaimStatus.ACTIVE)],
        )
    context.update(extra)
    return context


@require_perm(Perm.POST_CLAIM)
def post_list(request):
    member = _me(request)
    return render(request, "posts/member_posts.html", _member_posts_context(request, member))


@require_perm(Perm.POST_CLAIM)
def post_detail(request, pk):
    member = _me(request)
    post = sel.post_get_for_user(user=request.user, pk=pk)
    reg = sel.registration_of(member)
    fits, load = sel.rank_posts_for_member(member, reg.community_id) if reg else ([], None)
    fit = next((f for f in fits if f.post.pk == post.pk), None)
    return render(
        request,
        "posts/member_post_detail.html",
        {
            "member": member,
            "post": post,
            "fit": fit,
            "load": load,
            "registration": reg,
            "idempotency_key": new_idempotency_key(),
        },
    )


@require_POST
@require_perm(Perm.POST_CLAIM)
@idempotent("posts:claim")
def claim(request, pk):
    """Claim a place. HTML: redirect to the list (or the list with the error and its status); JSON
    (``Accept: application/json``): 201 ``{"id", "status"}`` or ``{"code", "message"}``."""
    member = _me(request)
    post = sel.post_get_for_user(user=request.user, pk=pk)
    try:
        new = services.claim_create(member=member, post=post, actor=request.user, request=request)
    except PostError as exc:
        if wants_json(request):
            return error_json(exc)
        context = _member_posts_context(request, member, error=error_message(exc))
        return render(request, "posts/member_posts.html", context, status=exc.status)
    if wants_json(request):
        return JsonResponse({"id": new.pk, "status": new.status, "post": post.pk}, status=201)
    if new.status == ClaimStatus.ACTIVE:
        messages.success(request, gettext("已认领“%(title)s”。") % {"title": post.title})
    else:
        messages.success(request, gettext("已提交认领“%(title)s”，等待社区审核。") % {"title": post.title})
    return redirect("posts:list")


@require_POST
@require_perm(Perm.POST_CLAIM)
def withdraw(request, pk):
    member = _me(request)
    claim_obj = sel.claim_get_for_user(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        context = _member_posts_context(request, member, error=form.errors["reason"][0])
        return render(request, "posts/member_posts.html", context, status=400)
    try:
        services.claim_withdraw(
            claim=claim_obj, reason=form.cleaned_data["reason"], actor=request.user, request=request
        )
    except PostError as exc:
        return render(
            request,
            "posts/member_posts.html",
            _member_posts_context(request, member, error=error_message(exc)),
            status=exc.status,
        )
    messages.success(request, gettext("已退出岗位“%(title)s”。") % {"title": claim_obj.post.title})
    return redirect("posts:list")


# --- member: teams and paired households ------------------------------------------------------------


@require_perm(Perm.TEAM_JOIN)
def teams(request):
    member = _me(request)
    reg = sel.registration_of(member) if member.status == MemberStatus.ACTIVE else None
    rows = list(sel.teams_with_counts(sel.team_list_for_user(request.user).filter(is_active=True), member))
    return render(request, "posts/member_teams.html", {"member": member, "registration": reg, "teams": rows})


@require_POST
@require_perm(Perm.TEAM_JOIN)
def team_join(request, pk):
    member = _me(request)
    team = sel.team_get_for_user(user=request.user, pk=pk)
    try:
        services.team_join(team=team, member=member, actor=request.user, request=request)
    except PostError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, gettext("已加入“%(name)s”。") % {"name": team.name})
    return redirect("posts:teams")


@require_POST
@require_perm(Perm.TEAM_JOIN)
def team_leave(request, pk):
    member = _me(request)
    team = sel.team_get_for_user(user=request.user, pk=pk)
    try:
        services.team_leave(team=team, member=member, actor=request.user, request=request)
    except PostError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, gettext("已退出“%(name)s”。") % {"name": team.name})
    return redirect("posts:teams")


@require_perm(Perm.HOUSEHOLD_SELF)
def my_households(request):
    member = _me(request)
    rows = list(sel.household_list_for_user(request.user).order_by("head_name", "pk"))
    return render(request, "posts/member_households.html", {"member": member, "households": rows})


@require_perm(Perm.HOUSEHOLD_SELF)
def my_household(request, pk):
    household = sel.household_get_for_user(user=request.user, pk=pk)
    return render(request, "posts/household_view.html", _household_view_context(request, household))


def _household_view_context(request, household, **extra) -> dict:
    return {
        "household": household,
        "address": services.household_address(household),
        "pairings": list(sel.pairing_list_for_household(household).filter(ended_on__isnull=True)),
        **extra,
    }


@require_POST
def household_reveal(request, pk):
    """Full phone of a household: its community admin or a paired member; audited. Others: 404."""
    if not (
        user_has_perm(request.user, Perm.HOUSEHOLD_MANAGE) or user_has_perm(request.user, Perm.HOUSEHOLD_SELF)
    ):
        raise PermissionDenied
    household = sel.household_get_for_user(user=request.user, pk=pk)
    status = 200
    try:
        phone = services.household_reveal_phone(household=household, actor=request.user, request=request)
    except RevealLimitExceeded as exc:
        phone, status = None, 429
        messages.error(request, error_message(exc))
    if household_policy.can(request.user, "manage", household):
        response = render(
            request,
            "posts/household_detail.html",
            _household_admin_context(request, household, revealed_phone=phone),
            status=status,
        )
    else:
        response = render(
            request,
            "posts/household_view.html",
            _household_view_context(request, household, revealed_phone=phone),
            status=status,
        )
    response["Cache-Control"] = "no-store"
    return response


# --- community admin: posts, claims, settings -------------------------------------------------------


@require_perm(Perm.POST_MANAGE)
def manage(request):
    community = _community(request)
    posts = list(sel.posts_for_community_admin(request.user))
    settings_obj = services.community_settings(community)
    return render(
        request,
        "posts/manage_list.html",
        {
            "community": community,
            "posts": posts,
            "settings_form": SettingsForm(initial={"auto_approve_claims": settings_obj.auto_approve_claims}),
            "pending_count": sel.pending_claims(request.user).count(),
            "max_active_posts": services.max_active_posts(),
        },
    )


@require_POST
@require_perm(Perm.POST_MANAGE)
def settings_update(request):
    community = _community(request)
    form = SettingsForm(request.POST)
    form.is_valid()
    auto = bool(form.cleaned_data.get("auto_approve_claims"))
    services.settings_update(
        community=community, auto_approve_claims=auto, actor=request.user, request=request
    )
    messages.success(
        request,
        gettext("已开启认领自动通过。") if auto else gettext("已关闭认领自动通过，新的认领需社区审核。"),
    )
    return redirect("posts:manage")


def _post_kwargs(form: PostForm) -> dict:
    d = form.cleaned_data
    return {
        "category": d["category"],
        "title": d["title"],
        "description": d.get("description") or "",
        "schedule": d["schedule"],
        "capacity": d["capacity"],
        "starts_on": d["starts_on"],
        "ends_on": d.get("ends_on"),
    }


@require_perm(Perm.POST_MANAGE)
def post_create(request):
    community = _community(request)
    form = PostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            post = services.post_create(
                community=community,
                skills=form.cleaned_data["skills"],
                actor=request.user,
                request=request,
                **_post_kwargs(form),
            )
        except PostError as exc:
            form.add_error(None, error_message(exc))
        else:
            messages.success(request, gettext("已发布岗位“%(title)s”。") % {"title": post.title})
            return redirect("posts:manage_detail", pk=post.pk)
    return render(request, "posts/post_form.html", {"form": form, "creating": True, "community": community})


@require_perm(Perm.POST_MANAGE)
def post_edit(request, pk):
    post = sel.post_get_for_user(user=request.user, pk=pk)
    initial = {
        "category": post.category_id,
        "title": post.title,
        "description": post.description,
        "skills": list(post.skills.values_list("pk", flat=True)),
        "schedule": post.schedule,
        "capacity": post.capacity,
        "starts_on": post.starts_on,
        "ends_on": post.ends_on,
    }
    form = PostForm(request.POST or None, post=post, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.post_update(
                post=post,
                skills=form.cleaned_data["skills"],
                actor=request.user,
                request=request,
                **_post_kwargs(form),
            )
        except PostError as exc:
            form.add_error("capacity" if exc.code == "capacity_below_claimed" else None, error_message(exc))
        else:
            messages.success(request, gettext("已保存修改。"))
            return redirect("posts:manage_detail", pk=post.pk)
    return render(request, "posts/post_form.html", {"form": form, "post": post, "creating": False})


@require_perm(Perm.POST_MANAGE)
def manage_detail(request, pk):
    post = sel.post_get_for_user(user=request.user, pk=pk)
    return render(
        request,
        "posts/manage_detail.html",
        {
            "post": post,
            "skills": list(post.skills.all()),
            "claims": list(sel.claimants(post)),
            "reason_form": ReasonForm(),
        },
    )


@require_POST
@require_perm(Perm.POST_MANAGE)
def post_deactivate(request, pk):
    post = sel.post_get_for_user(user=request.user, pk=pk)
    services.post_deactivate(
        post=post, reason=request.POST.get("reason", ""), actor=request.user, request=request
    )
    messages.success(request, gettext("已停用岗位“%(title)s”，在岗的认领已结束。") % {"title": post.title})
    return redirect("posts:manage_detail", pk=post.pk)


@require_POST
@require_perm(Perm.POST_MANAGE)
def post_activate(request, pk):
    post = sel.post_get_for_user(user=request.user, pk=pk)
    services.post_activate(post=post, actor=request.user, request=request)
    messages.success(request, gettext("已重新启用岗位“%(title)s”。") % {"title": post.title})
    return redirect("posts:manage_detail", pk=post.pk)


@require_perm(Perm.POST_MANAGE)
def claims(request):
    _community(request)
    page = Paginator(sel.pending_claims(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "posts/claims.html",
        {"page": page, "claims": page.object_list, "reason_form": ReasonForm(), "querystring_base": ""},
    )


def _back(request, claim_obj):
    if request.POST.get("next") == "post":
        return redirect("posts:manage_detail", pk=claim_obj.post_id)
    return redirect("posts:claims")


@require_POST
@require_perm(Perm.POST_MANAGE)
def claim_approve(request, pk):
    claim_obj = sel.claim_get_for_user(user=request.user, pk=pk)
    try:
        services.claim_approve(claim=claim_obj, actor=request.user, request=request)
    except PostError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request,
            gettext("已通过 %(name)s 认领“%(title)s”。")
            % {"name": claim_obj.member.name, "title": claim_obj.post.title},
        )
    return _back(request, claim_obj)


def _reason_action(request, pk, service, done: str):
    claim_obj = sel.claim_get_for_user(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return _back(request, claim_obj)
    try:
        service(claim=claim_obj, reason=form.cleaned_data["reason"], actor=request.user, request=request)
    except PostError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, done.format(name=claim_obj.member.name, title=claim_obj.post.title))
    return _back(request, claim_obj)


@require_POST
@require_perm(Perm.POST_MANAGE)
def claim_reject(request, pk):
    return _reason_action(request, pk, services.claim_reject, gettext("已驳回 {name} 对“{title}”的认领。"))


@require_POST
@require_perm(Perm.POST_MANAGE)
def claim_end(request, pk):
    return _reason_action(request, pk, services.claim_end, gettext("已结束 {name} 在“{title}”的认领。"))


# --- community admin: teams -------------------------------------------------------------------------


@require_perm(Perm.TEAM_MANAGE)
def manage_teams(request):
    community = _community(request)
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(
                community=community,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                category=form.cleaned_data["category"],
                actor=request.user,
                request=request,
            )
        except PostError as exc:
            form.add_error("name", error_message(exc))
        else:
            messages.success(request, gettext("已成立服务队“%(name)s”。") % {"name": team.name})
            return redirect("posts:manage_team", pk=team.pk)
    rows = list(sel.teams_with_counts(sel.team_list_for_user(request.user)))
    return render(request, "posts/manage_teams.html", {"community": community, "teams": rows, "form": form})


def _team_context(request, team, form=None) -> dict:
    current = list(sel.team_members(team))
    member_ids = {m.member_id for m in current}
    candidates = [m for m in sel.registered_members_of(team.community_id) if m.pk not in member_ids]
    return {
        "team": team,
        "memberships": current,
        "candidates": candidates,
        "form": form
        or TeamForm(
            initial={"name": team.name, "description": team.description, "category": team.category_id}
        ),
    }


@require_perm(Perm.TEAM_MANAGE)
def manage_team(request, pk):
    team = sel.team_get_for_user(user=request.user, pk=pk)
    form = TeamForm(
        request.POST or None,
        initial={"name": team.name, "description": team.description, "category": team.category_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.team_update(
                team=team,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                category=form.cleaned_data["category"],
                actor=request.user,
                request=request,
            )
        except PostError as exc:
            form.add_error("name", error_message(exc))
        else:
            messages.success(request, gettext("已保存。"))
            return redirect("posts:manage_team", pk=team.pk)
    return render(request, "posts/manage_team.html", _team_context(request, team, form))


def _team_member(request, team) -> Member:
    member_pk = request.POST.get("member")
    member = (
        sel.registered_members_of(team.community_id).filter(pk=member_pk).first()
        if str(member_pk).isdigit()
        else None
    )
    if member is None:
        raise Http404
    return member


@require_POST
@require_perm(Perm.TEAM_MANAGE)
def team_action(request, pk):
    """Add or remove a member, set or clear the leader, deactivate or reactivate the team."""
    team = sel.team_get_for_user(user=request.user, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "add":
            member = _team_member(request, team)
            services.team_join(team=team, member=member, actor=request.user, request=request)
            messages.success(request, gettext("已将 %(name)s 加入服务队。") % {"name": member.name})
        elif action == "remove":
            member = _team_member_any(request, team)
            services.team_leave(team=team, member=member, actor=request.user, request=request)
            messages.success(request, gettext("%(name)s 已退出服务队。") % {"name": member.name})
        elif action == "leader":
            member = _team_member_any(request, team)
            services.team_update(team=team, leader=member, actor=request.user, request=request)
            messages.success(request, gettext("已设 %(name)s 为队长。") % {"name": member.name})
        elif action == "clear_leader":
            services.team_update(team=team, clear_leader=True, actor=request.user, request=request)
            messages.success(request, gettext("已取消队长。"))
        elif action in ("deactivate", "activate"):
            services.team_set_active(
                team=team, active=action == "activate", actor=request.user, request=request
            )
            messages.success(
                request,
                gettext("已停用服务队。") if action == "deactivate" else gettext("已重新启用服务队。"),
            )
        else:
            messages.error(request, gettext("操作无效。"))
    except PostError as exc:
        messages.error(request, error_message(exc))
    return redirect("posts:manage_team", pk=team.pk)


def _team_member_any(request, team) -> Member:
    """A current member of the team (whatever their registration now)."""
    member_pk = request.POST.get("member")
    m = sel.team_members(team).filter(member_id=member_pk).first() if str(member_pk).isdigit() else None
    if m is None:
        raise Http404
    return m.member


# --- community admin: households and pairing --------------------------------------------------------


@require_perm(Perm.HOUSEHOLD_MANAGE)
def households(request):
    community = _community(request)
    form = HouseholdForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        household = services.household_create(
            community=community,
            head_name=d["head_name"],
            address=d["address"],
            phone=d["phone"],
            situation=d["situation"],
            needs=d["needs"],
            actor=request.user,
            request=request,
        )
        messages.success(request, gettext("已登记困难家庭。"))
        return redirect("posts:household", pk=household.pk)
    rows = list(sel.households_for_admin(request.user))
    for h in rows:
        h.address_masked = services.mask_address(services.household_address(h))
    return render(
        request, "posts/households.html", {"community": community, "households": rows, "form": form}
    )


def _household_admin_context(request, household, form=None, pair_form=None, **extra) -> dict:
    return {
        "household": household,
        "address": services.household_address(household),
        "form": form
        or HouseholdForm(
            household=household,
            initial={
                "head_name": household.head_name,
                "situation": household.situation,
                "needs": household.needs,
            },
        ),
        "pairings": list(sel.pairing_list_for_household(household)),
        "pair_form": pair_form or PairingForm(members=sel.registered_members_of(household.community_id)),
        **extra,
    }


@require_perm(Perm.HOUSEHOLD_MANAGE)
def household(request, pk):
    household = sel.household_get_for_user(user=request.user, pk=pk)
    form = HouseholdForm(
        request.POST or None,
        household=household,
        initial={
            "head_name": household.head_name,
            "situation": household.situation,
            "needs": household.needs,
        },
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        services.household_update(
            household=household,
            head_name=d["head_name"],
            address=d["address"] or None,
            phone=d["phone"] or None,
            situation=d["situation"],
            needs=d["needs"],
            actor=request.user,
            request=request,
        )
        messages.success(request, gettext("已保存。"))
        return redirect("posts:household", pk=household.pk)
    return render(request, "posts/household_detail.html", _household_admin_context(request, household, form))


@require_POST
@require_perm(Perm.HOUSEHOLD_MANAGE)
def household_active(request, pk):
    household = sel.household_get_for_user(user=request.user, pk=pk)
    active = request.POST.get("active") == "1"
    services.household_set_active(household=household, active=active, actor=request.user, request=request)
    messages.success(
        request, gettext("已重新开启帮扶档案。") if active else gettext("已关闭帮扶档案，结对已结束。")
    )
    return redirect("posts:household", pk=household.pk)


@require_POST
@require_perm(Perm.HOUSEHOLD_MANAGE)
def pair(request, pk):
    household = sel.household_get_for_user(user=request.user, pk=pk)
    form = PairingForm(request.POST, members=sel.registered_members_of(household.community_id))
    if form.is_valid():
        try:
            services.pairing_create(
                household=household,
                member=form.cleaned_data["member"],
                note=form.cleaned_data["note"],
                actor=request.user,
                request=request,
            )
        except PostError as exc:
            form.add_error("member", error_message(exc))
        else:
            messages.success(
                request, gettext("已安排 %(name)s 结对帮扶。") % {"name": form.cleaned_data["member"].name}
            )
            return redirect("posts:household", pk=household.pk)
    return render(
        request,
        "posts/household_detail.html",
        _household_admin_context(request, household, pair_form=form),
        status=400,
    )


@require_POST
@require_perm(Perm.HOUSEHOLD_MANAGE)
def pairing_end(request, pk):
    from jinshequ.posts.models import Pairing

    pairing = Pairing.objects.filter(pk=pk, household__in=sel.household_list_for_user(request.user)).first()
    if pairing is None:
        raise Http404
    try:
        services.pairing_end(
            pairing=pairing, reason=request.POST.get("reason", ""), actor=request.user, request=request
        )
    except PostError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, gettext("已结束结对。"))
    return redirect("posts:household", pk=pairing.household_id)


# --- city admin: categories -------------------------------------------------------------------------


@require_perm(Perm.POST_CATEGORY_MANAGE)
def categories(request):
    form = (
        CategoryForm(request.POST or None) if request.POST.get("action") in (None, "add") else CategoryForm()
    )
    if request.method == "POST":
        action = request.POST.get("action", "add")
        try:
            if action == "add":
                if form.is_valid():
                    category = services.category_create(
                        name=form.cleaned_data["name"], actor=request.user, request=request
                    )
                    messages.success(request, gettext("已添加类别“%(name)s”。") % {"name": category.name})
                    return redirect("posts:categories")
            else:
                category = (
                    PostCategory.objects.filter(pk=request.POST.get("category") or 0).first()
                    if str(request.POST.get("category", "")).isdigit()
                    else None
                )
                if category is None:
                    raise Http404
                if action == "rename":
                    services.category_rename(
                        category=category,
                        name=request.POST.get("name", ""),
                        actor=request.user,
                        request=request,
                    )
                    messages.success(request, gettext("已修改类别名称。"))
                elif action in ("deactivate", "activate"):
                    services.category_set_active(
                        category=category, active=action == "activate", actor=request.user, request=request
                    )
                    messages.success(
                        request,
                        gettext("已停用类别。") if action == "deactivate" else gettext("已启用类别。"),
                    )
                return redirect("posts:categories")
        except PostError as exc:
            messages.error(request, error_message(exc))
            return redirect("posts:categories")
    from django.db.models import Count, Q

    rows = PostCategory.objects.annotate(n=Count("posts", filter=Q(posts__is_active=True))).order_by(
        "-is_active", "sort_order", "name"
    )
    return render(request, "posts/categories.html", {"form": form, "categories": rows})


# --- coverage (全员认领) ------------------------------------------------------------------------------


def _in_scope_region(request, value) -> Region | None:
    if not value:
        return None
    if audiences.in_audience(request.user, audiences.REGION_ANCHORED):
        return region_get_for_user(user=request.user, pk=value)
    region = Region.objects.filter(pk=value).first() if str(value).isdigit() else None
    if (
        region is None
        or not sel.covered_registrations(request.user)
        .filter(community__path__startswith=region.path)
        .exists()
    ):
        raise Http404
    return region


def _in_scope_unit(request, value) -> WorkUnit | None:
    if not value:
        return None
    unit = WorkUnit.objects.filter(pk=value).first() if str(value).isdigit() else None
    if (
        unit is None
        or not sel.covered_registrations(request.user)
        .filter(member__work_unit__path__startswith=unit.path)
        .exists()
    ):
        raise Http404
    if audiences.unit_outside_anchor(request.user, unit):
        raise Http404
    return unit


@require_perm(Perm.COVERAGE_VIEW)
def coverage(request):
    tree = sel.coverage_by_region(request.user)
    node = None
    if request.GET.get("region"):
        node = tree.get(request.GET["region"])
        if node is None:
            raise Http404
    rows = node.children if node else tree.roots
    if node is None and len(rows) == 1 and rows[0].children:
        node, rows = rows[0], rows[0].children
    return render(
        request,
        "posts/coverage.html",
        {
            "tree": tree,
            "node": node,
            "rows": rows,
            "total": node.coverage if node else tree.total,
            "ancestors": tree.ancestors(node) if node else [],
            "by": "region",
            "show_households": audiences.administered_unit_id(request.user) is None,
            "community_tabs": _is_community_admin(request),
        },
    )


@require_perm(Perm.COVERAGE_VIEW)
def coverage_units(request):
    tree = sel.coverage_by_unit(request.user)
    node = None
    if request.GET.get("unit"):
        node = tree.get(request.GET["unit"])
        if node is None:
            raise Http404
    rows = node.children if node else tree.roots
    return render(
        request,
        "posts/coverage.html",
        {
            "tree": tree,
            "node": node,
            "rows": rows,
            "total": node.coverage if node else tree.total,
            "ancestors": tree.ancestors(node) if node else [],
            "by": "unit",
            "show_households": False,
            "community_tabs": _is_community_admin(request),
        },
    )


def _missing(request):
    region = _in_scope_region(request, request.GET.get("region"))
    unit = _in_scope_unit(request, request.GET.get("unit"))
    return region, unit, sel.uncovered_members(request.user, region=region, unit=unit)


@require_perm(Perm.COVERAGE_VIEW)
def coverage_missing(request):
    region, unit, qs = _missing(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "posts/coverage_missing.html",
        {
            "region": region,
            "unit": unit,
            "page": page,
            "rows": page.object_list,
            "querystring": query.urlencode(),
            "querystring_base": f"{query.urlencode()}&" if query else "",
            "community_tabs": _is_community_admin(request),
        },
    )


@require_perm(Perm.COVERAGE_VIEW)
def coverage_export(request):
    region, unit, qs = _missing(request)
    params = {"region": region, "unit": unit}
    return UncoveredMembersExporter(user=request.user, queryset=qs, params=params).response()


def coverage_missing_url(node, by: str) -> str:
    key = "region" if by == "region" else "unit"
    return f"{reverse('posts:coverage_missing')}?{key}={node.pk}"
