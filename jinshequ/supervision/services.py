"""Write services for the 四个一 / 十个有 checklists: the city admin's items per campaign, and the marks that the
responsible admins set on manual items with a note of evidence.

Every function runs in one transaction and writes its audit row inside it (R32). A refused action raises
``ChecklistError`` with a stable ``code``, a Chinese ``message`` and the HTTP ``status`` a view should answer
with. Scope checks repeat the views' (defence in depth): an actor outside the scope gets ``status=404``,
the same as a missing object.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from jinshequ.accounts.perms import Perm, user_has_perm
from jinshequ.accounts.services import audit, model_changes
from jinshequ.campaigns.models import Campaign
from jinshequ.core.errors import DomainError
from jinshequ.members.models import Member
from jinshequ.regions.models import Region
from jinshequ.supervision import selectors as sel
from jinshequ.supervision.models import ChecklistItem, ChecklistMark, ChecklistScope
from jinshequ.supervision.rules import DEFAULT_ITEMS, get_rule

TITLE_MAX = 60
DESCRIPTION_MAX = 200
NOTE_MIN, NOTE_MAX = 2, 200
MAX_ITEMS_PER_SCOPE = 30


class ChecklistError(DomainError):
    """A rule refused the action (see ``jinshequ.core.errors``)."""


def _now() -> dt.datetime:
    return timezone.now()


def _require_manager(actor) -> None:
    if actor is not None and not user_has_perm(actor, Perm.CHECKLIST_MANAGE):
        raise ChecklistError("forbidden", gettext("只有市级管理员可以设置清单事项。"), status=403)


def _scope_label(scope: str) -> str:
    return gettext("四个一") if scope == ChecklistScope.MEMBER else gettext("十个有")


# --- items (city admin) ------------------------------------------------------------------------------


def _clean_item(*, scope: str, title: str, rule: str, description: str) -> tuple[str, str, str]:
    if scope not in ChecklistScope.values:
        raise ChecklistError("bad_scope", gettext("请选择清单类型（四个一或十个有）。"))
    title = " ".join((title or "").split())
    if len(title) < 2:
        raise ChecklistError("title_required", gettext("请填写事项名称（至少 2 个字）。"))
    if len(title) > TITLE_MAX:
        raise ChecklistError(
            "title_too_long", gettext("事项名称不能超过 %(title_max)s 个字。") % {"title_max": TITLE_MAX}
        )
    rule = (rule or "").strip()
    if rule and get_rule(scope, rule) is None:
        raise ChecklistError("bad_rule", gettext("所选的自动判定规则不适用于这类清单。"))
    description = " ".join((description or "").split())
    if len(description) > DESCRIPTION_MAX:
        raise ChecklistError(
            "description_too_long",
            gettext("说明不能超过 %(description_max)s 个字。") % {"description_max": DESCRIPTION_MAX},
        )
    return title, rule, description


def _title_taken(campaign_id: int, scope: str, title: str, exclude_pk: int | None = None) -> bool:
    qs = ChecklistItem.objects.filter(campaign_id=campaign_id, scope=scope, title=title)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _lock_campaign(campaign: Campaign) -> Campaign:
    """Serialises item writes of one campaign (sort order, duplicate titles)."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _item_repr(item: ChecklistItem) -> str:
    return f"{_scope_label(item.scope)} · {item.title}"


@transaction.atomic
def item_create(
    *, campaign: Campaign, scope: str, title: str, rule: str = "", description: str = "", actor, request=None
) -> ChecklistItem:
    """Add an item at the end of the campaign's member (四个一) or community (十个有) checklist."""
    _require_manager(actor)
    title, rule, description = _clean_item(scope=scope, title=title, rule=rule, description=description)
    campaign = _lock_campaign(campaign)
    existing = ChecklistItem.objects.filter(campaign=campaign, scope=scope)
    if existing.count() >= MAX_ITEMS_PER_SCOPE:
        raise ChecklistError(
            "too_many",
            gettext("每份清单最多 %(max_items_per_scope)s 项。")
            % {"max_items_per_scope": MAX_ITEMS_PER_SCOPE},
        )
    if _title_taken(campaign.pk, scope, title):
        raise ChecklistError(
            "duplicate_title",
            gettext("本周期的%(scope_label)s清单中已有“%(title)s”。")
            % {"scope_label": _scope_label(scope), "title": title},
            status=409,
        )
    last = existing.aggregate(m=Max("sort_order"))["m"]
    item = ChecklistItem.objects.create(
        campaign=campaign,
        scope=scope,
        title=title,
        rule=rule,
        description=description,
        sort_order=0 if last is None else last + 1,
    )
    audit(
        event="checklist.item_created",
        actor=actor,
        request=request,
        obj=item,
        object_repr=_item_repr(item),
        changes={"campaign": campaign.pk, "scope": scope, "title": [None, title], "rule": [None, rule]},
    )
    return item


