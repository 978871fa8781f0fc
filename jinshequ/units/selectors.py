"""Scoped reads of work units."""

from __future__ import annotations

from django.db.models import QuerySet

from jinshequ.units.models import WorkUnit
from jinshequ.units.policies import unit_policy


def unit_list_for_user(user) -> QuerySet[WorkUnit]:
    """The work units ``user`` may see (``UnitPolicy``)."""
    return unit_policy.rows(user)


def unit_get_for_user(*, user, pk) -> WorkUnit:
    """The unit ``pk`` or ``Http404`` for missing and foreign alike."""
    return unit_policy.get(user=user, pk=pk)


def unit_choices_for_user(user) -> QuerySet[WorkUnit]:
    """Units a user may assign a member to: their own subtree for unit admins, all active otherwise."""
    return unit_policy.assignable(user)
