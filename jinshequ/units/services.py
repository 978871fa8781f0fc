"""Writes to work units; ``path`` and ``region_path`` are kept in the same transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext

from jinshequ.accounts.services import audit, audited, model_changes
from jinshequ.units.models import WorkUnit

EDITABLE = (
    "name",
    "short_name",
    "kind",
    "parent_id",
    "region_id",
    "party_org_name",
    "contact_name",
    "is_active",
)


def _paths(unit: WorkUnit) -> None:
    unit.path = f"{unit.parent.path if unit.parent_id else ''}{unit.pk}."
    unit.region_path = unit.region.path if unit.region_id else ""


@audited("unit.created", object_type="units.workunit")
@transaction.atomic
def unit_create(*, actor, request=None, **fields) -> WorkUnit:
    unit = WorkUnit(**fields)
    unit.full_clean(exclude=["path", "region_path"])
    unit.save()
    _paths(unit)
    unit.save(update_fields=["path", "region_path"])
    audit(event="unit.created", actor=actor, request=request, obj=unit, changes={"name": [None, unit.name]})
    return unit


@audited("unit.updated", object_kwarg="unit")
@transaction.atomic
def unit_update(*, unit: WorkUnit, actor, request=None, **fields) -> WorkUnit:
    old = {f: getattr(unit, f) for f in EDITABLE}
    old_path = unit.path
    for key, value in fields.items():
        setattr(unit, key, value)
    if unit.parent_id and unit.parent.path.startswith(old_path):
        raise ValidationError({"parent": gettext("不能把单位设为它自己下级单位的下级。")})
    unit.full_clean(exclude=["path", "region_path"])
    _paths(unit)
    unit.save()
    if unit.path != old_path:
        WorkUnit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(
            path=Concat(Value(unit.path), Substr(F("path"), len(old_path) + 1))
        )
    changes = model_changes(unit, old, EDITABLE)
    if changes:
        audit(event="unit.updated", actor=actor, request=request, obj=unit, changes=changes)
    return unit


@audited(lambda kw: "unit.activated" if kw.get("active") else "unit.deactivated", object_kwarg="unit")
@transaction.atomic
def unit_set_active(*, unit: WorkUnit, active: bool, actor, request=None) -> WorkUnit:
    if not active and unit.members.filter(status="active").exists():
        raise ValidationError(gettext("该单位仍有在职党员，请先转移或标记离开后再停用。"))
    if unit.is_active != active:
        unit.is_active = active
        unit.save(update_fields=["is_active", "updated_at"])
        audit(
            event="unit.activated" if active else "unit.deactivated",
            actor=actor,
            request=request,
            obj=unit,
            changes={"is_active": [str(not active), str(active)]},
        )
    return unit
