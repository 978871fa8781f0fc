"""Writes to the region tree; each keeps ``path`` consistent and audits inside the transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext

from jinshequ.accounts.services import audit, audited, model_changes
from jinshequ.regions.models import ALLOWED_CHILDREN, Region

EDITABLE = ("name", "kind", "parent_id", "code", "address", "office_phone", "is_active")


def _check_kind(kind: str, parent: Region | None) -> None:
    allowed = ALLOWED_CHILDREN[parent.kind if parent else None]
    if kind not in allowed:
        where = parent.get_kind_display() if parent else gettext("顶层")
        raise ValidationError({"kind": gettext("%(where)s下不能设置这一层级。") % {"where": where}})


@audited("region.created", object_type="regions.region")
@transaction.atomic
def region_create(*, name: str, kind: str, parent: Region | None, actor, request=None, **extra) -> Region:
    _check_kind(kind, parent)
    region = Region(name=name, kind=kind, parent=parent, **extra)
    region.full_clean(exclude=["path"])
    region.save()
    region.path = f"{parent.path if parent else ''}{region.pk}."
    region.save(update_fields=["path"])
    audit(
        event="region.created",
        actor=actor,
        request=request,
        obj=region,
        changes={"name": [None, name], "kind": [None, kind]},
    )
    return region


@audited("region.updated", object_kwarg="region")
@transaction.atomic
def region_update(*, region: Region, actor, request=None, **fields) -> Region:
    old = {f: getattr(region, f) for f in EDITABLE}
    old_path = region.path
    for key, value in fields.items():
        setattr(region, key, value)
    _check_kind(region.kind, region.parent)
    if region.parent_id and (region.parent.path.startswith(old_path)):
        raise ValidationError({"parent": gettext("不能把区域移到它自己的下级。")})
    region.full_clean(exclude=["path"])
    new_path = f"{region.parent.path if region.parent else ''}{region.pk}."
    region.path = new_path
    region.save()
    if new_path != old_path:
        Region.objects.filter(path__startswith=old_path).exclude(pk=region.pk).update(
            path=Concat(Value(new_path), Substr(F("path"), len(old_path) + 1))
        )
        from jinshequ.units.models import WorkUnit

        WorkUnit.objects.filter(region_path__startswith=old_path).update(
            region_path=Concat(Value(new_path), Substr(F("region_path"), len(old_path) + 1))
        )
        from jinshequ.regions.selectors import regions_changed

        regions_changed()
    changes = model_changes(region, old, EDITABLE)
    if changes:
        audit(event="region.updated", actor=actor, request=request, obj=region, changes=changes)
    return region


@audited(lambda kw: "region.activated" if kw.get("active") else "region.deactivated", object_kwarg="region")
@transaction.atomic
def region_set_active(*, region: Region, active: bool, actor, request=None) -> Region:
    if not active and Region.objects.filter(parent=region, is_active=True).exists():
        raise ValidationError(gettext("请先停用下级区域。"))
    if region.is_active != active:
        region.is_active = active
        region.save(update_fields=["is_active", "updated_at"])
        audit(
            event="region.activated" if active else "region.deactivated",
            actor=actor,
            request=request,
            obj=region,
            changes={"is_active": [str(not active), str(active)]},
        )
    return region