@transaction.atomic
def item_update(
    *, item: ChecklistItem, title: str, rule: str = "", description: str = "", actor, request=None
) -> ChecklistItem:
    """Rename an item, change its rule or description. Marks stay: they count again if the item is made
    manual again."""
    _require_manager(actor)
    title, rule, description = _clean_item(scope=item.scope, title=title, rule=rule, description=description)
    _lock_campaign(item.campaign)
    item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
    if _title_taken(item.campaign_id, item.scope, title, exclude_pk=item.pk):
        raise ChecklistError(
            "duplicate_title",
            gettext("本周期的%(scope_label)s清单中已有“%(title)s”。")
            % {"scope_label": _scope_label(item.scope), "title": title},
            status=409,
        )
    old = {"title": item.title, "rule": item.rule, "description": item.description}
    item.title, item.rule, item.description = title, rule, description
    changes = model_changes(item, old, ("title", "rule", "description"))
    if changes:
        item.save(update_fields=["title", "rule", "description"])
        audit(
            event="checklist.item_updated",
            actor=actor,
            request=request,
            obj=item,
            object_repr=_item_repr(item),
            changes=changes,
        )
    return item


@transaction.atomic
def item_move(*, item: ChecklistItem, direction: str, actor, request=None) -> ChecklistItem:
    """Move an item one place up or down in its checklist (the order is renumbered 0, 1, 2 …)."""
    _require_manager(actor)
    if direction not in ("up", "down"):
        raise ChecklistError("bad_direction", gettext("请选择上移或下移。"))
    _lock_campaign(item.campaign)
    items = list(
        ChecklistItem.objects.select_for_update()
        .filter(campaign_id=item.campaign_id, scope=item.scope)
        .order_by("sort_order", "pk")
    )
    index = next((i for i, it in enumerate(items) if it.pk == item.pk), None)
    if index is None:
        raise ChecklistError("not_found", gettext("事项不存在。"), status=404)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(items):
        raise ChecklistError(
            "at_edge",
            gettext("已经在最前面了。") if direction == "up" else gettext("已经在最后面了。"),
            status=409,
        )
    items[index], items[other] = items[other], items[index]
    for position, it in enumerate(items):
        if it.sort_order != position:
            it.sort_order = position
            it.save(update_fields=["sort_order"])
    moved = items[other]
    audit(
        event="checklist.item_moved",
        actor=actor,
        request=request,
        obj=moved,
        object_repr=_item_repr(moved),
        changes={"direction": direction, "position": [index + 1, other + 1]},
    )
    return moved


@transaction.atomic
def item_delete(*, item: ChecklistItem, actor, request=None) -> int:
    """Remove an item together with its marks; returns how many marks went with it."""
    _require_manager(actor)
    _lock_campaign(item.campaign)
    item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
    marks = ChecklistMark.objects.filter(item=item).count()
    audit(
        event="checklist.item_deleted",
        actor=actor,
        request=request,
        obj=item,
        object_repr=_item_repr(item),
        changes={
            "campaign": item.campaign_id,
            "scope": item.scope,
            "title": [item.title, None],
            "rule": [item.rule, None],
            "marks": marks,
        },
    )
    item.delete()
    return marks


@transaction.atomic
def items_create_defaults(*, campaign: Campaign, actor, request=None) -> list[ChecklistItem]:
    """Create the default 四个一 and 十个有 items the campaign does not have yet (by title); an item the admin
    already has is left alone, so pressing the button twice creates nothing the second time."""
    _require_manager(actor)
    campaign = _lock_campaign(campaign)
    created = []
    for scope, defaults in DEFAULT_ITEMS.items():
        existing = ChecklistItem.objects.filter(campaign=campaign, scope=scope)
        titles = set(existing.values_list("title", flat=True))
        last = existing.aggregate(m=Max("sort_order"))["m"]
        position = 0 if last is None else last + 1
        for title, rule, description in defaults:
            if title in titles:
                continue
            created.append(
                ChecklistItem(
                    campaign=campaign,
                    scope=scope,
                    title=title,
                    rule=rule,
                    description=description,
                    sort_order=position,
                )
            )
            position += 1
    if created:
        ChecklistItem.objects.bulk_create(created)
        audit(
            event="checklist.defaults_created",
            actor=actor,
            request=request,
            obj=campaign,
            changes={"created": len(created), "titles": [i.title for i in created]},
        )
    return created


