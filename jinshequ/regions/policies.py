"""Who sees and manages regions: the city all, everybody in the region tree their subtree."""

from __future__ import annotations

from jinshequ.access import Policy, audiences, register
from jinshequ.accounts.perms import Perm
from jinshequ.regions.models import Region


class RegionPolicy(Policy):
    model = Region
    region = ""
    sees_region = audiences.REGION_OVERSIGHT | audiences.COMMUNITY_ADMINS
    sees_unit = audiences.NOBODY
    sees_own = audiences.NOBODY
    actions = {"manage": Perm.REGION_MANAGE}
    not_on_own_anchor = frozenset({"manage"})


region_policy = register(RegionPolicy())
