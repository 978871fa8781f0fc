"""Who sees and manages work units: the city all, region oversight the units located in their subtree, a
unit admin their unit subtree (but not their own unit's placement)."""

from __future__ import annotations

from django.db.models import QuerySet

from jinshequ.access import Kind, Policy, audiences, kind_of, register
from jinshequ.accounts.perms import Perm
from jinshequ.units.models import WorkUnit


class UnitPolicy(Policy):
    model = WorkUnit
    region_path_field = "region_path"
    unit = ""
    sees_region = audiences.REGION_OVERSIGHT
    sees_own = audiences.NOBODY
    actions = {"manage": Perm.UNIT_MANAGE}
    not_on_own_anchor = frozenset({"manage"})

    def assignable(self, user) -> QuerySet[WorkUnit]:
        """Units ``user`` may place a member in: a unit admin their active subtree, others every active unit."""
        if kind_of(user) is Kind.UNIT:
            return self.rows(user).filter(is_active=True)
        return WorkUnit.objects.filter(is_active=True)


unit_policy = register(UnitPolicy())
