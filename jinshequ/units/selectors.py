"""Scoped reads of work units."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from jinshequ.accounts.models import Role
from jinshequ.units.models import WorkUnit


def unit_list_for_user(user) -> QuerySet[WorkUnit]:
    qs = WorkUnit.objects.all()
    if user.role == Role.CITY_ADMIN:
        return qs
    if user.role in (Role.DISTRICT_ADMIN, Role.STREET_ADMIN, Role.INSPECTOR) and user.region_id:
        return qs.filter(region_path__startswith=user.region.path)
    if user.role == Role.UNIT_ADMIN and user.work_unit_id:
        return qs.filter(path__startswith=user.work_unit.path)
    return qs.none()


def unit_get_for_user(*, user, pk) -> WorkUnit:
    try:
        return unit_list_for_user(user).get(pk=pk)
    except (WorkUnit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def unit_choices_for_user(user) -> QuerySet[WorkUnit]:
    """Units a user may assign a member to: their own subtree for unit admins, all active otherwise."""
    if user.role == Role.UNIT_ADMIN:
        return unit_list_for_user(user).filter(is_active=True)
    return WorkUnit.objects.filter(is_active=True)