# --- marks (responsible admins) ----------------------------------------------------------------------


def _clean_note(note: str, *, required: bool) -> str:
    note = " ".join((note or "").split())
    if required and len(note) < NOTE_MIN:
        raise ChecklistError(
            "note_required", gettext("请填写佐证说明（例如：地点、文件名称、日期或建议内容）。")
        )
    if len(note) > NOTE_MAX:
        raise ChecklistError(
            "note_too_long", gettext("佐证说明不能超过 %(note_max)s 个字。") % {"note_max": NOTE_MAX}
        )
    return note


def _check_manual(item: ChecklistItem, scope: str) -> None:
    if item.scope != scope:
        raise ChecklistError("wrong_scope", gettext("事项不存在。"), status=404)
    if sel.item_rule(item) is not None:
        raise ChecklistError("computed", gettext("该事项由系统根据数据自动判定，无需人工确认。"), status=409)


@transaction.atomic
def mark_set(
    *,
    item: ChecklistItem,
    done: bool,
    note: str = "",
    actor,
    request=None,
    member: Member | None = None,
    community: Region | None = None,
) -> ChecklistMark:
    """Mark a manual item done (with a note of evidence) or not done (the note says why) for one member
    (四个一) or one community (十个有).

    Refused: ``wrong_scope`` / ``not_in_scope`` (404), ``computed`` (409: the data decides), ``note_required``,
    ``not_marked`` (409: nothing to withdraw), ``unchanged`` (409: already done with the same note).
    """
    if (member is None) == (community is None):
        raise ChecklistError("bad_target", gettext("请选择一名党员或一个社区。"))
    if member is not None:
        _check_manual(item, ChecklistScope.MEMBER)
        if actor is not None and not sel.member_markable(actor, member):
            raise ChecklistError("not_in_scope", gettext("只能确认本社区报到或本单位的党员。"), status=404)
        target = {"member": member}
        target_repr = member.name
    else:
        _check_manual(item, ChecklistScope.COMMUNITY)
        if actor is not None and not sel.community_markable(actor, community):
            raise ChecklistError("not_in_scope", gettext("只能确认本社区或本街道所辖社区。"), status=404)
        target = {"community": community}
        target_repr = community.name
    note = _clean_note(note, required=done)
    now = _now()
    by = actor if getattr(actor, "pk", None) else None
    mark = ChecklistMark.objects.select_for_update().filter(item=item, **target).first()
    if mark is None:
        if not done:
            raise ChecklistError("not_marked", gettext("该事项尚未确认，无需撤销。"), status=409)
        try:
            with transaction.atomic():
                mark = ChecklistMark.objects.create(
                    item=item, done=True, note=note, marked_by=by, marked_at=now, **target
                )
        except IntegrityError:  # someone marked it at the same moment: update theirs instead
            mark = ChecklistMark.objects.select_for_update().get(item=item, **target)
        else:
            audit(
                event="checklist.marked",
                actor=actor,
                request=request,
                obj=mark,
                object_repr=f"{item.title} · {target_repr}",
                reason=note,
                changes={"item": item.pk, "done": [None, True], "note": [None, note]},
            )
            return mark
    if not done and not mark.done:
        raise ChecklistError("not_marked", gettext("该事项尚未确认，无需撤销。"), status=409)
    if done and mark.done and mark.note == note:
        raise ChecklistError("unchanged", gettext("该事项已确认，佐证说明没有变化。"), status=409)
    old_done, old_note = mark.done, mark.note
    mark.done, mark.note, mark.marked_by, mark.marked_at = done, note, by, now
    mark.save(update_fields=["done", "note", "marked_by", "marked_at"])
    audit(
        event="checklist.marked" if done else "checklist.unmarked",
        actor=actor,
        request=request,
        obj=mark,
        object_repr=f"{item.title} · {target_repr}",
        reason=note,
        changes={"item": item.pk, "done": [old_done, done], "note": [old_note, note]},
    )
    return mark
